//! One function per broker request the consumers and the admin client make (pull, offsets,
//! send-back, group members), mapping response codes to results.

use saturn_protocol::body::{self, ConsumerListBody};
use saturn_protocol::code::{request, response};
use saturn_protocol::header::{
    CommandHeader, ConsumerSendMsgBackRequest, GetConsumerListByGroupRequest, GetMaxOffsetRequest,
    GetMinOffsetRequest, OffsetResponse, PullMessageRequest, PullMessageResponse,
    QueryConsumerOffsetRequest, SearchOffsetRequest, UpdateConsumerOffsetRequest,
};
use saturn_protocol::message::record::{self, StoredMessage};
use saturn_protocol::RemotingCommand;
use std::time::Duration;
use tracing::warn;

use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::{MessageExt, MessageQueue};

/// What a pull found (Java's `PullStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PullStatus {
    /// Code 0: messages in the body.
    Found,
    /// Code 19: nothing new (also the end of a long poll).
    NoNewMsg,
    /// Code 20: messages exist but none matched the filter.
    NoMatchedMsg,
    /// Code 21: the requested offset is outside the queue; restart at `next_begin_offset`.
    OffsetIllegal,
}

/// A pull response.
#[derive(Debug)]
pub(crate) struct PullOutcome {
    pub(crate) status: PullStatus,
    pub(crate) next_begin_offset: i64,
    pub(crate) min_offset: i64,
    pub(crate) max_offset: i64,
    pub(crate) messages: Vec<StoredMessage>,
}

/// PULL_MESSAGE to `addr`; `timeout` must exceed the header's suspend time.
pub(crate) async fn pull(
    instance: &ClientInstance,
    addr: &str,
    header: PullMessageRequest,
    timeout: Duration,
) -> Result<PullOutcome, ClientError> {
    let cmd = RemotingCommand::new_request(request::PULL_MESSAGE, header.to_ext());
    let resp = instance.invoke_timeout(addr, cmd, timeout).await?;
    let status = match resp.code {
        response::SUCCESS => PullStatus::Found,
        response::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        response::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        response::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        _ => return Err(ClientError::from_response(&resp)),
    };
    let h = PullMessageResponse::from_ext(&resp.ext_fields)?;
    let mut messages = Vec::new();
    if status == PullStatus::Found {
        for r in record::records(&resp.body) {
            match r {
                Ok(m) => messages.push(m),
                Err(e) => {
                    // Like Java: keep what decoded, stop at the first bad record.
                    warn!(%addr, error = %e, "undecodable record in pull response");
                    break;
                }
            }
        }
    }
    Ok(PullOutcome {
        status,
        next_begin_offset: h.next_begin_offset,
        min_offset: h.min_offset,
        max_offset: h.max_offset,
        messages,
    })
}

/// Converts pulled records of `mq`: drops records below `requested` and those whose tag the
/// filter rejects (the broker filters by hash only), and restores the original topic of
/// messages redelivered through `retry_topic`.
pub(crate) fn received(
    records: Vec<StoredMessage>,
    mq: &MessageQueue,
    requested: i64,
    filter: &saturn_protocol::message::TagFilter,
    retry_topic: Option<&str>,
) -> Vec<MessageExt> {
    records
        .into_iter()
        .filter(|m| m.queue_offset >= requested)
        .filter(|m| filter.is_all() || m.tags().is_some_and(|t| filter.matches_tag(t)))
        .map(|m| {
            let mut msg = MessageExt::from_stored(m, &mq.broker_name);
            if retry_topic == Some(msg.topic.as_str()) {
                if let Some(orig) = msg.property(saturn_protocol::message::properties::RETRY_TOPIC)
                {
                    msg.topic = orig.to_owned();
                }
            }
            msg
        })
        .collect()
}

/// The master address of `mq`'s broker, refreshing the topic's route once if unknown.
pub(crate) async fn master_of(
    instance: &ClientInstance,
    mq: &MessageQueue,
) -> Result<String, ClientError> {
    if let Some(a) = instance.routes.master_addr(&mq.broker_name) {
        return Ok(a);
    }
    let _ = instance.routes.refresh(&mq.topic).await;
    instance
        .routes
        .master_addr(&mq.broker_name)
        .ok_or_else(|| ClientError::BrokerNotFound(mq.broker_name.clone()))
}

fn offset_of(resp: &RemotingCommand) -> Result<i64, ClientError> {
    if resp.code != response::SUCCESS {
        return Err(ClientError::from_response(resp));
    }
    Ok(OffsetResponse::from_ext(&resp.ext_fields)?.offset)
}

/// QUERY_CONSUMER_OFFSET: the group's committed offset, `None` when it has none (code 22).
pub(crate) async fn query_consumer_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
) -> Result<Option<i64>, ClientError> {
    let addr = master_of(instance, mq).await?;
    let header = QueryConsumerOffsetRequest {
        consumer_group: group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        // Ask 5.x brokers for "not found" rather than 0, so consume-from rules apply.
        set_zero_if_not_found: Some(false),
    };
    let cmd = RemotingCommand::new_request(request::QUERY_CONSUMER_OFFSET, header.to_ext());
    let resp = instance.invoke(&addr, cmd).await?;
    if resp.code == response::QUERY_NOT_FOUND {
        return Ok(None);
    }
    offset_of(&resp).map(Some)
}

