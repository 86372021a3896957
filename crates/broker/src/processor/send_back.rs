//! CONSUMER_SEND_MSG_BACK (36): a consumer could not process a message; store it again for a
//! later retry.
//!
//! The message is looked up by its commit-log offset and re-stored in `%RETRY%<group>` with
//! reconsumeTimes + 1, `RETRY_TOPIC` = its original topic and `ORIGIN_MESSAGE_ID` = its original
//! offset msg id (both only if not already set); same body, flag, sysflag, born time and born
//! host. It goes to `%DLQ%<group>` instead when its reconsumeTimes reached the limit (the
//! header's `maxReconsumeTimes`, else the group's `retryMaxTimes`, default 16) or `delayLevel`
//! is negative.
//!
//! Not yet: retry delays. Java delays the retry by level `3 + reconsumeTimes` (or the requested
//! level) through the schedule topic; until delivery delays exist the retry is delivered at once.

use std::sync::Arc;

use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, ConsumerSendMsgBackRequest};
use saturn_protocol::message::properties;
use saturn_protocol::message::record::decode;
use saturn_store::MessageStore;

use super::{success, Appender, Reply};
use crate::error::RequestError;
use crate::state::Identity;
use crate::subscription_groups::SubscriptionGroups;
use crate::topic_config::{dlq_topic, retry_topic, validate_topic, TopicConfigs};

/// Serves CONSUMER_SEND_MSG_BACK.
pub struct SendBackProcessor {
    appender: Appender,
    store: Arc<MessageStore>,
    topics: Arc<TopicConfigs>,
    groups: Arc<SubscriptionGroups>,
    identity: Arc<Identity>,
}

impl SendBackProcessor {
    /// Builds the processor.
    pub fn new(
        appender: Appender,
        store: Arc<MessageStore>,
        topics: Arc<TopicConfigs>,
        groups: Arc<SubscriptionGroups>,
        identity: Arc<Identity>,
    ) -> Self {
        SendBackProcessor {
            appender,
            store,
            topics,
            groups,
            identity,
        }
    }

    /// Handles CONSUMER_SEND_MSG_BACK.
    ///
    /// # Errors
    /// Bad header or group name, no message at the offset, store failures.
    pub async fn handle(&self, req: &RemotingCommand) -> Reply {
        let h = ConsumerSendMsgBackRequest::from_ext(&req.ext_fields)?;
        let retry = retry_topic(&h.group);
        validate_topic(&retry, 255)?;
        let record = u64::try_from(h.offset)
            .ok()
            .and_then(|phys| self.store.message_at(phys))
            .ok_or_else(|| {
                RequestError::System(format!("look message by offset failed, {}", h.offset))
            })?;
        let (original, _) = decode(&record).map_err(|e| {
            RequestError::System(format!("look message by offset failed, {}: {e}", h.offset))
        })?;
        let max = h
            .max_reconsume_times
            .unwrap_or_else(|| self.groups.get_or_default(&h.group).retry_max_times);
        let to_dlq = original.reconsume_times >= max || h.delay_level < 0;
        let target = if to_dlq {
            tracing::info!(group = %h.group, offset = h.offset, "message goes to the dead-letter queue");
            dlq_topic(&h.group)
        } else {
            retry
        };
        let target = self.topics.ensure_group_topic(&target).await?;

        let mut msg = original.to_message_to_store();
        if original.property(properties::RETRY_TOPIC).is_none() {
            properties::push(
                &mut msg.properties,
                properties::RETRY_TOPIC,
                &original.topic,
            );
        }
        if original.property(properties::ORIGIN_MESSAGE_ID).is_none() {
            let origin = h
                .origin_msg_id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| original.offset_msg_id());
            properties::push(&mut msg.properties, properties::ORIGIN_MESSAGE_ID, &origin);
        }
        msg.topic = target.topic_name;
        msg.queue_id = 0;
        msg.reconsume_times = original.reconsume_times.saturating_add(1);
        msg.store_host = self.identity.store_host;
        msg.prepared_transaction_offset = 0;
        self.appender
            .append_durable(std::slice::from_ref(&msg))
            .await?;
        Ok(success(req))
    }
}
