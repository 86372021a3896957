//! SEND_MESSAGE (10, long names), SEND_MESSAGE_V2 (310, one-letter names) and
//! SEND_BATCH_MESSAGE (320).
//!
//! A send: read the header (either form) → check topic name and size → find or auto-create the
//! topic → pick a queue when the producer did not (or named one that does not exist) → build the
//! record (born host = TCP peer, store host = us, `UNIQ_KEY` added when missing, `CLUSTER`
//! added) → redirect a `%RETRY%` send that used up its retries to `%DLQ%<group>`, and a
//! transaction half message to `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 (with `REAL_TOPIC`/`REAL_QID`)
//! → append and wake long polls → in sync-flush mode (unless the message says `WAIT=false`)
//! answer once the message is durable: the store's flusher thread sends the response right after
//! its round ([`Appender::answer_when_durable`]), FLUSH_DISK_TIMEOUT (10) on timeout.
//!
//! Not yet: delayed delivery. A message with a `DELAY` level is stored straight in its real
//! topic (delivered at once); the schedule service comes with the delay issue.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use saturn_protocol::body::TopicFilterType;
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{SendMessageResponse, SendMessageView};
use saturn_protocol::message::{
    decode_batch, offset_msg_id, properties, sysflag, MessageToStore, UniqIdGenerator,
};
use saturn_remoting::Channel;
use saturn_store::{AppendResult, Durability};

use super::{with_header, Appender};
use crate::error::RequestError;
use crate::state::Identity;
use crate::subscription_groups::SubscriptionGroups;
use crate::topic_config::{
    dlq_topic, validate_topic, AutoCreate, TopicConfigs, RETRY_GROUP_TOPIC_PREFIX, TRANS_HALF_TOPIC,
};

/// Send-path settings taken from the config.
#[derive(Debug, Clone)]
pub struct SendSettings {
    /// Largest body.
    pub max_message_size: usize,
    /// Longest topic name.
    pub max_topic_length: usize,
    /// `MSG_REGION` of responses.
    pub region_id: String,
    /// `TRACE_ON` of responses.
    pub trace_on: bool,
}

/// Serves the three send codes.
pub struct SendProcessor {
    appender: Appender,
    topics: Arc<TopicConfigs>,
    groups: Arc<SubscriptionGroups>,
    identity: Arc<Identity>,
    settings: SendSettings,
    uniq: UniqIdGenerator,
    round_robin: AtomicU32,
}

/// A prepared send: the records and where the first goes.
struct Prepared {
    msgs: Records,
    wait: bool,
    /// `UNIQ_KEY` of the message (a batch: of the wrapper), answered as `transactionId`.
    transaction_id: Option<String>,
}

/// One record (the common case, without a `Vec`) or a batch.
enum Records {
    One(MessageToStore),
    Many(Vec<MessageToStore>),
}

impl Records {
    fn as_slice(&self) -> &[MessageToStore] {
        match self {
            Records::One(m) => std::slice::from_ref(m),
            Records::Many(v) => v,
        }
    }
}

/// The properties the send path looks at, found in one pass (the last value of each, as
/// [`properties::find`] would give).
#[derive(Debug, Default)]
struct PropertyFacts<'a> {
    wait: Option<&'a str>,
    uniq_key: Option<&'a str>,
    cluster: Option<&'a str>,
}

impl<'a> PropertyFacts<'a> {
    fn scan(props: &'a str) -> Self {
        let mut facts = PropertyFacts::default();
        for (name, value) in properties::iter(props) {
            match name {
                properties::WAIT => facts.wait = Some(value),
                properties::UNIQ_KEY => facts.uniq_key = Some(value),
                properties::CLUSTER => facts.cluster = Some(value),
                _ => {}
            }
        }
        facts
    }
}

/// Room reserved in a message's properties for what the broker appends (`UNIQ_KEY`, `CLUSTER`).
const APPENDED_PROPERTIES: usize = 64;

impl SendProcessor {
    /// Builds the processor.
    pub fn new(
        appender: Appender,
        topics: Arc<TopicConfigs>,
        groups: Arc<SubscriptionGroups>,
        identity: Arc<Identity>,
        settings: SendSettings,
    ) -> Self {
        let uniq = UniqIdGenerator::new(identity.store_host.ip());
        SendProcessor {
            appender,
            topics,
            groups,
            identity,
            settings,
            uniq,
            round_robin: AtomicU32::new(0),
        }
    }

