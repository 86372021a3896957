//! SEND_MESSAGE (10, long names), SEND_MESSAGE_V2 (310, letters `a`..`n`), SEND_BATCH_MESSAGE
//! (320, V2 with `m=true`), the reply variants (324/325) and the send response.
//!
//! The broker handles every form as one [`SendMessageRequest`]; use
//! [`SendMessageRequest::from_command`] to read whichever form arrived.

use super::{command_header, CommandHeader};
use crate::code::request;
use crate::command::RemotingCommand;
use crate::ext::HeaderError;

command_header! {
    /// `SendMessageRequestHeader` (long key names; codes 10 and 324).
    pub struct SendMessageRequest {
        /// Producer group.
        producer_group: String => "producerGroup",
        /// Target topic.
        topic: String => "topic",
        /// Template topic for auto-creation (normally `TBW102`).
        default_topic: String => "defaultTopic",
        /// Queue count for auto-creation.
        default_topic_queue_nums: i32 => "defaultTopicQueueNums",
        /// Target queue; negative lets the broker choose.
        queue_id: i32 => "queueId",
        /// Message system flags (compressed, transaction type, …).
        sys_flag: i32 => "sysFlag",
        /// Client time in ms.
        born_timestamp: i64 => "bornTimestamp",
        /// User flag, stored as FLAG.
        flag: i32 => "flag",
        /// Encoded properties (`name\x01value\x02…`).
        properties: Option<String> => "properties",
        /// Retry count of a re-sent message.
        reconsume_times: Option<i32> => "reconsumeTimes",
        /// Unit mode.
        unit_mode: Option<bool> => "unitMode",
        /// Per-message max retries.
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
        /// True for a batch body.
        batch: Option<bool> => "batch",
        /// Target broker name (5.x).
        broker_name: Option<String> => "bname",
    }
}

command_header! {
    /// `SendMessageRequestHeaderV2`: the same fields under one-letter keys (codes 310, 320, 325).
    pub struct SendMessageRequestV2 {
        /// `producerGroup`.
        producer_group: String => "a",
        /// `topic`.
        topic: String => "b",
        /// `defaultTopic`.
        default_topic: String => "c",
        /// `defaultTopicQueueNums`.
        default_topic_queue_nums: i32 => "d",
        /// `queueId`.
        queue_id: i32 => "e",
        /// `sysFlag`.
        sys_flag: i32 => "f",
        /// `bornTimestamp`.
        born_timestamp: i64 => "g",
        /// `flag`.
        flag: i32 => "h",
        /// `properties`.
        properties: Option<String> => "i",
        /// `reconsumeTimes`.
        reconsume_times: Option<i32> => "j",
        /// `unitMode`.
        unit_mode: Option<bool> => "k",
        /// `maxReconsumeTimes`.
        max_reconsume_times: Option<i32> => "l",
        /// `batch`.
        batch: Option<bool> => "m",
        /// `bname` (broker name, 5.x).
        broker_name: Option<String> => "n",
    }
}

/// Copies every field between the two forms (they differ only in key names).
macro_rules! convert_send {
    ($from:ty => $to:ident) => {
        impl From<$from> for $to {
            fn from(h: $from) -> Self {
                $to {
                    producer_group: h.producer_group,
                    topic: h.topic,
                    default_topic: h.default_topic,
                    default_topic_queue_nums: h.default_topic_queue_nums,
                    queue_id: h.queue_id,
                    sys_flag: h.sys_flag,
                    born_timestamp: h.born_timestamp,
                    flag: h.flag,
                    properties: h.properties,
                    reconsume_times: h.reconsume_times,
                    unit_mode: h.unit_mode,
                    max_reconsume_times: h.max_reconsume_times,
                    batch: h.batch,
                    broker_name: h.broker_name,
                }
            }
        }
    };
}
convert_send!(SendMessageRequestV2 => SendMessageRequest);
convert_send!(SendMessageRequest => SendMessageRequestV2);

impl SendMessageRequest {
    /// Reads the send header in whichever form `cmd.code` implies: V2 letters for 310/320/325,
    /// long names otherwise. A SEND_BATCH_MESSAGE is always a batch, whatever `m` says.
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, HeaderError> {
        match cmd.code {
            request::SEND_MESSAGE_V2 | request::SEND_REPLY_MESSAGE_V2 => {
                SendMessageRequestV2::from_ext(&cmd.ext_fields).map(Into::into)
            }
            request::SEND_BATCH_MESSAGE => {
                let mut h: SendMessageRequest =
                    SendMessageRequestV2::from_ext(&cmd.ext_fields)?.into();
                h.batch = Some(true);
                Ok(h)
            }
            _ => SendMessageRequest::from_ext(&cmd.ext_fields),
        }
    }

