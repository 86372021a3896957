//! Command line: `peer-driver produce|consume|e2e --system nats|redis [options]`.
//!
//! The option names are those of `saturn bench` (`--topic --size --producers --consumers
//! --group --duration --count --warmup --mode --inflight --rate --json`), plus `--system` and
//! `--url` to pick the peer. Options a kind does not use are accepted and ignored, so the
//! comparison script can pass one set of options to every kind.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::DriverError;

/// Bytes at the start of an e2e body: born time (µs since the epoch) and the run's id.
pub const STAMP_LEN: usize = 16;

/// The driver's command line.
#[derive(Debug, Parser)]
#[command(
    name = "peer-driver",
    about = "Load driver for NATS JetStream and Redis Streams, shaped like `saturn bench`"
)]
pub struct Cli {
    /// Which workload.
    #[command(subcommand)]
    pub kind: Kind,
}

impl Cli {
    /// The options of the chosen workload.
    pub fn opts(&self) -> &Opts {
        match &self.kind {
            Kind::Produce(o) | Kind::Consume(o) | Kind::E2e(o) => o,
        }
    }
}

/// The three workloads of `saturn bench`.
#[derive(Debug, Subcommand)]
pub enum Kind {
    /// Publish as fast as possible (or at --rate); latency = publish to acknowledgement.
    Produce(Opts),
    /// Read what is stored from the start (catch-up); latency = store time to delivery.
    Consume(Opts),
    /// Publish at --rate while consuming; latency = born (scheduled send) to delivery.
    E2e(Opts),
}

/// The peer to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SystemKind {
    /// NATS JetStream: a file-storage stream named like the topic, subject = topic.
    Nats,
    /// Redis Streams: a stream key named like the topic, one field per entry.
    Redis,
}

/// How a publisher waits for the acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Await every acknowledgement before the next publish.
    Sync,
    /// Keep up to --inflight publishes awaiting their acknowledgement.
    Async,
}

/// Options shared by every workload.
#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// The peer.
    #[arg(long, value_enum)]
    pub system: SystemKind,
    /// Server URL (default nats://127.0.0.1:4222 or redis://127.0.0.1:6379/).
    #[arg(long)]
    pub url: Option<String>,
    /// Stream (NATS: stream name and subject; Redis: key).
    #[arg(long, default_value = "BenchmarkTest")]
    pub topic: String,
    /// Body size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 128)]
    pub size: usize,
    /// Publishers, each with its own connection.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub producers: usize,
    /// Consumers, each with its own connection, sharing one consumer group.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub consumers: usize,
    /// Consumer group (NATS durable consumer / Redis consumer group).
    #[arg(long, value_name = "G", default_value = "peer_bench_consumer")]
    pub group: String,
    /// Measured seconds after the warm-up (default 10 unless --count is given).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop after this many messages (published for produce/e2e, received for consume).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Seconds of load before measuring starts.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub warmup: f64,
    /// sync: await each acknowledgement; async: up to --inflight outstanding per publisher.
    #[arg(long, value_enum, default_value_t = Mode::Sync)]
    pub mode: Mode,
    /// Outstanding publishes per publisher in async mode.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub inflight: usize,
    /// Target total rate in messages/s over all publishers; 0 = as fast as possible.
    #[arg(long, value_name = "MSGS_PER_SEC", default_value_t = 0.0)]
    pub rate: f64,
    /// Messages a consumer asks for per fetch (NATS pull batch / Redis COUNT).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub fetch: usize,
    /// Print the summary as one JSON line on stdout (human form on stderr).
    #[arg(long)]
    pub json: bool,
    /// No live line every second.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl Opts {
    /// The measured run time, `None` when only `--count` bounds the run.
    pub fn run_for(&self) -> Option<Duration> {
        match (self.duration, self.count) {
            (Some(d), _) => Some(Duration::from_secs_f64(d)),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        }
    }

    /// The warm-up.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }

    /// The server URL.
    pub fn url(&self) -> String {
        self.url.clone().unwrap_or_else(|| {
            match self.system {
                SystemKind::Nats => "nats://127.0.0.1:4222",
                SystemKind::Redis => "redis://127.0.0.1:6379/",
            }
            .to_owned()
        })
    }

    /// Checks the options (before any connection is made).
    pub fn validate(&self, e2e: bool) -> Result<(), DriverError> {
        let bad = |m: &str| Err(DriverError::Args(m.to_owned()));
        if self.topic.is_empty() || self.topic.contains(['.', '*', '>', ' ']) {
            return bad("--topic must be non-empty, without '.', '*', '>' or spaces");
        }
        if self.size == 0 || self.size > 8 * 1024 * 1024 {
            return bad("--size must be between 1 and 8 MiB");
        }
        if e2e && self.size < STAMP_LEN {
            return bad("--size must be at least 16 for e2e (the body carries the born time)");
        }
        if self.producers == 0 || self.producers > 10_000 {
            return bad("--producers must be between 1 and 10000");
        }
        if self.consumers == 0 || self.consumers > 1_000 {
            return bad("--consumers must be between 1 and 1000");
        }
        if self.group.is_empty() || self.group.contains(['.', '*', '>', ' ']) {
            return bad("--group must be non-empty, without '.', '*', '>' or spaces");
        }
        if let Some(d) = self.duration {
            if !(d.is_finite() && d > 0.0 && d < 1e9) {
                return bad("--duration must be a positive number of seconds");
            }
        }
        if !(self.warmup.is_finite() && (0.0..1e9).contains(&self.warmup)) {
            return bad("--warmup must be zero or a positive number of seconds");
        }
        if self.count == Some(0) {
            return bad("--count must be positive");
        }
        if self.inflight == 0 || self.fetch == 0 {
            return bad("--inflight and --fetch must be positive");
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return bad("--rate must be zero or positive");
        }
        Ok(())
    }
}
