//! `saturn broker`: a broker alone; it registers with the name servers given by `--namesrv` (or
//! `namesrv_addrs` / `namesrvAddr` in its config file).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use saturn_broker::{Broker, BrokerConfig, FlushDiskType};
use tokio_util::sync::CancellationToken;

use crate::output;

/// Flush mode as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlushMode {
    /// Acknowledge a send once it is in the page cache; flush in the background (ASYNC_FLUSH).
    Async,
    /// Acknowledge a send only once it is on disk (SYNC_FLUSH; group commit).
    Sync,
}

/// Broker options shared by `saturn broker` and `saturn standalone`. Each one, when given,
/// overrides the same setting of the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct BrokerOverrides {
    /// Root of the broker's data: commit log, consume queues, index, offsets, topics
    /// (config: store_root_dir / storePathRootDir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Broker group name (config: broker_name / brokerName; default broker-a).
    #[arg(long, value_name = "NAME")]
    pub broker_name: Option<String>,
    /// Cluster name (config: cluster / brokerClusterName; default DefaultCluster).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// IP advertised to name servers and clients, and written into message ids
    /// (config: broker_ip / brokerIP1; default: the listen IP, or 127.0.0.1 if that is 0.0.0.0).
    #[arg(long, value_name = "IP")]
    pub broker_ip: Option<IpAddr>,
    /// When a send is acknowledged: `async` (page cache) or `sync` (on disk)
    /// (config: flush_disk_type / flushDiskType; default async).
    #[arg(long, value_enum, value_name = "MODE")]
    pub flush: Option<FlushMode>,
    /// Create unknown topics on their first send: true or false
    /// (config: auto_create_topic / autoCreateTopicEnable; default true).
    #[arg(long, value_name = "BOOL")]
    pub auto_create_topics: Option<bool>,
}

impl BrokerOverrides {
    /// Writes every given option into `config`.
    pub fn apply(&self, config: &mut BrokerConfig) {
        if let Some(dir) = &self.data_dir {
            config.store_root_dir = dir.clone();
        }
        if let Some(name) = &self.broker_name {
            config.broker_name = name.clone();
        }
        if let Some(cluster) = &self.cluster {
            config.cluster = cluster.clone();
        }
        if let Some(ip) = self.broker_ip {
            config.broker_ip = Some(ip);
        }
        if let Some(flush) = self.flush {
            config.flush_disk_type = match flush {
                FlushMode::Async => FlushDiskType::AsyncFlush,
                FlushMode::Sync => FlushDiskType::SyncFlush,
            };
        }
        if let Some(auto) = self.auto_create_topics {
            config.auto_create_topic = auto;
        }
    }
}

/// Options of `saturn broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Broker config file: TOML (snake_case keys) or RocketMQ broker.conf properties
    /// (camelCase keys). A `.conf`/`.properties` file, or one whose lines are `key=value`, is
    /// read as properties. See docs/configuration.md for every key.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Name server address(es) to register with, `host:port[;host:port...]`
    /// (config: namesrv_addrs / namesrvAddr). Without any, the broker serves clients that
    /// connect to it directly but is not routable by topic.
    #[arg(long, value_name = "ADDR")]
    pub namesrv: Option<String>,
    /// Address to listen on, `ip:port` (config: listen / listenPort; default 127.0.0.1:10911;
    /// port 0 picks a free port, shown in the ready line).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Options shared with `saturn standalone`.
    #[command(flatten)]
    pub overrides: BrokerOverrides,
}

/// Splits `a:1;b:2` (also accepts `,`) into addresses, dropping empty parts.
pub fn split_namesrv(list: &str) -> Vec<String> {
    list.split([';', ','])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Builds the effective broker config: defaults, then the file, then the flags.
///
/// # Errors
/// When the config file cannot be loaded or the result is invalid.
pub fn effective_config(args: &BrokerArgs) -> anyhow::Result<BrokerConfig> {
    let mut config = match &args.config {
        Some(path) => crate::config::load_broker_config(path)?,
        None => BrokerConfig::default(),
    };
    if let Some(list) = &args.namesrv {
        config.namesrv_addrs = split_namesrv(list);
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    args.overrides.apply(&mut config);
    config.validate().context("invalid broker configuration")?;
    Ok(config)
}

/// Runs the broker until SIGINT/SIGTERM, then flushes the store and saves offsets.
///
/// # Errors
/// When the config is bad or the broker cannot start (address in use, unreadable store).
pub async fn run(args: BrokerArgs) -> anyhow::Result<ExitCode> {
    let config = effective_config(&args)?;
    if config.namesrv_addrs.is_empty() {
        tracing::warn!(
            "no name server given (--namesrv); clients cannot find this broker by topic"
        );
    }
    tracing::info!(?config, "starting broker");
    let shutdown = CancellationToken::new();
    let handle = Broker::start(config.clone(), shutdown.clone())
        .await
        .with_context(|| format!("cannot start the broker on {}", config.listen))?;
    let addr = handle.local_addr();
    output::print_line(&format!(
        "saturn broker ready listen={addr} broker_name={} cluster={}",
        config.broker_name, config.cluster
    ))?;
    super::cancel_on_signal(shutdown.clone());
    handle.join().await.context("broker failed")?;
    tracing::info!("broker stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namesrv_lists_split_on_semicolons() {
        assert_eq!(
            split_namesrv("127.0.0.1:1; 127.0.0.1:2;"),
            vec!["127.0.0.1:1", "127.0.0.1:2"]
        );
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.conf");
        std::fs::write(&path, "brokerName=from-file\nflushDiskType=ASYNC_FLUSH\n").unwrap();
        let args = BrokerArgs {
            config: Some(path),
            namesrv: Some("127.0.0.1:9000".into()),
            listen: None,
            overrides: BrokerOverrides {
                flush: Some(FlushMode::Sync),
                cluster: Some("C2".into()),
                ..BrokerOverrides::default()
            },
        };
        let c = effective_config(&args).unwrap();
        assert_eq!(c.broker_name, "from-file");
        assert_eq!(c.cluster, "C2");
        assert_eq!(c.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.namesrv_addrs, vec!["127.0.0.1:9000"]);
    }
}
