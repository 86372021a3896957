//! `extFields`: the string map that carries each request's custom header, with typed getters
//! that turn a missing or malformed value into a [`HeaderError`] instead of a panic.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a custom header could not be read from `extFields`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A required key is absent (Java: "the custom field `<x>` is null").
    #[error("the custom field {field} is null")]
    MissingField {
        /// The Java field name (the `extFields` key).
        field: &'static str,
    },
    /// A key is present but its value does not parse as the expected type.
    #[error("the custom field {field} has invalid value {value:?} (expected {expected})")]
    InvalidField {
        /// The Java field name (the `extFields` key).
        field: &'static str,
        /// The value as received (truncated to 64 characters).
        value: String,
        /// What was expected, e.g. `"int"`.
        expected: &'static str,
    },
}

/// An ordered string→string map. Small (a handful of keys), so a vector beats hashing; order is
/// insertion order, which keeps our own output stable (peers must not rely on it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtFields {
    entries: Vec<(String, String)>,
}

impl ExtFields {
    /// An empty map.
    pub fn new() -> Self {
        ExtFields::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        ExtFields {
            entries: Vec::with_capacity(n),
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Sets `key` only when `value` is `Some` (Java omits null fields).
    pub fn insert_opt<V: ToString>(&mut self, key: &str, value: Option<V>) {
        if let Some(v) = value {
            self.insert(key, v.to_string());
        }
    }

    /// Appends without checking for an equal key; decoders call [`ExtFields::dedup_last_wins`]
    /// once at the end, so a hostile header with many keys costs linear, not quadratic, time.
    pub(crate) fn push_unchecked(&mut self, key: String, value: String) {
        self.entries.push((key, value));
    }

    /// Removes earlier duplicates of a key, keeping the last value (fastjson/HashMap semantics).
    pub(crate) fn dedup_last_wins(&mut self) {
        let n = self.entries.len();
        if n < 2 {
            return;
        }
        let mut keep = vec![false; n];
        let mut seen = std::collections::HashSet::with_capacity(n);
        for (i, (k, _)) in self.entries.iter().enumerate().rev() {
            if seen.insert(k.as_str()) {
                if let Some(slot) = keep.get_mut(i) {
                    *slot = true;
                }
            }
        }
        let mut flags = keep.into_iter();
        self.entries.retain(|_| flags.next().unwrap_or(false));
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Copies every entry of `other` into `self` (overwriting equal keys).
    pub fn extend_from(&mut self, other: ExtFields) {
        for (k, v) in other.entries {
            self.insert(k, v);
        }
    }

    /// A required string value.
    pub fn required_str(&self, field: &'static str) -> Result<&str, HeaderError> {
        self.get(field).ok_or(HeaderError::MissingField { field })
    }

    /// A required string value, owned.
    pub fn required_string(&self, field: &'static str) -> Result<String, HeaderError> {
        self.required_str(field).map(str::to_owned)
    }

    /// An optional string value, owned.
    pub fn optional_string(&self, field: &str) -> Option<String> {
        self.get(field).map(str::to_owned)
    }

    /// A required `int`.
    pub fn required_i32(&self, field: &'static str) -> Result<i32, HeaderError> {
        parse_int(field, self.required_str(field)?, "int")
    }

    /// A required `long`.
    pub fn required_i64(&self, field: &'static str) -> Result<i64, HeaderError> {
        parse_int(field, self.required_str(field)?, "long")
    }

    /// A required `boolean` (`true`/`false` in any case, or the C++ `1`/`0`).
    pub fn required_bool(&self, field: &'static str) -> Result<bool, HeaderError> {
        parse_bool(field, self.required_str(field)?)
    }

    /// An optional `int`; an empty value counts as absent (the binary form cannot carry "").
    pub fn optional_i32(&self, field: &'static str) -> Result<Option<i32>, HeaderError> {
        self.non_empty(field)
            .map(|v| parse_int(field, v, "int"))
            .transpose()
    }

    /// An optional `long`; an empty value counts as absent.
    pub fn optional_i64(&self, field: &'static str) -> Result<Option<i64>, HeaderError> {
        self.non_empty(field)
            .map(|v| parse_int(field, v, "long"))
            .transpose()
    }

    /// An optional `boolean`; an empty value counts as absent.
    pub fn optional_bool(&self, field: &'static str) -> Result<Option<bool>, HeaderError> {
        self.non_empty(field)
            .map(|v| parse_bool(field, v))
            .transpose()
    }

    fn non_empty(&self, field: &str) -> Option<&str> {
        self.get(field).filter(|v| !v.is_empty())
    }
}

fn invalid(field: &'static str, value: &str, expected: &'static str) -> HeaderError {
    HeaderError::InvalidField {
        field,
        value: value.chars().take(64).collect(),
        expected,
    }
}

fn parse_int<T: std::str::FromStr>(
    field: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<T, HeaderError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(field, value, expected))
}

fn parse_bool(field: &'static str, value: &str) -> Result<bool, HeaderError> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") || v == "1" {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") || v == "0" {
        Ok(false)
    } else {
        Err(invalid(field, value, "boolean"))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut ext = ExtFields::new();
        for (k, v) in iter {
            ext.insert(k, v);
        }
        ext
    }
}

impl Serialize for ExtFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

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
        let mut ext = ExtFields::with_capacity(map.size_hint().unwrap_or(8).min(64));
        while let Some(key) = map.next_key::<String>()? {
            let text = match map.next_value::<serde_json::Value>()? {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            ext.push_unchecked(key, text);
        }
        ext.dedup_last_wins();
        Ok(ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters() {
        let ext: ExtFields = [
            ("a", "12"),
            ("b", "-7"),
            ("c", "1"),
            ("d", "FALSE"),
            ("e", ""),
        ]
        .into_iter()
        .collect();
        assert_eq!(ext.required_i32("a"), Ok(12));
        assert_eq!(ext.required_i64("b"), Ok(-7));
        assert_eq!(ext.required_bool("c"), Ok(true));
        assert_eq!(ext.optional_bool("d"), Ok(Some(false)));
        assert_eq!(ext.optional_i32("e"), Ok(None));
        assert_eq!(ext.optional_i32("zz"), Ok(None));
        assert_eq!(
            ext.required_str("zz"),
            Err(HeaderError::MissingField { field: "zz" })
        );
        assert!(matches!(
            ext.required_i32("d"),
            Err(HeaderError::InvalidField { field: "d", .. })
        ));
        assert!(matches!(
            ext.required_i32("e"),
            Err(HeaderError::InvalidField { .. })
        ));
    }

    #[test]
    fn insert_replaces_in_place() {
        let mut ext = ExtFields::new();
        ext.insert("x", "1");
        ext.insert("y", "2");
        ext.insert("x", "3");
        assert_eq!(ext.iter().collect::<Vec<_>>(), vec![("x", "3"), ("y", "2")]);
        assert_eq!(ext.remove("x").as_deref(), Some("3"));
        assert_eq!(ext.len(), 1);
    }

    #[test]
    fn duplicates_keep_the_last_value_in_place_of_the_last() {
        let ext: ExtFields = serde_json::from_str(r#"{"a":"1","b":"2","a":"3"}"#).unwrap();
        assert_eq!(ext.iter().collect::<Vec<_>>(), vec![("b", "2"), ("a", "3")]);
        let many = format!(
            "{{{}}}",
            (0..50_000)
                .map(|i| format!("\"k{}\":{i}", i % 1000))
                .collect::<Vec<_>>()
                .join(",")
        );
        let ext: ExtFields = serde_json::from_str(&many).unwrap();
        assert_eq!(ext.len(), 1000);
        assert_eq!(ext.get("k7"), Some("49007"));
    }

    #[test]
    fn deserialize_coerces_scalars() {
        let ext: ExtFields =
            serde_json::from_str(r#"{"d":4,"e":-1,"k":true,"n":null,"s":"x","o":{"a":1}}"#)
                .unwrap();
        assert_eq!(ext.get("d"), Some("4"));
        assert_eq!(ext.get("e"), Some("-1"));
        assert_eq!(ext.get("k"), Some("true"));
        assert_eq!(ext.get("n"), None);
        assert_eq!(ext.get("s"), Some("x"));
        assert_eq!(ext.get("o"), Some(r#"{"a":1}"#));
    }
}
