//! The message properties string: `name \x01 value \x02 name \x01 value \x02 ...`.
//!
//! Parsing follows the Java client's leniency: split on `\x02`; in each segment the first `\x01`
//! separates name and value; segments with an empty name, an empty value or no `\x01` are skipped;
//! a last segment without a trailing `\x02` still counts; a repeated name keeps the later value
//! (Java fills a `HashMap`). Encoding writes every pair followed by `\x02`, as Java does.

/// Separates a property name from its value (char 1).
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Ends each name/value pair (char 2).
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Separates business keys inside the [`KEYS`] value.
pub const KEY_SEPARATOR: &str = " ";

/// Business keys of the message, separated by [`KEY_SEPARATOR`]; indexed for queries.
pub const KEYS: &str = "KEYS";
/// The message's tag; hashed into the consume queue for server-side filtering.
pub const TAGS: &str = "TAGS";
/// `"true"`/`"false"`: whether the producer waits for flush/replication; absent means true.
pub const WAIT: &str = "WAIT";
/// Delay level 1..=18.
pub const DELAY: &str = "DELAY";
/// Original topic of a message in a retry topic.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Original topic of a delayed, half or timer message while it sits in a system topic.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Original queue id of a delayed, half or timer message.
pub const REAL_QID: &str = "REAL_QID";
/// `"true"` on a transactional half message.
pub const TRAN_MSG: &str = "TRAN_MSG";
/// Producer group (transactional messages, so the broker knows whom to check).
pub const PGROUP: &str = "PGROUP";
/// Queue minimum offset, added by the Java consumer after a pull (never stored).
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Queue maximum offset, added by the Java consumer after a pull (never stored).
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Legacy buyer id.
pub const BUYER_ID: &str = "BUYER_ID";
/// Offset message id of the original message of a retry.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy transfer flag.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy correction flag.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Legacy MQ2 flag.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Retry count when a client re-sends a message itself.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Region id.
pub const MSG_REGION: &str = "MSG_REGION";
/// Trace switch.
pub const TRACE_ON: &str = "TRACE_ON";
/// Client-generated unique message id (what clients show as "msgId").
pub const UNIQ_KEY: &str = "UNIQ_KEY";
/// Extended unique info.
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// Maximum retries for this message.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// Consumer-local consume start time (for consume timeouts).
pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
/// 5.x inner batch: number of messages in the record.
pub const INNER_NUM: &str = "INNER_NUM";
/// 5.x inner batch: base queue offset.
pub const INNER_BASE: &str = "INNER_BASE";
/// Seconds before the broker first checks a half message.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Queue offset of the half message in the half topic.
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Transaction id.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// How many times the broker has checked a half message.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Namespace instance id.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request/reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Client id a reply goes to.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request time-to-live.
pub const TTL: &str = "TTL";
/// Reply arrival time.
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Reply push time.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Cluster name of the broker that stored the message.
pub const CLUSTER: &str = "CLUSTER";
/// Message type (`reply` marks a reply).
pub const MSG_TYPE: &str = "MSG_TYPE";
/// 5.x pop checkpoint.
pub const POP_CK: &str = "POP_CK";
/// 5.x pop checkpoint offset.
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// 5.x first pop time.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// 5.x sharding key.
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// Forward queue id.
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// Redirect marker.
pub const REDIRECT: &str = "REDIRECT";
/// LMQ: queues a message is dispatched to.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// LMQ: queue offsets in the dispatched queues.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// Trace context.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// 5.x timer: delay in seconds.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// 5.x timer: absolute delivery time in ms.
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// 5.x timer: delay in ms.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// Broker-internal timer: enqueue time.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// Broker-internal timer: dequeue time.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// Broker-internal timer: roll count.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// Broker-internal timer: out time.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// Broker-internal timer: unique key of a deleted timer message.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// Broker-internal timer: delay level.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// Born host as a property (5.x proxy).
pub const BORN_HOST: &str = "__BORNHOST";
/// Born timestamp as a property (5.x proxy).
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// Prefix of transient properties, which are never stored.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
/// Optional 5.x property CRC reserved at the end of the properties.
pub const CRC32: &str = "__CRC32#";
/// 5.x: original topic of a dead-lettered message.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// 5.x: original message id of a dead-lettered message.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// 5.x duplicate info.
pub const DUP_INFO: &str = "DUP_INFO";
/// ONS-style absolute deliver time (no constant in Apache's MessageConst, but clients send it).
pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";

/// Iterates the well-formed pairs of a properties string in order, without allocating.
///
/// Repeated names are all yielded; [`find`] and [`parse`] keep the last one, as Java does.
pub fn iter(props: &str) -> impl Iterator<Item = (&str, &str)> {
    props.split(PROPERTY_SEPARATOR).filter_map(|segment| {
        let (name, value) = segment.split_once(NAME_VALUE_SEPARATOR)?;
        (!name.is_empty() && !value.is_empty()).then_some((name, value))
    })
}

