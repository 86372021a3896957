//! Send schedule of one publisher at a fixed total rate.
//!
//! The publishers share the total rate equally and are phase-shifted, so the server sees an
//! even stream of publishes rather than bursts of `--producers` at once. Deadlines are absolute
//! (start + k·period), so timer jitter does not accumulate. Latency is measured from the
//! deadline, not from when the publish actually left: a server stall then shows in the latency
//! of every publish it delayed (no coordinated omission), as `saturn bench` does.

use std::time::Duration;

use tokio::time::Instant;

/// The deadlines of one publisher (none when unpaced).
#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    /// Seconds between two publishes of this publisher.
    period: Option<f64>,
    /// This publisher's offset within one period.
    phase: f64,
}

impl Schedule {
    /// Publisher `index` of `publishers` sharing `rate` messages/s (0 = unpaced) from `start`.
    pub fn new(start: Instant, rate: f64, publishers: usize, index: usize) -> Self {
        let n = publishers.max(1) as f64;
        let period = (rate > 0.0 && rate.is_finite()).then(|| n / rate);
        let phase = period.map_or(0.0, |p| p * (index as f64 % n) / n);
        Self {
            start,
            period,
            phase,
        }
    }

    /// The deadline of publish `k`, `None` when unpaced.
    pub fn deadline(&self, k: u64) -> Option<Instant> {
        let period = self.period?;
        let offset = Duration::try_from_secs_f64(self.phase + k as f64 * period).ok()?;
        self.start.checked_add(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishers_share_the_rate_and_are_shifted() {
        let t0 = Instant::now();
        // 1000 msg/s over 4 publishers: each publishes every 4 ms, shifted by 1 ms.
        let a = Schedule::new(t0, 1000.0, 4, 0);
        let b = Schedule::new(t0, 1000.0, 4, 1);
        assert_eq!(a.deadline(0), Some(t0));
        assert_eq!(
            a.deadline(10).map(|d| d - t0),
            Some(Duration::from_millis(40))
        );
        assert_eq!(
            b.deadline(0).map(|d| d - t0),
            Some(Duration::from_millis(1))
        );
        assert!(Schedule::new(t0, 0.0, 4, 0).deadline(3).is_none());
    }
}
