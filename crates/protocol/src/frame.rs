//! Frame split/join: `int32 total | int32 (type<<24 | headerLen) | header | body`.
//!
//! `total` counts everything after itself. The length prefix is checked against the frame limit
//! before anything is buffered, so a hostile peer cannot make us reserve gigabytes.

use bytes::{Buf, BufMut, BytesMut};

use crate::command::{RemotingCommand, SerializeType};
use crate::{header_binary, header_json};

/// Java's default `com.rocketmq.remoting.frameMaxLength` (the whole frame including the prefix).
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Largest header length the 24-bit field can express.
pub const MAX_HEADER_LEN: usize = 0x00FF_FFFF;

/// Most [`decode_frame`] reserves ahead for a partially received frame.
pub const MAX_EAGER_RESERVE: usize = 256 * 1024;

/// Why a frame could not be decoded or encoded. Any decode error means the connection must close.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame (length prefix included) exceeds the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Announced or computed frame size, prefix included.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The length prefix is negative or too small to hold the header-length word.
    #[error("bad frame length {0}")]
    BadLength(i32),
    /// The header length does not fit in the frame.
    #[error("bad header length {header_len} (frame has {available} bytes after the length word)")]
    BadHeaderLength {
        /// Header length from the header-length word.
        header_len: usize,
        /// Bytes available for header + body.
        available: usize,
    },
    /// The serialize-type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    /// The JSON header is not a valid header object.
    #[error("bad JSON header: {0}")]
    Json(#[from] serde_json::Error),
    /// The binary header is truncated or has an impossible length.
    #[error("bad binary header: {0}")]
    Binary(&'static str),
    /// A value does not fit the binary header (e.g. a code above 32767).
    #[error("{field} {value} does not fit the binary header")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: i64,
    },
}

/// Decodes one frame from the front of `src`.
///
/// Returns `Ok(None)` (after reserving room for the rest, up to [`MAX_EAGER_RESERVE`]) when the frame is not complete yet.
/// On success the frame is removed from `src`; the body shares `src`'s allocation (no copy).
/// `max_frame_len` bounds the whole frame including the 4-byte prefix, as in Java.
pub fn decode_frame(
    src: &mut BytesMut,
    max_frame_len: usize,
) -> Result<Option<RemotingCommand>, FrameError> {
    let Some(prefix) = src.get(..8) else {
        check_prefix(src, max_frame_len)?;
        return Ok(None);
    };
    let total = read_i32(prefix, 0);
    let frame_len = frame_len_of(total, max_frame_len)?;
    let mark = read_i32(prefix, 4).to_be_bytes();
    let [type_byte, h0, h1, h2] = mark;
    let serialize_type =
        SerializeType::from_byte(type_byte).ok_or(FrameError::UnknownSerializeType(type_byte))?;
    let header_len = usize::from(h0) << 16 | usize::from(h1) << 8 | usize::from(h2);
    let available = frame_len - 8;
    if header_len > available {
        return Err(FrameError::BadHeaderLength {
            header_len,
            available,
        });
    }
    if src.len() < frame_len {
        // Room for the rest, but capped: eight bytes from a peer must not pin 16 MiB.
        src.reserve((frame_len - src.len()).min(MAX_EAGER_RESERVE));
        return Ok(None);
    }
    let mut frame = src.split_to(frame_len);
    frame.advance(8);
    let header = frame.split_to(header_len);
    let mut cmd = match serialize_type {
        SerializeType::Json => header_json::decode(&header)?,
        SerializeType::RocketMq => header_binary::decode(&header)?,
    };
    cmd.body = frame.freeze();
    Ok(Some(cmd))
}

/// Validates a partial (< 8 bytes) prefix early so oversized frames fail before buffering.
fn check_prefix(src: &[u8], max_frame_len: usize) -> Result<(), FrameError> {
    if let Some(p) = src.get(..4) {
        frame_len_of(read_i32(p, 0), max_frame_len)?;
    }
    Ok(())
}

/// Whole frame size (prefix included) for a `total` prefix, checked against the limit.
fn frame_len_of(total: i32, max_frame_len: usize) -> Result<usize, FrameError> {
    let total_usize = usize::try_from(total).map_err(|_| FrameError::BadLength(total))?;
    if total_usize < 4 {
        return Err(FrameError::BadLength(total));
    }
    let frame_len = total_usize + 4;
    if frame_len > max_frame_len {
        return Err(FrameError::TooLong {
            len: frame_len,
            max: max_frame_len,
        });
    }
    Ok(frame_len)
}

fn read_i32(buf: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    if let Some(s) = buf.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    i32::from_be_bytes(b)
}

/// Appends one complete frame (header in `cmd.serialize_type` form, then the body) to `dst`.
pub fn encode_frame(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), FrameError> {
    encode_frame_head(cmd, dst)?;
    dst.reserve(cmd.body_len());
    for part in cmd.body_parts() {
        dst.extend_from_slice(part);
    }
    Ok(())
}

