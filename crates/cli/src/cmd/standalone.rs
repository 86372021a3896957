//! `saturn standalone`: a name server and a broker in one process, the broker registered with
//! the in-process name server, topics created on first use.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use saturn_broker::{Broker, BrokerConfig};
use saturn_namesrv::{NameServer, NamesrvHandle};
use tokio_util::sync::CancellationToken;

use super::broker::BrokerOverrides;
use crate::output;

/// Data directory used when neither --data-dir nor the config file chooses one.
pub const DEFAULT_DATA_DIR: &str = "./saturn-data";

/// Options of `saturn standalone`.
#[derive(Debug, Args)]
pub struct StandaloneArgs {
    /// Name server address, `ip:port` (default 127.0.0.1:9876; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub namesrv_listen: Option<SocketAddr>,
    /// Broker address, `ip:port` (default 127.0.0.1:10911 or the config file's; port 0 picks
    /// a free port).
    #[arg(long, value_name = "ADDR")]
    pub broker_listen: Option<SocketAddr>,
    /// Broker config file (TOML or broker.conf properties, as for `saturn broker --config`).
    /// Its name server list is ignored: the broker registers with the in-process name server.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Broker options; --data-dir defaults to ./saturn-data here unless the config file sets
    /// the store root, --auto-create-topics to true.
    #[command(flatten)]
    pub overrides: BrokerOverrides,
}

/// Builds the broker part of the standalone configuration (without the name server address,
/// known only once the name server listens).
///
/// # Errors
/// When the config file cannot be loaded.
pub fn broker_config(args: &StandaloneArgs) -> anyhow::Result<BrokerConfig> {
    let mut config = match &args.config {
        Some(path) => crate::config::load_broker_config(path)?,
        None => BrokerConfig::default(),
    };
    if config.store_root_dir == BrokerConfig::default().store_root_dir {
        config.store_root_dir = PathBuf::from(DEFAULT_DATA_DIR);
    }
    config.auto_create_topic = true;
    if let Some(listen) = args.broker_listen {
        config.listen = listen;
    }
    args.overrides.apply(&mut config);
    Ok(config)
}

/// The address a local client uses to reach a server bound to `addr` (0.0.0.0 → 127.0.0.1).
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

/// Runs both servers until SIGINT/SIGTERM; the broker flushes and saves offsets before exit.
///
/// # Errors
/// When a config is bad or either server cannot start.
pub async fn run(args: StandaloneArgs) -> anyhow::Result<ExitCode> {
    let namesrv_config = super::namesrv::effective_config(args.namesrv_listen, None)?;
    let mut broker_config = broker_config(&args)?;
    std::fs::create_dir_all(&broker_config.store_root_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            broker_config.store_root_dir.display()
        )
    })?;

    // The signal stops the broker first; the name server stops after it, so the broker can
    // still unregister on its way out.
    let shutdown = CancellationToken::new();
    let namesrv_shutdown = CancellationToken::new();
    super::cancel_on_signal(shutdown.clone());
    let namesrv = NameServer::start(namesrv_config.clone(), namesrv_shutdown.clone())
        .await
        .with_context(|| format!("cannot start the name server on {}", namesrv_config.listen))?;
    let namesrv_addr = reachable(namesrv.local_addr());
    broker_config.namesrv_addrs = vec![namesrv_addr.to_string()];
    broker_config
        .validate()
        .context("invalid broker configuration")?;
    tracing::info!(?broker_config, "starting broker");

    let broker = match Broker::start(broker_config.clone(), shutdown.clone()).await {
        Ok(broker) => broker,
        Err(e) => {
            namesrv_shutdown.cancel();
            if let Err(join_error) = namesrv.join().await {
                tracing::warn!(error = %join_error, "name server stopped with an error");
            }
            return Err(e)
                .with_context(|| format!("cannot start the broker on {}", broker_config.listen));
        }
    };
    let broker_addr = broker.local_addr();
    // Clients look brokers up by topic through the name server: announce readiness only once
    // the broker's registration is visible there.
    if !registered(&namesrv, &broker_config.broker_name, REGISTRATION_DEADLINE).await {
        tracing::warn!(
            deadline = ?REGISTRATION_DEADLINE,
            "broker not yet registered with the in-process name server"
        );
    }
    output::print_line(&format!(
        "saturn standalone ready namesrv={namesrv_addr} broker={broker_addr} data_dir={}",
        broker_config.store_root_dir.display()
    ))?;

    let broker_result = broker.join().await;
    namesrv_shutdown.cancel();
    let namesrv_result = namesrv.join().await;
    broker_result.context("broker failed")?;
    namesrv_result.context("name server failed")?;
    tracing::info!("standalone stopped");
    Ok(ExitCode::SUCCESS)
}

/// How long the ready line waits for the broker's first registration.
const REGISTRATION_DEADLINE: Duration = Duration::from_secs(10);

/// Waits until the name server lists a master of `broker_name`, or `deadline` passes.
async fn registered(namesrv: &NamesrvHandle, broker_name: &str, deadline: Duration) -> bool {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let listed = namesrv
            .state()
            .routes()
            .cluster_info()
            .broker_addr_table
            .get(broker_name)
            .is_some_and(|b| b.master_addr().is_some());
        if listed {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
