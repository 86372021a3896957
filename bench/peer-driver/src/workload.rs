//! The three workloads, written once for any [`PeerSystem`]:
//! - produce: `--producers` publishers, unpaced or at `--rate`; latency = publish (or its
//!   scheduled time when paced) to acknowledgement;
//! - consume: `--consumers` receivers of one group read the stream from its start until
//!   `--count` messages arrived or `--duration` is over; latency = store time to delivery;
//! - e2e: receivers of a fresh group start first, then publishers at `--rate` write the born
//!   time into each body; latency = born to delivery. After the publishers stop, the run waits
//!   (at most [`DRAIN_TIMEOUT`]) for the acknowledged messages still on their way.
//!
//! Warm-up and measured phase follow `saturn bench`: nothing published (scheduled) before the
//! end of the warm-up is counted, and a produce run counts only acknowledgements received
//! before the end of the measured phase.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::args::{Cli, Kind, Mode, Opts, STAMP_LEN};
use crate::error::DriverError;
use crate::pacing::Schedule;
use crate::stats::{spawn_live, wall_now_us, Summary, Tally};
use crate::system::{Delivery, PeerSystem, Publisher, Receiver, StartAt};

/// Longest wait after the e2e publishers stopped for messages still on their way.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed publish, so a dead server does not turn the loop into a busy spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Runs the workload chosen on the command line against `system`.
pub async fn run<S: PeerSystem>(system: S, cli: &Cli) -> Result<Summary, DriverError> {
    let system = Arc::new(system);
    match &cli.kind {
        Kind::Produce(o) => {
            o.validate(false)?;
            produce(&system, o).await
        }
        Kind::Consume(o) => {
            o.validate(false)?;
            consume(&system, o).await
        }
        Kind::E2e(o) => {
            o.validate(true)?;
            e2e(&system, o).await
        }
    }
}

/// The clock of a run: warm-up end, measured-phase end, and a wall-clock mapping so that
/// born times written in bodies and read back use one clock.
#[derive(Debug, Clone)]
struct Window {
    t0: Instant,
    measure_start: Instant,
    end: Option<Instant>,
    wall_t0_us: u64,
}

impl Window {
    fn new(opts: &Opts) -> Self {
        let t0 = Instant::now();
        let measure_start = t0 + opts.warmup();
        Self {
            t0,
            measure_start,
            end: opts.run_for().map(|d| measure_start + d),
            wall_t0_us: wall_now_us(),
        }
    }

    fn over(&self, now: Instant) -> bool {
        self.end.is_some_and(|e| now >= e)
    }

    /// `t` as wall-clock µs since the epoch.
    fn wall_us(&self, t: Instant) -> u64 {
        let since =
            u64::try_from(t.saturating_duration_since(self.t0).as_micros()).unwrap_or(u64::MAX);
        self.wall_t0_us.saturating_add(since)
    }
}

/// What the publishers of one run share.
struct SendPlan {
    window: Window,
    rate: f64,
    producers: usize,
    /// Outstanding publishes per publisher (1 = sync).
    limit: usize,
    size: usize,
    template: Bytes,
    /// e2e: the run id written after the born time.
    run_id: Option<u64>,
    /// Publishes still allowed by `--count`.
    budget: Option<AtomicU64>,
    /// Acknowledged publishes scheduled in the measured phase (e2e compares deliveries to it).
    acked: AtomicU64,
    /// Acknowledgements so far, for the live line.
    live: Arc<AtomicU64>,
}

impl SendPlan {
    fn new(opts: &Opts, run_id: Option<u64>) -> Self {
        Self {
            window: Window::new(opts),
            rate: opts.rate,
            producers: opts.producers,
            limit: match opts.mode {
                Mode::Sync => 1,
                Mode::Async => opts.inflight,
            },
            size: opts.size,
            template: Bytes::from(vec![b'x'; opts.size]),
            run_id,
            budget: opts.count.map(AtomicU64::new),
            acked: AtomicU64::new(0),
            live: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Takes one publish from the `--count` budget; false when it is used up.
    fn take(&self) -> bool {
        self.budget.as_ref().is_none_or(|b| {
            b.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1))
                .is_ok()
        })
    }

