//! Decoding records: a borrowed header view, an owned message with a zero-copy body, and the
//! loop over a pull body.

use std::net::SocketAddr;

use bytes::Bytes;

use super::{
    body_crc, StoredMessage, BLANK_MAGIC_CODE, MESSAGE_MAGIC_V1, MESSAGE_MAGIC_V2, MIN_RECORD_LEN,
};
use crate::message::wire::Reader;
use crate::message::{properties, sysflag, MessageError};

/// A record's fields borrowed from the buffer, for readers that must not copy: the store's
/// dispatch/rebuild path reads topic, queue, offsets, size, store time, sysflag and properties
/// without touching (or copying) the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// TOTALSIZE: bytes the record occupies.
    pub total_size: usize,
    /// [`MESSAGE_MAGIC_V1`] or [`MESSAGE_MAGIC_V2`].
    pub magic: u32,
    /// BODYCRC as stored.
    pub body_crc: u32,
    /// Queue within the topic.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Logical offset in the consume queue.
    pub queue_offset: i64,
    /// Commit-log offset.
    pub physical_offset: i64,
    /// Message sysflag.
    pub sys_flag: i32,
    /// Producer time, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker time, ms.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// Times the message was re-consumed.
    pub reconsume_times: i32,
    /// Half message's commit-log offset for commit/rollback records; else 0.
    pub prepared_transaction_offset: i64,
    /// Where the body starts, counted from the start of the record.
    pub body_offset: usize,
    /// The body bytes (borrowed; not read).
    pub body: &'a [u8],
    /// Topic.
    pub topic: &'a str,
    /// Raw properties string.
    pub properties: &'a str,
}

impl RecordView<'_> {
    /// The value of a property.
    pub fn property(&self, key: &str) -> Option<&str> {
        properties::find(self.properties, key)
    }

    /// Whether the stored body CRC matches the body.
    pub fn verify_crc(&self) -> bool {
        body_crc(self.body) == self.body_crc
    }
}

/// TOTALSIZE of the record at the start of `buf`, or `None` with fewer than 4 bytes.
/// The value is raw: check the magic (or use [`decode_view`]) before trusting it.
pub fn peek_total_size(buf: &[u8]) -> Option<i32> {
    let b = buf.get(..4)?;
    Some(i32::from_be_bytes(<[u8; 4]>::try_from(b).ok()?))
}

/// MAGICCODE of the record at the start of `buf`, or `None` with fewer than 8 bytes.
pub fn peek_magic(buf: &[u8]) -> Option<u32> {
    let b = buf.get(4..8)?;
    Some(u32::from_be_bytes(<[u8; 4]>::try_from(b).ok()?))
}

/// Reads the record at the start of `buf` without copying anything.
///
/// # Errors
/// - [`MessageError::Truncated`] if `buf` is shorter than the 8-byte prefix or than TOTALSIZE
///   (a torn tail);
/// - [`MessageError::BlankMarker`] for an end-of-segment marker;
/// - [`MessageError::BadMagic`] for any other magic;
/// - [`MessageError::BadTotalSize`] if TOTALSIZE disagrees with the fields;
/// - [`MessageError::BadLength`], [`MessageError::BadPort`], [`MessageError::InvalidUtf8`] for
///   impossible field values.
pub fn decode_view(buf: &[u8]) -> Result<RecordView<'_>, MessageError> {
    let mut r = Reader::at(buf, 0);
    let declared = r.i32()?;
    let magic = r.u32()?;
    match magic {
        MESSAGE_MAGIC_V1 | MESSAGE_MAGIC_V2 => {}
        BLANK_MAGIC_CODE => return Err(MessageError::BlankMarker { size: declared }),
        other => return Err(MessageError::BadMagic(other)),
    }
    let total = usize::try_from(declared)
        .ok()
        .filter(|t| *t >= MIN_RECORD_LEN)
        .ok_or(MessageError::BadTotalSize {
            declared,
            actual: MIN_RECORD_LEN,
        })?;
    let record = buf.get(..total).ok_or(MessageError::Truncated {
        need: total,
        have: buf.len(),
    })?;
    // Inside the record, running out of bytes means TOTALSIZE is wrong, not that data is missing.
    fields(record, magic, declared).map_err(|e| match e {
        MessageError::Truncated { need, .. } => MessageError::BadTotalSize {
            declared,
            actual: need,
        },
        other => other,
    })
}

fn bad_length(field: &'static str, len: impl Into<i64>) -> MessageError {
    MessageError::BadLength {
        field,
        len: len.into(),
    }
}

fn utf8<'a>(bytes: &'a [u8], field: &'static str) -> Result<&'a str, MessageError> {
    std::str::from_utf8(bytes).map_err(|_| MessageError::InvalidUtf8 { field })
}

