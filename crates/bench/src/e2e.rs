//! `saturn bench e2e`: producers and consumers on one topic at once; latency is born-to-
//! delivery, from the time the send was scheduled to the listener call that receives it.
//!
//! The first [`E2E_HEADER_LEN`] bytes of every body carry the born time (wall clock, µs since
//! the epoch, big-endian u64 — better resolution than the message's millisecond
//! `born_timestamp`) and an id of this run, so messages left over from earlier runs in the
//! same group are ignored. Producers and consumers run in this process, so both ends read the
//! same clock.
//!
//! Order: the topic is created if missing (4 queues per broker, or `--queues`), consumers start
//! and wait until they own all queues, then the producers start. After the producers stop,
//! the run waits (at most [`DRAIN_TIMEOUT`]) until every acknowledged message of the measured
//! phase was delivered; the ones still missing are reported as `lost`.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::time::Instant;

use crate::args::{E2eArgs, DEFAULT_E2E_GROUP, E2E_HEADER_LEN};
use crate::consume::{self, Origin, Receiving};
use crate::control::{wall_now_us, RunState, Stop};
use crate::error::BenchError;
use crate::produce::{self, SendPlan};
use crate::report::{Monitor, Summary};
use crate::setup::{self, TopicNeed};
use crate::stats::Recorder;

/// Longest wait, after the producers stopped, for messages still on their way.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Queues per broker of a topic e2e creates.
const DEFAULT_QUEUES: u32 = 4;
/// Poll period of the drain.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// A copy of `template` with the born time and run id in its first 16 bytes.
pub fn stamp(template: &Bytes, born_us: u64, run_id: u64) -> Bytes {
    let mut b = BytesMut::with_capacity(template.len().max(E2E_HEADER_LEN));
    b.put_u64(born_us);
    b.put_u64(run_id);
    if let Some(rest) = template.get(E2E_HEADER_LEN..) {
        b.extend_from_slice(rest);
    }
    b.freeze()
}

/// The born time and run id of a stamped body, `None` if it is too short.
pub fn read_stamp(body: &[u8]) -> Option<(u64, u64)> {
    let born = body.get(0..8)?.try_into().ok().map(u64::from_be_bytes)?;
    let run = body.get(8..16)?.try_into().ok().map(u64::from_be_bytes)?;
    Some((born, run))
}

/// An id unlikely to repeat across runs: wall-clock µs mixed with the process id.
fn new_run_id() -> u64 {
    wall_now_us() ^ (u64::from(std::process::id()).rotate_left(40))
}

/// Runs the e2e benchmark.
///
/// # Errors
/// When the topic cannot be prepared or a client cannot start.
pub async fn run(args: &E2eArgs, run: Arc<RunState>) -> Result<Summary, BenchError> {
    let common = &args.common;
    let group = args.consume.group.as_deref().unwrap_or(DEFAULT_E2E_GROUP);
    let queues = setup::prepare_topic(common, TopicNeed::CreateIfMissing(DEFAULT_QUEUES)).await?;
    let run_id = new_run_id();
    let send_rec = Arc::new(Recorder::new());
    let recv_rec = Arc::new(Recorder::new());
    // Consumers count until the drain is over, not until the producers stop.
    let recv_stop = Arc::new(Stop::default());
    let receiving = Arc::new(Receiving::new(
        Arc::clone(&run),
        Arc::clone(&recv_stop),
        Origin::BodyStamp { run_id },
        None,
        Arc::clone(&recv_rec),
    ));
    let consumers = consume::start_consumers(common, &args.consume, group, &receiving).await?;
    if let Some(total) = queues {
        setup::wait_for_assignment(&consumers, &common.topic, total).await;
    }
    let producers = match produce::start_producers(common, &args.send).await {
        Ok(p) => p,
        Err(e) => {
            consume::shutdown(&consumers).await;
            return Err(e);
        }
    };
    let plan = Arc::new(SendPlan::new(
        common,
        &args.send,
        Arc::clone(&run),
        Arc::clone(&send_rec),
        Some(run_id),
    ));
    let meters = vec![
        ("send", Arc::clone(&send_rec)),
        ("recv", Arc::clone(&recv_rec)),
    ];
    let mut monitor = Monitor::new(Arc::clone(&run), meters, common)?;
    let t0 = monitor.begin();
    let handles = produce::spawn_loops(producers, &plan, t0)?;
    let mut joined = (Vec::new(), None);
    let measured = monitor
        .run_until(async {
            joined = produce::join_loops(handles).await;
            let deadline = Instant::now() + DRAIN_TIMEOUT;
            while receiving.received() < plan.acked() && Instant::now() < deadline {
                tokio::time::sleep(DRAIN_POLL).await;
            }
            recv_stop.stop();
            Instant::now()
        })
        .await;
    recv_stop.stop();
    let (producers, failure) = joined;
    produce::shutdown(&producers).await;
    consume::shutdown(&consumers).await;
    let measured = measured?;
    if let Some(f) = failure {
        return Err(BenchError::Task(f));
    }
    let (Some(sent), Some(recv)) = (measured.totals.first(), measured.totals.get(1)) else {
        return Err(BenchError::Task("missing e2e totals".into()));
    };
    let acked = plan.acked();
    let mut summary = Summary::new(
        "e2e",
        "born_to_delivery",
        recv,
        measured.seconds,
        &common.topic,
    )
    .with_send(&args.send)
    .with_consumers(&args.consume, group);
    summary.errors = sent.errors;
    summary.sent = Some(acked);
    summary.send_latency_us = Some(sent.percentiles());
    summary.lost = Some(acked.saturating_sub(receiving.received()));
    summary.first_error = send_rec.first_error();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_and_keeps_size() {
        let template = Bytes::from(vec![b'x'; 100]);
        let b = stamp(&template, 1_700_000_000_123_456, 42);
        assert_eq!(b.len(), 100);
        assert_eq!(read_stamp(&b), Some((1_700_000_000_123_456, 42)));
        assert_eq!(&b[16..], &template[16..]);
        assert_eq!(read_stamp(b"short"), None);
    }
}
