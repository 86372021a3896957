//! SEND_MESSAGE (10, long names), SEND_MESSAGE_V2 (310, letters `a`..`n`), SEND_BATCH_MESSAGE
//! (320, V2 with `m=true`), the reply variants (324/325) and the send response.
//!
//! The broker handles every form as one [`SendMessageRequest`]; use
//! [`SendMessageRequest::from_command`] to read whichever form arrived.

use super::{command_header, CommandHeader};
use crate::code::request;
use crate::command::RemotingCommand;
use crate::ext::{parse_bool, parse_int, ExtFields, HeaderError};

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

/// Keys of the send header fields, in [`SendMessageView`] order, for the long-name form.
const LONG_KEYS: [&str; 14] = [
    "producerGroup",
    "topic",
    "defaultTopic",
    "defaultTopicQueueNums",
    "queueId",
    "sysFlag",
    "bornTimestamp",
    "flag",
    "properties",
    "reconsumeTimes",
    "unitMode",
    "maxReconsumeTimes",
    "batch",
    "bname",
];

/// The same for the one-letter (V2) form.
const LETTER_KEYS: [&str; 14] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
];

/// A send header read in place: the fields of [`SendMessageRequest`] borrowed from the command
/// instead of copied into `String`s. The broker reads every message's header this way; the
/// rules (required keys, leniency, a SEND_BATCH_MESSAGE is always a batch) are those of
/// [`SendMessageRequest::from_command`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMessageView<'a> {
    /// Producer group.
    pub producer_group: &'a str,
    /// Target topic.
    pub topic: &'a str,
    /// Template topic for auto-creation.
    pub default_topic: &'a str,
    /// Queue count for auto-creation.
    pub default_topic_queue_nums: i32,
    /// Target queue; negative lets the broker choose.
    pub queue_id: i32,
    /// Message system flags.
    pub sys_flag: i32,
    /// Client time in ms.
    pub born_timestamp: i64,
    /// User flag.
    pub flag: i32,
    /// Encoded properties.
    pub properties: Option<&'a str>,
    /// Retry count of a re-sent message.
    pub reconsume_times: Option<i32>,
    /// Unit mode.
    pub unit_mode: Option<bool>,
    /// Per-message max retries.
    pub max_reconsume_times: Option<i32>,
    /// True for a batch body.
    pub batch: Option<bool>,
    /// Target broker name (5.x).
    pub broker_name: Option<&'a str>,
}

