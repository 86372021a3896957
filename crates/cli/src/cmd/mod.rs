//! One module per subcommand, plus what they share: waiting for a termination signal.

pub mod admin;
pub mod broker;
pub mod consume;
pub mod namesrv;
pub mod produce;
pub mod standalone;

use tokio_util::sync::CancellationToken;

/// Default name server address of the client commands.
pub const DEFAULT_NAMESRV: &str = "127.0.0.1:9876";

/// Resolves on SIGINT (Ctrl-C) or SIGTERM; logs which one arrived.
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
                    _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("SIGINT received, shutting down");
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupt received, shutting down");
    }
}

/// Cancels `token` when a termination signal arrives (or when `token` is cancelled first).
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        tokio::select! {
            _ = termination_signal() => token.cancel(),
            _ = token.cancelled() => {}
        }
    });
}
