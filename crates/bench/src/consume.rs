//! The receiving side (`saturn bench consume`, and the consumers of e2e).
//!
//! `--consumers` push consumers, each its own client, join one group in clustering mode, so
//! the broker's queues are divided among them. The listener counts messages and body bytes
//! and records one latency per message into its consumer's [`Shard`] (one lock per listener
//! call, which gets up to `--consume-batch` messages):
//! - consume: store-to-delivery, `now − store_timestamp`; the broker stores milliseconds, so
//!   the values have 1 ms resolution (and only mean something when the broker's clock is this
//!   machine's, or synchronised with it);
//! - e2e: born-to-delivery, `now − born time` written in the body by our own producer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use saturn_client::{
    ConsumeFrom, ConsumeResult, MessageExt, MessageListener, PushConsumer, PushConsumerConfig,
};
use tokio::time::Instant;

use crate::args::{CommonArgs, ConsumeArgs, ConsumerArgs, StartFrom, DEFAULT_CONSUME_GROUP};
use crate::control::{wall_now_us, RunState, Stop};
use crate::error::BenchError;
use crate::report::{Monitor, Summary};
use crate::setup::{self, TopicNeed};
use crate::stats::{Recorder, Shard};

/// Where a message's latency is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The broker's store timestamp (ms).
    StoreTime,
    /// The born time in the body of a message of e2e run `run_id`; other messages are ignored.
    BodyStamp {
        /// Id of the run whose messages count.
        run_id: u64,
    },
}

/// What the listeners of one run share.
pub struct Receiving {
    run: Arc<RunState>,
    /// Listeners stop counting once this is raised.
    stop: Arc<Stop>,
    origin: Origin,
    /// Raise `stop` once this many messages were received in the measured phase.
    count: Option<u64>,
    /// Messages received in the measured phase.
    received: AtomicU64,
    recorder: Arc<Recorder>,
}

impl Receiving {
    /// Shared listener state.
    pub fn new(
        run: Arc<RunState>,
        stop: Arc<Stop>,
        origin: Origin,
        count: Option<u64>,
        recorder: Arc<Recorder>,
    ) -> Self {
        Self {
            run,
            stop,
            origin,
            count,
            received: AtomicU64::new(0),
            recorder,
        }
    }

    /// Messages received in the measured phase.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }
}

/// One consumer's listener.
struct Listener {
    shared: Arc<Receiving>,
    shard: Arc<Shard>,
}

impl MessageListener for Listener {
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult {
        let s = &self.shared;
        if s.stop.is_stopped() {
            return ConsumeResult::Success;
        }
        let measuring = s.run.measuring();
        // e2e: messages born in the warm-up are left out of the measured phase.
        let floor = s.run.measure_start().map(|t| s.run.wall_us(t));
        let now = wall_now_us();
        let counted = self.shard.with(|t| {
            let mut counted = 0u64;
            for m in msgs {
                let born = match s.origin {
                    Origin::StoreTime => u64::try_from(m.store_timestamp)
                        .unwrap_or(0)
                        .saturating_mul(1000),
                    Origin::BodyStamp { run_id } => match crate::e2e::read_stamp(&m.body) {
                        Some((born, id)) if id == run_id && floor.is_none_or(|f| born >= f) => born,
                        _ => continue,
                    },
                };
                let bytes = u64::try_from(m.body.len()).unwrap_or(u64::MAX);
                t.record(now.saturating_sub(born), 1, bytes);
                counted += 1;
            }
            counted
        });
        if measuring {
            let total = s.received.fetch_add(counted, Ordering::AcqRel) + counted;
            if s.count.is_some_and(|c| total >= c) {
                s.stop.stop();
            }
        }
        ConsumeResult::Success
    }
}

/// Starts `--consumers` push consumers of `group`, each with its own client and listener.
///
/// # Errors
/// [`BenchError::Client`] when a consumer cannot start (those already started are shut down).
pub async fn start_consumers(
    common: &CommonArgs,
    consume: &ConsumerArgs,
    group: &str,
    shared: &Arc<Receiving>,
) -> Result<Vec<PushConsumer>, BenchError> {
    let mut consumers = Vec::with_capacity(consume.consumers);
    for i in 0..consume.consumers {
        let config = PushConsumerConfig {
            consume_from: match consume.from {
                StartFrom::Last => ConsumeFrom::Last,
                StartFrom::First => ConsumeFrom::First,
            },
            batch_size: consume.consume_batch,
            // Counting and recording take microseconds and never block.
            blocking_listener: false,
            ..PushConsumerConfig::new(&common.namesrv, group, &common.topic, common.expression())
        };
        let listener = Arc::new(Listener {
            shared: Arc::clone(shared),
            shard: shared.recorder.shard()?,
        });
        match PushConsumer::start(config, listener).await {
            Ok(c) => consumers.push(c),
            Err(e) => {
                shutdown(&consumers).await;
                return Err(BenchError::client(format!("start consumer {i}"), e));
            }
        }
    }
    Ok(consumers)
}

/// Shuts consumers down (commits offsets, leaves the group).
pub async fn shutdown(consumers: &[PushConsumer]) {
    for c in consumers {
        c.shutdown().await;
    }
}

/// `saturn bench consume`: runs until `--duration` is over or `--count` messages arrived.
///
/// # Errors
/// When the topic does not exist or a consumer cannot start.
pub async fn run(args: &ConsumeArgs, run: Arc<RunState>) -> Result<Summary, BenchError> {
    let common = &args.common;
    let group = args
        .consume
        .group
        .as_deref()
        .unwrap_or(DEFAULT_CONSUME_GROUP);
    setup::prepare_topic(common, TopicNeed::MustExist).await?;
    let recorder = Arc::new(Recorder::new());
    let shared = Arc::new(Receiving::new(
        Arc::clone(&run),
        Arc::clone(&run.stop),
        Origin::StoreTime,
        common.count,
        Arc::clone(&recorder),
    ));
    let mut monitor = Monitor::new(
        Arc::clone(&run),
        vec![("recv", Arc::clone(&recorder))],
        common,
    )?;
    // The clock starts before the consumers: catch-up reading begins as soon as one starts.
    monitor.begin();
    let consumers = start_consumers(common, &args.consume, group, &shared).await?;
    let stop = Arc::clone(&run.stop);
    let measured = monitor
        .run_until(async move {
            stop.stopped().await;
            stop.stopped_at().unwrap_or_else(Instant::now)
        })
        .await;
    shutdown(&consumers).await;
    let measured = measured?;
    let total = measured
        .totals
        .first()
        .ok_or_else(|| BenchError::Task("no receive totals".into()))?;
    let mut summary = Summary::new(
        "consume",
        "store_to_delivery",
        total,
        measured.seconds,
        &common.topic,
    )
    .with_consumers(&args.consume, group);
    summary.first_error = recorder.first_error();
    Ok(summary)
}