    /// The body of a publish scheduled at `at` (stamped with the born time in e2e).
    fn body(&self, at: Instant) -> Bytes {
        let Some(run_id) = self.run_id else {
            return self.template.clone();
        };
        let mut b = BytesMut::with_capacity(self.size);
        b.put_u64(self.window.wall_us(at));
        b.put_u64(run_id);
        b.extend_from_slice(self.template.get(STAMP_LEN..).unwrap_or_default());
        b.freeze()
    }

    /// Counts one finished publish scheduled at `at`.
    fn settle(&self, tally: &mut Tally, at: Instant, result: Result<(), DriverError>) {
        let done = Instant::now();
        let measured = at >= self.window.measure_start;
        match result {
            Ok(()) => {
                self.live.fetch_add(1, Ordering::Relaxed);
                if measured {
                    self.acked.fetch_add(1, Ordering::Relaxed);
                    if self.window.end.is_none_or(|e| done <= e) {
                        tally.record(micros(done.saturating_duration_since(at)), self.size);
                    }
                }
            }
            Err(e) if measured => tally.error(&e),
            Err(_) => {}
        }
    }
}

/// One publisher's loop: publish on schedule (or back to back), keep at most `limit`
/// acknowledgements outstanding, stop at the end of the measured phase or of the budget.
/// Returns its tally and the time of its last acknowledgement.
async fn publish_loop<P: Publisher>(
    mut publisher: P,
    index: usize,
    plan: Arc<SendPlan>,
) -> Result<(Tally, Instant), DriverError> {
    let schedule = Schedule::new(plan.window.t0, plan.rate, plan.producers, index);
    let mut tally = Tally::new()?;
    let mut pending = FuturesUnordered::new();
    let mut k = 0u64;
    loop {
        let at = match schedule.deadline(k) {
            Some(deadline) => {
                // Keep collecting acknowledgements while waiting, so their latency is taken
                // when they arrive, not when the next publish is due.
                let sleep = crate::timer::sleep_until(deadline);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        () = &mut sleep => break,
                        Some((at, r)) = pending.next(), if !pending.is_empty() => {
                            plan.settle(&mut tally, at, r);
                        }
                    }
                }
                deadline
            }
            None => Instant::now(),
        };
        if plan.window.over(at) || !plan.take() {
            break;
        }
        k += 1;
        match publisher.submit(plan.body(at)).await {
            Ok(ack) => pending.push(async move { (at, ack.await) }),
            Err(e) => {
                plan.settle(&mut tally, at, Err(e));
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
        while pending.len() >= plan.limit {
            if let Some((at, r)) = pending.next().await {
                plan.settle(&mut tally, at, r);
            }
        }
    }
    while let Some((at, r)) = pending.next().await {
        plan.settle(&mut tally, at, r);
    }
    Ok((tally, Instant::now()))
}

/// Connects `--producers` publishers (before the clock starts).
async fn connect_publishers<S: PeerSystem>(
    system: &S,
    opts: &Opts,
) -> Result<Vec<S::Pub>, DriverError> {
    let mut publishers = Vec::with_capacity(opts.producers);
    for _ in 0..opts.producers {
        publishers.push(system.publisher(&opts.topic).await?);
    }
    Ok(publishers)
}

