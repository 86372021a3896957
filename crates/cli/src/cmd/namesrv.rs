//! `saturn namesrv`: a name server alone (broker registry and topic routes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use saturn_namesrv::{NameServer, NamesrvConfig};
use tokio_util::sync::CancellationToken;

use crate::output;

/// Options of `saturn namesrv`.
#[derive(Debug, Args)]
pub struct NamesrvArgs {
    /// Address to listen on (`ip:port`; port 0 picks a free port, shown in the ready line).
    /// Default 127.0.0.1:9876; use 0.0.0.0:9876 to accept remote brokers and clients.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// TOML file with name server options (see docs/configuration.md); --listen overrides its
    /// `listen`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Builds the effective name server config: defaults, then the file, then the flags.
///
/// # Errors
/// When the config file cannot be loaded.
pub fn effective_config(
    listen: Option<SocketAddr>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<NamesrvConfig> {
    let mut config = match file {
        Some(path) => crate::config::load_namesrv_config(path)?,
        None => NamesrvConfig {
            listen: default_listen(),
            ..NamesrvConfig::default()
        },
    };
    if let Some(listen) = listen {
        config.listen = listen;
    }
    Ok(config)
}

/// 127.0.0.1:9876.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9876))
}

/// Runs the name server until SIGINT/SIGTERM.
///
/// # Errors
/// When the config is bad or the address cannot be bound.
pub async fn run(args: NamesrvArgs) -> anyhow::Result<ExitCode> {
    let config = effective_config(args.listen, args.config.as_deref())?;
    tracing::info!(?config, "starting name server");
    let shutdown = CancellationToken::new();
    let handle = NameServer::start(config.clone(), shutdown.clone())
        .await
        .with_context(|| format!("cannot start the name server on {}", config.listen))?;
    let addr = handle.local_addr();
    output::print_line(&format!("saturn namesrv ready listen={addr}"))?;
    super::cancel_on_signal(shutdown.clone());
    handle.join().await.context("name server failed")?;
    Ok(ExitCode::SUCCESS)
}
