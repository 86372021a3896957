//! [`RemotingCommand`]: one decoded frame (request, response or oneway), plus the small enums
//! that travel in its header.

use std::sync::atomic::{AtomicI32, Ordering};

use bytes::Bytes;

use crate::ext::ExtFields;

/// Flag bit 0 (`RPC_TYPE`): set on responses.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1 (`RPC_ONEWAY`): set on requests that must not be answered.
pub const FLAG_ONEWAY: i32 = 1 << 1;

/// `MQVersion` ordinal of V5_3_3; what we put in `version` of every command we create.
/// Java peers key behaviour on it (standard-JSON routes ≥ 401, GO_AWAY > 475), so it must be real.
pub const CURRENT_VERSION: i32 = 479;

/// Language we announce. Every Java server answers `JAVA` and clients never check it; old Java
/// peers may not know newer names such as `RUST`, so the most widely understood one is used.
pub const OUR_LANGUAGE: LanguageCode = LanguageCode::Java;

/// Process-wide request id source; like the C++ client we keep ids non-negative.
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(0);

/// Returns a fresh request id (non-negative, wraps after 2^31).
pub fn next_opaque() -> i32 {
    NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed) & i32::MAX
}

/// How the header of a frame is encoded (the high byte of the header-length word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// Type 0: a fastjson-style JSON object. What almost every client uses.
    #[default]
    Json,
    /// Type 1: the compact `ROCKETMQ` binary form.
    RocketMq,
}

impl SerializeType {
    /// The wire byte of this form.
    pub fn to_byte(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// Parses the wire byte; `None` for anything but 0 and 1.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }

    /// The Java enum name (`JSON` / `ROCKETMQ`), as emitted in `serializeTypeCurrentRPC`.
    pub fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

/// The sender's language. Unknown values are kept rather than rejected, because Java peers
/// tolerate them too (a newer client must not be refused by an older server).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum LanguageCode {
    /// `JAVA` (0).
    #[default]
    Java,
    /// `CPP` (1).
    Cpp,
    /// `DOTNET` (2).
    DotNet,
    /// `PYTHON` (3).
    Python,
    /// `DELPHI` (4).
    Delphi,
    /// `ERLANG` (5).
    Erlang,
    /// `RUBY` (6).
    Ruby,
    /// `OTHER` (7).
    Other,
    /// `HTTP` (8).
    Http,
    /// `GO` (9).
    Go,
    /// `PHP` (10).
    Php,
    /// `OMS` (11).
    Oms,
    /// `RUST` (12).
    Rust,
    /// `NODE_JS` (13, 5.x only).
    NodeJs,
    /// A name or byte we do not know: the raw JSON name, or the decimal byte from a binary header.
    Unknown(String),
}

/// Known languages in byte order; the index is the wire byte.
const LANGUAGES: [(LanguageCode, &str); 14] = [
    (LanguageCode::Java, "JAVA"),
    (LanguageCode::Cpp, "CPP"),
    (LanguageCode::DotNet, "DOTNET"),
    (LanguageCode::Python, "PYTHON"),
    (LanguageCode::Delphi, "DELPHI"),
    (LanguageCode::Erlang, "ERLANG"),
    (LanguageCode::Ruby, "RUBY"),
    (LanguageCode::Other, "OTHER"),
    (LanguageCode::Http, "HTTP"),
    (LanguageCode::Go, "GO"),
    (LanguageCode::Php, "PHP"),
    (LanguageCode::Oms, "OMS"),
    (LanguageCode::Rust, "RUST"),
    (LanguageCode::NodeJs, "NODE_JS"),
];

impl LanguageCode {
    /// Parses a Java enum name; unknown names become [`LanguageCode::Unknown`].
    pub fn from_name(name: &str) -> Self {
        LANGUAGES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| LanguageCode::Unknown(name.to_owned()))
    }

    /// Parses a binary-header byte; unknown bytes become [`LanguageCode::Unknown`].
    pub fn from_byte(b: u8) -> Self {
        LANGUAGES
            .get(usize::from(b))
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| LanguageCode::Unknown(b.to_string()))
    }

    /// The name to write in a JSON header (an unknown value is echoed as received).
    pub fn name(&self) -> &str {
        match self {
            LanguageCode::Unknown(raw) => raw,
            known => LANGUAGES
                .iter()
                .find(|(l, _)| l == known)
                .map_or("OTHER", |(_, n)| n),
        }
    }

    /// The byte to write in a binary header; an unknown value keeps its byte when it was one,
    /// otherwise it is sent as `OTHER`.
    pub fn to_byte(&self) -> u8 {
        match self {
            LanguageCode::Unknown(raw) => raw.parse().unwrap_or(7),
            known => LANGUAGES
                .iter()
                .position(|(l, _)| l == known)
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(7),
        }
    }
}

