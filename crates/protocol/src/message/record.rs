//! One stored message record (see the layout in [`crate::message`]): encode straight into a
//! caller's buffer, decode with a zero-copy body, or read a borrowed header view.

use std::net::SocketAddr;

use bytes::Bytes;

use super::wire::{canonical, host_len, Writer};
use super::{properties, sysflag, MessageError};

mod decode;

pub use decode::{
    decode, decode_all, decode_view, peek_magic, peek_total_size, records, verify_crc, RecordView,
    Records,
};

/// Magic code of a V1 record (1-byte topic length); `-626843481` as Java's int.
pub const MESSAGE_MAGIC_V1: u32 = 0xDAA3_20A7;
/// Magic code of a V2 record (2-byte topic length), used when the topic exceeds 127 bytes.
pub const MESSAGE_MAGIC_V2: u32 = 0xDAA3_20AB;
/// Magic code of the blank marker that fills the end of a commit-log segment.
pub const BLANK_MAGIC_CODE: u32 = 0xCBD4_3194;
/// Bytes always left at the end of a segment for the blank marker (TOTALSIZE + MAGIC).
pub const END_FILE_MIN_BLANK_LENGTH: usize = 8;

/// Position of TOTALSIZE (int32).
pub const TOTAL_SIZE_POS: usize = 0;
/// Position of MAGICCODE (int32).
pub const MAGIC_POS: usize = 4;
/// Position of BODYCRC (int32).
pub const BODY_CRC_POS: usize = 8;
/// Position of QUEUEID (int32).
pub const QUEUE_ID_POS: usize = 12;
/// Position of FLAG (int32).
pub const FLAG_POS: usize = 16;
/// Position of QUEUEOFFSET (int64).
pub const QUEUE_OFFSET_POS: usize = 20;
/// Position of PHYSICALOFFSET (int64).
pub const PHYSICAL_OFFSET_POS: usize = 28;
/// Position of SYSFLAG (int32).
pub const SYS_FLAG_POS: usize = 36;
/// Position of BORNTIMESTAMP (int64).
pub const BORN_TIMESTAMP_POS: usize = 40;
/// Position of BORNHOST (address + int32 port).
pub const BORN_HOST_POS: usize = 48;
/// Position of STORETIMESTAMP when the born host is IPv4 (Java's fixed assumption).
pub const STORE_TIMESTAMP_POS_V4: usize = 56;

/// Smallest possible record: V1, IPv4 hosts, empty body, topic and properties.
pub const MIN_RECORD_LEN: usize = 91;
/// Longest topic (bytes) written with a V1 record; longer topics switch to V2.
pub const MAX_V1_TOPIC_LEN: usize = 127;
/// Longest topic (bytes) a V2 record can hold (signed 16-bit length).
pub const MAX_TOPIC_LEN: usize = 32_767;
/// Longest properties string (bytes): a signed 16-bit length.
pub const MAX_PROPERTIES_LEN: usize = 32_767;

fn host_field_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

/// Position of STORETIMESTAMP for a record with this sysflag.
pub fn store_timestamp_pos(sys_flag: i32) -> usize {
    BORN_HOST_POS + host_field_len(sysflag::is_born_host_v6(sys_flag))
}

/// Position of STOREHOST for a record with this sysflag.
pub fn store_host_pos(sys_flag: i32) -> usize {
    store_timestamp_pos(sys_flag) + 8
}

/// Position of RECONSUMETIMES for a record with this sysflag.
pub fn reconsume_times_pos(sys_flag: i32) -> usize {
    store_host_pos(sys_flag) + host_field_len(sysflag::is_store_host_v6(sys_flag))
}

/// Position of PREPARED TRANSACTION OFFSET for a record with this sysflag.
pub fn prepared_transaction_offset_pos(sys_flag: i32) -> usize {
    reconsume_times_pos(sys_flag) + 4
}

/// Position of BODYLENGTH for a record with this sysflag (84 with IPv4 hosts).
pub fn body_len_pos(sys_flag: i32) -> usize {
    prepared_transaction_offset_pos(sys_flag) + 8
}