    /// Handles one send request. `Ok(None)`: in sync-flush mode the response was handed to the
    /// store, which sends it from its flusher thread once the message is durable.
    ///
    /// # Errors
    /// Bad header, illegal message, unknown topic, store failure.
    pub async fn handle(
        &self,
        channel: &Channel,
        req: &RemotingCommand,
    ) -> Result<Option<RemotingCommand>, RequestError> {
        let header = SendMessageView::from_command(req)?;
        let prepared = self.prepare(&header, req, channel.remote_addr()).await?;
        let msgs = prepared.msgs.as_slice();
        let (results, durability) = self.appender.append(msgs)?;
        let first = results
            .first()
            .ok_or_else(|| RequestError::System("nothing was stored".into()))?;
        let resp = SendMessageResponse {
            msg_id: self.msg_ids(&results),
            queue_id: msgs.first().map_or(0, |m| m.queue_id),
            queue_offset: first.queue_offset,
            transaction_id: prepared.transaction_id,
            msg_region: Some(self.settings.region_id.clone()),
            trace_on: Some(self.settings.trace_on),
            ..Default::default()
        };
        let mut reply = with_header(req, response::SUCCESS, &resp);
        if !prepared.wait {
            return Ok(Some(reply));
        }
        if self.appender.sync_flush_timeout.is_some() {
            // No task waits for the flush: the round that covers this send answers it.
            if let Some(deferred) = channel.defer_response(req) {
                self.appender
                    .answer_when_durable(durability, reply, deferred);
                return Ok(None);
            }
        }
        reply.code = self.await_durability(durability).await?;
        Ok(Some(reply))
    }

    async fn prepare(
        &self,
        h: &SendMessageView<'_>,
        req: &RemotingCommand,
        born_host: SocketAddr,
    ) -> Result<Prepared, RequestError> {
        validate_topic(h.topic, self.settings.max_topic_length)?;
        if req.body.len() > self.settings.max_message_size {
            return Err(RequestError::MessageIllegal(format!(
                "the message body size over max value, MAX: {}",
                self.settings.max_message_size
            )));
        }
        let auto = AutoCreate {
            queue_nums: h.default_topic_queue_nums,
            default_topic: h.default_topic,
        };
        let topic = self.topics.for_send(h.topic, auto).await?;
        let mut queue_id = h.queue_id;
        if queue_id < 0 || queue_id >= topic.write_queue_nums {
            let n = u32::try_from(topic.write_queue_nums.max(1)).unwrap_or(1);
            let pick = self.round_robin.fetch_add(1, Ordering::Relaxed) % n;
            queue_id = i32::try_from(pick).unwrap_or(0);
        }
        let mut sys_flag = h.sys_flag;
        if topic.topic_filter_type == TopicFilterType::MultiTag {
            sys_flag |= sysflag::MULTI_TAGS;
        }
        let wrapper_props = h.properties.unwrap_or_default();
        let facts = PropertyFacts::scan(wrapper_props);
        let wait = facts.wait != Some("false");
        let template = MessageToStore {
            topic: h.topic.to_owned(),
            queue_id,
            flag: h.flag,
            sys_flag,
            born_timestamp: h.born_timestamp,
            born_host,
            store_host: self.identity.store_host,
            reconsume_times: h.reconsume_times.unwrap_or(0),
            prepared_transaction_offset: 0,
            body: req.body.clone(),
            properties: String::new(),
        };
        if h.is_batch() {
            return self.prepare_batch(template, facts, wait);
        }
        let mut msg = template;
        msg.properties = self.complete_properties(wrapper_props, &facts);
        let transaction_id = match facts.uniq_key {
            Some(id) => Some(id.to_owned()),
            // The broker just made one up.
            None => properties::find(&msg.properties, properties::UNIQ_KEY).map(str::to_owned),
        };
        if msg.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
            self.retry_or_dlq(&mut msg, h.max_reconsume_times).await?;
        }
        if sysflag::transaction_value(msg.sys_flag) == sysflag::TRANSACTION_PREPARED_TYPE {
            to_half_message(&mut msg);
        }
        Ok(Prepared {
            msgs: Records::One(msg),
            wait,
            transaction_id,
        })
    }

    fn prepare_batch(
        &self,
        template: MessageToStore,
        wrapper: PropertyFacts<'_>,
        wait: bool,
    ) -> Result<Prepared, RequestError> {
        if template.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
            return Err(RequestError::MessageIllegal(
                "batch message does not support retry group".into(),
            ));
        }
        if sysflag::transaction_value(template.sys_flag) != sysflag::TRANSACTION_NOT_TYPE {
            return Err(RequestError::MessageIllegal(
                "batch message does not support transactions".into(),
            ));
        }
        let entries = decode_batch(&template.body)
            .map_err(|e| RequestError::MessageIllegal(format!("bad batch body: {e}")))?;
        if entries.is_empty() {
            return Err(RequestError::MessageIllegal("empty batch".into()));
        }
        let msgs = entries
            .into_iter()
            .map(|e| MessageToStore {
                flag: e.flag,
                body: e.body,
                properties: self
                    .complete_properties(&e.properties, &PropertyFacts::scan(&e.properties)),
                ..template.clone()
            })
            .collect();
        Ok(Prepared {
            msgs: Records::Many(msgs),
            wait,
            transaction_id: wrapper.uniq_key.map(str::to_owned),
        })
    }

    /// The stored properties: the producer's plus `UNIQ_KEY` when it did not set one, and
    /// `CLUSTER`; one allocation, sized up front.
    fn complete_properties(&self, sent: &str, facts: &PropertyFacts<'_>) -> String {
        let cluster = self.identity.cluster.as_str();
        let mut props = String::with_capacity(sent.len() + cluster.len() + APPENDED_PROPERTIES);
        props.push_str(sent);
        if facts.uniq_key.is_none() {
            properties::push(&mut props, properties::UNIQ_KEY, &self.uniq.next_id());
        }
        if facts.cluster != Some(cluster) {
            properties::push(&mut props, properties::CLUSTER, cluster);
        }
        props
    }

    /// A `%RETRY%<group>` send whose retries are used up goes to `%DLQ%<group>` (Java
    /// `handleRetryAndDLQ`): the limit is the header's `maxReconsumeTimes`, else the group's
    /// `retryMaxTimes` (default 16).
    async fn retry_or_dlq(
        &self,
        msg: &mut MessageToStore,
        header_max: Option<i32>,
    ) -> Result<(), RequestError> {
        let group = msg
            .topic
            .strip_prefix(RETRY_GROUP_TOPIC_PREFIX)
            .unwrap_or_default()
            .to_owned();
        let max = header_max.unwrap_or_else(|| self.groups.get_or_default(&group).retry_max_times);
        if msg.reconsume_times >= max {
            let dlq = self.topics.ensure_group_topic(&dlq_topic(&group)).await?;
            tracing::info!(group = %group, "retries used up, message goes to the dead-letter queue");
            msg.topic = dlq.topic_name;
            msg.queue_id = 0;
        }
        Ok(())
    }

    /// Sync flush: waits for durability; FLUSH_DISK_TIMEOUT when it does not come in time.
    async fn await_durability(&self, d: Durability) -> Result<i32, RequestError> {
        Ok(if self.appender.wait_durable(d).await? {
            response::SUCCESS
        } else {
            response::FLUSH_DISK_TIMEOUT
        })
    }

    fn msg_ids(&self, results: &[AppendResult]) -> String {
        let id = |r: &AppendResult| {
            offset_msg_id(
                self.identity.store_host,
                i64::try_from(r.phys).unwrap_or(i64::MAX),
            )
        };
        if let [one] = results {
            return id(one);
        }
        let ids = results.iter().map(id);
        let mut out = String::with_capacity(results.len() * 33);
        for (i, id) in ids.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&id);
        }
        out
    }
}

