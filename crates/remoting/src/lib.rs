//! tokio transport for the RocketMQ remoting protocol: frames over TCP, request/response
//! matching by `opaque`, requests in both directions on one connection.
//!
//! Map of the crate (the way a frame travels):
//! - [`codec`]: [`RemotingCodec`], the protocol's frame codec as a `tokio_util` codec with a
//!   maximum frame length (for tools and tests; connections read and write frames themselves).
//! - `connection` (internal): per connection a reader task and a writer task joined by a bounded
//!   queue; requests are handled concurrently (answered on the spot when their handler does not
//!   wait), responses leave in completion order.
//! - `writer` (internal): the writer task, which sends everything queued with vectored writes
//!   (bodies and pull-response chunks are never copied into the write buffer).
//! - `gate` (internal): lets another thread write a whole frame to the socket while the writer
//!   task is idle.
//! - [`deferred`]: [`DeferredResponse`], a response sent after its handler returned, from any
//!   thread (sync-flush sends are answered from the store's flusher thread).
//! - [`channel`]: [`Channel`], the handle of one connection: send requests (`request`,
//!   `send_oneway`), close it, see who is on the other end.
//! - `pending` (internal): `opaque` → waiting requester.
//! - [`handler`]: [`RequestHandler`], what serves incoming requests (broker, namesrv, client
//!   callbacks).
//! - [`server`]: [`Server`], accept loop, connection limit, graceful shutdown.
//! - [`client`]: [`RemotingClient`], connection pool by address with lazy reconnect.
//! - [`config`], [`error`]: tunables and [`RemotingError`].

pub mod channel;
pub mod client;
pub mod codec;
pub mod config;
mod connection;
pub mod deferred;
pub mod error;
mod gate;
pub mod handler;
mod pending;
pub mod server;
mod writer;

pub use channel::{Channel, Side};
pub use client::RemotingClient;
pub use codec::RemotingCodec;
pub use config::{ClientConfig, ConnectionConfig, ServerConfig};
pub use deferred::DeferredResponse;
pub use error::RemotingError;
pub use futures_util::future::BoxFuture;
pub use handler::{RequestHandler, UnsupportedHandler};
pub use server::Server;
/// The shutdown signal taken by [`Server::run`].
pub use tokio_util::sync::CancellationToken;
