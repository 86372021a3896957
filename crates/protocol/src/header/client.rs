//! Client management headers: HEART_BEAT (34), UNREGISTER_CLIENT (35),
//! GET_CONSUMER_LIST_BY_GROUP (38), NOTIFY_CONSUMER_IDS_CHANGED (40), CONSUMER_SEND_MSG_BACK (36),
//! LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42).

use super::command_header;

command_header! {
    /// HEART_BEAT has no header keys (5.x sends only base keys); the body is HeartbeatData.
    pub struct HeartbeatRequest {}
}

command_header! {
    /// `UnregisterClientRequestHeader` (one of the two groups is set per call).
    pub struct UnregisterClientRequest {
        /// Client id (`ip@instance`).
        client_id: String => "clientID",
        /// Producer group leaving.
        producer_group: Option<String> => "producerGroup",
        /// Consumer group leaving.
        consumer_group: Option<String> => "consumerGroup",
    }
}

command_header! {
    /// `GetConsumerListByGroupRequestHeader`.
    pub struct GetConsumerListByGroupRequest {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// `NotifyConsumerIdsChangedRequestHeader` (broker → client, oneway).
    pub struct NotifyConsumerIdsChangedRequest {
        /// Consumer group whose members changed.
        consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// `ConsumerSendMsgBackRequestHeader`.
    pub struct ConsumerSendMsgBackRequest {
        /// Commit-log offset of the failed message.
        offset: i64 => "offset",
        /// Consumer group.
        group: String => "group",
        /// 0 = broker decides, −1 = straight to DLQ, >0 explicit level.
        delay_level: i32 => "delayLevel",
        /// Original msg id.
        origin_msg_id: Option<String> => "originMsgId",
        /// Original topic.
        origin_topic: Option<String> => "originTopic",
        /// Unit mode.
        unit_mode: Option<bool> => "unitMode",
        /// Max retries (default 16).
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
    }
}

command_header! {
    /// LOCK_BATCH_MQ has no header keys; the queues travel in the body.
    pub struct LockBatchMqRequest {}
}

command_header! {
    /// UNLOCK_BATCH_MQ has no header keys; the queues travel in the body.
    pub struct UnlockBatchMqRequest {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{ExtFields, HeaderError};
    use crate::header::CommandHeader;

    #[test]
    fn empty_headers_ignore_extra_keys() {
        let ext: ExtFields = [("AccessKey", ""), ("bname", "b")].into_iter().collect();
        assert_eq!(HeartbeatRequest::from_ext(&ext), Ok(HeartbeatRequest {}));
        assert!(LockBatchMqRequest {}.to_ext().is_empty());
    }

    #[test]
    fn unregister_requires_client_id() {
        let ext: ExtFields = [("producerGroup", "p")].into_iter().collect();
        assert_eq!(
            UnregisterClientRequest::from_ext(&ext),
            Err(HeaderError::MissingField { field: "clientID" })
        );
    }
}
