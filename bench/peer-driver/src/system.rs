//! What the workloads need from a peer: publishers, receivers, and stream/group setup.
//!
//! The workloads (workload.rs) are written once against these traits; nats.rs and
//! redis_streams.rs implement them. Every publisher and receiver owns its own connection,
//! like each `saturn bench` producer and consumer owns its own client.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::error::DriverError;

/// The acknowledgement of one publish, to be awaited.
pub type Ack = Pin<Box<dyn Future<Output = Result<(), DriverError>> + Send>>;

/// Where a new consumer group starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The oldest stored message (catch-up).
    First,
    /// Only messages stored from now on (e2e).
    New,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The body (the e2e stamp is read from its first bytes).
    pub body: Bytes,
    /// When the server stored it, µs since the epoch (ms resolution for Redis).
    pub stored_us: u64,
}

/// Sends messages on its own connection.
pub trait Publisher: Send + 'static {
    /// Hands one message to the connection; the returned future resolves when the server
    /// acknowledged it (stored it in the stream).
    fn submit(&mut self, body: Bytes) -> impl Future<Output = Result<Ack, DriverError>> + Send;
}

/// Receives messages of one consumer group on its own connection.
pub trait Receiver: Send + 'static {
    /// Appends what arrived to `out`, waiting at most about 200 ms for the first message, so
    /// the caller can check whether to stop.
    fn receive(
        &mut self,
        out: &mut Vec<Delivery>,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
}

/// A peer system.
pub trait PeerSystem: Send + Sync + 'static {
    /// Its publisher.
    type Pub: Publisher;
    /// Its receiver.
    type Recv: Receiver;

    /// Name in the summary (`nats`, `redis`).
    fn name(&self) -> &'static str;

    /// Creates the stream `topic` if it does not exist.
    fn ensure_stream(&self, topic: &str) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Creates consumer group `group` of `topic` starting at `start` if it does not exist;
    /// fails if the stream does not exist.
    fn ensure_group(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// A publisher to `topic`.
    fn publisher(&self, topic: &str)
        -> impl Future<Output = Result<Self::Pub, DriverError>> + Send;

    /// Receiver number `index` of `group` on `topic`, asking for `fetch` messages at a time.
    fn receiver(
        &self,
        topic: &str,
        group: &str,
        index: usize,
        fetch: usize,
    ) -> impl Future<Output = Result<Self::Recv, DriverError>> + Send;
}
