//! [`sleep_until`]: a sleep with sub-millisecond resolution for paced sends.
//!
//! tokio's timer wheel has a 1 ms resolution, so every producer whose deadline falls within the
//! same millisecond wakes at the same tick. A paced run at 35k msg/s over 16 producers then sends
//! bursts of ~35 requests every millisecond instead of one every 29 µs, and the latency measured
//! "at a fixed load" is mostly the queueing of those bursts in the client and the server.
//!
//! Here one thread keeps the pending deadlines in a heap and sleeps on a condition variable until
//! the earliest one (a futex timeout, which the kernel serves with a high-resolution timer and
//! at most the thread's timer slack, 50 µs by default, late), then completes every sleeper that
//! is due. Sleepers coalesce only within that slack, so the load stays close to even.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use tokio::sync::oneshot;

/// Waits until `deadline` with sub-millisecond resolution (see the module doc). Falls back to
/// tokio's timer if the timer thread cannot be started.
pub async fn sleep_until(deadline: tokio::time::Instant) {
    let Some(timer) = shared() else {
        return tokio::time::sleep_until(deadline).await;
    };
    let at = deadline.into_std();
    if at <= Instant::now() {
        return;
    }
    if timer.add(at).await.is_err() {
        // The timer thread is gone (it never exits on its own); finish the wait with tokio's.
        tokio::time::sleep_until(deadline).await;
    }
}

/// The process-wide timer, started on first use; `None` if its thread could not be spawned.
fn shared() -> Option<&'static Arc<TimerShared>> {
    static TIMER: OnceLock<Option<Arc<TimerShared>>> = OnceLock::new();
    TIMER
        .get_or_init(|| {
            let timer = Arc::new(TimerShared::default());
            let worker = Arc::clone(&timer);
            std::thread::Builder::new()
                .name("bench-timer".into())
                .spawn(move || worker.run())
                .ok()
                .map(|_| timer)
        })
        .as_ref()
}

/// A sleeper: completed through `wake` once `at` has passed.
struct Entry {
    at: Instant,
    /// Insertion order, so equal deadlines are completed first come, first served.
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so the std max-heap pops the earliest deadline.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
struct Pending {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

#[derive(Default)]
struct TimerShared {
    pending: Mutex<Pending>,
    /// Signalled when a sleeper with a new earliest deadline arrives.
    changed: Condvar,
}

impl TimerShared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a sleeper; the receiver completes once `at` has passed.
    fn add(&self, at: Instant) -> oneshot::Receiver<()> {
        let (wake, rx) = oneshot::channel();
        let mut p = self.lock();
        let earliest = p.heap.peek().is_none_or(|e| at < e.at);
        let seq = p.seq;
        p.seq = p.seq.wrapping_add(1);
        p.heap.push(Entry { at, seq, wake });
        drop(p);
        // Only a new earliest deadline changes how long the thread sleeps.
        if earliest {
            self.changed.notify_one();
        }
        rx
    }

    /// The timer thread: completes due sleepers, sleeps until the next deadline.
    fn run(&self) {
        let mut due = Vec::new();
        let mut p = self.lock();
        loop {
            let now = Instant::now();
            while p.heap.peek().is_some_and(|e| e.at <= now) {
                if let Some(e) = p.heap.pop() {
                    due.push(e.wake);
                }
            }
            if !due.is_empty() {
                // Waking tasks can cost a syscall each; do it without holding the lock.
                drop(p);
                for wake in due.drain(..) {
                    // A sleeper that gave up (its future was dropped) is simply skipped.
                    let _ = wake.send(());
                }
                p = self.lock();
                continue;
            }
            p = match p.heap.peek().map(|e| e.at.saturating_duration_since(now)) {
                None => self.changed.wait(p).unwrap_or_else(|e| e.into_inner()),
                Some(wait) => self
                    .changed
                    .wait_timeout(p, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wakes_at_or_after_the_deadline_and_in_order() {
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        // Out of order on purpose: 7, 2, 5, 3 ms.
        for ms in [7u64, 2, 5, 3] {
            let due = start + Duration::from_millis(ms);
            tasks.spawn(async move {
                sleep_until(due).await;
                let woke = tokio::time::Instant::now();
                assert!(woke >= due, "woke {:?} before its deadline", due - woke);
                (woke, ms)
            });
        }
        let mut woken = Vec::new();
        while let Some(r) = tasks.join_next().await {
            woken.push(r.unwrap());
        }
        woken.sort();
        let order: Vec<u64> = woken.iter().map(|(_, ms)| *ms).collect();
        assert_eq!(order, vec![2, 3, 5, 7]);
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once_and_a_dropped_sleeper_is_harmless() {
        let past = tokio::time::Instant::now();
        sleep_until(past).await;
        // Registered, then given up: the timer thread must skip it.
        tokio::select! {
            () = sleep_until(past + Duration::from_millis(50)) => panic!("woke 50 ms early"),
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
        let due = tokio::time::Instant::now() + Duration::from_millis(2);
        sleep_until(due).await;
        assert!(tokio::time::Instant::now() >= due);
    }
}