/// What a producer asks to store: a record before it has offsets and a store time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageToStore {
    /// Topic (UTF-8, at most [`MAX_TOPIC_LEN`] bytes).
    pub topic: String,
    /// Queue within the topic.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Message sysflag; the host IPv6 bits are recomputed from the hosts when encoding.
    pub sys_flag: i32,
    /// Producer time, ms.
    pub born_timestamp: i64,
    /// Producer address (the connection's peer).
    pub born_host: SocketAddr,
    /// Broker address written into the record (and into offset message ids).
    pub store_host: SocketAddr,
    /// Times the message was re-consumed.
    pub reconsume_times: i32,
    /// For a commit/rollback record: the half message's commit-log offset; else 0.
    pub prepared_transaction_offset: i64,
    /// Body as stored (still compressed if the sysflag says so).
    pub body: Bytes,
    /// Raw properties string (`name\x01value\x02...`).
    pub properties: String,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Topic.
    pub topic: String,
    /// Queue within the topic.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Logical offset in the consume queue.
    pub queue_offset: i64,
    /// Commit-log offset of the record.
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
    /// BODYCRC as stored (CRC32 of the body masked with `0x7FFFFFFF`).
    pub body_crc: u32,
    /// Body, a zero-copy slice of the decoded buffer.
    pub body: Bytes,
    /// Raw properties string.
    pub properties: String,
}

impl StoredMessage {
    /// The value of a property.
    pub fn property(&self, key: &str) -> Option<&str> {
        properties::find(&self.properties, key)
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.property(properties::TAGS)
    }

    /// The `KEYS` property.
    pub fn keys(&self) -> Option<&str> {
        self.property(properties::KEYS)
    }

    /// The client unique id (`UNIQ_KEY`).
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(properties::UNIQ_KEY)
    }

    /// The broker's offset message id of this record.
    pub fn offset_msg_id(&self) -> String {
        super::id::offset_msg_id(self.store_host, self.physical_offset)
    }

    /// Whether the stored body CRC matches the body.
    pub fn verify_crc(&self) -> bool {
        verify_crc(self)
    }

    /// The same message as a request to store it again (e.g. to a retry or real topic).
    pub fn to_message_to_store(&self) -> MessageToStore {
        MessageToStore {
            topic: self.topic.clone(),
            queue_id: self.queue_id,
            flag: self.flag,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: self.body.clone(),
            properties: self.properties.clone(),
        }
    }
}

/// BODYCRC of a body: CRC32 masked with `0x7FFFFFFF` (Java's `UtilAll.crc32`).
pub fn body_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

fn too_large(field: &'static str, len: usize, max: usize) -> MessageError {
    MessageError::TooLarge { field, len, max }
}

/// Size of the record [`encode_into`] writes for `msg`.
///
/// # Errors
/// [`MessageError::TooLarge`] if the topic or properties exceed their 16-bit length prefix or the
/// whole record exceeds `i32::MAX`.
pub fn encoded_len(msg: &MessageToStore) -> Result<usize, MessageError> {
    let topic = msg.topic.len();
    if topic > MAX_TOPIC_LEN {
        return Err(too_large("topic", topic, MAX_TOPIC_LEN));
    }
    let props = msg.properties.len();
    if props > MAX_PROPERTIES_LEN {
        return Err(too_large("properties", props, MAX_PROPERTIES_LEN));
    }
    let topic_prefix = if topic > MAX_V1_TOPIC_LEN { 2 } else { 1 };
    // 68 bytes of fixed fields besides the hosts, then length-prefixed body, topic, properties.
    let fixed = 68 + host_len(msg.born_host) + host_len(msg.store_host) + 4 + topic_prefix + 2;
    let max = i32::MAX as usize;
    let total = fixed
        .saturating_add(msg.body.len())
        .saturating_add(topic)
        .saturating_add(props);
    if total > max {
        return Err(too_large("record", total, max));
    }
    Ok(total)
}

