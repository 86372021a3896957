//! Run-wide state shared by the worker tasks: the stop signal, the start of the measured phase
//! (after the warm-up), the `--count` budget, and the clock that turns monotonic instants into
//! wall-clock microseconds (what goes into e2e bodies).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

/// A one-shot stop signal that remembers when it was first raised.
#[derive(Debug, Default)]
pub struct Stop {
    flag: AtomicBool,
    at: OnceLock<Instant>,
    notify: Notify,
}

impl Stop {
    /// Raises the signal (idempotent; the first call's time is kept). Callable from blocking
    /// threads such as consumer listeners.
    pub fn stop(&self) {
        let _ = self.at.set(Instant::now());
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Whether the signal was raised.
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// When the signal was first raised.
    pub fn stopped_at(&self) -> Option<Instant> {
        self.at.get().copied()
    }

    /// Resolves once the signal is raised.
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a stop() in between is not missed.
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// The `--count` budget: how many messages the measured phase may still send.
#[derive(Debug)]
pub struct Budget {
    left: Option<AtomicU64>,
}

impl Budget {
    /// A budget of `count` messages, or unlimited.
    pub fn new(count: Option<u64>) -> Self {
        Self {
            left: count.map(AtomicU64::new),
        }
    }

    /// Takes up to `want` messages from the budget; 0 once it is spent.
    pub fn claim(&self, want: u64) -> u64 {
        let Some(left) = &self.left else {
            return want;
        };
        match left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| {
            Some(l.saturating_sub(want))
        }) {
            Ok(before) => before.min(want),
            Err(_) => 0,
        }
    }
}

/// State of one benchmark run.
#[derive(Debug)]
pub struct RunState {
    /// Ends the load (producers stop sending; consumers of `consume` stop counting).
    pub stop: Arc<Stop>,
    /// Start of the measured phase; unset during the warm-up.
    measure_start: OnceLock<Instant>,
    /// The `--count` budget of the measured phase.
    pub budget: Budget,
    base_instant: Instant,
    base_wall_us: u64,
}

impl RunState {
    /// A run with the given message budget.
    pub fn new(count: Option<u64>) -> Self {
        Self {
            stop: Arc::default(),
            measure_start: OnceLock::new(),
            budget: Budget::new(count),
            base_instant: Instant::now(),
            base_wall_us: wall_now_us(),
        }
    }

    /// Starts the measured phase now (once; later calls keep the first time).
    pub fn begin_measuring(&self) -> Instant {
        *self.measure_start.get_or_init(Instant::now)
    }

    /// Start of the measured phase, if it began.
    pub fn measure_start(&self) -> Option<Instant> {
        self.measure_start.get().copied()
    }

    /// Whether the warm-up is over.
    pub fn measuring(&self) -> bool {
        self.measure_start.get().is_some()
    }

    /// Messages to send next: `want` during the warm-up, else what the budget grants.
    pub fn claim(&self, want: u64) -> u64 {
        if self.measuring() {
            self.budget.claim(want)
        } else {
            want
        }
    }

    /// Wall-clock microseconds since the epoch at monotonic instant `t`, so that a scheduled
    /// send time can be written into a body and compared with another clock reading later.
    pub fn wall_us(&self, t: Instant) -> u64 {
        let since = t.saturating_duration_since(self.base_instant);
        let before = self.base_instant.saturating_duration_since(t);
        let plus = u64::try_from(since.as_micros()).unwrap_or(u64::MAX);
        let minus = u64::try_from(before.as_micros()).unwrap_or(u64::MAX);
        self.base_wall_us.saturating_add(plus).saturating_sub(minus)
    }
}

/// Wall-clock microseconds since the epoch (0 if the clock is before it).
pub fn wall_now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn budget_grants_exactly_count() {
        let b = Budget::new(Some(10));
        assert_eq!(b.claim(4), 4);
        assert_eq!(b.claim(4), 4);
        assert_eq!(b.claim(4), 2, "last claim is partial");
        assert_eq!(b.claim(1), 0);
        assert_eq!(Budget::new(None).claim(7), 7);
    }

    #[test]
    fn warmup_is_not_charged() {
        let run = RunState::new(Some(1));
        assert_eq!(run.claim(5), 5);
        run.begin_measuring();
        assert_eq!(run.claim(5), 1);
        assert_eq!(run.claim(5), 0);
    }

    #[test]
    fn wall_clock_follows_instants() {
        let run = RunState::new(None);
        let now = Instant::now();
        let later = now + Duration::from_millis(250);
        let d = run.wall_us(later) - run.wall_us(now);
        assert!((249_000..=251_000).contains(&d), "{d}");
        assert!(run.wall_us(now).abs_diff(wall_now_us()) < 1_000_000);
    }

    #[tokio::test]
    async fn stop_wakes_waiters_and_keeps_first_time() {
        let stop = Arc::new(Stop::default());
        let s = Arc::clone(&stop);
        let waiter = tokio::spawn(async move { s.stopped().await });
        stop.stop();
        let first = stop.stopped_at();
        stop.stop();
        assert_eq!(stop.stopped_at(), first);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(stop.is_stopped());
    }
}
