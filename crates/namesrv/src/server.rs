//! Wiring: [`NameServer::start`] binds the remoting server, runs it and the expiry scan, and
//! returns a [`NamesrvHandle`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use saturn_protocol::command::RemotingCommand;
use saturn_remoting::{BoxFuture, Channel, RemotingError, RequestHandler, Server, ServerConfig};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::NamesrvConfig;
use crate::error::NamesrvError;
use crate::processor::NamesrvState;

/// Entry point of the name server.
///
/// Several name servers may run side by side: they share nothing and never talk to each
/// other; brokers register with each of them and clients ask any of them.
#[derive(Debug)]
pub struct NameServer;

impl NameServer {
    /// Binds `config.listen` and serves until `shutdown` is cancelled.
    ///
    /// # Errors
    /// [`NamesrvError::Config`] for an invalid config, [`NamesrvError::Remoting`] when the
    /// address cannot be bound.
    pub async fn start(
        config: NamesrvConfig,
        shutdown: CancellationToken,
    ) -> Result<NamesrvHandle, NamesrvError> {
        config.validate()?;
        let state = Arc::new(NamesrvState::new());
        let handler = Arc::new(NamesrvHandler {
            state: Arc::clone(&state),
        });
        let server = Server::bind(config.listen, ServerConfig::default(), handler).await?;
        let local_addr = server.local_addr();
        info!(
            addr = %local_addr,
            broker_expiry = ?config.broker_expiry,
            scan_interval = ?config.scan_interval,
            "name server started"
        );
        let server_task = tokio::spawn(server.run(shutdown.clone()));
        let scan_task = tokio::spawn(scan_expired(
            Arc::clone(&state),
            config.scan_interval,
            config.broker_expiry,
            shutdown,
        ));
        Ok(NamesrvHandle {
            local_addr,
            state,
            server_task,
            scan_task,
        })
    }
}

/// A running name server.
#[derive(Debug)]
pub struct NamesrvHandle {
    local_addr: SocketAddr,
    state: Arc<NamesrvState>,
    server_task: JoinHandle<Result<(), RemotingError>>,
    scan_task: JoinHandle<()>,
}

impl NamesrvHandle {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The live state, for inspection (number of live brokers, routes).
    pub fn state(&self) -> &NamesrvState {
        &self.state
    }

    /// Waits until the server stopped (after the shutdown token was cancelled).
    ///
    /// # Errors
    /// The server's own error, or [`NamesrvError::Task`] if a task panicked.
    pub async fn join(self) -> Result<(), NamesrvError> {
        let served = self
            .server_task
            .await
            .map_err(|e| NamesrvError::Task(e.to_string()))?;
        self.scan_task
            .await
            .map_err(|e| NamesrvError::Task(e.to_string()))?;
        info!(addr = %self.local_addr, "name server stopped");
        Ok(served?)
    }
}

/// Every `interval`, drops brokers silent for longer than `expiry`.
async fn scan_expired(
    state: Arc<NamesrvState>,
    interval: Duration,
    expiry: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {
                state.expire(Instant::now(), expiry);
            }
        }
    }
}

/// The remoting handler: every request is served synchronously from [`NamesrvState`].
struct NamesrvHandler {
    state: Arc<NamesrvState>,
}

impl RequestHandler for NamesrvHandler {
    fn handle(
        &self,
        channel: &Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let reply = self.state.process(channel, &request);
        let reply = (!request.is_oneway()).then_some(reply);
        Box::pin(std::future::ready(reply))
    }

    fn on_closed(&self, channel: &Channel) {
        self.state.connection_closed(channel.id());
    }
}