/// One decoded frame. Requests and responses share this shape; `flag` tells them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code (requests) or response code (responses).
    pub code: i32,
    /// The sender's language.
    pub language: LanguageCode,
    /// The sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id; a response carries its request's value.
    pub opaque: i32,
    /// Bit field: [`FLAG_RESPONSE`], [`FLAG_ONEWAY`].
    pub flag: i32,
    /// Free text, usually the error of a failed response. Empty and absent are the same.
    pub remark: Option<String>,
    /// The per-code custom header.
    pub ext_fields: ExtFields,
    /// The frame remainder after the header (empty when there is none).
    pub body: Bytes,
    /// More body bytes that follow `body` on the wire, kept as separate buffers so a transport
    /// can send them with vectored writes instead of copying them together (a pull response
    /// hands over the store's record slices this way). Decoding never fills it; code that reads
    /// a body it built itself uses [`RemotingCommand::body_len`] / [`RemotingCommand::contiguous_body`].
    pub body_chunks: Vec<Bytes>,
    /// How the header was (or will be) encoded.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A new request with a fresh opaque, our language and version, JSON header.
    pub fn new_request(code: i32, ext: ExtFields) -> Self {
        RemotingCommand {
            code,
            language: OUR_LANGUAGE,
            version: CURRENT_VERSION,
            opaque: next_opaque(),
            flag: 0,
            remark: None,
            ext_fields: ext,
            body: Bytes::new(),
            body_chunks: Vec::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// The response to this request: same opaque and header form, response flag set, no oneway bit.
    pub fn response_to(&self, code: i32, remark: Option<String>) -> Self {
        RemotingCommand {
            code,
            language: OUR_LANGUAGE,
            version: CURRENT_VERSION,
            opaque: self.opaque,
            flag: FLAG_RESPONSE,
            remark: remark.filter(|r| !r.is_empty()),
            ext_fields: ExtFields::new(),
            body: Bytes::new(),
            body_chunks: Vec::new(),
            serialize_type: self.serialize_type,
        }
    }

    /// True when the response bit is set.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// True when the oneway bit is set (the peer expects no response).
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// Sets the oneway bit.
    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// Replaces the body.
    #[must_use]
    pub fn with_body(mut self, body: Bytes) -> Self {
        self.body = body;
        self.body_chunks = Vec::new();
        self
    }

    /// Replaces the body with `chunks`, sent back to back without being copied together.
    #[must_use]
    pub fn with_body_chunks(mut self, mut chunks: Vec<Bytes>) -> Self {
        if chunks.len() == 1 {
            self.body = chunks.pop().unwrap_or_default();
            self.body_chunks = chunks;
        } else {
            self.body = Bytes::new();
            self.body_chunks = chunks;
        }
        self
    }

    /// Length of the whole body (`body` and `body_chunks`).
    pub fn body_len(&self) -> usize {
        self.body_chunks
            .iter()
            .fold(self.body.len(), |n, c| n.saturating_add(c.len()))
    }

    /// The body parts in wire order (`body`, then `body_chunks`).
    pub fn body_parts(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.body).chain(self.body_chunks.iter())
    }

    /// The whole body as one buffer (copies only when it is in several chunks).
    pub fn contiguous_body(&self) -> Bytes {
        if self.body_chunks.is_empty() {
            return self.body.clone();
        }
        let mut out = bytes::BytesMut::with_capacity(self.body_len());
        for part in self.body_parts() {
            out.extend_from_slice(part);
        }
        out.freeze()
    }

    /// Replaces the custom header.
    #[must_use]
    pub fn with_ext(mut self, ext: ExtFields) -> Self {
        self.ext_fields = ext;
        self
    }

    /// Replaces the remark (an empty string means none).
    #[must_use]
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        let remark = remark.into();
        self.remark = (!remark.is_empty()).then_some(remark);
        self
    }

    /// Replaces the opaque.
    #[must_use]
    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    /// Replaces the header form.
    #[must_use]
    pub fn with_serialize_type(mut self, serialize_type: SerializeType) -> Self {
        self.serialize_type = serialize_type;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_names_and_bytes_agree() {
        for (i, (lang, name)) in LANGUAGES.iter().enumerate() {
            assert_eq!(LanguageCode::from_name(name), *lang);
            assert_eq!(usize::from(lang.to_byte()), i);
            assert_eq!(LanguageCode::from_byte(lang.to_byte()).name(), *name);
        }
    }

    #[test]
    fn unknown_language_is_kept() {
        let l = LanguageCode::from_name("COBOL");
        assert_eq!(l.name(), "COBOL");
        assert_eq!(l.to_byte(), 7);
        let b = LanguageCode::from_byte(200);
        assert_eq!(b.to_byte(), 200);
    }

    #[test]
    fn response_copies_opaque_and_form() {
        let req = RemotingCommand::new_request(105, ExtFields::new())
            .with_opaque(-5)
            .with_serialize_type(SerializeType::RocketMq);
        let mut oneway = req.clone();
        oneway.mark_oneway();
        assert!(oneway.is_oneway() && !oneway.is_response());
        let resp = oneway.response_to(17, Some(String::new()));
        assert_eq!(resp.opaque, -5);
        assert_eq!(resp.serialize_type, SerializeType::RocketMq);
        assert!(resp.is_response());
        assert!(!resp.is_oneway());
        assert_eq!(resp.remark, None);
    }

    #[test]
    fn opaques_are_distinct_and_non_negative() {
        let a = next_opaque();
        let b = next_opaque();
        assert_ne!(a, b);
        assert!(a >= 0 && b >= 0);
    }
}
