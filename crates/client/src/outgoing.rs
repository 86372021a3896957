//! Turning a [`Message`] (or a batch) into what goes on the wire: validation, properties
//! (user ones, `TAGS`, `KEYS`, `WAIT`, `UNIQ_KEY`), compression, batch encoding.

use bytes::Bytes;
use saturn_protocol::message::batch::{encode_batch, BatchEntry};
use saturn_protocol::message::{properties, sysflag, UniqIdGenerator};

use crate::config::ProducerConfig;
use crate::error::ClientError;
use crate::message::{deflate_body, Message};
use crate::producer::RETRY_TOPIC_PREFIX;

/// Longest ordinary topic name; retry and dead-letter topics may reach 255.
const MAX_TOPIC_LEN: usize = 127;

/// A message ready for the wire.
pub(crate) struct Outgoing {
    pub(crate) topic: String,
    pub(crate) body: Bytes,
    pub(crate) flag: i32,
    pub(crate) sys_flag: i32,
    pub(crate) properties: String,
    /// UNIQ_KEY (batch: all of them, `,`-joined).
    pub(crate) msg_id: String,
    pub(crate) reconsume_times: Option<i32>,
    pub(crate) max_reconsume_times: Option<i32>,
    pub(crate) batch: bool,
}

/// Validates `msg`, encodes its properties and compresses a large body.
pub(crate) fn single(
    msg: Message,
    uniq: &UniqIdGenerator,
    config: &ProducerConfig,
) -> Result<Outgoing, ClientError> {
    check_topic(&msg.topic)?;
    check_body(msg.body.len(), config)?;
    let msg_id = uniq.next_id();
    let props = encode_properties(&msg, &msg_id)?;
    let (mut body, mut sys_flag) = (msg.body, 0);
    let threshold = config.compress_over;
    if threshold > 0 && body.len() > threshold {
        if let Ok(z) = deflate_body(&body) {
            body = Bytes::from(z);
            sys_flag |= sysflag::COMPRESSED;
        }
    }
    Ok(Outgoing {
        topic: msg.topic,
        body,
        flag: msg.flag,
        sys_flag,
        properties: props,
        msg_id,
        reconsume_times: None,
        max_reconsume_times: None,
        batch: false,
    })
}

/// Validates a batch (one topic, no delay, not a retry topic) and encodes its body.
pub(crate) fn batch(
    msgs: Vec<Message>,
    uniq: &UniqIdGenerator,
    config: &ProducerConfig,
) -> Result<Outgoing, ClientError> {
    let Some(topic) = msgs.first().map(|m| m.topic.clone()) else {
        return Err(ClientError::InvalidMessage("empty batch".into()));
    };
    check_topic(&topic)?;
    if topic.starts_with(RETRY_TOPIC_PREFIX) {
        return Err(ClientError::InvalidMessage("batch to a retry topic".into()));
    }
    let mut entries = Vec::with_capacity(msgs.len());
    let mut ids = Vec::with_capacity(msgs.len());
    for m in msgs {
        if m.topic != topic {
            return Err(ClientError::InvalidMessage("batch mixes topics".into()));
        }
        if m.property(properties::DELAY).is_some() {
            return Err(ClientError::InvalidMessage(
                "batch with a delayed message".into(),
            ));
        }
        if m.body.is_empty() {
            return Err(ClientError::InvalidMessage("empty body".into()));
        }
        let id = uniq.next_id();
        entries.push(BatchEntry {
            flag: m.flag,
            properties: encode_properties(&m, &id)?,
            body: m.body,
        });
        ids.push(id);
    }
    let body = encode_batch(&entries)?;
    check_body(body.len(), config)?;
    let mut wrapper = String::new();
    properties::push(&mut wrapper, properties::WAIT, "true");
    Ok(Outgoing {
        topic,
        body,
        flag: 0,
        sys_flag: 0,
        properties: wrapper,
        msg_id: ids.join(","),
        reconsume_times: None,
        max_reconsume_times: None,
        batch: true,
    })
}