    /// True when this send carries a batch body.
    pub fn is_batch(&self) -> bool {
        self.batch.unwrap_or(false)
    }
}

/// Default `MSG_REGION` of a Java broker.
pub const DEFAULT_REGION: &str = "DefaultRegion";

command_header! {
    /// `SendMessageResponseHeader` plus the `MSG_REGION`/`TRACE_ON` keys a Java broker adds to
    /// every send response (the Java client reads them without a null check).
    pub struct SendMessageResponse {
        /// Offset msgId (32 hex chars); for a batch, every id joined by `,`.
        msg_id: String => "msgId",
        /// Queue the message was stored in.
        queue_id: i32 => "queueId",
        /// Consume-queue offset of the (first) message.
        queue_offset: i64 => "queueOffset",
        /// The message's UNIQ_KEY.
        transaction_id: Option<String> => "transactionId",
        /// Inner-batch unique id (5.x).
        batch_uniq_id: Option<String> => "batchUniqId",
        /// Recall handle (5.x).
        recall_handle: Option<String> => "recallHandle",
        /// Broker region.
        msg_region: Option<String> => "MSG_REGION",
        /// Whether tracing is on (`"false"` disables client tracing for the result).
        trace_on: Option<bool> => "TRACE_ON",
    }
}

impl SendMessageResponse {
    /// A response with the Java broker's default region and `TRACE_ON=true`.
    pub fn new(msg_id: String, queue_id: i32, queue_offset: i64) -> Self {
        SendMessageResponse {
            msg_id,
            queue_id,
            queue_offset,
            msg_region: Some(DEFAULT_REGION.to_owned()),
            trace_on: Some(true),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::ExtFields;

    fn v2_ext() -> ExtFields {
        [
            ("a", "pg"),
            ("b", "T"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "-1"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "KEYS\u{1}k\u{2}"),
            ("k", "false"),
            ("m", "false"),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn v2_and_v1_agree() {
        let cmd = RemotingCommand::new_request(request::SEND_MESSAGE_V2, v2_ext());
        let h = SendMessageRequest::from_command(&cmd).unwrap();
        assert_eq!(h.producer_group, "pg");
        assert_eq!(h.queue_id, -1);
        assert_eq!(h.born_timestamp, 1_700_000_000_000);
        assert_eq!(h.unit_mode, Some(false));
        let v1 = RemotingCommand::new_request(request::SEND_MESSAGE, h.to_ext());
        assert_eq!(SendMessageRequest::from_command(&v1).unwrap(), h);
        assert_eq!(SendMessageRequestV2::from(h.clone()).to_ext(), v2_ext());
    }

    #[test]
    fn batch_code_forces_batch() {
        let cmd = RemotingCommand::new_request(request::SEND_BATCH_MESSAGE, v2_ext());
        assert!(SendMessageRequest::from_command(&cmd).unwrap().is_batch());
    }

    #[test]
    fn missing_field_names_the_java_key() {
        let mut ext = v2_ext();
        ext.remove("g");
        let cmd = RemotingCommand::new_request(request::SEND_MESSAGE_V2, ext);
        assert_eq!(
            SendMessageRequest::from_command(&cmd),
            Err(HeaderError::MissingField { field: "g" })
        );
    }

    #[test]
    fn cpp_numeric_and_zero_one_values() {
        let ext: ExtFields = [
            ("producerGroup", "pg"),
            ("topic", "T"),
            ("defaultTopic", "TBW102"),
            ("defaultTopicQueueNums", "4"),
            ("queueId", "0"),
            ("sysFlag", "0"),
            ("bornTimestamp", "1"),
            ("flag", "0"),
            ("batch", "0"),
            ("unitMode", "1"),
            ("OnsChannel", "ALIYUN"),
        ]
        .into_iter()
        .collect();
        let h = SendMessageRequest::from_ext(&ext).unwrap();
        assert!(!h.is_batch());
        assert_eq!(h.unit_mode, Some(true));
    }

    #[test]
    fn response_emits_region_and_trace() {
        let r = SendMessageResponse::new("AB".into(), 1, 42);
        let ext = r.to_ext();
        assert_eq!(ext.get("MSG_REGION"), Some(DEFAULT_REGION));
        assert_eq!(ext.get("TRACE_ON"), Some("true"));
        assert_eq!(ext.get("queueOffset"), Some("42"));
        assert_eq!(SendMessageResponse::from_ext(&ext).unwrap(), r);
    }
}