/// Rewrites a prepared (half) message to the half topic, queue 0, keeping the real target in
/// `REAL_TOPIC`/`REAL_QID`. Like Java, the stored record's transaction type is reset to "not a
/// transaction", so it takes a queue offset in the half topic (where the check-back scans);
/// consumers never subscribe to that topic, so it stays invisible until committed.
fn to_half_message(msg: &mut MessageToStore) {
    properties::push(&mut msg.properties, properties::REAL_TOPIC, &msg.topic);
    properties::push(
        &mut msg.properties,
        properties::REAL_QID,
        &msg.queue_id.to_string(),
    );
    msg.topic = TRANS_HALF_TOPIC.to_owned();
    msg.queue_id = 0;
    msg.sys_flag = sysflag::reset_transaction_value(msg.sys_flag, sysflag::TRANSACTION_NOT_TYPE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_message_rewrite() {
        let mut m = MessageToStore {
            topic: "T".into(),
            queue_id: 3,
            flag: 0,
            sys_flag: sysflag::TRANSACTION_PREPARED_TYPE,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: bytes::Bytes::new(),
            properties: "TRAN_MSG\u{1}true\u{2}".into(),
        };
        to_half_message(&mut m);
        assert_eq!(m.topic, TRANS_HALF_TOPIC);
        assert_eq!(m.queue_id, 0);
        assert_eq!(
            properties::find(&m.properties, properties::REAL_TOPIC),
            Some("T")
        );
        assert_eq!(
            properties::find(&m.properties, properties::REAL_QID),
            Some("3")
        );
        assert_eq!(sysflag::transaction_value(m.sys_flag), 0);
    }
}
