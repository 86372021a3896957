//! The store's periodic threads besides the flusher: maintenance (consume-queue and index
//! flushes with the checkpoint, retention) and, in sync-flush mode, the expiry of durability
//! callbacks whose timeout passed. Both sleep on one [`Stop`] signal that `close` raises.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::store::{now_ms, Inner};

/// How often sync-flush callbacks are checked for their timeout: they fail at most this late.
const FLUSH_EXPIRY_SWEEP: Duration = Duration::from_millis(100);

/// Stop signal of the periodic threads.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// Raises the signal and wakes every sleeper.
    pub(crate) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Sleeps until `deadline` or the signal; `true` once the signal is raised.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .cv
                .wait_timeout(stopped, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

/// Fails overdue durability callbacks until the store stops. A thread of its own that does no
/// I/O: the flusher and the maintenance thread may both be stuck in a stalled device, which is
/// exactly when the timeout matters.
pub(crate) fn expiry_loop(inner: &Inner, stop: &Stop) {
    while !stop.sleep_until(Instant::now() + FLUSH_EXPIRY_SWEEP) {
        inner.flush.expire_overdue(Instant::now());
    }
}

/// Flushes consume queues and index with the checkpoint, and runs retention, each on its
/// interval, until the store stops.
pub(crate) fn maintenance_loop(inner: &Inner, stop: &Stop) {
    let cq_every = Duration::from_millis(inner.config.flush_consume_queue_interval_ms);
    let retention_every = Duration::from_millis(inner.config.retention_interval_ms);
    let mut next_cq = Instant::now() + cq_every;
    let mut next_retention = Instant::now() + retention_every;
    while !stop.sleep_until(next_cq.min(next_retention)) {
        let now = Instant::now();
        if now >= next_cq {
            next_cq = now + cq_every;
            if inner.flush.check().is_ok() {
                if let Err(e) = inner.checkpoint_now(false) {
                    tracing::error!(error = %e, "consume-queue/index flush or checkpoint failed");
                }
            }
        }
        if now >= next_retention {
            next_retention = now + retention_every;
            if let Err(e) = inner.run_retention(now_ms()) {
                tracing::error!(error = %e, "retention pass failed");
            }
        }
    }
}
