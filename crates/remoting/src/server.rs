//! [`Server`]: accepts connections and serves their requests with one [`RequestHandler`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::channel::{OpaqueSource, Side};
use crate::config::ServerConfig;
use crate::connection::{self, ConnectionParams};
use crate::error::RemotingError;
use crate::handler::RequestHandler;

/// Longest pause after a failing `accept` (e.g. out of file descriptors) before trying again.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Extra time, beyond the grace period and the final flush, that [`Server::run`] waits for
/// connections to wind down before returning anyway.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(1);

/// A bound listening socket plus what every accepted connection shares.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
    handler: Arc<dyn RequestHandler>,
    connections: Arc<Semaphore>,
    max_connections: usize,
    opaque: Arc<OpaqueSource>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port; see [`Server::local_addr`]).
    pub async fn bind(
        addr: SocketAddr,
        config: ServerConfig,
        handler: Arc<dyn RequestHandler>,
    ) -> Result<Self, RemotingError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RemotingError::Bind { addr, source })?;
        Self::from_listener(listener, config, handler)
    }

    /// Serves an already bound listener.
    pub fn from_listener(
        listener: TcpListener,
        config: ServerConfig,
        handler: Arc<dyn RequestHandler>,
    ) -> Result<Self, RemotingError> {
        let local_addr = listener.local_addr()?;
        // The semaphore cannot hold more than `Semaphore::MAX_PERMITS`; nobody needs that many.
        let max_connections = config.max_connections.clamp(1, 1 << 28);
        Ok(Server {
            listener,
            local_addr,
            config,
            handler,
            connections: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            opaque: Arc::new(OpaqueSource::default()),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accepts and serves until `shutdown` is cancelled, then shuts down gracefully: stops
    /// accepting, lets in-flight requests finish up to `shutdown_grace`, closes every connection
    /// and returns once they are gone.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RemotingError> {
        info!(addr = %self.local_addr, "remoting server listening");
        let mut backoff = Duration::from_millis(5);
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(5);
                    self.admit(stream, peer, &shutdown);
                }
                Err(e) => {
                    // Usually transient (EMFILE, ECONNABORTED); back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = backoff.saturating_mul(2).min(MAX_ACCEPT_BACKOFF);
                }
            }
        }
        let Server {
            listener,
            config,
            connections,
            max_connections,
            local_addr,
            ..
        } = self;
        drop(listener);
        info!(addr = %local_addr, "remoting server stopped accepting, draining connections");
        // Every live connection holds one permit until its tasks are gone.
        let wait = config
            .shutdown_grace
            .saturating_add(config.connection.send_timeout)
            .saturating_add(SHUTDOWN_SLACK);
        let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(wait, connections.acquire_many(all))
            .await
            .is_err()
        {
            warn!(addr = %local_addr, "connections still open after the shutdown deadline");
        }
        info!(addr = %local_addr, "remoting server stopped");
        Ok(())
    }

    fn admit(&self, stream: TcpStream, peer: SocketAddr, shutdown: &CancellationToken) {
        let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
            warn!(
                remote = %peer,
                max = self.max_connections,
                "connection limit reached, closing new connection"
            );
            return;
        };
        let params = ConnectionParams {
            config: self.config.connection,
            side: Side::Accepted,
            handler: Arc::clone(&self.handler),
            opaque: Arc::clone(&self.opaque),
            shutdown: shutdown.clone(),
            grace: self.config.shutdown_grace,
            // Hard close stays per connection: the graceful path closes each one itself.
            close: CancellationToken::new(),
            permit: Some(permit),
        };
        match connection::spawn(stream, params) {
            Ok(channel) => debug!(id = channel.id(), remote = %peer, "connection accepted"),
            Err(e) => debug!(remote = %peer, error = %e, "could not set up accepted connection"),
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
