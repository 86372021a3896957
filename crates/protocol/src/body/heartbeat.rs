//! HeartbeatData (HEART_BEAT request body) and its parts. Java sends enum names; the C++ client
//! sends ordinals and `subVersion` as a string; both are accepted.

use serde::{Deserialize, Serialize};

use super::lenient::{self, java_enum};

java_enum! {
    /// How a consumer gets messages.
    pub enum ConsumeType {
        /// Pull consumer.
        Actively = (0, "CONSUME_ACTIVELY"),
        /// Push consumer.
        Passively = (1, "CONSUME_PASSIVELY"),
        /// 5.x pop consumer.
        Pop = (2, "CONSUME_POP"),
    }
    default = Passively;
}

java_enum! {
    /// Whether every consumer gets every message or the group shares them.
    pub enum MessageModel {
        /// Every consumer gets every message.
        Broadcasting = (0, "BROADCASTING"),
        /// The group shares the queues.
        Clustering = (1, "CLUSTERING"),
    }
    default = Clustering;
}

java_enum! {
    /// Where a new consumer group starts.
    pub enum ConsumeFromWhere {
        /// From the end.
        LastOffset = (0, "CONSUME_FROM_LAST_OFFSET"),
        /// Deprecated.
        LastOffsetAndFromMinWhenBootFirst = (1, "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST"),
        /// Deprecated.
        MinOffset = (2, "CONSUME_FROM_MIN_OFFSET"),
        /// Deprecated.
        MaxOffset = (3, "CONSUME_FROM_MAX_OFFSET"),
        /// From the beginning.
        FirstOffset = (4, "CONSUME_FROM_FIRST_OFFSET"),
        /// From a timestamp.
        Timestamp = (5, "CONSUME_FROM_TIMESTAMP"),
    }
    default = LastOffset;
}

/// Expression type of tag subscriptions.
pub const EXPRESSION_TAG: &str = "TAG";
/// Expression type of SQL92 subscriptions.
pub const EXPRESSION_SQL92: &str = "SQL92";
/// Subscription expression meaning "every tag".
pub const SUB_ALL: &str = "*";

/// One topic subscription of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionData {
    /// Obsolete class filter.
    #[serde(deserialize_with = "lenient::bool")]
    pub class_filter_mode: bool,
    /// `String.hashCode` of each tag.
    #[serde(deserialize_with = "lenient::vec_i32")]
    pub code_set: Vec<i32>,
    /// `TAG` or `SQL92` (absent = TAG).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub expression_type: Option<String>,
    /// `*`, `TagA || TagB` or SQL92 text.
    #[serde(deserialize_with = "lenient::string")]
    pub sub_string: String,
    /// Client timestamp (number or string on input).
    #[serde(deserialize_with = "lenient::i64")]
    pub sub_version: i64,
    /// Parsed tags (empty for `*`).
    #[serde(deserialize_with = "lenient::vec")]
    pub tags_set: Vec<String>,
    /// Topic.
    #[serde(deserialize_with = "lenient::string")]
    pub topic: String,
}

impl SubscriptionData {
    /// The expression type, TAG when absent.
    pub fn expression_type(&self) -> &str {
        self.expression_type.as_deref().unwrap_or(EXPRESSION_TAG)
    }
}

/// A consumer group the client belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerData {
    /// Start position of a new group.
    pub consume_from_where: ConsumeFromWhere,
    /// Push or pull.
    pub consume_type: ConsumeType,
    /// Consumer group.
    #[serde(deserialize_with = "lenient::string")]
    pub group_name: String,
    /// Clustering or broadcasting.
    pub message_model: MessageModel,
    /// Subscriptions (the retry topic included for clustering push consumers).
    #[serde(deserialize_with = "lenient::vec")]
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit mode.
    #[serde(deserialize_with = "lenient::bool")]
    pub unit_mode: bool,
}

/// A producer group the client belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProducerData {
    /// Producer group.
    #[serde(deserialize_with = "lenient::string")]
    pub group_name: String,
}

/// HEART_BEAT body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HeartbeatData {
    /// `clientIP@instanceName[@unitName]`: the client's identity.
    #[serde(rename = "clientID", deserialize_with = "lenient::string")]
    pub client_id: String,
    /// Consumer groups.
    #[serde(deserialize_with = "lenient::vec")]
    pub consumer_data_set: Vec<ConsumerData>,
    /// 5.x heartbeat v2 fingerprint.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub heartbeat_fingerprint: Option<i64>,
    /// Producer groups.
    #[serde(deserialize_with = "lenient::vec")]
    pub producer_data_set: Vec<ProducerData>,
    /// 5.x: subscriptions omitted because unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_sub: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode, encode};

    const JAVA: &str = r#"{"clientID":"192.168.1.5@12345","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"cg1","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1700000000000,"tagsSet":[],"topic":"TopicTest"},{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1700000000001,"tagsSet":[],"topic":"%RETRY%cg1"}],"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;

    #[test]
    fn java_heartbeat_round_trips_byte_for_byte() {
        let h: HeartbeatData = decode(JAVA.as_bytes()).unwrap();
        assert_eq!(h.consumer_data_set[0].subscription_data_set.len(), 2);
        assert_eq!(String::from_utf8(encode(&h)).unwrap(), JAVA);
    }

    #[test]
    fn cpp_heartbeat_with_ordinals() {
        let cpp = "{\"clientID\":\"c\",\"consumerDataSet\":[{\"consumeFromWhere\":0,\"consumeType\":1,\"groupName\":\"cg1\",\"messageModel\":1,\"subscriptionDataSet\":[{\"subString\":\"TagA || TagB\",\"subVersion\":\"1700000000000\",\"topic\":\"TopicTest\",\"codeSet\":[\"1\",2]}]}],\"producerDataSet\":[]}\n";
        let h: HeartbeatData = decode(cpp.as_bytes()).unwrap();
        let c = &h.consumer_data_set[0];
        assert_eq!(c.consume_type, ConsumeType::Passively);
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(c.consume_from_where, ConsumeFromWhere::LastOffset);
        let s = &c.subscription_data_set[0];
        assert_eq!(s.sub_version, 1_700_000_000_000);
        assert_eq!(s.expression_type(), EXPRESSION_TAG);
        assert_eq!(s.code_set, vec![1, 2]);
    }

    #[test]
    fn unknown_enum_is_an_error() {
        let bad = r#"{"consumerDataSet":[{"consumeType":"CONSUME_TELEPATHICALLY"}]}"#;
        assert!(decode::<HeartbeatData>(bad.as_bytes()).is_err());
        let bad = r#"{"consumerDataSet":[{"messageModel":7}]}"#;
        assert!(decode::<HeartbeatData>(bad.as_bytes()).is_err());
    }
}
