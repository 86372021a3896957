//! [`MessageQueue`] and the LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies.

use serde::{Deserialize, Serialize};

use super::lenient;

/// One queue of one topic on one broker group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageQueue {
    /// Broker name.
    #[serde(deserialize_with = "lenient::string")]
    pub broker_name: String,
    /// Queue id.
    #[serde(deserialize_with = "lenient::i32")]
    pub queue_id: i32,
    /// Topic.
    #[serde(deserialize_with = "lenient::string")]
    pub topic: String,
}

/// LOCK_BATCH_MQ request body (UNLOCK_BATCH_MQ has the same shape: [`UnlockBatchRequestBody`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LockBatchRequestBody {
    /// Requesting client id.
    #[serde(deserialize_with = "lenient::string")]
    pub client_id: String,
    /// Consumer group.
    #[serde(deserialize_with = "lenient::string")]
    pub consumer_group: String,
    /// Queues to lock.
    #[serde(deserialize_with = "lenient::vec")]
    pub mq_set: Vec<MessageQueue>,
    /// Lock only on this broker (no forwarding).
    #[serde(deserialize_with = "lenient::bool")]
    pub only_this_broker: bool,
}

/// UNLOCK_BATCH_MQ request body.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// LOCK_BATCH_MQ response body: the queues actually locked for this client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// Locked queues.
    #[serde(rename = "lockOKMQSet", deserialize_with = "lenient::vec")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode, encode};

    #[test]
    fn lock_bodies_match_java() {
        let req = r#"{"clientId":"192.168.1.5@12345","consumerGroup":"cg1","mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}],"onlyThisBroker":false}"#;
        let b: LockBatchRequestBody = decode(req.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(encode(&b)).unwrap(), req);
        let resp = LockBatchResponseBody {
            lock_ok_mq_set: b.mq_set.clone(),
        };
        assert_eq!(
            String::from_utf8(encode(&resp)).unwrap(),
            r#"{"lockOKMQSet":[{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}]}"#
        );
    }
}
