//! Saturn client library: produce and consume messages with any RocketMQ-compatible name
//! server and broker (4.x remoting protocol), on tokio.
//!
//! Map of the crate:
//! - [`config`]: [`ClientConfig`] (name servers, identity), [`ProducerConfig`],
//!   [`PushConsumerConfig`], [`LitePullConsumerConfig`].
//! - [`message`]: [`Message`] (to send), [`MessageExt`] (received), [`SendResult`],
//!   [`MessageQueue`].
//! - [`producer`]: [`Producer`] — sync/async/oneway/batch sends, selectors and sharding keys,
//!   retries on another broker.
//! - [`consumer`]: [`PushConsumer`] with a [`MessageListener`] (clustering or broadcasting,
//!   rebalance, long polling, retry topic, offsets), [`LitePullConsumer`] (assign/seek/poll).
//! - [`admin`]: [`AdminClient`] — routes, clusters, topics, stats, progress, message lookup.
//! - [`error`] defines [`ClientError`].
//! - Internals: [`route`] (route cache, name server fail-over), `instance` (connections, client
//!   id, heartbeats, broker → client requests), `outgoing` (message validation and encoding),
//!   `broker_api` (one function per broker request).
//!
//! ```no_run
//! use saturn_client::{Message, Producer, ProducerConfig};
//! # async fn demo() -> Result<(), saturn_client::ClientError> {
//! let producer = Producer::start(ProducerConfig::new("127.0.0.1:9876", "my-group")).await?;
//! let result = producer.send(Message::new("TopicTest", "hello").with_tags("TagA")).await?;
//! println!("{} at {:?} offset {}", result.msg_id, result.queue, result.queue_offset);
//! producer.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
mod broker_api;
pub mod config;
pub mod consumer;
pub mod error;
mod instance;
pub mod message;
mod outgoing;
pub mod producer;
pub mod route;

pub use admin::{AdminClient, QueueProgress, QueueStats, TopicTarget};
pub use config::{
    ClientConfig, ConsumeFrom, LitePullConsumerConfig, MessageModel, ProducerConfig,
    PushConsumerConfig,
};
pub use consumer::lite_pull::LitePullConsumer;
pub use consumer::push::PushConsumer;
pub use consumer::{ConsumeResult, MessageListener};
pub use error::ClientError;
pub use message::{Message, MessageExt, MessageQueue, SendResult, SendStatus};
pub use producer::Producer;
pub use route::TopicRoute;
