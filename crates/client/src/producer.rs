//! [`Producer`]: sends messages (SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE) to the topic's brokers.
//!
//! Every send is a future. *Sync* send = `producer.send(msg).await`; *async* send = spawn that
//! future (`Producer` is a cheap `Clone`):
//!
//! ```no_run
//! # async fn demo(producer: saturn_client::Producer) {
//! let p = producer.clone();
//! let pending = tokio::spawn(async move { p.send(saturn_client::Message::new("T", "x")).await });
//! // … later:
//! let result = pending.await;
//! # }
//! ```
//!
//! Queue choice: round-robin over the writable queues by default, skipping the broker that just
//! failed; or a selector / sharding key for per-key order. A sync round-robin send that fails with
//! a transport error or a retryable code is retried up to `retries` times on another queue, after
//! refreshing the route. Sends to a chosen queue (selector, key, explicit queue) are not moved
//! elsewhere, so their order holds; oneway sends are tried once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use saturn_protocol::code::request;
use saturn_protocol::header::{CommandHeader, SendMessageResponse, SendMessageView};
use saturn_protocol::message::tag;
use saturn_protocol::RemotingCommand;
use tracing::debug;

use crate::config::ProducerConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::{Message, MessageQueue, SendResult, SendStatus};
use crate::outgoing::{self, Outgoing};

/// Prefix of consumer groups' retry topics.
pub const RETRY_TOPIC_PREFIX: &str = "%RETRY%";

/// Sends messages. Cheap to clone; clones share connections and routes.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    instance: Arc<ClientInstance>,
    config: ProducerConfig,
    next_queue: AtomicUsize,
    /// False for the consumer's internal producer, which borrows the consumer's instance.
    owns_instance: bool,
    closed: AtomicBool,
}

impl Producer {
    /// Starts a producer: validates the configuration and starts the client instance
    /// (route refresh and heartbeats every 30 s).
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad configuration.
    pub async fn start(config: ProducerConfig) -> Result<Self, ClientError> {
        if config.group.is_empty() {
            return Err(ClientError::Config("producer group is empty".into()));
        }
        if config.send_timeout.is_zero() {
            return Err(ClientError::Config("send_timeout must be positive".into()));
        }
        let instance = ClientInstance::start(config.client.clone()).await?;
        instance.register_producer(&config.group);
        Ok(Self::with_instance(instance, config, true))
    }

    /// A producer sharing `instance` (the consumer's fallback for failed send-backs).
    pub(crate) fn internal(instance: Arc<ClientInstance>, group: &str) -> Self {
        let config = ProducerConfig {
            client: instance.config.clone(),
            group: group.to_owned(),
            send_timeout: instance.config.request_timeout,
            ..ProducerConfig::default()
        };
        Self::with_instance(instance, config, false)
    }

    fn with_instance(instance: Arc<ClientInstance>, config: ProducerConfig, owns: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                instance,
                config,
                next_queue: AtomicUsize::new(0),
                owns_instance: owns,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// This client's id (`ip@instance`).
    pub fn client_id(&self) -> &str {
        &self.inner.instance.client_id
    }

    /// Sends `msg` and waits for the broker's answer, retrying on another queue on failure.
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] before sending; the last failure after all attempts.
    pub async fn send(&self, msg: Message) -> Result<SendResult, ClientError> {
        let out = outgoing::single(msg, &self.inner.instance.uniq, &self.inner.config)?;
        self.deliver_round_robin(out, false)
            .await?
            .ok_or(ClientError::Shutdown)
    }

    /// Sends `msg` without waiting for (or getting) an answer; one attempt.
    ///
    /// # Errors
    /// As [`Producer::send`], for what fails before the frame is queued.
    pub async fn send_oneway(&self, msg: Message) -> Result<(), ClientError> {
        let out = outgoing::single(msg, &self.inner.instance.uniq, &self.inner.config)?;
        self.deliver_round_robin(out, true).await.map(|_| ())
    }

