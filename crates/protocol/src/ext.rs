//! `extFields`: the string map that carries each request's custom header, with typed getters
//! that turn a missing or malformed value into a [`HeaderError`] instead of a panic.

use std::fmt;

use serde::{Serialize, Serializer};

mod de;

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
///
/// Every key and value lives in one shared text buffer and entries are ranges into it, so a
/// decoded header costs two allocations however many fields it has (this is on the path of
/// every message). Replacing a value leaves the old text behind until the map is dropped.
#[derive(Clone, Default)]
pub struct ExtFields {
    text: String,
    entries: Vec<Entry>,
}

/// One key/value pair as byte ranges of [`ExtFields::text`] (always on char boundaries).
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: (usize, usize),
    val: (usize, usize),
    /// [`key_sig`] of the key: most keys differ in it, so lookups rarely compare text.
    sig: u32,
}

/// Length, first and last byte of a key packed together; equal keys have equal signatures.
fn key_sig(key: &str) -> u32 {
    let b = key.as_bytes();
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX) & 0xFFFF;
    let first = u32::from(b.first().copied().unwrap_or(0));
    let last = u32::from(b.last().copied().unwrap_or(0));
    len << 16 | first << 8 | last
}

/// Text reserved per expected entry by [`ExtFields::with_capacity`].
const TEXT_PER_ENTRY: usize = 24;

impl ExtFields {
    /// An empty map.
    pub fn new() -> Self {
        ExtFields::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        ExtFields {
            text: String::with_capacity(n.saturating_mul(TEXT_PER_ENTRY)),
            entries: Vec::with_capacity(n),
        }
    }

    fn slice(&self, (start, end): (usize, usize)) -> &str {
        // Ranges are only ever made by `append` on this very buffer.
        self.text.get(start..end).unwrap_or_default()
    }

    fn append(&mut self, s: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    fn position(&self, key: &str) -> Option<usize> {
        let sig = key_sig(key);
        self.entries
            .iter()
            .position(|e| e.sig == sig && self.slice(e.key) == key)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.position(key)
            .and_then(|i| self.entries.get(i))
            .map(|e| self.slice(e.val))
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) {
        let key = key.as_ref();
        let val = self.append(value.as_ref());
        self.set_span(key, val);
    }

    /// Sets `key` to the decimal text of `value` without an intermediate `String`.
    pub fn insert_int(&mut self, key: &str, value: i64) {
        use std::fmt::Write as _;
        let start = self.text.len();
        // fmt::Write on a String never fails.
        let _ = write!(self.text, "{value}");
        let val = (start, self.text.len());
        self.set_span(key, val);
    }

    /// Points `key` at the value text `val` (already appended), in place if `key` exists.
    fn set_span(&mut self, key: &str, val: (usize, usize)) {
        match self.position(key) {
            Some(i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.val = val;
                }
            }
            None => {
                let sig = key_sig(key);
                let key = self.append(key);
                self.entries.push(Entry { key, val, sig });
            }
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
    pub(crate) fn push_unchecked(&mut self, key: &str, value: &str) {
        let sig = key_sig(key);
        let key = self.append(key);
        let val = self.append(value);
        self.entries.push(Entry { key, val, sig });
    }

    /// An empty map with `text` bytes of room for keys and values (a decoder knows the bound).
    pub(crate) fn with_text_capacity(text: usize, entries: usize) -> Self {
        ExtFields {
            text: String::with_capacity(text),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Appends `key` and a value that `write` appends to the text buffer (so an escaped value
    /// is unescaped in place). When `write` gives up, nothing is added and `None` is returned.
    pub(crate) fn push_with(
        &mut self,
        key: &str,
        write: impl FnOnce(&mut String) -> Option<()>,
    ) -> Option<()> {
        let mark = self.text.len();
        let sig = key_sig(key);
        let key = self.append(key);
        let start = self.text.len();
        if write(&mut self.text).is_none() {
            self.text.truncate(mark);
            return None;
        }
        let val = (start, self.text.len());
        self.entries.push(Entry { key, val, sig });
        Some(())
    }

    /// Appends an entry whose key and value the JSON decoder already wrote into the text buffer.
    fn push_ranges(&mut self, key: (usize, usize), val: (usize, usize)) {
        let sig = key_sig(self.slice(key));
        self.entries.push(Entry { key, val, sig });
    }

    /// Removes earlier duplicates of a key, keeping the last value (fastjson/HashMap semantics).
    pub(crate) fn dedup_last_wins(&mut self) {
        let n = self.entries.len();
        if n < 2 {
            return;
        }
        // Headers have a dozen keys: a quadratic scan without allocating beats hashing, and
        // almost always finds nothing to remove.
        const SCAN_LIMIT: usize = 32;
        if n <= SCAN_LIMIT {
            let has_dup = self.entries.iter().enumerate().any(|(i, a)| {
                self.entries
                    .get(i + 1..)
                    .unwrap_or_default()
                    .iter()
                    .any(|b| a.sig == b.sig && self.slice(a.key) == self.slice(b.key))
            });
            if !has_dup {
                return;
            }
        }
        let mut keep = vec![false; n];
        let mut seen = std::collections::HashSet::with_capacity(n);
        for (i, e) in self.entries.iter().enumerate().rev() {
            if seen.insert(self.slice(e.key)) {
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
        let pos = self.position(key)?;
        let e = self.entries.remove(pos);
        Some(self.slice(e.val).to_owned())
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
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
        self.entries
            .iter()
            .map(|e| (self.slice(e.key), self.slice(e.val)))
    }

    /// Copies every entry of `other` into `self` (overwriting equal keys).
    pub fn extend_from(&mut self, other: ExtFields) {
        for (k, v) in other.iter() {
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

/// Parses a decimal header value (surrounding spaces allowed), naming `field` on failure.
pub(crate) fn parse_int<T: std::str::FromStr>(
    field: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<T, HeaderError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(field, value, expected))
}

/// Parses `true`/`false` (any case) or `1`/`0`, naming `field` on failure.
pub(crate) fn parse_bool(field: &'static str, value: &str) -> Result<bool, HeaderError> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") || v == "1" {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") || v == "0" {
        Ok(false)
    } else {
        Err(invalid(field, value, "boolean"))
    }
}

impl PartialEq for ExtFields {
    /// Same entries in the same order (the text buffers may differ).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ExtFields {}

impl fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for ExtFields {
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