/// Writes one complete record for `msg` into the first [`encoded_len`] bytes of `dst`, without
/// allocating: V1 magic unless the topic exceeds 127 bytes (then V2), the body CRC, the given
/// offsets and store time, and the sysflag with its host IPv6 bits matching the hosts.
/// IPv4-mapped IPv6 hosts are written as IPv4, as Java does.
///
/// # Errors
/// As [`encoded_len`], or [`MessageError::BufferTooSmall`] if `dst` is shorter than the record.
pub fn encode_into(
    msg: &MessageToStore,
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
    dst: &mut [u8],
) -> Result<(), MessageError> {
    let len = encoded_len(msg)?;
    let have = dst.len();
    let dst = dst
        .get_mut(..len)
        .ok_or(MessageError::BufferTooSmall { need: len, have })?;
    let born = canonical(msg.born_host);
    let store = canonical(msg.store_host);
    let sys_flag = sysflag::with_host_families(msg.sys_flag, born.is_ipv6(), store.is_ipv6());
    let topic = msg.topic.as_bytes();
    let int =
        |field, n: usize| i32::try_from(n).map_err(|_| too_large(field, n, i32::MAX as usize));
    let short = |field, n: usize| i16::try_from(n).map_err(|_| too_large(field, n, MAX_TOPIC_LEN));

    let mut w = Writer::new(dst);
    w.i32(int("record", len)?)?;
    let v2 = topic.len() > MAX_V1_TOPIC_LEN;
    w.u32(if v2 {
        MESSAGE_MAGIC_V2
    } else {
        MESSAGE_MAGIC_V1
    })?;
    w.u32(body_crc(&msg.body))?;
    w.i32(msg.queue_id)?;
    w.i32(msg.flag)?;
    w.i64(queue_offset)?;
    w.i64(physical_offset)?;
    w.i32(sys_flag)?;
    w.i64(msg.born_timestamp)?;
    w.host(born)?;
    w.i64(store_timestamp)?;
    w.host(store)?;
    w.i32(msg.reconsume_times)?;
    w.i64(msg.prepared_transaction_offset)?;
    w.i32(int("body", msg.body.len())?)?;
    w.put(&msg.body)?;
    if v2 {
        w.i16(short("topic", topic.len())?)?;
    } else {
        let n = i8::try_from(topic.len()).map_err(|_| too_large("topic", topic.len(), 127))?;
        w.i8(n)?;
    }
    w.put(topic)?;
    w.i16(short("properties", msg.properties.len())?)?;
    w.put(msg.properties.as_bytes())?;
    debug_assert_eq!(w.pos(), len);
    Ok(())
}

/// Encodes one record into a new vector (for tests and cold paths; the store uses
/// [`encode_into`]).
///
/// # Errors
/// As [`encode_into`].
pub fn encode_to_vec(
    msg: &MessageToStore,
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
) -> Result<Vec<u8>, MessageError> {
    let mut out = vec![0u8; encoded_len(msg)?];
    encode_into(
        msg,
        queue_offset,
        physical_offset,
        store_timestamp,
        &mut out,
    )?;
    Ok(out)
}

fn put_at(record: &mut [u8], pos: usize, bytes: &[u8]) -> Result<(), MessageError> {
    let have = record.len();
    let end = pos + bytes.len();
    record
        .get_mut(pos..end)
        .ok_or(MessageError::BufferTooSmall { need: end, have })?
        .copy_from_slice(bytes);
    Ok(())
}

/// Overwrites QUEUEOFFSET of an encoded record.
///
/// # Errors
/// [`MessageError::BufferTooSmall`] if `record` is too short to hold the field.
pub fn patch_queue_offset(record: &mut [u8], queue_offset: i64) -> Result<(), MessageError> {
    put_at(record, QUEUE_OFFSET_POS, &queue_offset.to_be_bytes())
}

/// Overwrites PHYSICALOFFSET of an encoded record.
///
/// # Errors
/// [`MessageError::BufferTooSmall`] if `record` is too short to hold the field.
pub fn patch_physical_offset(record: &mut [u8], physical_offset: i64) -> Result<(), MessageError> {
    put_at(record, PHYSICAL_OFFSET_POS, &physical_offset.to_be_bytes())
}

/// Overwrites STORETIMESTAMP of an encoded record (its position depends on the born host).
///
/// # Errors
/// [`MessageError::Truncated`] if the sysflag cannot be read, [`MessageError::BufferTooSmall`]
/// if `record` is too short to hold the field.
pub fn patch_store_timestamp(record: &mut [u8], store_timestamp: i64) -> Result<(), MessageError> {
    let flag = record
        .get(SYS_FLAG_POS..SYS_FLAG_POS + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .ok_or(MessageError::Truncated {
            need: SYS_FLAG_POS + 4,
            have: record.len(),
        })?;
    put_at(
        record,
        store_timestamp_pos(flag),
        &store_timestamp.to_be_bytes(),
    )
}

/// Writes the 8-byte end-of-segment blank marker: TOTALSIZE = `remaining` (bytes left in the
/// segment, marker included) and [`BLANK_MAGIC_CODE`].
///
/// # Errors
/// [`MessageError::BufferTooSmall`] if `dst` is shorter than 8 bytes.
pub fn write_blank_marker(dst: &mut [u8], remaining: i32) -> Result<(), MessageError> {
    let mut w = Writer::new(dst);
    w.i32(remaining)?;
    w.u32(BLANK_MAGIC_CODE)
}

#[cfg(test)]
mod tests;
