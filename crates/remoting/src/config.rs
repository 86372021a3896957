//! Tunables for connections, the server and the client, with the defaults Java uses where it
//! has one.

use std::time::Duration;

use saturn_protocol::frame::DEFAULT_MAX_FRAME_LEN;

/// Per-connection limits, shared by server and client connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Largest frame accepted or sent, length prefix included (default 16 MiB).
    pub max_frame_len: usize,
    /// Close the connection after this long without reading a frame (default 120 s, like Java's
    /// `serverChannelMaxIdleTimeSeconds`); `None` disables it.
    pub idle_timeout: Option<Duration>,
    /// Capacity of the queue between the tasks producing frames and the writer task; producers
    /// wait when it is full (default 1024).
    pub write_queue: usize,
    /// Requests of one connection handled concurrently; beyond it the reader stops reading until
    /// one finishes (default 256).
    pub max_in_flight: usize,
    /// How long a oneway send waits for room in the write queue, and how long a closing
    /// connection tries to flush what is queued (default 3 s).
    pub send_timeout: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            idle_timeout: Some(Duration::from_secs(120)),
            write_queue: 1024,
            max_in_flight: 256,
            send_timeout: Duration::from_secs(3),
        }
    }
}

/// Settings of a [`crate::Server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Connections served at once; one more is accepted and closed at once (default 10 000).
    pub max_connections: usize,
    /// On shutdown, how long in-flight requests may take before their connections are closed
    /// anyway (default 10 s).
    pub shutdown_grace: Duration,
    /// Limits applied to every accepted connection.
    pub connection: ConnectionConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
            connection: ConnectionConfig::default(),
        }
    }
}

/// Settings of a [`crate::RemotingClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Upper bound for establishing a TCP connection (default 3 s, Java's `connectTimeoutMillis`).
    pub connect_timeout: Duration,
    /// Limits applied to every connection of the pool.
    pub connection: ConnectionConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            connection: ConnectionConfig::default(),
        }
    }
}
