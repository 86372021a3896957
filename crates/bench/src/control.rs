//! Run-wide state shared by the worker tasks: the stop signal, the start of the measured phase
//! (after the warm-up), the `--count` budget, and the clock that turns monotonic instants into
//! wall-clock microseconds (what goes into e2e bodies).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Length of the measured phase, if bounded by time.
    run_for: Option<Duration>,
    base_instant: Instant,
    base_wall_us: u64,
}

impl RunState {
    /// A run with the given message budget and measured-phase length.
    pub fn new(count: Option<u64>, run_for: Option<Duration>) -> Self {
        Self {
            stop: Arc::default(),
            measure_start: OnceLock::new(),
            budget: Budget::new(count),
            run_for,
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

    /// Whether `t` is at or after the end of a time-bounded measured phase: a paced producer
    /// sends nothing scheduled from then on, so a paced run sends exactly rate × duration.
    pub fn past_end(&self, t: Instant) -> bool {
        match (self.measure_start(), self.run_for) {
            (Some(s), Some(d)) => t >= s + d,
            _ => false,
        }
    }

    /// Whether a producer should stop now. Unpaced producers stop on the signal; paced ones
    /// ignore the signal raised at the end of a timed run (their schedule, see
    /// [`RunState::past_end`], says when to stop, so a producer behind schedule still sends what
    /// was due) and obey only an early one (Ctrl-C).
    pub fn should_stop(&self, paced: bool) -> bool {
        if !self.stop.is_stopped() {
            return false;
        }
        if !paced {
            return true;
        }
        match (self.stop.stopped_at(), self.measure_start(), self.run_for) {
            (Some(at), Some(s), Some(d)) => at < s + d,
            _ => true,
        }
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
        let run = RunState::new(Some(1), None);
        assert_eq!(run.claim(5), 5);
        run.begin_measuring();
        assert_eq!(run.claim(5), 1);
        assert_eq!(run.claim(5), 0);
    }

    #[test]
    fn end_of_a_timed_run() {
        let run = RunState::new(None, Some(Duration::from_secs(2)));
        let now = Instant::now();
        assert!(
            !run.past_end(now + Duration::from_secs(5)),
            "not measuring yet"
        );
        let start = run.begin_measuring();
        assert!(!run.past_end(start + Duration::from_millis(1999)));
        assert!(run.past_end(start + Duration::from_secs(2)));
        assert!(!RunState::new(Some(5), None).past_end(now + Duration::from_secs(1_000)));
        // Stopped at the end: paced producers finish their schedule, unpaced ones stop.
        assert!(!run.should_stop(true) && !run.should_stop(false));
        run.stop.stop();
        assert!(run.should_stop(false));
        let early = run.stop.stopped_at().unwrap() < start + Duration::from_secs(2);
        assert_eq!(run.should_stop(true), early);
    }

    #[test]
    fn wall_clock_follows_instants() {
        let run = RunState::new(None, None);
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
