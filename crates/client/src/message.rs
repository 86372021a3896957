//! What users send and receive: [`Message`], [`MessageExt`], [`SendResult`], [`MessageQueue`].

use std::io::Read;
use std::net::SocketAddr;

use bytes::Bytes;
use saturn_protocol::message::record::StoredMessage;
use saturn_protocol::message::{properties, sysflag};
use tracing::warn;

/// One queue of one topic on one broker group (`{topic, brokerName, queueId}` on the wire).
pub use saturn_protocol::body::MessageQueue;

/// Largest body we inflate from a compressed message; bigger ones are left compressed.
const MAX_INFLATED_BODY: u64 = 64 * 1024 * 1024;

/// A message to send.
///
/// ```
/// use saturn_client::Message;
/// let msg = Message::new("TopicTest", "hello").with_tags("TagA").with_key("order-1");
/// assert_eq!(msg.tags.as_deref(), Some("TagA"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Target topic.
    pub topic: String,
    /// The message's single tag (property `TAGS`), used for filtering.
    pub tags: Option<String>,
    /// Business keys (property `KEYS`, space-joined), indexed by the broker for queries.
    pub keys: Vec<String>,
    /// Payload.
    pub body: Bytes,
    /// User properties.
    pub properties: Vec<(String, String)>,
    /// User flag, stored as is.
    pub flag: i32,
}

impl Message {
    /// A message for `topic` with `body`.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            body: body.into(),
            ..Self::default()
        }
    }

    /// Sets the tag.
    #[must_use]
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.tags = Some(tags.into());
        self
    }

    /// Adds one business key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// Adds a user property.
    #[must_use]
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((name.into(), value.into()));
        self
    }

    /// Sets the user flag.
    #[must_use]
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Delays delivery by a broker delay level (1 = 1 s … 18 = 2 h; property `DELAY`).
    #[must_use]
    pub fn with_delay_level(self, level: u32) -> Self {
        self.with_property(properties::DELAY, level.to_string())
    }

    /// The value of a user property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a successful send was stored (response codes 0, 10, 12, 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (code 0).
    SendOk,
    /// Stored, but the synchronous flush timed out (code 10).
    FlushDiskTimeout,
    /// Stored, but synchronous replication timed out (code 12).
    FlushSlaveTimeout,
    /// Stored on a sync master that has no slave (code 11).
    SlaveNotAvailable,
}

impl SendStatus {
    /// The status for a send response code, `None` for a failure code.
    pub fn from_code(code: i32) -> Option<Self> {
        use saturn_protocol::code::response;
        match code {
            response::SUCCESS => Some(Self::SendOk),
            response::FLUSH_DISK_TIMEOUT => Some(Self::FlushDiskTimeout),
            response::FLUSH_SLAVE_TIMEOUT => Some(Self::FlushSlaveTimeout),
            response::SLAVE_NOT_AVAILABLE => Some(Self::SlaveNotAvailable),
            _ => None,
        }
    }
}

/// The outcome of a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// How it was stored.
    pub status: SendStatus,
    /// Client unique id (`UNIQ_KEY`); for a batch, the ids of all messages joined by `,`.
    pub msg_id: String,
    /// Broker offset message id (host + commit-log offset); for a batch, `,`-joined.
    pub offset_msg_id: String,
    /// The queue the message went to.
    pub queue: MessageQueue,
    /// Its offset in that queue (of the first message for a batch).
    pub queue_offset: i64,
}

/// A received message with everything the broker stored about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExt {
    /// Client unique id (`UNIQ_KEY`), or the offset id when the message has none.
    pub msg_id: String,
    /// Broker offset message id.
    pub offset_msg_id: String,
    /// Topic (the original topic for a redelivered retry message).
    pub topic: String,
    /// Tag.
    pub tags: Option<String>,
    /// Business keys, space-separated.
    pub keys: Option<String>,
    /// Payload (decompressed).
    pub body: Bytes,
    /// Broker group the message was pulled from.
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
    /// Offset in the queue.
    pub queue_offset: i64,
    /// Commit-log offset (used to send it back for retry).
    pub commit_log_offset: i64,
    /// How many times it was redelivered.
    pub reconsume_times: i32,
    /// Producer time (ms).
    pub born_timestamp: i64,
    /// Broker time (ms).
    pub store_timestamp: i64,
    /// Producer address as seen by the broker.
    pub born_host: SocketAddr,
    /// Broker address.
    pub store_host: SocketAddr,
    /// User flag.
    pub flag: i32,
    /// Message system flag (compression bit cleared once decompressed).
    pub sys_flag: i32,
    /// Every property, system ones included.
    pub properties: Vec<(String, String)>,
}

