//! QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33) headers.

use super::command_header;

/// Ext key a Java client adds to QUERY_MESSAGE when `key` is a UNIQ_KEY.
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

command_header! {
    /// `QueryMessageRequestHeader`.
    pub struct QueryMessageRequest {
        /// Topic.
        topic: String => "topic",
        /// A KEYS value or a UNIQ_KEY.
        key: String => "key",
        /// Max results.
        max_num: i32 => "maxNum",
        /// Range start (ms).
        begin_timestamp: i64 => "beginTimestamp",
        /// Range end (ms).
        end_timestamp: i64 => "endTimestamp",
        /// `true` when `key` is a UNIQ_KEY (broker then caps `maxNum`).
        unique_key_query: Option<bool> => "_UNIQUE_KEY_QUERY",
    }
}

impl QueryMessageRequest {
    /// True when searching by UNIQ_KEY.
    pub fn is_unique_key_query(&self) -> bool {
        self.unique_key_query.unwrap_or(false)
    }
}

command_header! {
    /// `QueryMessageResponseHeader`.
    pub struct QueryMessageResponse {
        /// Last index update time.
        index_last_update_timestamp: i64 => "indexLastUpdateTimestamp",
        /// Last indexed commit-log offset.
        index_last_update_phyoffset: i64 => "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// `ViewMessageRequestHeader`.
    pub struct ViewMessageRequest {
        /// Commit-log offset (decoded from the offset msgId).
        offset: i64 => "offset",
        /// Topic (5.x).
        topic: Option<String> => "topic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::ExtFields;
    use crate::header::CommandHeader;

    #[test]
    fn unique_key_flag() {
        let ext: ExtFields = [
            ("topic", "T"),
            ("key", "K"),
            ("maxNum", "32"),
            ("beginTimestamp", "0"),
            ("endTimestamp", "9"),
            (UNIQUE_KEY_QUERY, "true"),
        ]
        .into_iter()
        .collect();
        let h = QueryMessageRequest::from_ext(&ext).unwrap();
        assert!(h.is_unique_key_query());
        assert_eq!(h.to_ext(), ext);
    }
}
