//! [`Pacer`]: spreads a target total rate over the producers as absolute, evenly spaced send
//! deadlines.
//!
//! Producer `i` of `P`, sending requests of `B` messages at a total of `R` messages/s, sends
//! request `k` at `start + (i / P + k) · P·B / R`: each producer has the same period and the
//! producers are phase-shifted, so the broker sees one request every `B / R` seconds instead of
//! `P` requests at once. Deadlines are computed from the start (not from the previous send), so
//! timer jitter does not accumulate and the long-run rate is exact.
//!
//! Coordinated omission: when the broker stalls, a producer falls behind its schedule; it then
//! sends the overdue requests back to back (their deadlines are in the past) and latency is
//! measured from the *scheduled* time, not from when the request actually left. A stall thus
//! shows up in the latency of every request it delayed, as a user on a fixed schedule would
//! see it. When the producer is on time it sleeps until the deadline on [`crate::timer`]
//! (sub-millisecond; tokio's own timer wakes every producer due within a millisecond at the same
//! tick, which turned an even load into bursts), and latency is measured from the actual
//! wake-up: the few tens of µs the timer may be late are the client's, not the broker's.

use std::time::Duration;

use tokio::time::Instant;

/// Send deadlines of one producer; unpaced when the rate is 0.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    /// Seconds between two requests of this producer, `None` when unpaced.
    period: Option<f64>,
    /// Seconds of this producer's phase shift.
    phase: f64,
    next: u64,
}

impl Pacer {
    /// Deadlines for producer `index` of `producers` sending requests of `batch` messages,
    /// the producers together sending `rate` messages/s (0 = unpaced) from `start`.
    pub fn new(start: Instant, rate: f64, producers: usize, index: usize, batch: usize) -> Self {
        let producers = producers.max(1) as f64;
        let period =
            (rate > 0.0 && rate.is_finite()).then(|| producers * batch.max(1) as f64 / rate);
        let phase = period.map_or(0.0, |p| p * (index as f64 % producers) / producers);
        Self {
            start,
            period,
            phase,
            next: 0,
        }
    }

    /// Whether sends follow a schedule.
    pub fn is_paced(&self) -> bool {
        self.period.is_some()
    }

    /// The scheduled time of request `k`, `None` when unpaced.
    pub fn deadline(&self, k: u64) -> Option<Instant> {
        let period = self.period?;
        let secs = self.phase + k as f64 * period;
        // Beyond ~30 years Duration::from_secs_f64 would panic; such a schedule never arrives.
        let offset = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        Some(self.start.checked_add(offset).unwrap_or(self.start))
    }

    /// The deadline of the next request, advancing the schedule; `None` when unpaced.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let d = self.deadline(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(d)
    }

    /// Waits for the next deadline and returns the time latency is measured from: the
    /// deadline if it had already passed (the producer is behind schedule), the wake-up time
    /// if the producer had to sleep (timer lateness is not the broker's), now when unpaced.
    pub async fn wait(&mut self) -> Instant {
        match self.next_deadline() {
            Some(d) => wait_for(d).await,
            None => Instant::now(),
        }
    }
}

/// Waits for `deadline`; returns it if it had already passed, else the wake-up time (see
/// [`Pacer::wait`]).
pub async fn wait_for(deadline: Instant) -> Instant {
    if deadline > Instant::now() {
        crate::timer::sleep_until(deadline).await;
        Instant::now()
    } else {
        deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(p: &Pacer, k: u64, start: Instant) -> f64 {
        (p.deadline(k).unwrap() - start).as_secs_f64()
    }

    #[test]
    fn unpaced_has_no_deadlines() {
        let mut p = Pacer::new(Instant::now(), 0.0, 4, 0, 1);
        assert!(!p.is_paced());
        assert!(p.next_deadline().is_none());
    }

    #[test]
    fn rate_is_split_evenly_and_phase_shifted() {
        let start = Instant::now();
        // 1000 msg/s over 4 producers: each sends every 4 ms, shifted by 1 ms.
        let pacers: Vec<Pacer> = (0..4).map(|i| Pacer::new(start, 1000.0, 4, i, 1)).collect();
        for (i, p) in pacers.iter().enumerate() {
            assert!((secs(p, 0, start) - i as f64 * 0.001).abs() < 1e-6);
            assert!((secs(p, 1, start) - secs(p, 0, start) - 0.004).abs() < 1e-6);
        }
        // Merged, the requests are 1 ms apart: no bursts.
        let mut all: Vec<f64> = pacers
            .iter()
            .flat_map(|p| (0..250).map(move |k| secs(p, k, start)))
            .collect();
        all.sort_by(f64::total_cmp);
        for w in all.windows(2) {
            assert!((w[1] - w[0] - 0.001).abs() < 1e-6, "{w:?}");
        }
        // 1000 requests in one second.
        assert_eq!(all.len(), 1000);
        assert!(all[999] < 1.0);
    }

    #[test]
    fn batches_count_against_the_rate() {
        let start = Instant::now();
        // 10_000 msg/s in batches of 10 from 2 producers: 500 requests/s each, 2 ms apart.
        let mut p = Pacer::new(start, 10_000.0, 2, 1, 10);
        let a = p.next_deadline().unwrap();
        let b = p.next_deadline().unwrap();
        assert_eq!((b - a).as_micros(), 2000);
        assert_eq!((a - start).as_micros(), 1000);
    }

    #[test]
    fn no_drift_over_many_requests() {
        let start = Instant::now();
        let p = Pacer::new(start, 3.0, 1, 0, 1);
        // Request 3_000_000 is due at exactly 1_000_000 s.
        let t = secs(&p, 3_000_000, start);
        assert!((t - 1_000_000.0).abs() < 1e-3, "{t}");
    }

    #[tokio::test]
    async fn late_requests_are_timed_from_the_schedule() {
        // A producer 50 ms behind a 100 msg/s schedule: deadlines 0, 10, … 40 ms are past and
        // come back at once, each as scheduled (the latency origin); the one at 60 ms waits.
        let start = Instant::now()
            .checked_sub(Duration::from_millis(50))
            .unwrap();
        let mut p = Pacer::new(start, 100.0, 1, 0, 1);
        for k in 0..5 {
            assert_eq!(p.wait().await, start + Duration::from_millis(10 * k));
        }
        assert_eq!(p.wait().await, start + Duration::from_millis(50));
        // On time: it sleeps, and the origin is the wake-up, at or after the deadline.
        let due = start + Duration::from_millis(60);
        let woke = p.wait().await;
        assert!(woke >= due, "waited for a future deadline");
    }
}