/// Appends the length words and header only, with lengths that count the whole body (`body` and
/// `body_chunks`), so a transport can write the body from its own buffers (vectored write)
/// instead of copying it into `dst`.
/// On error `dst` is left as it was.
pub fn encode_frame_head(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), FrameError> {
    let start = dst.len();
    dst.reserve(8 + 160);
    dst.put_u64(0);
    let res = match cmd.serialize_type {
        SerializeType::Json => {
            header_json::encode(cmd, dst);
            Ok(())
        }
        SerializeType::RocketMq => header_binary::encode(cmd, dst),
    };
    if let Err(e) = res {
        dst.truncate(start);
        return Err(e);
    }
    let header_len = dst.len() - start - 8;
    let total = (4 + header_len).saturating_add(cmd.body_len());
    let too_long = header_len > MAX_HEADER_LEN || i32::try_from(total).is_err();
    let Some(slot) = dst.get_mut(start..start + 8).filter(|_| !too_long) else {
        dst.truncate(start);
        return Err(FrameError::TooLong {
            len: total.saturating_add(4),
            max: i32::MAX as usize,
        });
    };
    let mark = u32::from(cmd.serialize_type.to_byte()) << 24 | header_len as u32;
    slot[..4].copy_from_slice(&(total as u32).to_be_bytes());
    slot[4..].copy_from_slice(&mark.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::ExtFields;
    use bytes::Bytes;

    fn sample(st: SerializeType) -> RemotingCommand {
        let mut ext = ExtFields::new();
        ext.insert("topic", "TopicTest");
        RemotingCommand::new_request(105, ext)
            .with_body(Bytes::from_static(b"hello"))
            .with_serialize_type(st)
    }

    #[test]
    fn round_trip_both_forms_and_partial_input() {
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let cmd = sample(st);
            let mut buf = BytesMut::new();
            encode_frame(&cmd, &mut buf).unwrap();
            let whole = buf.clone();
            // Feed byte by byte: None until the last byte.
            let mut partial = BytesMut::new();
            for (i, b) in whole.iter().enumerate() {
                partial.put_u8(*b);
                let r = decode_frame(&mut partial, DEFAULT_MAX_FRAME_LEN).unwrap();
                if i + 1 < whole.len() {
                    assert!(r.is_none());
                } else {
                    assert_eq!(r.unwrap(), cmd);
                }
            }
            assert!(partial.is_empty());
        }
    }

    #[test]
    fn two_frames_back_to_back() {
        let mut buf = BytesMut::new();
        let a = sample(SerializeType::Json);
        let b = sample(SerializeType::RocketMq).with_body(Bytes::new());
        encode_frame(&a, &mut buf).unwrap();
        encode_frame(&b, &mut buf).unwrap();
        assert_eq!(decode_frame(&mut buf, 1 << 20).unwrap().unwrap(), a);
        assert_eq!(decode_frame(&mut buf, 1 << 20).unwrap().unwrap(), b);
        assert!(decode_frame(&mut buf, 1 << 20).unwrap().is_none());
    }

    #[test]
    fn oversized_prefix_rejected_before_buffering() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN),
            Err(FrameError::TooLong { .. })
        ));
        // Exactly at the limit is fine: total + 4 == max.
        let mut buf = BytesMut::new();
        buf.put_i32(16_777_212);
        assert!(decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .is_none());
        let mut buf = BytesMut::new();
        buf.put_i32(16_777_213);
        assert!(decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN).is_err());
    }

    #[test]
    fn bad_lengths_and_types() {
        let mut buf = BytesMut::new();
        buf.put_i32(-1);
        assert!(matches!(
            decode_frame(&mut buf, 1024),
            Err(FrameError::BadLength(-1))
        ));
        let mut buf = BytesMut::new();
        buf.put_i32(3);
        assert!(decode_frame(&mut buf, 1024).is_err());
        let mut buf = BytesMut::new();
        buf.put_i32(10);
        buf.put_i32(7);
        assert!(matches!(
            decode_frame(&mut buf, 1024),
            Err(FrameError::BadHeaderLength { .. })
        ));
        let mut buf = BytesMut::new();
        buf.put_i32(4);
        buf.put_u32(2 << 24);
        assert!(matches!(
            decode_frame(&mut buf, 1024),
            Err(FrameError::UnknownSerializeType(2))
        ));
    }

    #[test]
    fn chunked_body_encodes_like_one_body() {
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let parts = vec![
                Bytes::from_static(b"ab"),
                Bytes::new(),
                Bytes::from_static(b"cde"),
            ];
            let base = sample(st);
            let chunked = base.clone().with_body_chunks(parts);
            assert_eq!(chunked.body_len(), 5);
            assert_eq!(&chunked.contiguous_body()[..], b"abcde");
            let whole = base.with_body(Bytes::from_static(b"abcde"));
            let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
            encode_frame(&chunked, &mut a).unwrap();
            encode_frame(&whole, &mut b).unwrap();
            assert_eq!(a, b);
            // The head alone announces the whole body.
            let mut head = BytesMut::new();
            encode_frame_head(&chunked, &mut head).unwrap();
            assert_eq!(&a[..head.len()], &head[..]);
            assert_eq!(decode_frame(&mut a, 1 << 20).unwrap().unwrap(), whole);
        }
    }

    #[test]
    fn body_is_zero_copy() {
        let mut buf = BytesMut::new();
        encode_frame(&sample(SerializeType::Json), &mut buf).unwrap();
        let base = buf.as_ptr() as usize;
        let end = base + buf.len();
        let cmd = decode_frame(&mut buf, 1 << 20).unwrap().unwrap();
        let p = cmd.body.as_ptr() as usize;
        assert!(
            p >= base && p < end,
            "body must point into the input buffer"
        );
    }
}
