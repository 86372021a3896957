//! [`RemotingClient`]: a pool of connections keyed by address, with lazy (re)connect.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use saturn_protocol::command::RemotingCommand;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::channel::{Channel, OpaqueSource, Side};
use crate::config::ClientConfig;
use crate::connection::{self, ConnectionParams};
use crate::error::RemotingError;
use crate::handler::{RequestHandler, UnsupportedHandler};

/// Client side of the protocol: sends requests to any number of servers, one connection per
/// address, and serves the requests those servers send back over it.
///
/// Connections are opened on first use and replaced on the next use after they broke. Cloning
/// is cheap and shares the pool; dropping the last clone closes every connection.
#[derive(Clone)]
pub struct RemotingClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    handler: Arc<dyn RequestHandler>,
    pool: Mutex<HashMap<String, Slot>>,
    opaque: Arc<OpaqueSource>,
    /// Parent of every connection's close token.
    close: CancellationToken,
    /// Client connections are never drained gracefully; this token is never cancelled.
    no_shutdown: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Connection tasks do not keep the client alive; without this they would linger until the
        // peer or the idle timeout closed them.
        self.close.cancel();
    }
}

/// One pool entry: the current connection (if any) and a lock so concurrent callers share
/// one connect attempt instead of racing to open several.
#[derive(Default)]
struct Slot {
    channel: Option<Channel>,
    connecting: Arc<tokio::sync::Mutex<()>>,
}

impl RemotingClient {
    /// A client that answers server-initiated requests with `REQUEST_CODE_NOT_SUPPORTED`.
    pub fn new(config: ClientConfig) -> Self {
        Self::with_handler(config, Arc::new(UnsupportedHandler))
    }

    /// A client whose connections pass server-initiated requests (e.g. CHECK_TRANSACTION_STATE,
    /// NOTIFY_CONSUMER_IDS_CHANGED) to `handler`.
    pub fn with_handler(config: ClientConfig, handler: Arc<dyn RequestHandler>) -> Self {
        RemotingClient {
            inner: Arc::new(Inner {
                config,
                handler,
                pool: Mutex::new(HashMap::new()),
                opaque: Arc::new(OpaqueSource::default()),
                close: CancellationToken::new(),
                no_shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Sends `request` to `addr` (`host:port`) and waits for the response. `timeout` covers
    /// connecting (if needed), queueing and the answer.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let started = Instant::now();
        let channel = tokio::time::timeout(timeout, self.channel(addr))
            .await
            .map_err(|_| RemotingError::Timeout)??;
        let left = timeout.saturating_sub(started.elapsed());
        channel.request(request, left).await
    }

    /// Sends `request` to `addr` as oneway: no response is expected or waited for. Returns once
    /// the frame is queued (see [`Channel::send_oneway`]).
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<(), RemotingError> {
        self.channel(addr).await?.send_oneway(request).await
    }

    /// The live connection to `addr`, connecting (at most `connect_timeout`) if there is none or
    /// the previous one broke.
    pub async fn channel(&self, addr: &str) -> Result<Channel, RemotingError> {
        if self.inner.close.is_cancelled() {
            return Err(RemotingError::ConnectionClosed);
        }
        if let Some(ch) = self.live(addr) {
            return Ok(ch);
        }
        // Slow path (first use or broken connection): only here is the key allocated.
        let connecting = Arc::clone(&self.pool().entry(addr.to_owned()).or_default().connecting);
        let _connecting = connecting.lock().await;
        // Someone else may have connected while we waited for the lock.
        if let Some(ch) = self.live(addr) {
            return Ok(ch);
        }
        let channel = self.connect(addr).await?;
        if let Some(slot) = self.pool().get_mut(addr) {
            if let Some(old) = slot.channel.replace(channel.clone()) {
                old.close();
            }
        }
        Ok(channel)
    }

    fn live(&self, addr: &str) -> Option<Channel> {
        let pool = self.pool();
        pool.get(addr)?
            .channel
            .as_ref()
            .filter(|ch| !ch.is_closed())
            .cloned()
    }

    async fn connect(&self, addr: &str) -> Result<Channel, RemotingError> {
        let connect_failed = |source| RemotingError::ConnectFailed {
            addr: addr.to_owned(),
            source,
        };
        let stream =
            tokio::time::timeout(self.inner.config.connect_timeout, TcpStream::connect(addr))
                .await
                .map_err(|_| {
                    connect_failed(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
                })?
                .map_err(connect_failed)?;
        let params = ConnectionParams {
            config: self.inner.config.connection,
            side: Side::Connected,
            handler: Arc::clone(&self.inner.handler),
            opaque: Arc::clone(&self.inner.opaque),
            shutdown: self.inner.no_shutdown.clone(),
            grace: Duration::ZERO,
            close: self.inner.close.child_token(),
            permit: None,
        };
        let channel = connection::spawn(stream, params)?;
        debug!(addr, id = channel.id(), local = %channel.local_addr(), "connected");
        Ok(channel)
    }

    /// Closes the connection to `addr`, if any; the next request reconnects.
    pub fn close_channel(&self, addr: &str) {
        let removed = self
            .pool()
            .get_mut(addr)
            .and_then(|slot| slot.channel.take());
        if let Some(ch) = removed {
            ch.close();
        }
    }

    /// Closes every connection; later requests fail with [`RemotingError::ConnectionClosed`].
    pub fn shutdown(&self) {
        self.inner.close.cancel();
    }

    fn pool(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // Entries stay consistent even if a holder panicked; keep serving.
        self.inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
