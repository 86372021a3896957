//! TopicRouteData (GET_ROUTEINFO_BY_TOPIC response) and ClusterInfo (GET_BROKER_CLUSTER_INFO).
//!
//! `brokerAddrs` is written with quoted keys, sorted (what Java sends to clients ≥ 4.9.4, and
//! what every client parses); unquoted keys are accepted on input. `enableActingMaster` is always
//! written: rocketmq-client-rust rejects a route without it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::lenient;

/// Broker id of a master.
pub const MASTER_ID: i64 = 0;

/// One broker group's queues for a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct QueueData {
    /// Broker name.
    #[serde(deserialize_with = "lenient::string")]
    pub broker_name: String,
    /// Permission bits (read 4, write 2, inherit 1).
    #[serde(deserialize_with = "lenient::i32")]
    pub perm: i32,
    /// Readable queues.
    #[serde(deserialize_with = "lenient::i32")]
    pub read_queue_nums: i32,
    /// Topic system flag.
    #[serde(deserialize_with = "lenient::i32")]
    pub topic_sys_flag: i32,
    /// Writable queues.
    #[serde(deserialize_with = "lenient::i32")]
    pub write_queue_nums: i32,
}

/// One broker group: its name, cluster and addresses by broker id (0 = master).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerData {
    /// Broker id → `ip:port`.
    #[serde(deserialize_with = "lenient::null_default")]
    pub broker_addrs: BTreeMap<i64, String>,
    /// Broker name.
    #[serde(deserialize_with = "lenient::string")]
    pub broker_name: String,
    /// Cluster name.
    #[serde(deserialize_with = "lenient::string")]
    pub cluster: String,
    /// 5.x acting master; always written.
    #[serde(deserialize_with = "lenient::bool")]
    pub enable_acting_master: bool,
    /// 5.x zone.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// The master's address, if registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// A topic's route: which broker groups serve it and with how many queues.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicRouteData {
    /// One per broker group.
    #[serde(deserialize_with = "lenient::vec")]
    pub broker_datas: Vec<BrokerData>,
    /// Broker address → filter servers; always written (usually `{}`).
    #[serde(deserialize_with = "lenient::null_default")]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `brokerName:queueNum;…` for globally ordered topics.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub order_topic_conf: Option<String>,
    /// One per broker group.
    #[serde(deserialize_with = "lenient::vec")]
    pub queue_datas: Vec<QueueData>,
    /// 5.x static topics; passed through untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<serde_json::Value>,
}

/// GET_BROKER_CLUSTER_INFO body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Broker name → broker data.
    #[serde(deserialize_with = "lenient::null_default")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// Cluster name → broker names.
    #[serde(deserialize_with = "lenient::null_default")]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode, encode};

    fn sample() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: [(0, "192.168.1.10:10911".to_owned())].into(),
                broker_name: "broker-a".into(),
                cluster: "DefaultCluster".into(),
                enable_acting_master: false,
                zone_name: None,
            }],
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                perm: 6,
                read_queue_nums: 4,
                topic_sys_flag: 0,
                write_queue_nums: 4,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn emits_the_reference_example_exactly() {
        let expected = r#"{"brokerDatas":[{"brokerAddrs":{"0":"192.168.1.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
        assert_eq!(String::from_utf8(encode(&sample())).unwrap(), expected);
        assert_eq!(
            decode::<TopicRouteData>(expected.as_bytes()).unwrap(),
            sample()
        );
    }

    #[test]
    fn reads_old_fastjson_and_cpp_forms() {
        let old = r#"{"brokerDatas":[{"brokerAddrs":{0:"192.168.1.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"orderTopicConf":null,"queueDatas":[{"brokerName":"broker-a","perm":"6","readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4,"extra":1}]}
"#;
        let r: TopicRouteData = decode(old.as_bytes()).unwrap();
        assert_eq!(r, sample());
        assert_eq!(r.broker_datas[0].master_addr(), Some("192.168.1.10:10911"));
    }

    #[test]
    fn cluster_info_round_trip_with_unquoted_keys() {
        let java = r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"1.2.3.4:10911"},"brokerName":"broker-a","cluster":"C"}},"clusterAddrTable":{"C":["broker-a"]}}"#;
        let c: ClusterInfo = decode(java.as_bytes()).unwrap();
        assert_eq!(c.cluster_addr_table["C"].len(), 1);
        assert_eq!(decode::<ClusterInfo>(&encode(&c)).unwrap(), c);
    }
}