/// Parses the fields after the 8-byte prefix of a record exactly `record.len()` long.
fn fields(record: &[u8], magic: u32, declared: i32) -> Result<RecordView<'_>, MessageError> {
    let mut r = Reader::at(record, 8);
    let body_crc = r.u32()?;
    let queue_id = r.i32()?;
    let flag = r.i32()?;
    let queue_offset = r.i64()?;
    let physical_offset = r.i64()?;
    let sys_flag = r.i32()?;
    let born_timestamp = r.i64()?;
    let born_host = r.host(sysflag::is_born_host_v6(sys_flag))?;
    let store_timestamp = r.i64()?;
    let store_host = r.host(sysflag::is_store_host_v6(sys_flag))?;
    let reconsume_times = r.i32()?;
    let prepared_transaction_offset = r.i64()?;
    let body_len = r.i32()?;
    let body_len = usize::try_from(body_len).map_err(|_| bad_length("body", body_len))?;
    let body_offset = r.pos();
    let body = r.take(body_len)?;
    // Java reads the V1 topic length as a signed byte and the V2 one as a signed short.
    let topic_len = if magic == MESSAGE_MAGIC_V2 {
        let n = r.i16()?;
        usize::try_from(n).map_err(|_| bad_length("topic", n))?
    } else {
        let n = r.i8()?;
        usize::try_from(n).map_err(|_| bad_length("topic", n))?
    };
    let topic = utf8(r.take(topic_len)?, "topic")?;
    let props_len = r.i16()?;
    let props_len = usize::try_from(props_len).map_err(|_| bad_length("properties", props_len))?;
    let properties = utf8(r.take(props_len)?, "properties")?;
    if r.pos() != record.len() {
        return Err(MessageError::BadTotalSize {
            declared,
            actual: r.pos(),
        });
    }
    Ok(RecordView {
        total_size: record.len(),
        magic,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body_offset,
        body,
        topic,
        properties,
    })
}

/// Decodes the record starting at `start` of `buf`; the body shares `buf`'s memory.
fn decode_at(buf: &Bytes, start: usize) -> Result<(StoredMessage, usize), MessageError> {
    let rest = buf.get(start..).ok_or(MessageError::Truncated {
        need: start,
        have: buf.len(),
    })?;
    let v = decode_view(rest)?;
    let body_start = start.saturating_add(v.body_offset);
    let body_end = body_start.saturating_add(v.body.len());
    if body_end > buf.len() {
        return Err(MessageError::Truncated {
            need: body_end,
            have: buf.len(),
        });
    }
    let msg = StoredMessage {
        topic: v.topic.to_owned(),
        queue_id: v.queue_id,
        flag: v.flag,
        queue_offset: v.queue_offset,
        physical_offset: v.physical_offset,
        sys_flag: v.sys_flag,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        store_timestamp: v.store_timestamp,
        store_host: v.store_host,
        reconsume_times: v.reconsume_times,
        prepared_transaction_offset: v.prepared_transaction_offset,
        body_crc: v.body_crc,
        body: buf.slice(body_start..body_end),
        properties: v.properties.to_owned(),
    };
    Ok((msg, v.total_size))
}

/// Decodes the record at the start of `buf`; returns it and the bytes consumed (TOTALSIZE).
/// The body is a zero-copy slice of `buf`.
///
/// # Errors
/// As [`decode_view`].
pub fn decode(buf: &Bytes) -> Result<(StoredMessage, usize), MessageError> {
    decode_at(buf, 0)
}

/// Decodes consecutive records (a pull response body) until the buffer is exhausted. Like the
/// Java client, decoding stops silently at the first record that fails; use [`records`] to see
/// the error.
pub fn decode_all(buf: &Bytes) -> Vec<StoredMessage> {
    records(buf).map_while(Result::ok).collect()
}

/// Iterates the records of `buf`, yielding at most one error, after which it ends.
pub fn records(buf: &Bytes) -> Records {
    Records {
        buf: buf.clone(),
        pos: 0,
        failed: false,
    }
}

/// Iterator over consecutive records; see [`records`].
#[derive(Debug, Clone)]
pub struct Records {
    buf: Bytes,
    pos: usize,
    failed: bool,
}

impl Records {
    /// Bytes consumed by the records yielded so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for Records {
    type Item = Result<StoredMessage, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match decode_at(&self.buf, self.pos) {
            Ok((msg, used)) => {
                self.pos = self.pos.saturating_add(used);
                Some(Ok(msg))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Whether a message's stored BODYCRC matches its body.
pub fn verify_crc(msg: &StoredMessage) -> bool {
    body_crc(&msg.body) == msg.body_crc
}