impl MessageExt {
    /// Builds a received message from a decoded record pulled from `broker_name`, inflating a
    /// zlib-compressed body.
    pub fn from_stored(msg: StoredMessage, broker_name: &str) -> Self {
        let offset_msg_id = msg.offset_msg_id();
        let props: Vec<(String, String)> = properties::iter(&msg.properties)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let find = |key: &str| {
            props
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let (body, sys_flag) = inflate_body(msg.body, msg.sys_flag);
        Self {
            msg_id: find(properties::UNIQ_KEY).unwrap_or_else(|| offset_msg_id.clone()),
            offset_msg_id,
            topic: msg.topic,
            tags: find(properties::TAGS),
            keys: find(properties::KEYS),
            body,
            broker_name: broker_name.to_owned(),
            queue_id: msg.queue_id,
            queue_offset: msg.queue_offset,
            commit_log_offset: msg.physical_offset,
            reconsume_times: msg.reconsume_times,
            born_timestamp: msg.born_timestamp,
            store_timestamp: msg.store_timestamp,
            born_host: msg.born_host,
            store_host: msg.store_host,
            flag: msg.flag,
            sys_flag,
            properties: props,
        }
    }

    /// The value of a property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The business keys as a list.
    pub fn key_list(&self) -> Vec<&str> {
        self.keys
            .as_deref()
            .map(|k| properties::split_keys(k).collect())
            .unwrap_or_default()
    }

    /// The queue this message was read from (for a retry message: the retry queue, unless the
    /// topic was restored, in which case the topic is the original one).
    pub fn queue(&self) -> MessageQueue {
        MessageQueue {
            topic: self.topic.clone(),
            broker_name: self.broker_name.clone(),
            queue_id: self.queue_id,
        }
    }
}

/// Inflates a zlib body when the compressed bit is set; other compression types (LZ4, ZSTD) are
/// left as they are, with the flag kept, since we cannot read them.
fn inflate_body(body: Bytes, sys_flag: i32) -> (Bytes, i32) {
    if !sysflag::is_compressed(sys_flag) {
        return (body, sys_flag);
    }
    match sysflag::compression_type(sys_flag) {
        Ok(sysflag::CompressionType::Zlib) => {}
        other => {
            warn!(?other, "message body uses a compression we cannot read");
            return (body, sys_flag);
        }
    }
    let mut out = Vec::with_capacity(body.len().saturating_mul(2));
    let read = flate2::read::ZlibDecoder::new(body.as_ref())
        .take(MAX_INFLATED_BODY)
        .read_to_end(&mut out);
    match read {
        Ok(_) => (Bytes::from(out), sysflag::clear_compressed(sys_flag)),
        Err(e) => {
            warn!(error = %e, "cannot inflate message body; delivering it compressed");
            (body, sys_flag)
        }
    }
}

/// Zlib-compresses a body (level 5, as Java's producer).
pub(crate) fn deflate_body(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(5));
    z.write_all(body)?;
    z.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn stored(body: Bytes, sys_flag: i32, props: &str) -> StoredMessage {
        let host = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 10911);
        StoredMessage {
            topic: "T".into(),
            queue_id: 2,
            flag: 7,
            queue_offset: 5,
            physical_offset: 1234,
            sys_flag,
            born_timestamp: 1,
            born_host: host,
            store_timestamp: 2,
            store_host: host,
            reconsume_times: 1,
            prepared_transaction_offset: 0,
            body_crc: 0,
            body,
            properties: props.into(),
        }
    }

    #[test]
    fn received_message_fields() {
        let m = MessageExt::from_stored(
            stored(
                Bytes::from_static(b"hi"),
                0,
                "TAGS\u{1}A\u{2}KEYS\u{1}k1 k2\u{2}UNIQ_KEY\u{1}U1\u{2}",
            ),
            "broker-a",
        );
        assert_eq!(m.msg_id, "U1");
        assert_eq!(m.offset_msg_id, "7F00000100002A9F00000000000004D2");
        assert_eq!(m.tags.as_deref(), Some("A"));
        assert_eq!(m.key_list(), ["k1", "k2"]);
        assert_eq!(m.queue().broker_name, "broker-a");
        assert_eq!(m.property("UNIQ_KEY"), Some("U1"));
        // Without UNIQ_KEY the offset id stands in.
        let m = MessageExt::from_stored(stored(Bytes::new(), 0, ""), "b");
        assert_eq!(m.msg_id, m.offset_msg_id);
    }

    #[test]
    fn compressed_body_is_inflated() {
        let raw = b"hello hello hello hello".repeat(100);
        let z = deflate_body(&raw).unwrap();
        assert!(z.len() < raw.len());
        let m = MessageExt::from_stored(stored(Bytes::from(z), sysflag::COMPRESSED, ""), "b");
        assert_eq!(m.body.as_ref(), raw.as_slice());
        assert_eq!(m.sys_flag & sysflag::COMPRESSED, 0);
        // Garbage with the flag set is delivered untouched.
        let m = MessageExt::from_stored(
            stored(Bytes::from_static(b"nope"), sysflag::COMPRESSED, ""),
            "b",
        );
        assert_eq!(m.body.as_ref(), b"nope");
    }

    #[test]
    fn send_status_codes() {
        assert_eq!(SendStatus::from_code(0), Some(SendStatus::SendOk));
        assert_eq!(
            SendStatus::from_code(10),
            Some(SendStatus::FlushDiskTimeout)
        );
        assert_eq!(
            SendStatus::from_code(11),
            Some(SendStatus::SlaveNotAvailable)
        );
        assert_eq!(
            SendStatus::from_code(12),
            Some(SendStatus::FlushSlaveTimeout)
        );
        assert_eq!(SendStatus::from_code(13), None);
    }
}
