//! Offset headers: QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15),
//! SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30), GET_MIN_OFFSET (31),
//! GET_EARLIEST_MSG_STORETIME (32).

use super::command_header;

command_header! {
    /// `QueryConsumerOffsetRequestHeader`.
    pub struct QueryConsumerOffsetRequest {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// 5.x: `false` asks for QUERY_NOT_FOUND instead of a zero offset.
        set_zero_if_not_found: Option<bool> => "setZeroIfNotFound",
    }
}

command_header! {
    /// The `offset` response of QUERY_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET and
    /// SEARCH_OFFSET_BY_TIMESTAMP (Java has one class per code with this one field).
    pub struct OffsetResponse {
        /// The offset.
        offset: i64 => "offset",
    }
}

/// `QueryConsumerOffsetResponseHeader`.
pub type QueryConsumerOffsetResponse = OffsetResponse;
/// `GetMaxOffsetResponseHeader`.
pub type GetMaxOffsetResponse = OffsetResponse;
/// `GetMinOffsetResponseHeader`.
pub type GetMinOffsetResponse = OffsetResponse;
/// `SearchOffsetResponseHeader`.
pub type SearchOffsetResponse = OffsetResponse;

command_header! {
    /// `UpdateConsumerOffsetRequestHeader` (no response header; often oneway).
    pub struct UpdateConsumerOffsetRequest {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// Offset to commit.
        commit_offset: i64 => "commitOffset",
    }
}

command_header! {
    /// `GetMaxOffsetRequestHeader`.
    pub struct GetMaxOffsetRequest {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// 5.x: committed offset only (default true).
        committed: Option<bool> => "committed",
    }
}

command_header! {
    /// `GetMinOffsetRequestHeader`.
    pub struct GetMinOffsetRequest {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
    }
}

command_header! {
    /// `SearchOffsetRequestHeader`.
    pub struct SearchOffsetRequest {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// Time in ms.
        timestamp: i64 => "timestamp",
        /// 5.x: `lower` or `upper`.
        boundary_type: Option<String> => "boundaryType",
    }
}

command_header! {
    /// `GetEarliestMsgStoretimeRequestHeader`.
    pub struct GetEarliestMsgStoretimeRequest {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
    }
}

command_header! {
    /// `GetEarliestMsgStoretimeResponseHeader`.
    pub struct GetEarliestMsgStoretimeResponse {
        /// Store time in ms.
        timestamp: i64 => "timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{ExtFields, HeaderError};
    use crate::header::CommandHeader;

    #[test]
    fn query_offset_with_numeric_queue() {
        let ext: ExtFields = [("consumerGroup", "g"), ("topic", "t"), ("queueId", "3")]
            .into_iter()
            .collect();
        let h = QueryConsumerOffsetRequest::from_ext(&ext).unwrap();
        assert_eq!(h.queue_id, 3);
        assert_eq!(h.set_zero_if_not_found, None);
        let bad: ExtFields = [("consumerGroup", "g"), ("topic", "t"), ("queueId", "x")]
            .into_iter()
            .collect();
        assert!(matches!(
            QueryConsumerOffsetRequest::from_ext(&bad),
            Err(HeaderError::InvalidField {
                field: "queueId",
                ..
            })
        ));
    }
}