    /// Sends messages of one topic in one request (SEND_BATCH_MESSAGE); they land in one queue
    /// with consecutive offsets. Delayed messages and retry topics are not allowed.
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] for an empty or mixed batch; send failures as [`Producer::send`].
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult, ClientError> {
        let out = outgoing::batch(msgs, &self.inner.instance.uniq, &self.inner.config)?;
        self.deliver_round_robin(out, false)
            .await?
            .ok_or(ClientError::Shutdown)
    }

    /// Sends `msg` to one given queue (no retry elsewhere).
    ///
    /// # Errors
    /// As [`Producer::send`].
    pub async fn send_to_queue(
        &self,
        msg: Message,
        queue: &MessageQueue,
    ) -> Result<SendResult, ClientError> {
        let out = outgoing::single(msg, &self.inner.instance.uniq, &self.inner.config)?;
        self.deliver_to(out, queue, false)
            .await?
            .ok_or(ClientError::Shutdown)
    }

    /// Sends `msg` to the writable queue at the index `selector` returns (taken modulo the
    /// number of queues). Queues are ordered by broker name, then queue id.
    ///
    /// # Errors
    /// As [`Producer::send`].
    pub async fn send_with_selector<F>(
        &self,
        msg: Message,
        selector: F,
    ) -> Result<SendResult, ClientError>
    where
        F: Fn(&[MessageQueue], &Message) -> usize,
    {
        let queues = self.write_queues(&msg.topic).await?;
        let idx = selector(&queues, &msg) % queues.len().max(1);
        let queue = queues
            .get(idx)
            .cloned()
            .ok_or_else(|| ClientError::NoQueue(msg.topic.clone()))?;
        self.send_to_queue(msg, &queue).await
    }

    /// Sends `msg` to the queue chosen by `sharding_key`: messages with the same key go to the
    /// same queue (and stay in order) while the queue list is unchanged. Same choice as Java's
    /// `SelectMessageQueueByHash` (`abs(key.hashCode() % queues)`).
    ///
    /// # Errors
    /// As [`Producer::send`].
    pub async fn send_ordered(
        &self,
        msg: Message,
        sharding_key: &str,
    ) -> Result<SendResult, ClientError> {
        self.send_with_selector(msg, |qs, _| queue_for_key(sharding_key, qs.len()))
            .await
    }

    /// The writable queues of `topic` (the template topic's, capped, for an unknown topic).
    ///
    /// # Errors
    /// [`ClientError::TopicNotFound`] / [`ClientError::NoQueue`], or a name server failure.
    pub async fn write_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        let route = self.route(topic).await?;
        if route.write_queues.is_empty() {
            return Err(ClientError::NoQueue(topic.to_owned()));
        }
        Ok(route.write_queues.clone())
    }

    /// Unregisters the producer group from every broker and closes connections. Idempotent.
    pub async fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) || !self.inner.owns_instance {
            return;
        }
        self.inner
            .instance
            .unregister_producer(&self.inner.config.group)
            .await;
        self.inner.instance.close();
    }

    async fn route(&self, topic: &str) -> Result<Arc<crate::route::TopicRoute>, ClientError> {
        let c = &self.inner.config;
        self.inner
            .instance
            .routes
            .publish_route(topic, &c.default_topic, c.default_topic_queue_nums)
            .await
    }

    fn check_open(&self) -> Result<(), ClientError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(ClientError::Shutdown);
        }
        Ok(())
    }

    /// Round-robin delivery with retries on other brokers (sync sends only).
    pub(crate) async fn deliver_round_robin(
        &self,
        out: Outgoing,
        oneway: bool,
    ) -> Result<Option<SendResult>, ClientError> {
        self.check_open()?;
        let attempts = if oneway {
            1
        } else {
            1 + self.inner.config.retries
        };
        // Nothing is allocated per send on the way to the broker: the queue is borrowed from the
        // route, and strings are only copied when an attempt fails.
        let mut avoid: Option<String> = None;
        let mut last_err = None;
        for attempt in 0..attempts {
            let route = self.route(&out.topic).await?;
            let queue = pick_queue(
                &route.write_queues,
                &self.inner.next_queue,
                avoid.as_deref(),
            )
            .ok_or_else(|| ClientError::NoQueue(out.topic.clone()))?;
            match self.deliver_to(&out, queue, oneway).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable() && attempt + 1 < attempts => {
                    debug!(topic = %out.topic, broker = %queue.broker_name, attempt, error = %e, "send failed, retrying");
                    avoid = Some(queue.broker_name.clone());
                    last_err = Some(e);
                    // A failed broker may have left the route: look again before the next try.
                    let _ = self.inner.instance.routes.refresh(&out.topic).await;
                }
                Err(e) => {
                    if e.is_retryable() {
                        let _ = self.inner.instance.routes.refresh(&out.topic).await;
                    }
                    return Err(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::NoQueue(out.topic.clone())))
    }

    /// One attempt to one queue.
    pub(crate) async fn deliver_to(
        &self,
        out: impl std::borrow::Borrow<Outgoing>,
        queue: &MessageQueue,
        oneway: bool,
    ) -> Result<Option<SendResult>, ClientError> {
        self.check_open()?;
        let out = out.borrow();
        let instance = &self.inner.instance;
        let addr = match instance.routes.master_addr(&queue.broker_name) {
            Some(a) => a,
            None => {
                let _ = instance.routes.refresh(&out.topic).await;
                instance
                    .routes
                    .master_addr(&queue.broker_name)
                    .ok_or_else(|| ClientError::BrokerNotFound(queue.broker_name.clone()))?
            }
        };
        let c = &self.inner.config;
        // Written straight from borrowed fields: no String copies per send.
        let header = SendMessageView {
            producer_group: &c.group,
            topic: &out.topic,
            default_topic: &c.default_topic,
            default_topic_queue_nums: c.default_topic_queue_nums,
            queue_id: queue.queue_id,
            sys_flag: out.sys_flag,
            born_timestamp: now_ms(),
            flag: out.flag,
            properties: Some(&out.properties),
            reconsume_times: Some(out.reconsume_times.unwrap_or(0)),
            unit_mode: Some(false),
            max_reconsume_times: out.max_reconsume_times,
            batch: Some(out.batch),
            broker_name: Some(&queue.broker_name),
        };
        let code = if out.batch {
            request::SEND_BATCH_MESSAGE
        } else {
            request::SEND_MESSAGE_V2
        };
        let cmd =
            RemotingCommand::new_request(code, header.to_ext_v2()).with_body(out.body.clone());
        if oneway {
            instance.invoke_oneway(&addr, cmd).await?;
            return Ok(None);
        }
        let resp = instance.invoke_timeout(&addr, cmd, c.send_timeout).await?;
        let Some(status) = SendStatus::from_code(resp.code) else {
            return Err(ClientError::from_response(&resp));
        };
        let h = SendMessageResponse::from_ext(&resp.ext_fields)?;
        Ok(Some(SendResult {
            status,
            msg_id: out.msg_id.clone(),
            offset_msg_id: h.msg_id,
            queue: MessageQueue {
                topic: queue.topic.clone(),
                broker_name: queue.broker_name.clone(),
                queue_id: h.queue_id,
            },
            queue_offset: h.queue_offset,
        }))
    }
}

