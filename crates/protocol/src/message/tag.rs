//! Tag hash codes (stored in the consume queue) and tag subscription expressions.

use super::properties;

/// Subscription expression that matches every message.
pub const SUB_ALL: &str = "*";

/// Java `String.hashCode()` of `tag` (over UTF-16 code units, wrapping 32-bit arithmetic),
/// sign-extended to 64 bits: the tags code of the consume queue. `"TagA"` → 2598919.
pub fn tags_code(tag: &str) -> i64 {
    i64::from(java_hash(tag))
}

/// The tags code of a message from its raw properties: the hash of `TAGS`, or 0 when the message
/// has no tag (an empty tag counts as none, as in Java).
pub fn tags_code_of_properties(props: &str) -> i64 {
    properties::find(props, properties::TAGS).map_or(0, tags_code)
}

fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// A parsed TAG-type subscription expression: `*` / empty (everything) or `TagA || TagB`.
///
/// Parsing follows Java's `FilterAPI`: only an expression that is exactly `*` or empty means
/// "all"; otherwise it is split on `||`, each part trimmed, empty parts dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    all: bool,
    /// (tag, 32-bit hash) pairs, unique by tag. Few per subscription, so a linear scan wins.
    tags: Vec<(String, i32)>,
}

impl TagFilter {
    /// Parses a subscription expression.
    pub fn parse(expression: &str) -> Self {
        if expression.is_empty() || expression == SUB_ALL {
            return Self::all();
        }
        let mut tags: Vec<(String, i32)> = Vec::new();
        for tag in expression
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if !tags.iter().any(|(t, _)| t == tag) {
                tags.push((tag.to_owned(), java_hash(tag)));
            }
        }
        Self { all: false, tags }
    }

    /// The filter that matches everything.
    pub fn all() -> Self {
        Self {
            all: true,
            tags: Vec::new(),
        }
    }

    /// Whether the filter matches everything.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// The subscribed tags (empty for [`TagFilter::all`]).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|(t, _)| t.as_str())
    }

    /// The subscribed tags codes, sign-extended like [`tags_code`].
    pub fn codes(&self) -> impl Iterator<Item = i64> + '_ {
        self.tags.iter().map(|(_, c)| i64::from(*c))
    }

    /// Server-side check against a consume-queue tags code. Like Java (`codeSet.contains(
    /// tagsCode.intValue())`) only the low 32 bits of the code are compared; hash collisions
    /// are left to [`TagFilter::matches_tag`] on the client.
    pub fn matches_code(&self, code: i64) -> bool {
        if self.all {
            return true;
        }
        // Truncation is the point: Java compares `Long.intValue()`.
        let low = code as i32;
        self.tags.iter().any(|(_, c)| *c == low)
    }

    /// Client-side check against a message's tag; an empty `tag` (no tag) matches only "all".
    pub fn matches_tag(&self, tag: &str) -> bool {
        self.all || self.tags.iter().any(|(t, _)| t == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_values() {
        assert_eq!(tags_code("TagA"), 2_598_919);
        assert_eq!(tags_code(""), 0);
        assert_eq!(tags_code("*"), 42);
        // Overflows and goes negative in Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(tags_code("polygenelubricants"), i64::from(i32::MIN));
        // Non-BMP char hashes as two UTF-16 surrogates: 0xD83D * 31 + 0xDE00.
        assert_eq!(tags_code("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(
            tags_code_of_properties("TAGS\u{1}TagA\u{2}"),
            tags_code("TagA")
        );
        assert_eq!(tags_code_of_properties("KEYS\u{1}k\u{2}"), 0);
    }

    #[test]
    fn parses_expressions() {
        assert!(TagFilter::parse("*").is_all());
        assert!(TagFilter::parse("").is_all());
        let f = TagFilter::parse(" TagA ||TagB|| TagA || ");
        assert!(!f.is_all());
        assert_eq!(f.tags().collect::<Vec<_>>(), ["TagA", "TagB"]);
        assert_eq!(
            f.codes().collect::<Vec<_>>(),
            [tags_code("TagA"), tags_code("TagB")]
        );
        assert!(f.matches_tag("TagB") && !f.matches_tag("TagC") && !f.matches_tag(""));
        assert!(f.matches_code(tags_code("TagA")) && !f.matches_code(0));
        // Only the low 32 bits count, as with Java's intValue().
        assert!(f.matches_code(tags_code("TagA") + (1 << 32)));
    }

    #[test]
    fn star_with_spaces_is_a_literal_tag_like_java() {
        let f = TagFilter::parse(" * ");
        assert!(!f.is_all());
        assert!(f.matches_tag("*") && !f.matches_tag("TagA"));
        assert!(TagFilter::all().matches_code(12345) && TagFilter::all().matches_tag(""));
    }
}
