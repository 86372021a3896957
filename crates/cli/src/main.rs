//! The `saturn` command-line program: run the servers (`standalone`, `namesrv`, `broker`) and
//! talk to them (`produce`, `consume`, `admin`).
//!
//! Map: this file holds the top-level clap definitions and the dispatch; each subcommand lives
//! in `cmd/` with its own argument struct; `config` loads configuration files; `output` prints
//! text and JSON. Logs go to stderr so stdout stays clean for `--json`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod config;
mod output;

/// Saturn: a RocketMQ-compatible message broker.
#[derive(Debug, Parser)]
#[command(name = "saturn", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// What to run.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a name server and a broker in one process (the quickest way to try Saturn).
    Standalone(cmd::standalone::StandaloneArgs),
    /// Run a name server alone.
    Namesrv(cmd::namesrv::NamesrvArgs),
    /// Run a broker alone (it registers with the name servers given by --namesrv).
    Broker(cmd::broker::BrokerArgs),
    /// Send messages to a topic and print each send result.
    Produce(cmd::produce::ProduceArgs),
    /// Subscribe to a topic with a push consumer and print the messages.
    Consume(cmd::consume::ConsumeArgs),
    /// Administer topics, clusters, consumer groups and messages.
    Admin(cmd::admin::AdminArgs),
    /// Load generator: produce, consume or end-to-end throughput and latency against any
    /// RocketMQ remoting broker.
    Bench(saturn_bench::BenchArgs),
}

impl Command {
    /// Servers log at `info` by default; client commands only at `warn`, so their output is
    /// not buried in logs.
    fn default_log_level(&self) -> &'static str {
        match self {
            Command::Standalone(_) | Command::Namesrv(_) | Command::Broker(_) => "info",
            Command::Produce(_) | Command::Consume(_) | Command::Admin(_) | Command::Bench(_) => {
                "warn"
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.command.default_log_level());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("saturn: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Standalone(args) => cmd::standalone::run(args).await,
            Command::Namesrv(args) => cmd::namesrv::run(args).await,
            Command::Broker(args) => cmd::broker::run(args).await,
            Command::Produce(args) => cmd::produce::run(args).await,
            Command::Consume(args) => cmd::consume::run(args).await,
            Command::Admin(args) => cmd::admin::run(args).await,
            Command::Bench(args) => saturn_bench::run(args)
                .await
                .map(|()| ExitCode::SUCCESS)
                .map_err(anyhow::Error::from),
        }
    });
    // Background tasks of the client library may still be parked on timers; do not wait for
    // them once the command's work is done.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("saturn: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: `default_level`).
fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
