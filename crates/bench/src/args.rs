//! Command-line options of `saturn bench produce|consume|e2e` (clap derive), with their checks.
//!
//! Option names follow the performance issue (`--namesrv --topic --size --producers --consumers
//! --group --duration --count --batch --mode --rate --json --queues --warmup --tag`); scripts
//! rely on them.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use crate::error::BenchError;

/// Run time when neither `--duration` nor `--count` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Default consumer group of `saturn bench consume`.
pub const DEFAULT_CONSUME_GROUP: &str = "saturn_bench_consumer";
/// Default consumer group of `saturn bench e2e`.
pub const DEFAULT_E2E_GROUP: &str = "saturn_bench_e2e";
/// Producer group of every bench producer.
pub const PRODUCER_GROUP: &str = "saturn_bench_producer";
/// Largest body (or batch of bodies) a producer accepts by default (4 MiB).
pub const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;
/// Bytes at the start of an e2e body: born time (µs since the epoch) and the run's id.
pub const E2E_HEADER_LEN: usize = 16;

/// Options of `saturn bench`: the workload to run.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub kind: BenchKind,
}

/// The three benchmarks.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchKind {
    /// Send messages as fast as possible (or at --rate) and measure send latency.
    Produce(ProduceArgs),
    /// Receive messages with push consumers and measure store-to-delivery latency.
    Consume(ConsumeArgs),
    /// Produce and consume together and measure born-to-delivery latency.
    E2e(E2eArgs),
}

impl BenchKind {
    /// The options every kind has.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Self::Produce(a) => &a.common,
            Self::Consume(a) => &a.common,
            Self::E2e(a) => &a.common,
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`BenchError::InvalidArgs`] naming the bad option.
    pub fn validate(&self) -> Result<(), BenchError> {
        match self {
            Self::Produce(a) => {
                a.common.validate()?;
                a.send.validate()
            }
            Self::Consume(a) => {
                a.common.validate()?;
                a.consume.validate()
            }
            Self::E2e(a) => {
                a.common.validate()?;
                a.send.validate()?;
                a.consume.validate()?;
                if a.send.size < E2E_HEADER_LEN {
                    return Err(invalid(format!(
                        "--size must be at least {E2E_HEADER_LEN} for e2e (the body carries the born time)"
                    )));
                }
                Ok(())
            }
        }
    }
}

/// `saturn bench produce`.
#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    /// Where and how long.
    #[command(flatten)]
    pub common: CommonArgs,
    /// How to send.
    #[command(flatten)]
    pub send: SendArgs,
}

/// `saturn bench consume`.
#[derive(Debug, Clone, Args)]
pub struct ConsumeArgs {
    /// Where and how long (`--count` stops after that many messages were received).
    #[command(flatten)]
    pub common: CommonArgs,
    /// How to consume.
    #[command(flatten)]
    pub consume: ConsumerArgs,
}

/// `saturn bench e2e`.
#[derive(Debug, Clone, Args)]
pub struct E2eArgs {
    /// Where and how long (`--count` is the number of messages sent).
    #[command(flatten)]
    pub common: CommonArgs,
    /// How to send.
    #[command(flatten)]
    pub send: SendArgs,
    /// How to consume.
    #[command(flatten)]
    pub consume: ConsumerArgs,
}

/// Options shared by every kind.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Name server list, `host:port;host:port`.
    #[arg(
        long,
        short = 'n',
        value_name = "ADDR",
        default_value = "127.0.0.1:9876"
    )]
    pub namesrv: String,
    /// Topic to use.
    #[arg(long, short = 't', default_value = "BenchmarkTest")]
    pub topic: String,
    /// Measured run time in seconds, after the warm-up (default 10 unless --count is given).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop after this many messages (sent for produce/e2e, received for consume).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Seconds of load before measuring starts; nothing of them is counted.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub warmup: f64,
    /// Create (or update) the topic with this many read/write queues per broker first.
    #[arg(long, value_name = "N")]
    pub queues: Option<u32>,
    /// Cluster to create the topic in with --queues (default: every cluster the name server
    /// knows).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Tag of the sent messages, and the consumers' subscription (default: none / `*`).
    #[arg(long)]
    pub tag: Option<String>,
    /// Print the summary as one JSON object on the last line of stdout (human summary on
    /// stderr).
    #[arg(long)]
    pub json: bool,
    /// No live line every second.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl CommonArgs {
    /// The measured run time: `--duration`, or none when only `--count` bounds the run, or
    /// [`DEFAULT_DURATION`].
    pub fn run_for(&self) -> Option<Duration> {
        match (self.duration, self.count) {
            (Some(d), _) => Some(Duration::from_secs_f64(d)),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_DURATION),
        }
    }

    /// The warm-up time.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }

    /// The consumers' subscription expression.
    pub fn expression(&self) -> &str {
        self.tag.as_deref().unwrap_or("*")
    }

    fn validate(&self) -> Result<(), BenchError> {
        if self.topic.is_empty() {
            return Err(invalid("--topic is empty"));
        }
        if let Some(d) = self.duration {
            if !(d.is_finite() && d > 0.0 && d < 1e9) {
                return Err(invalid("--duration must be a positive number of seconds"));
            }
        }
        if !(self.warmup.is_finite() && (0.0..1e9).contains(&self.warmup)) {
            return Err(invalid(
                "--warmup must be zero or a positive number of seconds",
            ));
        }
        if self.count == Some(0) {
            return Err(invalid("--count must be positive"));
        }
        if self.queues == Some(0) {
            return Err(invalid("--queues must be positive"));
        }
        Ok(())
    }
}

