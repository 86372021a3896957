//! Admin and small bodies: [`TopicList`], [`KvTable`], [`ConsumerListBody`],
//! [`ConsumerConnection`], [`TopicStatsTable`], [`ConsumeStats`], [`SubscriptionGroupConfig`].
//!
//! Object-keyed maps: Java's `TopicStatsTable.offsetTable` and `ConsumeStats.offsetTable` are
//! maps keyed by `MessageQueue`, which fastjson writes with object keys
//! (`{{"brokerName":"b","queueId":0,"topic":"t"}:{…}}`) — not JSON. We keep them as ordered
//! lists of pairs. [`crate::body::encode`] writes standard JSON whose keys are the queue's JSON
//! text (`{"{\"brokerName\":…}":{…}}`); `to_fastjson` writes Java's exact form for Java admin
//! tools. Decoding accepts both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::heartbeat::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};
use super::lenient;
use super::queue::MessageQueue;

/// Topic names (GET_ALL_TOPIC_LIST_FROM_NAMESERVER, GET_TOPICS_BY_CLUSTER, …).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicList {
    /// Set by some broker-side variants.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub broker_addr: Option<String>,
    /// Topic names.
    #[serde(deserialize_with = "lenient::vec")]
    pub topic_list: Vec<String>,
}

/// A string table (runtime info, KV namespaces, REGISTER_BROKER response).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    /// Key → value.
    #[serde(deserialize_with = "lenient::string_map")]
    pub table: BTreeMap<String, String>,
}

/// GET_CONSUMER_LIST_BY_GROUP response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerListBody {
    /// Client ids of the group's live consumers.
    #[serde(deserialize_with = "lenient::vec")]
    pub consumer_id_list: Vec<String>,
}

/// Java's name for [`ConsumerListBody`].
pub type GetConsumerListByGroupResponseBody = ConsumerListBody;

/// One client connection as shown to admin tools.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Connection {
    /// `ip:port` of the client socket.
    #[serde(deserialize_with = "lenient::string")]
    pub client_addr: String,
    /// Client id.
    #[serde(deserialize_with = "lenient::string")]
    pub client_id: String,
    /// Language name (`JAVA`, `CPP`, …).
    #[serde(deserialize_with = "lenient::string")]
    pub language: String,
    /// Client version ordinal.
    #[serde(deserialize_with = "lenient::i32")]
    pub version: i32,
}

/// GET_CONSUMER_CONNECTION_LIST response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerConnection {
    /// Live connections of the group.
    #[serde(deserialize_with = "lenient::vec")]
    pub connection_set: Vec<Connection>,
    /// Start position.
    pub consume_from_where: ConsumeFromWhere,
    /// Push or pull.
    pub consume_type: ConsumeType,
    /// Clustering or broadcasting.
    pub message_model: MessageModel,
    /// Topic → subscription.
    #[serde(deserialize_with = "lenient::null_default")]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

/// Offsets of one queue (TopicStatsTable values).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicOffset {
    /// Time of the last message (ms).
    #[serde(deserialize_with = "lenient::i64")]
    pub last_update_timestamp: i64,
    /// Max offset.
    #[serde(deserialize_with = "lenient::i64")]
    pub max_offset: i64,
    /// Min offset.
    #[serde(deserialize_with = "lenient::i64")]
    pub min_offset: i64,
}

/// GET_TOPIC_STATS_INFO response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicStatsTable {
    /// Queue → offsets (see the module docs for the wire forms).
    #[serde(with = "mq_map")]
    pub offset_table: Vec<(MessageQueue, TopicOffset)>,
}

impl TopicStatsTable {
    /// Java's exact (non-standard) fastjson form with object keys.
    pub fn to_fastjson(&self) -> Vec<u8> {
        let mut out = b"{\"offsetTable\":".to_vec();
        mq_map::write_fastjson(&mut out, &self.offset_table);
        out.push(b'}');
        out
    }
}

/// Progress of one queue for a group (ConsumeStats values).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OffsetWrapper {
    /// Queue max offset.
    #[serde(deserialize_with = "lenient::i64")]
    pub broker_offset: i64,
    /// Group's committed offset.
    #[serde(deserialize_with = "lenient::i64")]
    pub consumer_offset: i64,
    /// Store time of the last consumed message (ms).
    #[serde(deserialize_with = "lenient::i64")]
    pub last_timestamp: i64,
    /// 5.x pull offset.
    #[serde(deserialize_with = "lenient::i64")]
    pub pull_offset: i64,
}

/// GET_CONSUME_STATS response body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumeStats {
    /// Messages per second.
    pub consume_tps: f64,
    /// Queue → progress (see the module docs for the wire forms).
    #[serde(with = "mq_map")]
    pub offset_table: Vec<(MessageQueue, OffsetWrapper)>,
}

impl ConsumeStats {
    /// Java's exact (non-standard) fastjson form with object keys.
    pub fn to_fastjson(&self) -> Vec<u8> {
        let tps = if self.consume_tps.is_finite() {
            self.consume_tps
        } else {
            0.0
        };
        let mut out = format!("{{\"consumeTps\":{tps:?},\"offsetTable\":").into_bytes();
        mq_map::write_fastjson(&mut out, &self.offset_table);
        out.push(b'}');
        out
    }

    /// Sum over queues of `brokerOffset − consumerOffset`.
    pub fn total_diff(&self) -> i64 {
        self.offset_table
            .iter()
            .map(|(_, o)| o.broker_offset.saturating_sub(o.consumer_offset))
            .fold(0i64, i64::saturating_add)
    }
}