fn check_body(len: usize, config: &ProducerConfig) -> Result<(), ClientError> {
    if len == 0 {
        return Err(ClientError::InvalidMessage("empty body".into()));
    }
    let max = config.max_message_size;
    if len > max {
        return Err(ClientError::InvalidMessage(format!(
            "body of {len} bytes exceeds the {max} byte limit"
        )));
    }
    Ok(())
}

/// Topic names: `[%|a-zA-Z0-9_-]`, at most 127 chars (255 for retry / dead-letter topics).
pub(crate) fn check_topic(topic: &str) -> Result<(), ClientError> {
    let max = if topic.starts_with('%') {
        255
    } else {
        MAX_TOPIC_LEN
    };
    if topic.is_empty() || topic.len() > max {
        return Err(ClientError::InvalidMessage(format!(
            "topic must be 1..={max} characters"
        )));
    }
    let ok = topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'));
    if !ok {
        return Err(ClientError::InvalidMessage(format!(
            "topic {topic:?} has characters outside [%|a-zA-Z0-9_-]"
        )));
    }
    Ok(())
}

/// Encodes a message's properties; separators inside names or values would corrupt the string.
fn encode_properties(msg: &Message, uniq_key: &str) -> Result<String, ClientError> {
    let bad = |s: &str| {
        s.contains([
            properties::NAME_VALUE_SEPARATOR,
            properties::PROPERTY_SEPARATOR,
        ])
    };
    let mut out = String::new();
    for (k, v) in &msg.properties {
        if k.is_empty() || v.is_empty() || bad(k) || bad(v) {
            return Err(ClientError::InvalidMessage(format!(
                "property {k:?} is empty or contains \\x01/\\x02"
            )));
        }
        properties::push(&mut out, k, v);
    }
    if let Some(t) = msg.tags.as_deref().filter(|t| !t.is_empty()) {
        if bad(t) {
            return Err(ClientError::InvalidMessage(
                "tag contains \\x01/\\x02".into(),
            ));
        }
        properties::push(&mut out, properties::TAGS, t);
    }
    let keys: Vec<&str> = msg
        .keys
        .iter()
        .map(String::as_str)
        .filter(|k| !k.is_empty())
        .collect();
    if !keys.is_empty() {
        let joined = keys.join(properties::KEY_SEPARATOR);
        if bad(&joined) {
            return Err(ClientError::InvalidMessage(
                "key contains \\x01/\\x02".into(),
            ));
        }
        properties::push(&mut out, properties::KEYS, &joined);
    }
    properties::push(&mut out, properties::WAIT, "true");
    properties::push(&mut out, properties::UNIQ_KEY, uniq_key);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_carry_tags_keys_wait_and_id() {
        let m = Message::new("T", "b")
            .with_tags("TagA")
            .with_key("k1")
            .with_key("k2")
            .with_property("color", "red");
        let p = encode_properties(&m, "ID1").unwrap();
        assert_eq!(properties::find(&p, "TAGS"), Some("TagA"));
        assert_eq!(properties::find(&p, "KEYS"), Some("k1 k2"));
        assert_eq!(properties::find(&p, "WAIT"), Some("true"));
        assert_eq!(properties::find(&p, "UNIQ_KEY"), Some("ID1"));
        assert_eq!(properties::find(&p, "color"), Some("red"));
        let bad = Message::new("T", "b").with_property("a\u{2}", "v");
        assert!(encode_properties(&bad, "x").is_err());
    }

    #[test]
    fn topic_names() {
        assert!(check_topic("Topic_1-x|%").is_ok());
        assert!(check_topic("").is_err());
        assert!(check_topic("a b").is_err());
        assert!(check_topic(&"a".repeat(128)).is_err());
        assert!(check_topic(&format!("%RETRY%{}", "g".repeat(200))).is_ok());
    }
}
