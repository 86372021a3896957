//! `peer-driver`: the load generator for the peers of Saturn's comparison (bench/compare.sh).
//!
//! It runs the workloads of `saturn bench` — produce, consume (catch-up), e2e — against NATS
//! JetStream or Redis Streams, and prints the same summary: a human form on stderr and, with
//! `--json`, one JSON object as the last line of stdout with the same field names (`kind`,
//! `messages`, `errors`, `seconds`, `msgs_per_sec`, `mb_per_sec`, `latency_us{p50,p90,p99,p999,
//! max}`, …), so the comparison script reads every system's result the same way.

mod args;
mod error;
mod nats;
mod pacing;
mod redis_streams;
mod stats;
mod system;
// The same sub-millisecond timer as `saturn bench` (one file, compiled into both), so every
// system of the comparison sees its load paced alike.
#[path = "../../../crates/bench/src/timer.rs"]
mod timer;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, SystemKind};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peer-driver: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.opts().json;
    let result = runtime.block_on(async {
        match cli.opts().system {
            SystemKind::Nats => workload::run(nats::Nats::new(cli.opts()), &cli).await,
            SystemKind::Redis => {
                workload::run(redis_streams::RedisStreams::new(cli.opts())?, &cli).await
            }
        }
    });
    // Client tasks (connection drivers) may still be parked; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result.and_then(|summary| summary.print(json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer-driver: error: {e}");
            ExitCode::FAILURE
        }
    }
}
