//! `saturn bench`: load generator and latency meter for any RocketMQ remoting (4.x) broker —
//! Saturn, Apache RocketMQ, rocketmq-rust — since it only uses standard requests through
//! `saturn_client`.
//!
//! - `produce`: `--producers` producers send `--size`-byte messages (`--mode sync|async|oneway`,
//!   `--batch`, optional `--rate` pacing); latency = send request to answer.
//! - `consume`: `--consumers` push consumers of `--group` read the topic; latency =
//!   store-to-delivery.
//! - `e2e`: both at once; latency = born (scheduled send) to delivery.
//!
//! A live line goes to stderr every second; the summary gives throughput and HDR-histogram
//! latency percentiles (p50/p90/p99/p99.9/max); `--json` prints it as one JSON object on the
//! last line of stdout.
//!
//! Map: [`args`] (clap options), [`produce`], [`consume`], [`e2e`] (the three workloads),
//! [`setup`] (topic creation, queue assignment), [`pacing`] (rate schedule, coordinated
//! omission), [`stats`] (per-worker tallies, HDR histograms), [`report`] (monitor, live line,
//! summary, JSON), [`control`] (stop signal, warm-up, `--count` budget), [`error`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), saturn_bench::BenchError> {
//! use clap::Parser;
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     bench: saturn_bench::BenchArgs,
//! }
//! let cli = Cli::parse_from(["bench", "produce", "--namesrv", "127.0.0.1:9876", "--duration", "5"]);
//! saturn_bench::run(cli.bench).await
//! # }
//! ```

pub mod args;
pub mod consume;
pub mod control;
pub mod e2e;
pub mod error;
pub mod pacing;
pub mod produce;
pub mod report;
pub mod setup;
pub mod stats;
pub mod timer;

use std::sync::Arc;

pub use args::{BenchArgs, BenchKind, ConsumeArgs, E2eArgs, ProduceArgs};
pub use error::BenchError;
pub use report::Summary;

use control::RunState;

/// Runs the benchmark and prints its summary (human form, or JSON with `--json`).
///
/// # Errors
/// Invalid options, or a failure to set the run up (see [`BenchError`]); failed sends are
/// counted in the summary, not returned.
pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    let json = args.kind.common().json;
    let summary = execute(args.kind).await?;
    summary.print(json)
}

/// Runs the benchmark and returns its summary without printing it (live lines still go to
/// stderr unless `--quiet`). Ctrl-C ends the run early, with a summary of what was done.
///
/// # Errors
/// As [`run`].
pub async fn execute(kind: BenchKind) -> Result<Summary, BenchError> {
    kind.validate()?;
    // The count bounds sends for produce/e2e; consume counts received messages itself.
    let budget = match &kind {
        BenchKind::Consume(_) => None,
        other => other.common().count,
    };
    let run = Arc::new(RunState::new(budget, kind.common().run_for()));
    let stop = Arc::clone(&run.stop);
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping and summarising");
            stop.stop();
        }
    });
    let result = match &kind {
        BenchKind::Produce(a) => produce::run(a, Arc::clone(&run)).await,
        BenchKind::Consume(a) => consume::run(a, Arc::clone(&run)).await,
        BenchKind::E2e(a) => e2e::run(a, Arc::clone(&run)).await,
    };
    interrupt.abort();
    // Whatever failed, no worker keeps sending.
    run.stop.stop();
    result
}
