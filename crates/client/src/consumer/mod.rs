//! Consumers: the [`push::PushConsumer`] (long-polling pull loops feeding a listener, queues
//! divided among the group) and the [`lite_pull::LitePullConsumer`] (explicit queues, offsets
//! and polling).
//!
//! Files: [`push`] (start/shutdown and background tasks), [`rebalance`] (queue allocation),
//! `pull_loop` (per-queue long polling and listener dispatch), `process_queue` (in-flight
//! tracking), `offset_store` (broker or local-file offsets), [`lite_pull`].

pub mod lite_pull;
mod offset_store;
mod process_queue;
mod pull_loop;
pub mod push;
pub mod rebalance;

use saturn_protocol::body::{ConsumeFromWhere, SubscriptionData, EXPRESSION_TAG};
use saturn_protocol::message::TagFilter;

use crate::broker_api;
use crate::config::ConsumeFrom;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::{MessageExt, MessageQueue};
use crate::producer::RETRY_TOPIC_PREFIX;
use offset_store::OffsetStore;

/// What a listener reports for a batch of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
    /// Consumed; the offset may move past them.
    Success,
    /// Not consumed; redeliver later through the group's retry topic (clustering), or drop
    /// (broadcasting, as in Java).
    RetryLater,
}

/// Receives messages from a [`push::PushConsumer`].
///
/// `consume` is a plain function run on tokio's blocking pool, so it may block; up to
/// `consume_concurrency` calls run at once, in no particular order. A panic counts as
/// [`ConsumeResult::RetryLater`]. Closures `Fn(&[MessageExt]) -> ConsumeResult` implement it.
pub trait MessageListener: Send + Sync + 'static {
    /// Handles a batch (of `batch_size` messages at most).
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult;
}

impl<F> MessageListener for F
where
    F: Fn(&[MessageExt]) -> ConsumeResult + Send + Sync + 'static,
{
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult {
        self(msgs)
    }
}

/// The retry topic of a consumer group: `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_TOPIC_PREFIX}{group}")
}

/// One parsed subscription.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) topic: String,
    pub(crate) expression: String,
    pub(crate) filter: TagFilter,
    pub(crate) version: i64,
}

impl Subscription {
    pub(crate) fn new(topic: &str, expression: &str, version: i64) -> Self {
        let expression = match expression.trim() {
            "" => saturn_protocol::body::SUB_ALL.to_owned(),
            e => e.to_owned(),
        };
        Self {
            topic: topic.to_owned(),
            filter: TagFilter::parse(&expression),
            expression,
            version,
        }
    }

    /// The heartbeat form: tags and their Java hash codes.
    pub(crate) fn to_data(&self) -> SubscriptionData {
        SubscriptionData {
            class_filter_mode: false,
            // The wire carries Java ints; `codes` are those ints sign-extended.
            code_set: self
                .filter
                .codes()
                .map(|c| i32::try_from(c).unwrap_or_default())
                .collect(),
            expression_type: Some(EXPRESSION_TAG.to_owned()),
            sub_string: self.expression.clone(),
            sub_version: self.version,
            tags_set: self.filter.tags().map(str::to_owned).collect(),
            topic: self.topic.clone(),
        }
    }
}

/// The protocol's name for a start position.
pub(crate) fn consume_from_where(c: ConsumeFrom) -> ConsumeFromWhere {
    match c {
        ConsumeFrom::Last => ConsumeFromWhere::LastOffset,
        ConsumeFrom::First => ConsumeFromWhere::FirstOffset,
        ConsumeFrom::Timestamp(_) => ConsumeFromWhere::Timestamp,
    }
}

/// Where consumption of a newly assigned queue starts: the stored offset, else by `from`
/// (Java's `computePullFromWhere`; retry topics start at 0 / the end).
pub(crate) async fn start_offset(
    instance: &ClientInstance,
    store: &OffsetStore,
    mq: &MessageQueue,
    from: ConsumeFrom,
) -> Result<i64, ClientError> {
    if let Some(o) = store.fetch(mq).await?.filter(|o| *o >= 0) {
        return Ok(o);
    }
    start_offset_without_commit(instance, mq, from).await
}

/// Start offset of a queue the group never committed.
pub(crate) async fn start_offset_without_commit(
    instance: &ClientInstance,
    mq: &MessageQueue,
    from: ConsumeFrom,
) -> Result<i64, ClientError> {
    let is_retry = mq.topic.starts_with(RETRY_TOPIC_PREFIX);
    match from {
        ConsumeFrom::Last if is_retry => Ok(0),
        ConsumeFrom::Last => broker_api::max_offset(instance, mq).await,
        ConsumeFrom::First => broker_api::min_offset(instance, mq).await,
        ConsumeFrom::Timestamp(_) if is_retry => broker_api::max_offset(instance, mq).await,
        ConsumeFrom::Timestamp(ts) => broker_api::search_offset(instance, mq, ts).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saturn_protocol::message::tags_code;

    #[test]
    fn subscription_heartbeat_form() {
        let s = Subscription::new("T", "TagA || TagB", 7);
        let d = s.to_data();
        assert_eq!(d.tags_set, ["TagA", "TagB"]);
        assert_eq!(
            d.code_set,
            [tags_code("TagA") as i32, tags_code("TagB") as i32]
        );
        assert_eq!(d.sub_version, 7);
        assert_eq!(d.expression_type.as_deref(), Some("TAG"));
        let all = Subscription::new("T", " ", 1).to_data();
        assert_eq!(all.sub_string, "*");
        assert!(all.code_set.is_empty() && all.tags_set.is_empty());
        assert_eq!(retry_topic("g"), "%RETRY%g");
    }

    #[test]
    fn closures_are_listeners() {
        let l: Box<dyn MessageListener> = Box::new(|m: &[MessageExt]| {
            if m.is_empty() {
                ConsumeResult::RetryLater
            } else {
                ConsumeResult::Success
            }
        });
        assert_eq!(l.consume(&[]), ConsumeResult::RetryLater);
    }
}
