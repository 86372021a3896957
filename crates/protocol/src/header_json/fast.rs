//! Fast path of JSON header decoding, for the headers real clients send on every message: one
//! flat object of integers and strings with a flat `extFields` object of scalars.
//!
//! It writes keys and values straight into the [`ExtFields`] text buffer (two allocations per
//! header) and never builds an intermediate tree. Anything outside that shape — floats, nested
//! values, surrogate escapes, numbers as strings, duplicate keys, any syntax error — makes it
//! give up (`None`), and the caller decodes the header again with the general serde path, which
//! has the final word on leniency and on the error. So this file only has to be right about
//! what it accepts.

use std::borrow::Cow;

use crate::command::{LanguageCode, RemotingCommand, SerializeType};
use crate::ext::ExtFields;

/// Longest integer literal taken here (i64 holds every 18-digit number).
const MAX_INT_DIGITS: usize = 18;

/// Decodes `header`, or `None` when it is not of the simple shape (see the module docs).
pub(super) fn decode(header: &[u8]) -> Option<RemotingCommand> {
    // Validated once here; the scanner then slices only at ASCII delimiters.
    let text = std::str::from_utf8(header).ok()?;
    let mut s = Scanner {
        s: text,
        b: header,
        pos: 0,
    };
    let mut seen = 0u8;
    let mut code = 0;
    let mut language = LanguageCode::default();
    let mut version = 0;
    let mut opaque = 0;
    let mut flag = 0;
    let mut remark = None;
    let mut ext_fields = None;
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if !s.eat_if(b'}') {
        loop {
            let key = s.plain_str()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            let bit = match key {
                "code" => 1,
                "language" => 2,
                "version" => 4,
                "opaque" => 8,
                "flag" => 16,
                "remark" => 32,
                "extFields" => 64,
                _ => 0,
            };
            // serde refuses a repeated field; let it produce that error.
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match key {
                "code" => code = s.int32()?,
                "version" => version = s.int32()?,
                "opaque" => opaque = s.int32()?,
                "flag" => flag = s.int32()?,
                "language" => language = LanguageCode::from_name(&s.string()?),
                "remark" => {
                    remark = if s.eat_literal(b"null") {
                        None
                    } else {
                        Some(s.string()?)
                            .filter(|r| !r.is_empty())
                            .map(Cow::into_owned)
                    }
                }
                "extFields" => {
                    ext_fields = if s.eat_literal(b"null") {
                        None
                    } else {
                        Some(s.ext_object(header.len())?)
                    }
                }
                _ => s.skip_scalar()?,
            }
            s.ws();
            if s.eat_if(b',') {
                s.ws();
                continue;
            }
            s.eat(b'}')?;
            break;
        }
    }
    s.ws();
    if s.pos != header.len() {
        return None;
    }
    Some(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields: ext_fields.unwrap_or_default(),
        body: bytes::Bytes::new(),
        body_chunks: Vec::new(),
        serialize_type: SerializeType::Json,
    })
}

