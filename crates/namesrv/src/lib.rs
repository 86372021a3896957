//! Saturn name server: brokers register their topics here, clients look up topic routes.
//!
//! Map of the crate (the way a request travels):
//! - [`server`]: [`NameServer::start`] binds the remoting server, runs the expiry scan and
//!   closes brokers' routes when their connection closes; [`NamesrvHandle`] to wait for it.
//! - [`processor`]: [`processor::NamesrvState`] and the request-code dispatch; one file per
//!   family: `broker` (register/unregister/data version/heartbeat), `route` (routes, cluster
//!   info, topic lists and admin), `kv` (KV config).
//! - [`route_table`]: [`RouteTable`], the pure data structure (brokers, clusters, topic
//!   queues, liveness with an injected clock).
//! - [`kv_config`]: the in-memory KV namespaces.
//! - [`config`], [`error`]: [`NamesrvConfig`], [`NamesrvError`] and [`RequestError`].
//!
//! Name servers are independent: run several side by side and point brokers and clients at all
//! of them; they never talk to each other.

pub mod config;
pub mod error;
pub mod kv_config;
pub mod processor;
pub mod route_table;
pub mod server;

pub use config::NamesrvConfig;
pub use error::{NamesrvError, RequestError};
pub use route_table::RouteTable;
pub use server::{NameServer, NamesrvHandle};
