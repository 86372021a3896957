//! The sending side (`saturn bench produce`, and the producers of e2e).
//!
//! Each of `--producers` tasks owns its own [`Producer`] (own client instance, so its own
//! connection to each broker, like separate producer processes or threads with separate
//! clients in Java's tools). Per mode:
//! - `sync`: send, await the answer, send the next one;
//! - `async`: up to `--inflight` sends outstanding per producer, each a spawned task (the
//!   client's async send is "spawn the send future");
//! - `oneway`: the request is queued on the connection, no answer; latency = time to queue.
//!
//! One latency sample per request (a batch of `--batch` messages is one request), measured
//! from the pacer's scheduled time when `--rate` is set (see [`crate::pacing`]), else from
//! just before the send. Bodies are not compressed (`compress_over = 0`) so large bodies cost
//! the broker what their size says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use saturn_client::{ClientError, Message, Producer, ProducerConfig};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::args::{CommonArgs, ProduceArgs, SendArgs, SendMode, PRODUCER_GROUP};
use crate::control::RunState;
use crate::error::BenchError;
use crate::pacing::{self, Pacer};
use crate::report::{Monitor, Summary};
use crate::setup::{self, TopicNeed};
use crate::stats::{Recorder, Shard};

/// Pause of an unpaced producer after a failed send, so a dead broker is not spun on.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// What every producer loop needs.
pub struct SendPlan {
    run: Arc<RunState>,
    recorder: Arc<Recorder>,
    topic: String,
    tag: Option<String>,
    mode: SendMode,
    batch: u64,
    inflight: usize,
    rate: f64,
    size: u64,
    body: Bytes,
    /// e2e: bodies start with the born time and this run id.
    e2e_run: Option<u64>,
    /// Messages acknowledged whose scheduled time is in the measured phase.
    acked: AtomicU64,
}

impl SendPlan {
    /// A plan for the given options; `e2e_run` stamps bodies for end-to-end latency.
    pub fn new(
        common: &CommonArgs,
        send: &SendArgs,
        run: Arc<RunState>,
        recorder: Arc<Recorder>,
        e2e_run: Option<u64>,
    ) -> Self {
        Self {
            run,
            recorder,
            topic: common.topic.clone(),
            tag: common.tag.clone(),
            mode: send.mode,
            batch: u64::try_from(send.batch).unwrap_or(1),
            inflight: send.inflight,
            rate: send.rate,
            size: u64::try_from(send.size).unwrap_or(u64::MAX),
            body: body_of(send.size),
            e2e_run,
            acked: AtomicU64::new(0),
        }
    }

    /// Acknowledged messages scheduled in the measured phase.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    fn messages(&self, n: u64, scheduled: Instant) -> Vec<Message> {
        (0..n)
            .map(|_| {
                let body = match self.e2e_run {
                    Some(id) => crate::e2e::stamp(&self.body, self.run.wall_us(scheduled), id),
                    None => self.body.clone(),
                };
                Message {
                    topic: self.topic.clone(),
                    tags: self.tag.clone(),
                    body,
                    ..Message::default()
                }
            })
            .collect()
    }

    /// Records the outcome of one request of `n` messages; true if it failed.
    fn settle(
        &self,
        shard: &Shard,
        r: Result<(), ClientError>,
        n: u64,
        scheduled: Instant,
    ) -> bool {
        match r {
            Ok(()) => {
                let us = u64::try_from(scheduled.elapsed().as_micros()).unwrap_or(u64::MAX);
                shard.record(us, n, n.saturating_mul(self.size));
                if self.run.measure_start().is_some_and(|s| scheduled >= s) {
                    self.acked.fetch_add(n, Ordering::AcqRel);
                }
                false
            }
            Err(e) => {
                shard.fail(n);
                self.recorder.note_error(&e);
                debug!(error = %e, "send failed");
                true
            }
        }
    }
}

/// A body of `size` printable bytes.
fn body_of(size: usize) -> Bytes {
    (0..size)
        .map(|i| b'a' + u8::try_from(i % 26).unwrap_or(0))
        .collect::<Vec<u8>>()
        .into()
}

/// Starts `--producers` producers, each with its own client, and looks up the topic's route
/// with each so the first measured send does not pay for it.
///
/// # Errors
/// [`BenchError::Client`] when a producer cannot start.
pub async fn start_producers(
    common: &CommonArgs,
    send: &SendArgs,
) -> Result<Vec<Producer>, BenchError> {
    let mut producers = Vec::with_capacity(send.producers);
    for i in 0..send.producers {
        let config = ProducerConfig {
            compress_over: 0,
            ..ProducerConfig::new(&common.namesrv, PRODUCER_GROUP)
        };
        let p = match Producer::start(config).await {
            Ok(p) => p,
            Err(e) => {
                shutdown(&producers).await;
                return Err(BenchError::client(format!("start producer {i}"), e));
            }
        };
        if let Err(e) = p.write_queues(&common.topic).await {
            warn!(topic = %common.topic, error = %e, "route lookup before the run failed");
        }
        producers.push(p);
    }
    Ok(producers)
}