/// The value of `key` in a raw properties string, without allocating (last occurrence wins).
pub fn find<'a>(props: &'a str, key: &str) -> Option<&'a str> {
    iter(props)
        .filter(|(name, _)| *name == key)
        .last()
        .map(|(_, value)| value)
}

/// Parses a properties string into an ordered map (see the module doc for the leniency rules).
pub fn parse(props: &str) -> Properties {
    let mut out = Properties::default();
    for (name, value) in iter(props) {
        out.insert(name, value);
    }
    out
}

/// Appends one `name\x01value\x02` pair to a raw properties string, first adding the `\x02`
/// the previous pair lacks if the string does not end with one (as the broker does when it adds
/// `CLUSTER` or `UNIQ_KEY` to what a producer sent).
pub fn push(props: &mut String, name: &str, value: &str) {
    if !props.is_empty() && !props.ends_with(PROPERTY_SEPARATOR) {
        props.push(PROPERTY_SEPARATOR);
    }
    props.reserve(name.len() + value.len() + 2);
    props.push_str(name);
    props.push(NAME_VALUE_SEPARATOR);
    props.push_str(value);
    props.push(PROPERTY_SEPARATOR);
}

/// The non-empty business keys inside a [`KEYS`] value.
pub fn split_keys(keys: &str) -> impl Iterator<Item = &str> {
    keys.split(KEY_SEPARATOR).filter(|k| !k.is_empty())
}

/// Message properties as an ordered list of unique names (insertion order kept).
///
/// Small (a handful of entries), so lookups scan linearly rather than hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// An empty set of properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `name` to `value`, keeping its position if already present; returns the old value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => Some(std::mem::replace(old, value)),
            None => {
                self.entries.push((name, value));
                None
            }
        }
    }

    /// Removes `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let idx = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(idx).1)
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Byte length of [`Properties::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        self.entries
            .iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum()
    }

    /// Appends the wire form (every pair followed by `\x02`) to `out`.
    ///
    /// Like Java, names and values are written as they are: a value containing `\x02`, or an
    /// empty value, does not survive a round trip.
    pub fn encode_into(&self, out: &mut String) {
        out.reserve(self.encoded_len());
        for (name, value) in &self.entries {
            out.push_str(name);
            out.push(NAME_VALUE_SEPARATOR);
            out.push_str(value);
            out.push(PROPERTY_SEPARATOR);
        }
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut out = Self::new();
        for (n, v) in iter {
            out.insert(n, v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typical_java_string() {
        let s = "KEYS\u{1}k1 k2\u{2}TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}";
        let p = parse(s);
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(TAGS), Some("TagA"));
        assert_eq!(p.get(KEYS), Some("k1 k2"));
        assert_eq!(p.encode(), s);
        assert_eq!(find(s, WAIT), Some("true"));
        assert_eq!(find(s, UNIQ_KEY), None);
        assert_eq!(split_keys("k1  k2 ").collect::<Vec<_>>(), ["k1", "k2"]);
    }

    #[test]
    fn skips_malformed_segments_like_java() {
        // No separator, empty name, empty value, empty segments, last pair without trailing \x02.
        let s = "junk\u{2}\u{1}v\u{2}k\u{1}\u{2}\u{2}\u{2}a\u{1}b\u{1}c\u{2}x\u{1}y";
        let pairs: Vec<_> = iter(s).collect();
        assert_eq!(pairs, [("a", "b\u{1}c"), ("x", "y")]);
        assert!(parse("").is_empty());
        assert!(parse("\u{2}\u{2}").is_empty());
    }

    #[test]
    fn repeated_name_keeps_last_value() {
        let s = "A\u{1}1\u{2}B\u{1}2\u{2}A\u{1}3\u{2}";
        assert_eq!(find(s, "A"), Some("3"));
        let p = parse(s);
        assert_eq!(p.iter().collect::<Vec<_>>(), [("A", "3"), ("B", "2")]);
    }

    #[test]
    fn push_adds_missing_separator() {
        let mut s = String::from("A\u{1}1");
        push(&mut s, CLUSTER, "DefaultCluster");
        assert_eq!(s, "A\u{1}1\u{2}CLUSTER\u{1}DefaultCluster\u{2}");
        let mut empty = String::new();
        push(&mut empty, "K", "V");
        assert_eq!(empty, "K\u{1}V\u{2}");
    }

    #[test]
    fn map_operations() {
        let mut p: Properties = [("A", "1"), ("B", "2")].into_iter().collect();
        assert_eq!(p.insert("A", "9"), Some("1".to_owned()));
        assert_eq!(p.remove("B"), Some("2".to_owned()));
        assert_eq!(p.remove("B"), None);
        assert_eq!(p.encode(), "A\u{1}9\u{2}");
        assert_eq!(p.encoded_len(), p.encode().len());
    }
}
