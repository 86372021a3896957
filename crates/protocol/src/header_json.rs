//! JSON header form (serialize type 0), as fastjson writes it and as every client sends it.
//!
//! Decoding is lenient: unknown keys are ignored, `extFields` values may be numbers, booleans or
//! null (C++ client), `remark` may be `""` or null, `language` may be any name or an ordinal,
//! and trailing whitespace (jsoncpp's `\n`) is accepted. Encoding mirrors Java byte for byte:
//! keys sorted, `extFields` always present with string values, `remark` only when set.

use std::fmt::{self, Write as _};

use bytes::{BufMut, BytesMut};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::body::lenient;
use crate::command::{LanguageCode, RemotingCommand, SerializeType};
use crate::ext::ExtFields;
use crate::frame::FrameError;

#[derive(Deserialize)]
struct RawHeader {
    #[serde(default, deserialize_with = "lenient::i32")]
    code: i32,
    #[serde(default, deserialize_with = "language")]
    language: LanguageCode,
    #[serde(default, deserialize_with = "lenient::i32")]
    version: i32,
    #[serde(default, deserialize_with = "lenient::i32")]
    opaque: i32,
    #[serde(default, deserialize_with = "lenient::i32")]
    flag: i32,
    #[serde(default, deserialize_with = "lenient::opt_non_empty_string")]
    remark: Option<String>,
    #[serde(default, rename = "extFields")]
    ext_fields: Option<ExtFields>,
}

fn language<'de, D: Deserializer<'de>>(d: D) -> Result<LanguageCode, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = LanguageCode;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a language name or byte")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<LanguageCode, E> {
            Ok(LanguageCode::from_name(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<LanguageCode, E> {
            Ok(u8::try_from(v).map_or_else(
                |_| LanguageCode::Unknown(v.to_string()),
                LanguageCode::from_byte,
            ))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<LanguageCode, E> {
            Ok(LanguageCode::Unknown(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<LanguageCode, E> {
            Ok(LanguageCode::Other)
        }
    }
    d.deserialize_any(V)
}

mod fast;

/// Decodes a JSON header. The body is left empty (the frame fills it in).
///
/// The headers clients send on every message take a fast path that writes straight into
/// [`ExtFields`]; anything unusual is decoded by serde, which decides leniency and errors.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, FrameError> {
    match fast::decode(header) {
        Some(cmd) => Ok(cmd),
        None => decode_with_serde(header),
    }
}

/// The general decoder (any valid JSON, fastjson/C++ leniency).
fn decode_with_serde(header: &[u8]) -> Result<RemotingCommand, FrameError> {
    // A derived struct would also accept a JSON array; a header is always an object.
    if header.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(FrameError::Json(de::Error::custom(
            "header is not a JSON object",
        )));
    }
    let raw: RawHeader = serde_json::from_slice(header)?;
    Ok(RemotingCommand {
        code: raw.code,
        language: raw.language,
        version: raw.version,
        opaque: raw.opaque,
        flag: raw.flag,
        remark: raw.remark,
        ext_fields: raw.ext_fields.unwrap_or_default(),
        body: bytes::Bytes::new(),
        body_chunks: Vec::new(),
        serialize_type: SerializeType::Json,
    })
}

/// Appends the JSON header of `cmd` to `dst` (no length words), in Java's key order.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    // fmt::Write on BytesMut never fails; the results are ignored deliberately.
    let _ = write!(dst, "{{\"code\":{},\"extFields\":{{", cmd.code);
    for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
        if i > 0 {
            dst.put_u8(b',');
        }
        put_json_str(dst, k);
        dst.put_u8(b':');
        put_json_str(dst, v);
    }
    let _ = write!(dst, "}},\"flag\":{},\"language\":", cmd.flag);
    put_json_str(dst, cmd.language.name());
    let _ = write!(dst, ",\"opaque\":{}", cmd.opaque);
    if let Some(remark) = cmd.remark.as_deref() {
        dst.put_slice(b",\"remark\":");
        put_json_str(dst, remark);
    }
    let _ = write!(
        dst,
        ",\"serializeTypeCurrentRPC\":\"{}\",\"version\":{}}}",
        SerializeType::Json.name(),
        cmd.version
    );
}