struct Scanner<'a> {
    /// The header as text (valid UTF-8).
    s: &'a str,
    /// The same bytes.
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// JSON whitespace (what serde_json skips).
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.eat_if(c).then_some(())
    }

    fn eat_if(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_literal(&mut self, lit: &[u8]) -> bool {
        let hit = self
            .b
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(lit));
        if hit {
            self.pos += lit.len();
        }
        hit
    }

    /// A string without escapes, borrowed (keys).
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        let rest = self.b.get(start..)?;
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.pos = start + len + 1;
        self.s.get(start..start + len)
    }

    /// A string, borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let save = self.pos;
        if let Some(s) = self.plain_str() {
            return Some(Cow::Borrowed(s));
        }
        self.pos = save;
        let mut out = String::new();
        self.string_into(&mut out)?;
        Some(Cow::Owned(out))
    }

    /// Appends the unescaped text of a string to `out`.
    fn string_into(&mut self, out: &mut String) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let rest = self.b.get(self.pos..)?;
            let run = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            out.push_str(self.s.get(self.pos..self.pos + run)?);
            self.pos += run;
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => {
                    self.pos += 1;
                    let esc = self.peek()?;
                    self.pos += 1;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    out.push(c);
                }
                // A raw control character: invalid JSON.
                _ => return None,
            }
        }
    }

    /// The four hex digits after `\u`; surrogates (pairs or lone) are left to serde.
    fn unicode_escape(&mut self) -> Option<char> {
        let hex = self.b.get(self.pos..self.pos + 4)?;
        let mut v = 0u32;
        for &h in hex {
            v = v << 4 | char::from(h).to_digit(16)?;
        }
        self.pos += 4;
        if (0xD800..=0xDFFF).contains(&v) {
            return None;
        }
        char::from_u32(v)
    }

    /// An integer literal in canonical JSON form (no leading zeros, no `-0`, no fraction or
    /// exponent), as text.
    fn int_literal(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.eat_if(b'-');
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = self.b.get(digits_start..self.pos)?;
        let canonical = match digits {
            [] => false,
            [b'0'] => digits_start == start,
            [b'0', ..] => false,
            _ => digits.len() <= MAX_INT_DIGITS,
        };
        if !canonical || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.s.get(start..self.pos)
    }

    fn int32(&mut self) -> Option<i32> {
        self.int_literal()?.parse().ok()
    }

    /// Skips a value of an unknown key: strings, integers, booleans and null only.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string_into(&mut String::new()),
            b'-' | b'0'..=b'9' => self.int_literal().map(|_| ()),
            _ if self.eat_literal(b"true") || self.eat_literal(b"false") => Some(()),
            _ if self.eat_literal(b"null") => Some(()),
            _ => None,
        }
    }

    /// The `extFields` object: scalar values become their text, `null` drops the key.
    fn ext_object(&mut self, text_room: usize) -> Option<ExtFields> {
        let mut ext = ExtFields::with_text_capacity(text_room, 16);
        self.eat(b'{')?;
        self.ws();
        if self.eat_if(b'}') {
            return Some(ext);
        }
        loop {
            let key = self.plain_str()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            match self.peek()? {
                b'"' => ext.push_with(key, |text| self.string_into(text))?,
                b'-' | b'0'..=b'9' => {
                    let lit = self.int_literal()?;
                    ext.push_unchecked(key, lit);
                }
                _ if self.eat_literal(b"true") => ext.push_unchecked(key, "true"),
                _ if self.eat_literal(b"false") => ext.push_unchecked(key, "false"),
                _ if self.eat_literal(b"null") => {}
                _ => return None,
            }
            self.ws();
            if self.eat_if(b',') {
                self.ws();
                continue;
            }
            self.eat(b'}')?;
            break;
        }
        ext.dedup_last_wins();
        Some(ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and serde agree wherever the fast path answers.
    fn agrees(raw: &[u8]) -> bool {
        let fast = decode(raw);
        let slow = super::super::decode_with_serde(raw).ok();
        if let Some(f) = &fast {
            assert_eq!(Some(f), slow.as_ref(), "{}", String::from_utf8_lossy(raw));
        }
        fast.is_some()
    }

    #[test]
    fn takes_what_clients_send() {
        assert!(agrees(br#"{"code":310,"extFields":{"a":"pg","b":"T","d":"4","e":"-1","i":"TAGS\u0001A\u0002WAIT\u0001true\u0002","m":"false"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}"#));
        assert!(agrees(b"{\"code\":310,\"extFields\":{\"d\":4,\"e\":-1,\"k\":false,\"x\":null,\"y\":true},\"flag\":0,\"language\":\"CPP\",\"opaque\":3,\"remark\":\"\",\"version\":333}\n"));
        assert!(agrees(br#"{"code":0,"extFields":{},"flag":1,"language":"JAVA","opaque":2,"remark":"No topic \"x\"\n\/ \u00e9","version":479}"#));
        assert!(agrees(br#" { } "#));
        assert!(agrees(
            br#"{"code":1,"extFields":null,"remark":null,"language":"KOTLIN","x":"y","z":12}"#
        ));
        assert!(agrees(br#"{"extFields":{"a":"1","b":"2","a":"3"}}"#));
    }

    #[test]
    fn never_disagrees_on_mangled_headers() {
        let base = br#"{"code":310,"extFields":{"a":"pg","e":-1,"i":"K\u0001V\u0002","k":false,"n":null},"flag":0,"language":"JAVA","opaque":7,"remark":"r\"","version":479}"#;
        let bytes = [
            b'"', b'\\', b'{', b'}', b',', b':', b'-', b'0', b'1', b' ', b'x', b'u', 0x01, 0xff,
        ];
        assert!(agrees(base));
        for i in 0..base.len() {
            agrees(&base[..i]);
            for b in bytes {
                let mut m = base.to_vec();
                m[i] = b;
                agrees(&m);
                m.insert(i, b);
                agrees(&m);
            }
        }
    }

    #[test]
    fn leaves_the_rest_to_serde() {
        for raw in [
            &br#"{"code":"34"}"#[..],
            br#"{"code":1.0}"#,
            br#"{"code":1e3}"#,
            br#"{"code":01}"#,
            br#"{"code":-0}"#,
            br#"{"code":99999999999}"#,
            br#"{"language":1}"#,
            br#"{"code":1,"code":2}"#,
            br#"{"newKey":[1,2]}"#,
            br#"{"extFields":{"o":{"a":1}}}"#,
            br#"{"extFields":{"f":1.5}}"#,
            br#"{"extFields":{"s":"\ud83d\ude00"}}"#,
            br#"{"extFields":{"k\"":"v"}}"#,
            b"{\"remark\":\"a\x01b\"}",
            br#"{"code":1} x"#,
            br#"[1]"#,
            br#"{"code":1"#,
            br#"{"code":1,}"#,
            b"{\"remark\":\"\xff\"}",
        ] {
            assert!(!agrees(raw), "{}", String::from_utf8_lossy(raw));
        }
    }
}