/// Runs the publishers to the end; returns their merged tally and the last acknowledgement.
async fn run_publishers<P: Publisher>(
    publishers: Vec<P>,
    plan: &Arc<SendPlan>,
) -> Result<(Tally, Instant), DriverError> {
    let mut set = JoinSet::new();
    for (i, p) in publishers.into_iter().enumerate() {
        set.spawn(publish_loop(p, i, Arc::clone(plan)));
    }
    let mut total = Tally::new()?;
    let mut last = plan.window.measure_start;
    while let Some(joined) = set.join_next().await {
        let (tally, done) = joined.map_err(|e| DriverError::Task(e.to_string()))??;
        total.merge(&tally)?;
        last = last.max(done);
    }
    Ok((total, last))
}

/// Seconds of the measured phase: its fixed length, or up to `last` for a `--count` run.
fn measured_seconds(window: &Window, last: Instant) -> f64 {
    match window.end {
        Some(end) => end
            .saturating_duration_since(window.measure_start)
            .as_secs_f64(),
        None => last
            .saturating_duration_since(window.measure_start)
            .as_secs_f64(),
    }
}

fn send_fields(summary: &mut Summary, opts: &Opts) {
    summary.set("topic", json!(opts.topic));
    summary.set("size", json!(opts.size));
    summary.set("producers", json!(opts.producers));
    summary.set("mode", json!(format!("{:?}", opts.mode).to_lowercase()));
    if opts.mode == Mode::Async {
        summary.set("inflight", json!(opts.inflight));
    }
    summary.set("rate", json!(opts.rate));
}

async fn produce<S: PeerSystem>(system: &Arc<S>, opts: &Opts) -> Result<Summary, DriverError> {
    system.ensure_stream(&opts.topic).await?;
    let publishers = connect_publishers(system.as_ref(), opts).await?;
    let plan = Arc::new(SendPlan::new(opts, None));
    let live = (!opts.quiet).then(|| spawn_live("acked", Arc::clone(&plan.live), plan.window.t0));
    let result = run_publishers(publishers, &plan).await;
    if let Some(l) = live {
        l.abort();
    }
    let (total, last) = result?;
    let mut summary = Summary::new(
        "produce",
        system.name(),
        "send",
        &total,
        measured_seconds(&plan.window, last),
    );
    send_fields(&mut summary, opts);
    Ok(summary)
}

/// Where a delivery's latency is measured from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The server's store time.
    StoreTime,
    /// The born time stamped in the body by this run (other bodies are ignored).
    Stamp { run_id: u64 },
}

/// What the receivers of one run share.
struct Receiving {
    window: Window,
    origin: Origin,
    /// Stop once this many were received (consume).
    count: Option<u64>,
    /// Stop at the end of the measured phase (consume); e2e stops on `stop` after the drain.
    stop_at_end: bool,
    received: AtomicU64,
    stop: AtomicBool,
    stopped_at: Mutex<Option<Instant>>,
    live: Arc<AtomicU64>,
}

impl Receiving {
    fn stop(&self, at: Instant) {
        if !self.stop.swap(true, Ordering::AcqRel) {
            let mut s = self.stopped_at.lock().unwrap_or_else(|e| e.into_inner());
            *s = Some(at);
        }
    }

