//! SEND_BATCH_MESSAGE bodies: one entry per message, each
//! `TOTALSIZE i32 | MAGIC i32 (0) | BODYCRC i32 (0) | FLAG i32 | BODYLEN i32 | BODY | PROPLEN i16 | PROPERTIES`.
//!
//! Like the Java broker, the decoder reads entries field by field and ignores TOTALSIZE, MAGIC
//! and BODYCRC (the broker computes the CRC itself), so a client that fills them differently is
//! still accepted.

use bytes::{BufMut, Bytes, BytesMut};

use super::wire::Reader;
use super::MessageError;

/// Fixed bytes of an entry besides body and properties: 4 * 4 + 4 + 2.
pub const ENTRY_OVERHEAD: usize = 22;

/// One message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// User flag.
    pub flag: i32,
    /// Body, a zero-copy slice of the batch body when decoded.
    pub body: Bytes,
    /// Raw properties string.
    pub properties: String,
}

impl BatchEntry {
    /// Bytes this entry takes in a batch body: `22 + body + properties`.
    pub fn encoded_len(&self) -> usize {
        ENTRY_OVERHEAD
            .saturating_add(self.body.len())
            .saturating_add(self.properties.len())
    }
}

/// Splits a batch body into its entries; bodies share `body`'s memory.
///
/// # Errors
/// [`MessageError::Truncated`] if an entry runs past the end, [`MessageError::BadLength`] for a
/// negative length, [`MessageError::InvalidUtf8`] for non-UTF-8 properties.
pub fn decode_batch(body: &Bytes) -> Result<Vec<BatchEntry>, MessageError> {
    let mut r = Reader::at(body, 0);
    let mut out = Vec::new();
    while !r.is_empty() {
        // TOTALSIZE, MAGICCODE, BODYCRC: ignored, as the Java broker does.
        r.take(12)?;
        let flag = r.i32()?;
        let body_len = r.i32()?;
        let body_len = usize::try_from(body_len).map_err(|_| MessageError::BadLength {
            field: "body",
            len: body_len.into(),
        })?;
        let start = r.pos();
        r.take(body_len)?;
        let end = r.pos();
        let props_len = r.i16()?;
        let props_len = usize::try_from(props_len).map_err(|_| MessageError::BadLength {
            field: "properties",
            len: props_len.into(),
        })?;
        let props =
            std::str::from_utf8(r.take(props_len)?).map_err(|_| MessageError::InvalidUtf8 {
                field: "properties",
            })?;
        out.push(BatchEntry {
            flag,
            body: body.slice(start..end),
            properties: props.to_owned(),
        });
    }
    Ok(out)
}

/// Encodes entries into a batch body (as the Java producer does: MAGIC and BODYCRC are 0).
///
/// # Errors
/// [`MessageError::TooLarge`] if an entry's properties exceed 32767 bytes or its body or size
/// exceeds `i32::MAX`.
pub fn encode_batch(entries: &[BatchEntry]) -> Result<Bytes, MessageError> {
    let total = entries
        .iter()
        .fold(0usize, |n, e| n.saturating_add(e.encoded_len()));
    let mut out = BytesMut::with_capacity(total);
    for e in entries {
        let size = e.encoded_len();
        let size = i32::try_from(size).map_err(|_| MessageError::TooLarge {
            field: "batch entry",
            len: size,
            max: i32::MAX as usize,
        })?;
        let body_len = i32::try_from(e.body.len()).map_err(|_| MessageError::TooLarge {
            field: "body",
            len: e.body.len(),
            max: i32::MAX as usize,
        })?;
        let props_len = i16::try_from(e.properties.len()).map_err(|_| MessageError::TooLarge {
            field: "properties",
            len: e.properties.len(),
            max: 32_767,
        })?;
        out.put_i32(size);
        out.put_i32(0);
        out.put_i32(0);
        out.put_i32(e.flag);
        out.put_i32(body_len);
        out.put_slice(&e.body);
        out.put_i16(props_len);
        out.put_slice(e.properties.as_bytes());
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(flag: i32, body: &'static [u8], props: &str) -> BatchEntry {
        BatchEntry {
            flag,
            body: Bytes::from_static(body),
            properties: props.to_owned(),
        }
    }

    #[test]
    fn layout_matches_java_encode_messages() {
        let bytes = encode_batch(&[entry(7, b"abc", "K\u{1}V\u{2}")]).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&29i32.to_be_bytes()); // 22 + 3 + 4
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&7i32.to_be_bytes());
        expected.extend_from_slice(&3i32.to_be_bytes());
        expected.extend_from_slice(b"abc");
        expected.extend_from_slice(&4i16.to_be_bytes());
        expected.extend_from_slice(b"K\x01V\x02");
        assert_eq!(&bytes[..], &expected[..]);
    }

    #[test]
    fn round_trip_and_zero_copy() {
        let entries = vec![
            entry(0, b"", ""),
            entry(-1, b"hello", "UNIQ_KEY\u{1}X\u{2}"),
        ];
        let bytes = encode_batch(&entries).unwrap();
        let decoded = decode_batch(&bytes).unwrap();
        assert_eq!(decoded, entries);
        let body = &decoded[1].body;
        assert!(bytes.as_ptr_range().contains(&body.as_ptr()));
        assert!(decode_batch(&Bytes::new()).unwrap().is_empty());
    }

    #[test]
    fn ignores_total_size_like_java() {
        let mut raw = encode_batch(&[entry(1, b"x", "")]).unwrap().to_vec();
        raw[..4].copy_from_slice(&999i32.to_be_bytes());
        let decoded = decode_batch(&Bytes::from(raw)).unwrap();
        assert_eq!(decoded, [entry(1, b"x", "")]);
    }

    #[test]
    fn rejects_bad_entries() {
        let good = encode_batch(&[entry(1, b"xyz", "A\u{1}B\u{2}")]).unwrap();
        for cut in 1..good.len() {
            assert!(decode_batch(&good.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut neg = good.to_vec();
        neg[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            decode_batch(&Bytes::from(neg)),
            Err(MessageError::BadLength {
                field: "body",
                len: -1
            })
        );
        let big = BatchEntry {
            flag: 0,
            body: Bytes::new(),
            properties: "x".repeat(40_000),
        };
        assert!(matches!(
            encode_batch(&[big]),
            Err(MessageError::TooLarge { .. })
        ));
    }
}