/// The queue index for a sharding key: `abs(javaHash(key) % n)`, Java's `SelectMessageQueueByHash`.
pub fn queue_for_key(key: &str, n: usize) -> usize {
    let Ok(n) = i64::try_from(n) else { return 0 };
    if n == 0 {
        return 0;
    }
    // The Java hash is an int; `%` keeps the sign of the dividend, hence the abs.
    let rem = (tag::tags_code(key) % n).unsigned_abs();
    usize::try_from(rem).unwrap_or(0)
}

/// Round-robin pick, skipping `avoid` (the broker that just failed) when another one exists.
fn pick_queue<'a>(
    queues: &'a [MessageQueue],
    counter: &AtomicUsize,
    avoid: Option<&str>,
) -> Option<&'a MessageQueue> {
    let n = queues.len();
    if n == 0 {
        return None;
    }
    for _ in 0..n {
        let q = queues.get(counter.fetch_add(1, Ordering::Relaxed) % n)?;
        if avoid != Some(q.broker_name.as_str()) {
            return Some(q);
        }
    }
    queues.get(counter.fetch_add(1, Ordering::Relaxed) % n)
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(b: &str, q: i32) -> MessageQueue {
        MessageQueue {
            topic: "T".into(),
            broker_name: b.into(),
            queue_id: q,
        }
    }

    #[test]
    fn key_selector_is_stable_and_java_compatible() {
        // "TagA".hashCode() == 2598919 → 2598919 % 8 == 7.
        assert_eq!(queue_for_key("TagA", 8), 7);
        // A negative Java hash: "polygenelubricants" → Integer.MIN_VALUE; MIN_VALUE % 3 == -2.
        assert_eq!(queue_for_key("polygenelubricants", 3), 2);
        for key in ["order-1", "order-2", "", "ключ"] {
            let first = queue_for_key(key, 16);
            assert!(first < 16);
            assert_eq!(queue_for_key(key, 16), first, "same key, same queue");
        }
        assert_eq!(queue_for_key("x", 0), 0);
        // Keys spread over queues.
        let used: std::collections::BTreeSet<usize> = (0..100)
            .map(|i| queue_for_key(&format!("order-{i}"), 4))
            .collect();
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn round_robin_skips_failed_broker() {
        let qs = [mq("a", 0), mq("a", 1), mq("b", 0)];
        let c = AtomicUsize::new(0);
        let picks: Vec<_> = (0..6)
            .map(|_| pick_queue(&qs, &c, None).unwrap().clone())
            .collect();
        assert_eq!(picks[..3], qs);
        assert_eq!(picks[3..], qs);
        for _ in 0..5 {
            assert_eq!(pick_queue(&qs, &c, Some("a")).unwrap().broker_name, "b");
        }
        // Only the failed broker left: use it anyway.
        let only_a = [mq("a", 0)];
        assert_eq!(pick_queue(&only_a, &c, Some("a")).unwrap().broker_name, "a");
        assert!(pick_queue(&[], &c, None).is_none());
    }
}
