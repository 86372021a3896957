//! ROCKETMQ binary header form (serialize type 1), big-endian:
//! `code i16 | language u8 | version i16 | opaque i32 | flag i32 | remarkLen i32 | remark |
//! extLen i32 | (keyLen i16 | key | valLen i32 | val)*`.
//!
//! Every length is checked against what remains before it is used. As in Java, a zero-length
//! remark or value reads back as null, so empty ext values are dropped on decode.

use bytes::{BufMut, BytesMut};

use crate::command::{LanguageCode, RemotingCommand, SerializeType};
use crate::ext::ExtFields;
use crate::frame::FrameError;

/// A bounds-checked big-endian reader over a header slice.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FrameError> {
        if n > self.buf.len() {
            return Err(FrameError::Binary(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FrameError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn i16(&mut self, what: &'static str) -> Result<i16, FrameError> {
        self.array(what).map(i16::from_be_bytes)
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, FrameError> {
        self.array(what).map(i32::from_be_bytes)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, FrameError> {
        self.array::<1>(what).map(|[b]| b)
    }

    /// A length-prefixed block; negative lengths are malformed.
    fn block(&mut self, len: i64, what: &'static str) -> Result<&'a [u8], FrameError> {
        let n = usize::try_from(len).map_err(|_| FrameError::Binary(what))?;
        self.take(n, what)
    }
}

/// Java decodes with replacement of invalid UTF-8; we do the same rather than fail the frame.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decodes a binary header. The body is left empty (the frame fills it in).
pub fn decode(header: &[u8]) -> Result<RemotingCommand, FrameError> {
    let mut r = Reader { buf: header };
    let code = i32::from(r.i16("code")?);
    let language = LanguageCode::from_byte(r.u8("language")?);
    let version = i32::from(r.i16("version")?);
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.i32("remark length")?;
    let remark = r.block(remark_len.into(), "remark length")?;
    let remark = (!remark.is_empty()).then(|| text(remark));
    let ext_len = r.i32("extFields length")?;
    let mut ext_r = Reader {
        buf: r.block(ext_len.into(), "extFields length")?,
    };
    let mut ext_fields = ExtFields::with_capacity(16);
    while !ext_r.buf.is_empty() {
        let key_len = ext_r.i16("ext key length")?;
        let key = ext_r.block(key_len.into(), "ext key length")?;
        let val_len = ext_r.i32("ext value length")?;
        let val = ext_r.block(val_len.into(), "ext value length")?;
        if !key.is_empty() && !val.is_empty() {
            ext_fields.push_unchecked(&String::from_utf8_lossy(key), &String::from_utf8_lossy(val));
        }
    }
    ext_fields.dedup_last_wins();
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: bytes::Bytes::new(),
        body_chunks: Vec::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

fn out_of_range(field: &'static str, value: usize) -> FrameError {
    FrameError::OutOfRange {
        field,
        value: i64::try_from(value).unwrap_or(i64::MAX),
    }
}

/// Appends the binary header of `cmd` to `dst` (no length words). Fails when `code` or `version`
/// does not fit in an i16 (Java would silently truncate) or a key/value is too long; `dst` may
/// then hold a partial header, which [`crate::frame::encode_frame`] truncates away.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), FrameError> {
    let code = i16::try_from(cmd.code).map_err(|_| FrameError::OutOfRange {
        field: "code",
        value: cmd.code.into(),
    })?;
    let version = i16::try_from(cmd.version).map_err(|_| FrameError::OutOfRange {
        field: "version",
        value: cmd.version.into(),
    })?;
    let remark = cmd.remark.as_deref().unwrap_or("");
    let remark_len =
        i32::try_from(remark.len()).map_err(|_| out_of_range("remark length", remark.len()))?;
    let ext_len: usize = cmd
        .ext_fields
        .iter()
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| 6 + k.len() + v.len())
        .sum();
    let ext_len_i32 =
        i32::try_from(ext_len).map_err(|_| out_of_range("extFields length", ext_len))?;
    dst.reserve(21 + remark.len() + ext_len);
    dst.put_i16(code);
    dst.put_u8(cmd.language.to_byte());
    dst.put_i16(version);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    dst.put_i32(remark_len);
    dst.put_slice(remark.as_bytes());
    dst.put_i32(ext_len_i32);
    for (k, v) in cmd.ext_fields.iter() {
        if k.is_empty() || v.is_empty() {
            continue;
        }
        let kl = i16::try_from(k.len()).map_err(|_| out_of_range("ext key length", k.len()))?;
        // v.len() ≤ ext_len, which fits in i32.
        let vl = i32::try_from(v.len()).map_err(|_| out_of_range("ext value length", v.len()))?;
        dst.put_i16(kl);
        dst.put_slice(k.as_bytes());
        dst.put_i32(vl);
        dst.put_slice(v.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_remark_and_negative_code() {
        let mut ext = ExtFields::new();
        ext.insert("queueId", "-1");
        ext.insert("empty", "");
        let mut cmd = RemotingCommand::new_request(105, ext)
            .with_serialize_type(SerializeType::RocketMq)
            .response_to(-1000, Some("déjà".into()));
        cmd.ext_fields.insert("queueId", "-1");
        cmd.ext_fields.insert("empty", "");
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf).unwrap();
        let back = decode(&buf).unwrap();
        assert_eq!(back.code, -1000);
        assert_eq!(back.remark.as_deref(), Some("déjà"));
        assert_eq!(back.ext_fields.get("queueId"), Some("-1"));
        assert_eq!(back.ext_fields.get("empty"), None);
        assert_eq!(back.ext_fields.len(), 1);
    }

    #[test]
    fn codes_beyond_i16_are_refused() {
        let cmd = RemotingCommand::new_request(200_050, ExtFields::new());
        assert!(matches!(
            encode(&cmd, &mut BytesMut::new()),
            Err(FrameError::OutOfRange { field: "code", .. })
        ));
    }

    #[test]
    fn truncated_and_lying_lengths_fail() {
        let mut cmd = RemotingCommand::new_request(10, ExtFields::new());
        cmd.ext_fields.insert("k", "v");
        cmd.remark = Some("r".into());
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf).unwrap();
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        // Remark length larger than the header.
        let mut bad = buf.clone();
        bad[13..17].copy_from_slice(&1000i32.to_be_bytes());
        assert!(decode(&bad).is_err());
        // Negative remark length.
        bad[13..17].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(decode(&bad).is_err());
    }
}
