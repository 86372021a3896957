//! Lenient serde decoding of `extFields` (the general JSON path; see
//! `header_json::fast` for the per-message one): keys and values are written straight into the
//! map's text buffer, without a `String` or `serde_json::Value` per field.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::ExtFields;

impl<'de> Deserialize<'de> for ExtFields {
    /// Lenient like fastjson: numbers and booleans become their text, `null` values are dropped,
    /// nested objects/arrays are kept as compact JSON text.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ExtVisitor)
    }
}

struct ExtVisitor;

impl<'de> Visitor<'de> for ExtVisitor {
    type Value = ExtFields;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of scalar values")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<ExtFields, E> {
        Ok(ExtFields::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFields, A::Error> {
        // Keys and values are written straight into the text buffer: no String or
        // serde_json::Value per field.
        let hint = map.size_hint().unwrap_or(16).min(64);
        let mut ext = ExtFields::with_text_capacity(256, hint);
        while let Some(key) = map.next_key_seed(TextSeed(&mut ext.text))? {
            if let Some(val) = map.next_value_seed(ValueSeed(&mut ext.text))? {
                ext.push_ranges(key, val);
            }
        }
        ext.dedup_last_wins();
        Ok(ext)
    }
}

/// Appends a string (a key) to the text buffer; yields its range.
struct TextSeed<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = (usize, usize);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TextSeed<'_> {
    type Value = (usize, usize);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let start = self.0.len();
        self.0.push_str(v);
        Ok((start, self.0.len()))
    }
}

/// Appends a value's text to the buffer: strings as they are, numbers and booleans as their
/// text, nested objects/arrays as compact JSON; `None` for `null` (the entry is dropped).
struct ValueSeed<'a>(&'a mut String);

impl ValueSeed<'_> {
    fn put(self, v: impl fmt::Display) -> Option<(usize, usize)> {
        use std::fmt::Write as _;
        let start = self.0.len();
        // fmt::Write on a String never fails.
        let _ = write!(self.0, "{v}");
        Some((start, self.0.len()))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Option<(usize, usize)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Option<(usize, usize)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let start = self.0.len();
        self.0.push_str(v);
        Ok(Some((start, self.0.len())))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.put(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.put(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.put(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Same text as serde_json writes for the number (rare: no header field is a float).
        match serde_json::Number::from_f64(v) {
            Some(n) => Ok(self.put(n)),
            None => Ok(None),
        }
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(self.put(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(self.put(v))
    }
}