/// Writes `s` as a JSON string literal (raw UTF-8, like fastjson; control characters escaped).
fn put_json_str(dst: &mut BytesMut, s: &str) {
    dst.reserve(s.len() + 2);
    dst.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        dst.put_slice(bytes.get(run_start..i).unwrap_or_default());
        if esc.is_empty() {
            let _ = write!(dst, "\\u{:04x}", b);
        } else {
            dst.put_slice(esc);
        }
        run_start = i + 1;
    }
    dst.put_slice(bytes.get(run_start..).unwrap_or_default());
    dst.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_byte_identical_request() {
        let mut ext = ExtFields::new();
        ext.insert("topic", "TopicTest");
        let cmd = RemotingCommand::new_request(105, ext).with_opaque(7);
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        assert_eq!(
            &buf[..],
            br#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}"#
        );
        assert_eq!(buf.len(), 131);
    }

    #[test]
    fn response_always_has_ext_object_and_optional_remark() {
        let req = RemotingCommand::new_request(105, ExtFields::new()).with_opaque(8);
        let resp = req.response_to(17, Some("No topic \"x\"\n".into()));
        let mut buf = BytesMut::new();
        encode(&resp, &mut buf);
        let text = std::str::from_utf8(&buf).unwrap();
        assert!(text.contains(r#""extFields":{}"#));
        assert!(text.contains(r#""remark":"No topic \"x\"\n""#));
        let back = decode(&buf).unwrap();
        assert_eq!(back, resp);
        let ok = req.response_to(0, None);
        buf.clear();
        encode(&ok, &mut buf);
        assert!(!std::str::from_utf8(&buf).unwrap().contains("remark"));
    }

    #[test]
    fn cpp_style_request() {
        let raw = b"{\"code\":310,\"extFields\":{\"a\":\"pg\",\"d\":4,\"e\":-1,\"k\":false,\"AccessKey\":\"\",\"x\":null},\"flag\":0,\"language\":\"CPP\",\"opaque\":3,\"remark\":\"\",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":333}\n";
        let cmd = decode(raw).unwrap();
        assert_eq!(cmd.code, 310);
        assert_eq!(cmd.language, LanguageCode::Cpp);
        assert_eq!(cmd.remark, None);
        assert_eq!(cmd.ext_fields.get("d"), Some("4"));
        assert_eq!(cmd.ext_fields.get("e"), Some("-1"));
        assert_eq!(cmd.ext_fields.get("k"), Some("false"));
        assert_eq!(cmd.ext_fields.get("AccessKey"), Some(""));
        assert_eq!(cmd.ext_fields.get("x"), None);
    }

    #[test]
    fn tolerant_of_unknown_language_and_missing_keys() {
        let cmd = decode(br#"{"code":34,"language":"KOTLIN","newKey":[1,2]}"#).unwrap();
        assert_eq!(cmd.language, LanguageCode::Unknown("KOTLIN".into()));
        assert!(cmd.ext_fields.is_empty());
        assert_eq!(cmd.remark, None);
        let cmd = decode(br#"{"code":"34","language":1,"extFields":null,"remark":null}"#).unwrap();
        assert_eq!(cmd.code, 34);
        assert_eq!(cmd.language, LanguageCode::Cpp);
        assert!(decode(b"[1]").is_err());
        assert!(decode(b"{\"code\":1} x").is_err());
    }

    #[test]
    fn escapes_control_characters() {
        let mut buf = BytesMut::new();
        put_json_str(&mut buf, "a\u{1}b\u{e9}");
        assert_eq!(&buf[..], "\"a\\u0001b\u{e9}\"".as_bytes());
        let parsed: String = serde_json::from_slice(&buf).unwrap();
        assert_eq!(parsed, "a\u{1}b\u{e9}");
    }
}