/// How a send waits for the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SendMode {
    /// Each producer awaits every answer before the next send.
    Sync,
    /// Each producer keeps up to --inflight sends awaiting an answer.
    Async,
    /// Fire and forget: no answer; latency is the time to queue the request.
    Oneway,
}

/// Options of the sending side.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Body size in bytes.
    #[arg(long, short = 's', value_name = "BYTES", default_value_t = 128)]
    pub size: usize,
    /// Producers, each its own client (own connection), sending concurrently.
    #[arg(long, short = 'p', value_name = "N", default_value_t = 1)]
    pub producers: usize,
    /// Messages per request (SEND_BATCH_MESSAGE when above 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub batch: usize,
    /// sync: await each answer; async: up to --inflight outstanding per producer; oneway.
    #[arg(long, value_enum, default_value_t = SendMode::Sync)]
    pub mode: SendMode,
    /// Outstanding requests per producer in async mode.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub inflight: usize,
    /// Target total rate in messages per second over all producers; 0 = as fast as possible.
    #[arg(long, value_name = "MSGS_PER_SEC", default_value_t = 0.0)]
    pub rate: f64,
}

impl SendArgs {
    fn validate(&self) -> Result<(), BenchError> {
        if self.size == 0 {
            return Err(invalid("--size must be positive"));
        }
        if self.producers == 0 || self.producers > 10_000 {
            return Err(invalid("--producers must be between 1 and 10000"));
        }
        if self.batch == 0 || self.batch > 10_000 {
            return Err(invalid("--batch must be between 1 and 10000"));
        }
        if self.inflight == 0 {
            return Err(invalid("--inflight must be positive"));
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err(invalid("--rate must be zero or positive"));
        }
        if self.mode == SendMode::Oneway && self.batch > 1 {
            return Err(invalid("--batch above 1 needs --mode sync or async"));
        }
        if self.size.saturating_mul(self.batch) > MAX_REQUEST_BODY {
            return Err(invalid(format!(
                "--size × --batch must be at most {MAX_REQUEST_BODY} bytes (the client's limit)"
            )));
        }
        Ok(())
    }
}

/// Where a consumer group without committed offsets starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    /// Only messages stored from now on.
    Last,
    /// Everything still stored (catch-up reading).
    First,
}

/// Options of the consuming side.
#[derive(Debug, Clone, Args)]
pub struct ConsumerArgs {
    /// Push consumers in the group (clustering: queues are divided among them).
    #[arg(long, short = 'c', value_name = "N", default_value_t = 1)]
    pub consumers: usize,
    /// Consumer group (default saturn_bench_consumer, or saturn_bench_e2e for e2e).
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
    /// Start position of a group with no committed offset.
    #[arg(long, value_enum, default_value_t = StartFrom::Last)]
    pub from: StartFrom,
    /// Messages per listener call.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub consume_batch: usize,
}

impl ConsumerArgs {
    fn validate(&self) -> Result<(), BenchError> {
        if self.consumers == 0 || self.consumers > 1_000 {
            return Err(invalid("--consumers must be between 1 and 1000"));
        }
        if self.group.as_deref() == Some("") {
            return Err(invalid("--group is empty"));
        }
        if self.consume_batch == 0 {
            return Err(invalid("--consume-batch must be positive"));
        }
        Ok(())
    }
}

fn invalid(msg: impl Into<String>) -> BenchError {
    BenchError::InvalidArgs(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> BenchKind {
        let mut v = vec!["bench"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap().bench.kind
    }

    #[test]
    fn issue_option_names_parse() {
        let k = parse(&[
            "produce",
            "--namesrv",
            "h:1",
            "--topic",
            "T",
            "--size",
            "1024",
            "--producers",
            "16",
            "--duration",
            "30",
            "--batch",
            "4",
            "--mode",
            "async",
            "--rate",
            "5000",
            "--json",
            "--queues",
            "8",
            "--warmup",
            "2",
            "--tag",
            "A",
        ]);
        let BenchKind::Produce(p) = &k else {
            panic!("not produce")
        };
        assert_eq!(p.send.size, 1024);
        assert_eq!(p.send.producers, 16);
        assert_eq!(p.send.mode, SendMode::Async);
        assert_eq!(p.common.run_for(), Some(Duration::from_secs(30)));
        assert_eq!(p.common.queues, Some(8));
        assert!(k.validate().is_ok());

        let k = parse(&[
            "consume",
            "--consumers",
            "2",
            "--group",
            "G",
            "--count",
            "5",
            "--from",
            "first",
        ]);
        let BenchKind::Consume(c) = &k else {
            panic!("not consume")
        };
        assert_eq!(c.consume.from, StartFrom::First);
        assert_eq!(c.common.run_for(), None, "count alone has no time limit");
        assert_eq!(parse(&["e2e"]).common().run_for(), Some(DEFAULT_DURATION));
    }

    #[test]
    fn bad_values_are_rejected() {
        for args in [
            &["produce", "--size", "0"][..],
            &["produce", "--producers", "0"],
            &["produce", "--rate=-1"],
            &["produce", "--duration", "0"],
            &["consume", "--count", "0"],
            &["e2e", "--size", "8"],
            &["produce", "--mode", "oneway", "--batch", "2"],
            &["produce", "--size", "1048576", "--batch", "5"],
        ] {
            assert!(parse(args).validate().is_err(), "{args:?}");
        }
    }
}
