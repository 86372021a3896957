//! Admin headers: UPDATE_AND_CREATE_TOPIC (17), GET_TOPIC_STATS_INFO (202), GET_CONSUME_STATS
//! (208), GET_CONSUMER_CONNECTION_LIST (203), DELETE_TOPIC_IN_BROKER (215).

use super::command_header;

command_header! {
    /// `CreateTopicRequestHeader`.
    pub struct CreateTopicRequest {
        /// Topic.
        topic: String => "topic",
        /// Template topic (any value; usually `TBW102`).
        default_topic: String => "defaultTopic",
        /// Read queues.
        read_queue_nums: i32 => "readQueueNums",
        /// Write queues.
        write_queue_nums: i32 => "writeQueueNums",
        /// Permission bits (6 = read + write).
        perm: i32 => "perm",
        /// `SINGLE_TAG` or `MULTI_TAG`.
        topic_filter_type: String => "topicFilterType",
        /// Topic system flag.
        topic_sys_flag: Option<i32> => "topicSysFlag",
        /// Ordered topic.
        order: bool => "order",
        /// 5.x attributes `+key=value,…`.
        attributes: Option<String> => "attributes",
        /// 5.x force.
        force: Option<bool> => "force",
    }
}

command_header! {
    /// `GetTopicStatsInfoRequestHeader`.
    pub struct GetTopicStatsInfoRequest {
        /// Topic.
        topic: String => "topic",
    }
}

command_header! {
    /// `GetConsumeStatsRequestHeader`.
    pub struct GetConsumeStatsRequest {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Restrict to one topic.
        topic: Option<String> => "topic",
    }
}

command_header! {
    /// `GetConsumerConnectionListRequestHeader`.
    pub struct GetConsumerConnectionListRequest {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// `DeleteTopicRequestHeader` (broker side).
    pub struct DeleteTopicRequest {
        /// Topic.
        topic: String => "topic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{ExtFields, HeaderError};
    use crate::header::CommandHeader;

    #[test]
    fn create_topic_requires_order() {
        let h = CreateTopicRequest {
            topic: "T".into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            order: true,
            ..Default::default()
        };
        let mut ext = h.to_ext();
        assert_eq!(ext.get("order"), Some("true"));
        assert_eq!(CreateTopicRequest::from_ext(&ext), Ok(h));
        ext.remove("order");
        assert_eq!(
            CreateTopicRequest::from_ext(&ext),
            Err(HeaderError::MissingField { field: "order" })
        );
        let empty = ExtFields::new();
        assert!(GetConsumeStatsRequest::from_ext(&empty).is_err());
    }
}
