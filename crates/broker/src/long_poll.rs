//! Long polling ([`LongPoll`]): a pull that finds nothing waits until a message lands in its
//! queue, its hold time passes, or the broker shuts down.
//!
//! Each (topic, queue) that has waiters owns a `tokio::sync::watch` counter. A pull subscribes
//! **before** it reads the store; the send path bumps the counter right after the append. So a
//! message that arrives between the read and the wait still marks the subscription changed and
//! the wait returns at once: no lost wake-ups, no polling.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A subscription to one queue's arrivals, taken before reading the store.
pub struct QueueWaiter {
    rx: watch::Receiver<u64>,
    shutdown: CancellationToken,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// Something was appended to the queue since the subscription (or the last wake-up).
    Arrived,
    /// The deadline passed.
    TimedOut,
    /// The broker is shutting down.
    Shutdown,
}

impl QueueWaiter {
    /// Waits for an arrival until `deadline`.
    pub async fn wait_until(&mut self, deadline: tokio::time::Instant) -> Woken {
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => Woken::Shutdown,
            changed = self.rx.changed() => match changed {
                Ok(()) => Woken::Arrived,
                // The sender went away (swept); treat as an arrival so the caller re-reads.
                Err(_) => Woken::Arrived,
            },
            () = tokio::time::sleep_until(deadline) => Woken::TimedOut,
        }
    }
}

/// The per-queue arrival signals.
pub struct LongPoll {
    queues: Mutex<HashMap<String, HashMap<i32, watch::Sender<u64>>>>,
    shutdown: CancellationToken,
}

impl LongPoll {
    /// Signals released when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Self {
        LongPoll {
            queues: Mutex::new(HashMap::new()),
            shutdown,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<i32, watch::Sender<u64>>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes to arrivals on the queue. Take it before reading the store.
    pub fn subscribe(&self, topic: &str, queue_id: i32) -> QueueWaiter {
        let mut q = self.lock();
        let per_topic = match q.get_mut(topic) {
            Some(t) => t,
            None => q.entry(topic.to_owned()).or_default(),
        };
        let rx = per_topic
            .entry(queue_id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        QueueWaiter {
            rx,
            shutdown: self.shutdown.clone(),
        }
    }

    /// Wakes the waiters of the queue (the send path calls it right after each append). No
    /// allocation and nearly free when nobody waits.
    pub fn notify(&self, topic: &str, queue_id: i32) {
        let q = self.lock();
        if let Some(tx) = q.get(topic).and_then(|t| t.get(&queue_id)) {
            if tx.receiver_count() > 0 {
                tx.send_modify(|v| *v = v.wrapping_add(1));
            }
        }
    }

    /// Drops the signals nobody waits on (run periodically).
    pub fn sweep(&self) {
        let mut q = self.lock();
        q.retain(|_, per_topic| {
            per_topic.retain(|_, tx| tx.receiver_count() > 0);
            !per_topic.is_empty()
        });
    }

    /// Number of queues with a signal (for tests and stats).
    pub fn tracked_queues(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }
}

/// Hold time of a pull: the client's `suspendTimeoutMillis` capped at `max` with long polling,
/// `short` without.
pub fn hold_time(
    requested_ms: i64,
    long_polling: bool,
    max: Duration,
    short: Duration,
) -> Duration {
    if !long_polling {
        return short;
    }
    let requested = Duration::from_millis(u64::try_from(requested_ms).unwrap_or(0));
    requested.min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test]
    async fn arrival_between_subscribe_and_wait_is_not_lost() {
        let lp = LongPoll::new(CancellationToken::new());
        let mut w = lp.subscribe("T", 0);
        // The "store read" would happen here; the message lands before we wait.
        lp.notify("T", 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(w.wait_until(deadline).await, Woken::Arrived);
        // Other queues do not wake it.
        lp.notify("T", 1);
        let soon = Instant::now() + Duration::from_millis(30);
        assert_eq!(w.wait_until(soon).await, Woken::TimedOut);
        drop(w);
        lp.sweep();
        assert_eq!(lp.tracked_queues(), 0);
    }

    #[tokio::test]
    async fn shutdown_releases_waiters() {
        let token = CancellationToken::new();
        let lp = LongPoll::new(token.clone());
        let mut w = lp.subscribe("T", 0);
        token.cancel();
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(w.wait_until(deadline).await, Woken::Shutdown);
    }

    #[test]
    fn hold_time_caps() {
        let max = Duration::from_secs(30);
        let short = Duration::from_secs(1);
        assert_eq!(hold_time(15_000, true, max, short), Duration::from_secs(15));
        assert_eq!(hold_time(60_000, true, max, short), max);
        assert_eq!(hold_time(-1, true, max, short), Duration::ZERO);
        assert_eq!(hold_time(15_000, false, max, short), short);
    }
}