/// Serde for `Vec<(MessageQueue, V)>` as a map keyed by the queue's JSON text.
mod mq_map {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{DeserializeOwned, MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serialize, Serializer};

    use super::MessageQueue;

    pub fn serialize<S: Serializer, V: Serialize>(
        v: &[(MessageQueue, V)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (mq, val) in v {
            m.serialize_entry(&crate::body::encode_string(mq), val)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: DeserializeOwned>(
        d: D,
    ) -> Result<Vec<(MessageQueue, V)>, D::Error> {
        struct Vis<V>(PhantomData<V>);
        impl<'de, V: DeserializeOwned> Visitor<'de> for Vis<V> {
            type Value = Vec<(MessageQueue, V)>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map keyed by message queues")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let mq: MessageQueue =
                        serde_json::from_str(&key).map_err(serde::de::Error::custom)?;
                    out.push((mq, map.next_value()?));
                }
                Ok(out)
            }
        }
        d.deserialize_any(Vis(PhantomData))
    }

    /// Writes `{<mq json>:<value json>,…}` (fastjson's object-key form).
    pub fn write_fastjson<V: Serialize>(out: &mut Vec<u8>, v: &[(MessageQueue, V)]) {
        out.push(b'{');
        for (i, (mq, val)) in v.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&crate::body::encode(mq));
            out.push(b':');
            out.extend_from_slice(&crate::body::encode(val));
        }
        out.push(b'}');
    }
}

/// A consumer group's configuration (minimal; unknown keys ignored, defaults as in Java).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    /// Broker id to consume from.
    #[serde(deserialize_with = "lenient::i64")]
    pub broker_id: i64,
    /// Broadcast consumption allowed.
    #[serde(deserialize_with = "lenient::bool")]
    pub consume_broadcast_enable: bool,
    /// Consumption allowed.
    #[serde(deserialize_with = "lenient::bool")]
    pub consume_enable: bool,
    /// Start from min offset.
    #[serde(deserialize_with = "lenient::bool")]
    pub consume_from_min_enable: bool,
    /// Orderly consumption (5.x).
    #[serde(deserialize_with = "lenient::bool")]
    pub consume_message_orderly: bool,
    /// Consume timeout in minutes.
    #[serde(deserialize_with = "lenient::i32")]
    pub consume_timeout_minute: i32,
    /// Group name.
    #[serde(deserialize_with = "lenient::string")]
    pub group_name: String,
    /// Group system flag.
    #[serde(deserialize_with = "lenient::i32")]
    pub group_sys_flag: i32,
    /// Notify consumers when members change.
    #[serde(deserialize_with = "lenient::bool")]
    pub notify_consumer_ids_changed_enable: bool,
    /// Max retries before DLQ.
    #[serde(deserialize_with = "lenient::i32")]
    pub retry_max_times: i32,
    /// Retry queues.
    #[serde(deserialize_with = "lenient::i32")]
    pub retry_queue_nums: i32,
    /// Slave to read from when slow.
    #[serde(deserialize_with = "lenient::i64")]
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode, encode};

    fn stats() -> TopicStatsTable {
        TopicStatsTable {
            offset_table: vec![(
                MessageQueue {
                    broker_name: "b".into(),
                    queue_id: 0,
                    topic: "t".into(),
                },
                TopicOffset {
                    last_update_timestamp: 9,
                    max_offset: 5,
                    min_offset: 1,
                },
            )],
        }
    }

    #[test]
    fn topic_stats_both_forms() {
        let fj = stats().to_fastjson();
        assert_eq!(
            String::from_utf8(fj.clone()).unwrap(),
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{"lastUpdateTimestamp":9,"maxOffset":5,"minOffset":1}}}"#
        );
        assert_eq!(decode::<TopicStatsTable>(&fj).unwrap(), stats());
        let std_form = encode(&stats());
        assert!(serde_json::from_slice::<serde_json::Value>(&std_form).is_ok());
        assert_eq!(decode::<TopicStatsTable>(&std_form).unwrap(), stats());
    }

    #[test]
    fn consume_stats_fastjson() {
        let cs = ConsumeStats {
            consume_tps: 1.5,
            offset_table: vec![(
                MessageQueue::default(),
                OffsetWrapper {
                    broker_offset: 10,
                    consumer_offset: 4,
                    ..Default::default()
                },
            )],
        };
        let back: ConsumeStats = decode(&cs.to_fastjson()).unwrap();
        assert_eq!(back, cs);
        assert_eq!(back.total_diff(), 6);
    }

    #[test]
    fn small_bodies() {
        let t: TopicList = decode(br#"{"topicList":["a","b"]}"#).unwrap();
        assert_eq!(t.topic_list.len(), 2);
        assert_eq!(encode(&t), br#"{"topicList":["a","b"]}"#);
        let kv: KvTable = decode(br#"{"table":{"a":1,"b":"x"}}"#).unwrap();
        assert_eq!(kv.table["a"], "1");
        let c: ConsumerListBody = decode(br#"{"consumerIdList":["c1"]}"#).unwrap();
        assert_eq!(encode(&c), br#"{"consumerIdList":["c1"]}"#);
        let g: SubscriptionGroupConfig = decode(br#"{"groupName":"g"}"#).unwrap();
        assert_eq!(g.retry_max_times, 16);
        let cc: ConsumerConnection =
            decode(br#"{"consumeType":0,"connectionSet":[{"clientId":"x","version":"333"}]}"#)
                .unwrap();
        assert_eq!(cc.consume_type, ConsumeType::Actively);
        assert_eq!(cc.connection_set[0].version, 333);
    }
}