/// UPDATE_CONSUMER_OFFSET, oneway (periodic commits) or awaited (shutdown, explicit commits).
pub(crate) async fn update_consumer_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
    offset: i64,
    oneway: bool,
) -> Result<(), ClientError> {
    let addr = master_of(instance, mq).await?;
    let header = UpdateConsumerOffsetRequest {
        consumer_group: group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        commit_offset: offset,
    };
    let cmd = RemotingCommand::new_request(request::UPDATE_CONSUMER_OFFSET, header.to_ext());
    if oneway {
        return instance.invoke_oneway(&addr, cmd).await;
    }
    let resp = instance.invoke(&addr, cmd).await?;
    if resp.code != response::SUCCESS {
        return Err(ClientError::from_response(&resp));
    }
    Ok(())
}

/// GET_MAX_OFFSET: one past the queue's last message.
pub(crate) async fn max_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
) -> Result<i64, ClientError> {
    let addr = master_of(instance, mq).await?;
    let header = GetMaxOffsetRequest {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        committed: None,
    };
    let cmd = RemotingCommand::new_request(request::GET_MAX_OFFSET, header.to_ext());
    offset_of(&instance.invoke(&addr, cmd).await?)
}

/// GET_MIN_OFFSET: the queue's oldest stored offset.
pub(crate) async fn min_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
) -> Result<i64, ClientError> {
    let addr = master_of(instance, mq).await?;
    let header = GetMinOffsetRequest {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
    };
    let cmd = RemotingCommand::new_request(request::GET_MIN_OFFSET, header.to_ext());
    offset_of(&instance.invoke(&addr, cmd).await?)
}

/// SEARCH_OFFSET_BY_TIMESTAMP: the first offset stored at or after `timestamp_ms`.
pub(crate) async fn search_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
    timestamp_ms: i64,
) -> Result<i64, ClientError> {
    let addr = master_of(instance, mq).await?;
    let header = SearchOffsetRequest {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        timestamp: timestamp_ms,
        boundary_type: None,
    };
    let cmd = RemotingCommand::new_request(request::SEARCH_OFFSET_BY_TIMESTAMP, header.to_ext());
    offset_of(&instance.invoke(&addr, cmd).await?)
}

/// CONSUMER_SEND_MSG_BACK: asks the broker to redeliver `msg` through the group's retry topic
/// (delay level chosen by the broker: 3 + reconsume times).
pub(crate) async fn send_back(
    instance: &ClientInstance,
    group: &str,
    msg: &MessageExt,
    max_reconsume_times: i32,
) -> Result<(), ClientError> {
    let mq = MessageQueue {
        topic: msg.topic.clone(),
        broker_name: msg.broker_name.clone(),
        queue_id: msg.queue_id,
    };
    let addr = match master_of(instance, &mq).await {
        Ok(a) => a,
        Err(_) => msg.store_host.to_string(),
    };
    let header = ConsumerSendMsgBackRequest {
        offset: msg.commit_log_offset,
        group: group.to_owned(),
        delay_level: 0,
        origin_msg_id: Some(msg.msg_id.clone()),
        origin_topic: Some(msg.topic.clone()),
        unit_mode: Some(false),
        max_reconsume_times: Some(max_reconsume_times),
    };
    let cmd = RemotingCommand::new_request(request::CONSUMER_SEND_MSG_BACK, header.to_ext());
    let resp = instance.invoke(&addr, cmd).await?;
    if resp.code != response::SUCCESS {
        return Err(ClientError::from_response(&resp));
    }
    Ok(())
}

/// GET_CONSUMER_LIST_BY_GROUP: client ids of the group's live members known to `addr`.
pub(crate) async fn consumer_ids(
    instance: &ClientInstance,
    addr: &str,
    group: &str,
) -> Result<Vec<String>, ClientError> {
    let header = GetConsumerListByGroupRequest {
        consumer_group: group.to_owned(),
    };
    let cmd = RemotingCommand::new_request(request::GET_CONSUMER_LIST_BY_GROUP, header.to_ext());
    let resp = instance.invoke(addr, cmd).await?;
    if resp.code != response::SUCCESS {
        return Err(ClientError::from_response(&resp));
    }
    let body: ConsumerListBody = body::decode(&resp.body)?;
    Ok(body.consumer_id_list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use saturn_protocol::message::TagFilter;
    use std::net::SocketAddr;

    fn rec(offset: i64, topic: &str, props: &str) -> StoredMessage {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        StoredMessage {
            topic: topic.into(),
            queue_id: 0,
            flag: 0,
            queue_offset: offset,
            physical_offset: offset * 100,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body_crc: 0,
            body: Bytes::from_static(b"x"),
            properties: props.into(),
        }
    }

    #[test]
    fn client_side_tag_recheck_and_offsets() {
        let mq = MessageQueue {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: 0,
        };
        let records = vec![
            rec(4, "T", "TAGS\u{1}TagA\u{2}"),
            rec(5, "T", "TAGS\u{1}TagA\u{2}"),
            // A different tag that the broker let through (hash collision stand-in).
            rec(6, "T", "TAGS\u{1}TagB\u{2}"),
            rec(7, "T", ""),
            rec(8, "T", "TAGS\u{1}TagA\u{2}"),
        ];
        let got = received(records.clone(), &mq, 5, &TagFilter::parse("TagA"), None);
        assert_eq!(
            got.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
            [5, 8]
        );
        let all = received(records, &mq, 0, &TagFilter::all(), None);
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn retry_messages_get_their_original_topic() {
        let mq = MessageQueue {
            topic: "%RETRY%g".into(),
            broker_name: "b".into(),
            queue_id: 0,
        };
        let records = vec![rec(0, "%RETRY%g", "RETRY_TOPIC\u{1}Orders\u{2}")];
        let got = received(records, &mq, 0, &TagFilter::all(), Some("%RETRY%g"));
        assert_eq!(got[0].topic, "Orders");
    }
}