/// Shuts producers down (unregisters them from the brokers).
pub async fn shutdown(producers: &[Producer]) {
    for p in producers {
        p.shutdown().await;
    }
}

/// Starts one send loop per producer; each returns its producer when done.
///
/// # Errors
/// As [`Recorder::shard`].
pub fn spawn_loops(
    producers: Vec<Producer>,
    plan: &Arc<SendPlan>,
    t0: Instant,
) -> Result<Vec<JoinHandle<Producer>>, BenchError> {
    let n = producers.len();
    let mut handles = Vec::with_capacity(n);
    for (i, p) in producers.into_iter().enumerate() {
        let shard = plan.recorder.shard()?;
        let batch = usize::try_from(plan.batch).unwrap_or(1);
        let pacer = Pacer::new(t0, plan.rate, n, i, batch);
        handles.push(tokio::spawn(send_loop(p, Arc::clone(plan), shard, pacer)));
    }
    Ok(handles)
}

/// Waits for the send loops; returns their producers and whether any task failed.
pub async fn join_loops(handles: Vec<JoinHandle<Producer>>) -> (Vec<Producer>, Option<String>) {
    let mut producers = Vec::with_capacity(handles.len());
    let mut failure = None;
    for h in handles {
        match h.await {
            Ok(p) => producers.push(p),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    (producers, failure)
}

async fn send_loop(
    producer: Producer,
    plan: Arc<SendPlan>,
    shard: Arc<Shard>,
    mut pacer: Pacer,
) -> Producer {
    let run = Arc::clone(&plan.run);
    let mut inflight: JoinSet<()> = JoinSet::new();
    loop {
        if run.should_stop(pacer.is_paced()) {
            break;
        }
        // The end of a timed run is checked against the schedule, not the wake-up time, so a
        // paced run sends exactly rate × duration.
        let scheduled = match pacer.next_deadline() {
            Some(deadline) if run.past_end(deadline) => break,
            // A deadline still ahead is before the end, so a stop meanwhile is an early one.
            Some(deadline) => tokio::select! {
                biased;
                t = pacing::wait_for(deadline) => t,
                () = run.stop.stopped() => break,
            },
            None => Instant::now(),
        };
        let n = run.claim(plan.batch);
        if n == 0 {
            break;
        }
        let msgs = plan.messages(n, scheduled);
        if plan.mode == SendMode::Async {
            while inflight.len() >= plan.inflight {
                if inflight.join_next().await.is_none() {
                    break;
                }
            }
            while inflight.try_join_next().is_some() {}
            let (p, pl, sh) = (producer.clone(), Arc::clone(&plan), Arc::clone(&shard));
            inflight.spawn(async move {
                let r = send(&p, pl.mode, msgs).await;
                pl.settle(&sh, r, n, scheduled);
            });
        } else {
            let r = send(&producer, plan.mode, msgs).await;
            if plan.settle(&shard, r, n, scheduled) && !pacer.is_paced() {
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
    while inflight.join_next().await.is_some() {}
    producer
}

/// One request: a single message (sync or oneway) or a batch.
async fn send(p: &Producer, mode: SendMode, mut msgs: Vec<Message>) -> Result<(), ClientError> {
    if msgs.len() > 1 {
        return p.send_batch(msgs).await.map(drop);
    }
    let Some(msg) = msgs.pop() else {
        return Ok(());
    };
    match mode {
        SendMode::Oneway => p.send_oneway(msg).await,
        SendMode::Sync | SendMode::Async => p.send(msg).await.map(drop),
    }
}

/// `saturn bench produce`.
///
/// # Errors
/// When the topic cannot be prepared, a producer cannot start or a task fails.
pub async fn run(args: &ProduceArgs, run: Arc<RunState>) -> Result<Summary, BenchError> {
    let common = &args.common;
    setup::prepare_topic(common, TopicNeed::AutoCreate).await?;
    let recorder = Arc::new(Recorder::new());
    let producers = start_producers(common, &args.send).await?;
    let plan = Arc::new(SendPlan::new(
        common,
        &args.send,
        Arc::clone(&run),
        Arc::clone(&recorder),
        None,
    ));
    let mut monitor = Monitor::new(
        Arc::clone(&run),
        vec![("send", Arc::clone(&recorder))],
        common,
    )?;
    let t0 = monitor.begin();
    let handles = spawn_loops(producers, &plan, t0)?;
    let mut joined = (Vec::new(), None);
    let measured = monitor
        .run_until(async {
            joined = join_loops(handles).await;
            Instant::now()
        })
        .await?;
    let (producers, failure) = joined;
    shutdown(&producers).await;
    if let Some(f) = failure {
        return Err(BenchError::Task(f));
    }
    let total = measured
        .totals
        .first()
        .ok_or_else(|| BenchError::Task("no send totals".into()))?;
    let mut summary = Summary::new("produce", "send", total, measured.seconds, &common.topic)
        .with_send(&args.send);
    summary.first_error = recorder.first_error();
    Ok(summary)
}
