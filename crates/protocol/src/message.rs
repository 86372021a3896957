//! The stored message record and everything inside it: properties, tags, ids, system flags, batches.
//!
//! One binary record format serves the commit log on disk, PULL/QUERY/VIEW response bodies and the
//! CHECK_TRANSACTION_STATE body. All integers are big-endian. Offsets below are for IPv4 hosts and
//! magic V1; an IPv6 born host (sysflag `0x10`) shifts everything from STORETIMESTAMP on by 12, an
//! IPv6 store host (sysflag `0x20`) shifts everything from RECONSUMETIMES on by 12.
//!
//! ```text
//!  0        4        8        12       16       20                28                36
//!  +--------+--------+--------+--------+--------+-----------------+-----------------+--------+
//!  |TOTAL   |MAGIC   |BODYCRC |QUEUEID |FLAG    |QUEUEOFFSET      |PHYSICALOFFSET   |SYSFLAG |
//!  |SIZE i32|u32     |crc&7FFF|i32     |i32     |i64              |i64              |i32     |
//!  +--------+--------+--------+--------+--------+-----------------+-----------------+--------+
//!  40                48                56                64                72       76
//!  +-----------------+--------+--------+-----------------+--------+--------+--------+--------+
//!  |BORNTIMESTAMP i64|BORN ip (4|16)   |STORETIMESTAMP   |STORE ip|port i32|RECONS. |PREPARED
//!  |                 |+ port i32       |i64              |(4|16)  |        |i32     |TX OFF..
//!  +-----------------+--------+--------+-----------------+--------+--------+--------+--------+
//!  80       84       88
//!  +--------+--------+-----------+----------------+--------------+--------+-------------------+
//!  |..i64   |BODYLEN |BODY       |TOPICLEN        |TOPIC (UTF-8) |PROPLEN |PROPERTIES (UTF-8) |
//!  |        |i32 = n |n bytes    |i8 (V1)/i16 (V2)|t bytes       |i16 = p |p bytes            |
//!  +--------+--------+-----------+----------------+--------------+--------+-------------------+
//! ```
//!
//! TOTALSIZE (V1, both hosts IPv4) = `91 + n + t + p`; each IPv6 host adds 12, V2 adds 1.
//! A commit-log segment ends with a blank marker: TOTALSIZE = bytes left, MAGIC = `0xCBD43194`.
//!
//! Modules: [`record`] (encode/decode of one record, header view), [`properties`] (the
//! `name\x01value\x02` string), [`tag`] (tag hash codes and subscription filters), [`id`] (offset
//! message ids and client unique ids), [`sysflag`] (message and pull system flags), [`batch`]
//! (SEND_BATCH_MESSAGE bodies).

pub mod batch;
pub mod id;
pub mod properties;
pub mod record;
pub mod sysflag;
pub mod tag;
mod wire;

pub use batch::{decode_batch, encode_batch, BatchEntry};
pub use id::{decode_offset_msg_id, offset_msg_id, UniqIdGenerator};
pub use properties::Properties;
pub use record::{MessageToStore, RecordView, StoredMessage};
pub use tag::{tags_code, TagFilter};

/// Why a message record, batch, property string or id could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The input ends before the field being read: `need` bytes are required, `have` are present.
    #[error("truncated message data: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes the decoder needs (counted from the start of the record or entry).
        need: usize,
        /// Bytes actually available.
        have: usize,
    },
    /// The magic code is neither V1, V2 nor the blank marker.
    #[error("bad message magic code {0:#010x}")]
    BadMagic(u32),
    /// An end-of-segment blank marker, not a message; `size` is the declared number of bytes left
    /// in the segment (including the 8-byte marker itself).
    #[error("blank end-of-segment marker covering {size} bytes")]
    BlankMarker {
        /// TOTALSIZE as written in the marker.
        size: i32,
    },
    /// TOTALSIZE disagrees with the lengths of the fields inside the record.
    #[error("bad total size {declared}: the fields call for {actual} bytes")]
    BadTotalSize {
        /// TOTALSIZE as written.
        declared: i32,
        /// Bytes the record's fields call for (a lower bound when they overrun `declared`).
        actual: usize,
    },
    /// A length field is negative or otherwise impossible.
    #[error("bad length {len} for field {field}")]
    BadLength {
        /// Which length field.
        field: &'static str,
        /// The value read.
        len: i64,
    },
    /// A host port outside 0..=65535.
    #[error("bad port {0}")]
    BadPort(i32),
    /// A text field is not valid UTF-8.
    #[error("field {field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which field.
        field: &'static str,
    },
    /// A field is too long for its length prefix (or for the record's int32 size).
    #[error("field {field} is {len} bytes, more than the maximum {max}")]
    TooLarge {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The largest length the format allows.
        max: usize,
    },
    /// The destination buffer is shorter than the encoded record.
    #[error("destination buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes the encoding needs.
        need: usize,
        /// Bytes the destination offers.
        have: usize,
    },
    /// A message id string is malformed.
    #[error("bad message id: {reason}")]
    BadMessageId {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A system flag carries a compression type this format does not define.
    #[error("unknown compression type {0} in sysflag")]
    UnknownCompression(i32),
}