    fn stopped_at(&self) -> Option<Instant> {
        *self.stopped_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a batch of deliveries received at `now`.
    fn count_batch(&self, tally: &mut Tally, batch: &[Delivery], now: Instant) {
        let measuring = now >= self.window.measure_start;
        let mut counted = 0u64;
        match self.origin {
            Origin::StoreTime => {
                if measuring {
                    let now_us = wall_now_us();
                    for d in batch {
                        tally.record(now_us.saturating_sub(d.stored_us), d.body.len());
                        counted += 1;
                    }
                }
            }
            Origin::Stamp { run_id } => {
                // Messages born in the warm-up (or by another run) are left out.
                let floor = self.window.wall_us(self.window.measure_start);
                let now_us = self.window.wall_us(now);
                for d in batch {
                    if let Some((born, id)) = read_stamp(&d.body) {
                        if id == run_id && born >= floor {
                            tally.record(now_us.saturating_sub(born), d.body.len());
                            counted += 1;
                        }
                    }
                }
            }
        }
        self.live.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let total = self.received.fetch_add(counted, Ordering::AcqRel) + counted;
        if self.count.is_some_and(|c| total >= c) {
            self.stop(now);
        }
    }
}

/// The born time and run id of a stamped body.
fn read_stamp(body: &[u8]) -> Option<(u64, u64)> {
    let born = u64::from_be_bytes(body.get(0..8)?.try_into().ok()?);
    let run = u64::from_be_bytes(body.get(8..16)?.try_into().ok()?);
    Some((born, run))
}

/// One receiver's loop, until the run stops.
async fn receive_loop<R: Receiver>(
    mut receiver: R,
    shared: Arc<Receiving>,
    fetch: usize,
) -> Result<Tally, DriverError> {
    let mut tally = Tally::new()?;
    let mut batch = Vec::with_capacity(fetch);
    while !shared.stop.load(Ordering::Acquire) {
        batch.clear();
        receiver.receive(&mut batch).await?;
        let now = Instant::now();
        if shared.stop_at_end && shared.window.over(now) {
            shared.stop(shared.window.end.unwrap_or(now));
            break;
        }
        if !batch.is_empty() {
            shared.count_batch(&mut tally, &batch, now);
        }
    }
    Ok(tally)
}

/// Connects `--consumers` receivers of `group` (before the clock starts).
async fn connect_receivers<S: PeerSystem>(
    system: &S,
    opts: &Opts,
    group: &str,
) -> Result<Vec<S::Recv>, DriverError> {
    let mut receivers = Vec::with_capacity(opts.consumers);
    for i in 0..opts.consumers {
        receivers.push(system.receiver(&opts.topic, group, i, opts.fetch).await?);
    }
    Ok(receivers)
}

/// Starts the receivers' loops.
fn spawn_receivers<R: Receiver>(
    receivers: Vec<R>,
    shared: &Arc<Receiving>,
    fetch: usize,
) -> JoinSet<Result<Tally, DriverError>> {
    let mut set = JoinSet::new();
    for r in receivers {
        set.spawn(receive_loop(r, Arc::clone(shared), fetch));
    }
    set
}

async fn join_receivers(
    mut set: JoinSet<Result<Tally, DriverError>>,
) -> Result<Tally, DriverError> {
    let mut total = Tally::new()?;
    while let Some(joined) = set.join_next().await {
        total.merge(&joined.map_err(|e| DriverError::Task(e.to_string()))??)?;
    }
    Ok(total)
}

async fn consume<S: PeerSystem>(system: &Arc<S>, opts: &Opts) -> Result<Summary, DriverError> {
    system
        .ensure_group(&opts.topic, &opts.group, StartAt::First)
        .await?;
    let shared = Arc::new(Receiving {
        // The clock starts before the receivers: catch-up begins as soon as one is connected.
        window: Window::new(opts),
        origin: Origin::StoreTime,
        count: opts.count,
        stop_at_end: true,
        received: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        stopped_at: Mutex::new(None),
        live: Arc::new(AtomicU64::new(0)),
    });
    let live =
        (!opts.quiet).then(|| spawn_live("recv", Arc::clone(&shared.live), shared.window.t0));
    // Each receiver starts reading as soon as it is connected: connecting is part of catch-up.
    let mut set = JoinSet::new();
    let mut failed = None;
    for i in 0..opts.consumers {
        match system
            .receiver(&opts.topic, &opts.group, i, opts.fetch)
            .await
        {
            Ok(r) => {
                set.spawn(receive_loop(r, Arc::clone(&shared), opts.fetch));
            }
            Err(e) => {
                shared.stop(Instant::now());
                failed = Some(e);
                break;
            }
        }
    }
    let result = join_receivers(set).await;
    let result = match failed {
        Some(e) => Err(e),
        None => result,
    };
    if let Some(l) = live {
        l.abort();
    }
    let total = result?;
    let end = shared.stopped_at().unwrap_or_else(Instant::now);
    let seconds = end
        .saturating_duration_since(shared.window.measure_start)
        .as_secs_f64();
    let mut summary = Summary::new(
        "consume",
        system.name(),
        "store_to_delivery",
        &total,
        seconds,
    );
    summary.set("topic", json!(opts.topic));
    summary.set("consumers", json!(opts.consumers));
    summary.set("group", json!(opts.group));
    Ok(summary)
}

async fn e2e<S: PeerSystem>(system: &Arc<S>, opts: &Opts) -> Result<Summary, DriverError> {
    // A fresh group per run, so it starts at the stream's end and sees only this run.
    let run_id = wall_now_us() ^ u64::from(std::process::id()).rotate_left(40);
    let group = format!("{}_{run_id:x}", opts.group);
    system.ensure_stream(&opts.topic).await?;
    system
        .ensure_group(&opts.topic, &group, StartAt::New)
        .await?;
    // Everyone connects before the clock starts; the group already exists, so nothing
    // published from now on can be missed.
    let receivers = connect_receivers(system.as_ref(), opts, &group).await?;
    let publishers = connect_publishers(system.as_ref(), opts).await?;
    let plan = Arc::new(SendPlan::new(opts, Some(run_id)));
    let live = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Receiving {
        // The receivers judge "born in the measured phase" with the publishers' clock.
        window: plan.window.clone(),
        origin: Origin::Stamp { run_id },
        count: None,
        stop_at_end: false,
        received: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        stopped_at: Mutex::new(None),
        live: Arc::clone(&live),
    });
    let receivers = spawn_receivers(receivers, &shared, opts.fetch);
    let ticker = (!opts.quiet).then(|| spawn_live("recv", Arc::clone(&live), plan.window.t0));
    let sent = run_publishers(publishers, &plan).await;
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while shared.received.load(Ordering::Acquire) < plan.acked.load(Ordering::Acquire)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = Instant::now();
    shared.stop(drained);
    let received = join_receivers(receivers).await;
    if let Some(t) = ticker {
        t.abort();
    }
    let (send_tally, _) = sent?;
    let recv_tally = received?;
    let seconds = drained
        .saturating_duration_since(plan.window.measure_start)
        .as_secs_f64();
    let acked = plan.acked.load(Ordering::Acquire);
    let mut summary = Summary::new(
        "e2e",
        system.name(),
        "born_to_delivery",
        &recv_tally,
        seconds,
    );
    send_fields(&mut summary, opts);
    summary.set("errors", json!(send_tally.errors));
    summary.set("consumers", json!(opts.consumers));
    summary.set("group", json!(group));
    summary.set("sent", json!(acked));
    summary.set("send_latency_us", send_tally.percentiles());
    summary.set("lost", json!(acked.saturating_sub(recv_tally.messages)));
    if let Some(e) = &send_tally.first_error {
        summary.set("first_error", json!(e));
    }
    Ok(summary)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_bodies_keep_their_size_and_read_back() {
        let plan = SendPlan {
            window: Window {
                t0: Instant::now(),
                measure_start: Instant::now(),
                end: None,
                wall_t0_us: 1_000,
            },
            rate: 0.0,
            producers: 1,
            limit: 1,
            size: 100,
            template: Bytes::from(vec![b'x'; 100]),
            run_id: Some(7),
            budget: Some(AtomicU64::new(2)),
            acked: AtomicU64::new(0),
            live: Arc::new(AtomicU64::new(0)),
        };
        let body = plan.body(plan.window.t0);
        assert_eq!(body.len(), 100);
        assert_eq!(read_stamp(&body), Some((1_000, 7)));
        assert!(plan.take() && plan.take() && !plan.take(), "budget of 2");
        assert_eq!(read_stamp(b"short"), None);
    }
}
