//! PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361) request and response headers.
//! The request's `sysFlag` bits are in [`crate::message::sysflag`].

use super::command_header;

command_header! {
    /// `PullMessageRequestHeader`.
    pub struct PullMessageRequest {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// First logical offset wanted.
        queue_offset: i64 => "queueOffset",
        /// Batch size.
        max_msg_nums: i32 => "maxMsgNums",
        /// Pull system flags (commit offset, suspend, subscription, class filter, lite pull).
        sys_flag: i32 => "sysFlag",
        /// Consumer's committed offset (stored when the commit-offset bit is set).
        commit_offset: i64 => "commitOffset",
        /// Long-poll hold time in ms.
        suspend_timeout_millis: i64 => "suspendTimeoutMillis",
        /// Tag expression or SQL92 text (used when the subscription bit is set).
        subscription: Option<String> => "subscription",
        /// Subscription version (client timestamp).
        sub_version: i64 => "subVersion",
        /// `TAG` or `SQL92` (absent = TAG).
        expression_type: Option<String> => "expressionType",
        /// Byte cap of the response (5.x).
        max_msg_bytes: Option<i32> => "maxMsgBytes",
        /// Target broker name (5.x).
        broker_name: Option<String> => "bname",
    }
}

command_header! {
    /// `PullMessageResponseHeader`: required on codes 0, 19, 20 and 21.
    pub struct PullMessageResponse {
        /// Broker id to pull from next (0 = master).
        suggest_which_broker_id: i64 => "suggestWhichBrokerId",
        /// Offset to request next.
        next_begin_offset: i64 => "nextBeginOffset",
        /// Queue min offset.
        min_offset: i64 => "minOffset",
        /// Queue max offset (one past the last message).
        max_offset: i64 => "maxOffset",
        /// Offset delta (5.x).
        offset_delta: Option<i64> => "offsetDelta",
        /// Topic system flag (5.x).
        topic_sys_flag: Option<i32> => "topicSysFlag",
        /// Group system flag (5.x).
        group_sys_flag: Option<i32> => "groupSysFlag",
        /// Forbidden type (5.x).
        forbidden_type: Option<i32> => "forbiddenType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{ExtFields, HeaderError};
    use crate::header::CommandHeader;

    #[test]
    fn rust_client_pull_request() {
        let ext: ExtFields = [
            ("consumerGroup", "cg"),
            ("topic", "T"),
            ("queueId", "1"),
            ("queueOffset", "0"),
            ("maxMsgNums", "32"),
            ("sysFlag", "2"),
            ("commitOffset", "-1"),
            ("suspendTimeoutMillis", "15000"),
            ("subscription", ""),
            ("subVersion", "0"),
            ("expressionType", "TAG"),
            ("maxMsgBytes", "262144"),
            ("bname", "broker-a"),
        ]
        .into_iter()
        .collect();
        let h = PullMessageRequest::from_ext(&ext).unwrap();
        assert_eq!(h.commit_offset, -1);
        assert_eq!(h.subscription.as_deref(), Some(""));
        assert_eq!(h.max_msg_bytes, Some(262_144));
        assert_eq!(h.to_ext(), ext);
    }

    #[test]
    fn response_requires_all_four() {
        let r = PullMessageResponse {
            next_begin_offset: 5,
            max_offset: 9,
            ..Default::default()
        };
        let mut ext = r.to_ext();
        assert_eq!(PullMessageResponse::from_ext(&ext).unwrap(), r);
        ext.remove("minOffset");
        assert_eq!(
            PullMessageResponse::from_ext(&ext),
            Err(HeaderError::MissingField { field: "minOffset" })
        );
    }
}