impl<'a> SendMessageView<'a> {
    /// Reads the send header of `cmd` in whichever form its code implies, in one pass over its
    /// `extFields`.
    pub fn from_command(cmd: &'a RemotingCommand) -> Result<Self, HeaderError> {
        let (keys, letters, force_batch) = match cmd.code {
            request::SEND_MESSAGE_V2 | request::SEND_REPLY_MESSAGE_V2 => {
                (&LETTER_KEYS, true, false)
            }
            request::SEND_BATCH_MESSAGE => (&LETTER_KEYS, true, true),
            _ => (&LONG_KEYS, false, false),
        };
        let mut found: [Option<&'a str>; 14] = [None; 14];
        for (key, value) in cmd.ext_fields.iter() {
            let index = match key.as_bytes() {
                [c @ b'a'..=b'n'] if letters => Some(usize::from(c - b'a')),
                _ if letters => None,
                _ => keys.iter().position(|k| *k == key),
            };
            if let Some(slot) = index.and_then(|i| found.get_mut(i)) {
                // Keys are unique in a decoded header; the last one would win anyway.
                *slot = Some(value);
            }
        }
        let [group, topic, default_topic, queue_nums, queue_id, sys_flag, born, flag, props, reconsume, unit, max_reconsume, batch, bname] =
            found;
        let [k_group, k_topic, k_default_topic, k_queue_nums, k_queue_id, k_sys_flag, k_born, k_flag, _, k_reconsume, k_unit, k_max_reconsume, k_batch, _] =
            *keys;
        // Same rules as the typed getters of `ExtFields`, field by field in declaration order.
        let required = |v: Option<&'a str>, field| v.ok_or(HeaderError::MissingField { field });
        let int = |v, field| parse_int::<i32>(field, required(v, field)?, "int");
        let opt_int = |v: Option<&str>, field| {
            v.filter(|v| !v.is_empty())
                .map(|v| parse_int::<i32>(field, v, "int"))
                .transpose()
        };
        let opt_bool = |v: Option<&str>, field| {
            v.filter(|v| !v.is_empty())
                .map(|v| parse_bool(field, v))
                .transpose()
        };
        Ok(SendMessageView {
            producer_group: required(group, k_group)?,
            topic: required(topic, k_topic)?,
            default_topic: required(default_topic, k_default_topic)?,
            default_topic_queue_nums: int(queue_nums, k_queue_nums)?,
            queue_id: int(queue_id, k_queue_id)?,
            sys_flag: int(sys_flag, k_sys_flag)?,
            born_timestamp: parse_int(k_born, required(born, k_born)?, "long")?,
            flag: int(flag, k_flag)?,
            properties: props,
            reconsume_times: opt_int(reconsume, k_reconsume)?,
            unit_mode: opt_bool(unit, k_unit)?,
            max_reconsume_times: opt_int(max_reconsume, k_max_reconsume)?,
            batch: {
                // Checked even when the code forces a batch, as the owned header does.
                let sent = opt_bool(batch, k_batch)?;
                if force_batch {
                    Some(true)
                } else {
                    sent
                }
            },
            broker_name: bname,
        })
    }

    /// True when this send carries a batch body.
    pub fn is_batch(&self) -> bool {
        self.batch.unwrap_or(false)
    }

    /// Writes the header under the one-letter keys of SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE
    /// (what [`SendMessageRequestV2::to_ext`] writes, without copying the text twice).
    pub fn to_ext_v2(&self) -> ExtFields {
        let [group, topic, default_topic, queue_nums, queue_id, sys_flag, born, flag, props, reconsume, unit, max_reconsume, batch, bname] =
            LETTER_KEYS;
        let text = self.producer_group.len()
            + self.topic.len()
            + self.default_topic.len()
            + self.properties.map_or(0, str::len)
            + self.broker_name.map_or(0, str::len)
            + 64;
        let mut ext = ExtFields::with_text_capacity(text, LETTER_KEYS.len());
        let bool_text = |b: bool| if b { "true" } else { "false" };
        ext.insert(group, self.producer_group);
        ext.insert(topic, self.topic);
        ext.insert(default_topic, self.default_topic);
        ext.insert_int(queue_nums, self.default_topic_queue_nums.into());
        ext.insert_int(queue_id, self.queue_id.into());
        ext.insert_int(sys_flag, self.sys_flag.into());
        ext.insert_int(born, self.born_timestamp);
        ext.insert_int(flag, self.flag.into());
        if let Some(v) = self.properties {
            ext.insert(props, v);
        }
        if let Some(v) = self.reconsume_times {
            ext.insert_int(reconsume, v.into());
        }
        if let Some(v) = self.unit_mode {
            ext.insert(unit, bool_text(v));
        }
        if let Some(v) = self.max_reconsume_times {
            ext.insert_int(max_reconsume, v.into());
        }
        if let Some(v) = self.batch {
            ext.insert(batch, bool_text(v));
        }
        if let Some(v) = self.broker_name {
            ext.insert(bname, v);
        }
        ext
    }

    /// The owned header.
    pub fn to_owned_header(&self) -> SendMessageRequest {
        SendMessageRequest {
            producer_group: self.producer_group.to_owned(),
            topic: self.topic.to_owned(),
            default_topic: self.default_topic.to_owned(),
            default_topic_queue_nums: self.default_topic_queue_nums,
            queue_id: self.queue_id,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            flag: self.flag,
            properties: self.properties.map(str::to_owned),
            reconsume_times: self.reconsume_times,
            unit_mode: self.unit_mode,
            max_reconsume_times: self.max_reconsume_times,
            batch: self.batch,
            broker_name: self.broker_name.map(str::to_owned),
        }
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
    fn view_reads_what_the_owned_header_reads() {
        let keys = |fields: &[crate::header::HeaderField]| {
            fields.iter().map(|f| f.key).collect::<Vec<_>>()
        };
        assert_eq!(keys(SendMessageRequest::FIELDS), LONG_KEYS);
        assert_eq!(keys(SendMessageRequestV2::FIELDS), LETTER_KEYS);
        for code in [
            request::SEND_MESSAGE_V2,
            request::SEND_BATCH_MESSAGE,
            request::SEND_REPLY_MESSAGE_V2,
        ] {
            let cmd = RemotingCommand::new_request(code, v2_ext());
            let view = SendMessageView::from_command(&cmd).unwrap();
            assert_eq!(
                view.to_owned_header(),
                SendMessageRequest::from_command(&cmd).unwrap()
            );
            assert_eq!(view.is_batch(), code == request::SEND_BATCH_MESSAGE);
        }
        let h = SendMessageRequest::from_command(&RemotingCommand::new_request(
            request::SEND_MESSAGE_V2,
            v2_ext(),
        ))
        .unwrap();
        let v1 = RemotingCommand::new_request(request::SEND_MESSAGE, h.to_ext());
        assert_eq!(
            SendMessageView::from_command(&v1)
                .unwrap()
                .to_owned_header(),
            h
        );
        assert_eq!(
            SendMessageView::from_command(&v1).unwrap().to_ext_v2(),
            SendMessageRequestV2::from(h.clone()).to_ext()
        );
        let sparse = SendMessageView {
            properties: None,
            unit_mode: None,
            batch: None,
            ..SendMessageView::from_command(&v1).unwrap()
        };
        assert_eq!(
            sparse.to_ext_v2(),
            SendMessageRequestV2::from(sparse.to_owned_header()).to_ext()
        );
        let mut missing = v2_ext();
        missing.remove("g");
        let cmd = RemotingCommand::new_request(request::SEND_MESSAGE_V2, missing);
        assert_eq!(
            SendMessageView::from_command(&cmd),
            Err(HeaderError::MissingField { field: "g" })
        );
    }

    #[test]
    fn view_fails_like_the_owned_header() {
        let keys: Vec<String> = v2_ext().iter().map(|(k, _)| k.to_owned()).collect();
        for key in keys.iter().map(String::as_str).chain(["j", "l", "n"]) {
            for value in [
                None,
                Some(""),
                Some("x"),
                Some(" 7 "),
                Some("1"),
                Some("FALSE"),
            ] {
                let mut ext = v2_ext();
                match value {
                    None => drop(ext.remove(key)),
                    Some(v) => ext.insert(key, v),
                }
                for code in [request::SEND_MESSAGE_V2, request::SEND_BATCH_MESSAGE] {
                    let cmd = RemotingCommand::new_request(code, ext.clone());
                    assert_eq!(
                        SendMessageView::from_command(&cmd).map(|v| v.to_owned_header()),
                        SendMessageRequest::from_command(&cmd),
                        "{key}={value:?}"
                    );
                }
                let long = RemotingCommand::new_request(
                    request::SEND_MESSAGE,
                    SendMessageRequest::from(SendMessageRequestV2 {
                        producer_group: "pg".into(),
                        ..Default::default()
                    })
                    .to_ext(),
                );
                assert_eq!(
                    SendMessageView::from_command(&long).map(|v| v.to_owned_header()),
                    SendMessageRequest::from_command(&long)
                );
            }
        }
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
