//! Counting messages and latencies without a global lock on the hot path.
//!
//! Every worker (a producer, a consumer's listener) records into its own [`Shard`]: a
//! [`Tally`] (counters + HDR histogram in µs) behind a mutex that only that worker and, once a
//! second, the reporter touch — so the lock is uncontended. The reporter drains every shard of
//! a [`Recorder`] into one interval tally per second ([`Recorder::drain_into`]); the totals are
//! the merge of the measured intervals.

use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::BenchError;

/// Largest latency the histograms hold (1 hour, in µs); larger values are clamped to it.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant decimal digits of the histograms (0.1% value resolution).
const SIGNIFICANT_DIGITS: u8 = 3;

/// Messages, bytes, errors and a latency histogram (µs) of some period.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Messages that succeeded (sent and acknowledged, or received).
    pub messages: u64,
    /// Body bytes of those messages.
    pub bytes: u64,
    /// Messages that failed (a failed batch counts all its messages).
    pub errors: u64,
    /// One value per request (sends) or per message (deliveries), in µs.
    pub latency: Histogram<u64>,
}

impl Tally {
    /// An empty tally.
    ///
    /// # Errors
    /// [`BenchError::Histogram`] if the histogram cannot be created (fixed bounds; not expected).
    pub fn new() -> Result<Self, BenchError> {
        let latency = Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
            .map_err(|e| BenchError::Histogram(format!("{e:?}")))?;
        Ok(Self {
            messages: 0,
            bytes: 0,
            errors: 0,
            latency,
        })
    }

    /// Counts `messages` successful messages of `bytes` body bytes, one latency sample.
    pub fn record(&mut self, latency_us: u64, messages: u64, bytes: u64) {
        self.messages = self.messages.saturating_add(messages);
        self.bytes = self.bytes.saturating_add(bytes);
        self.latency.saturating_record(latency_us.max(1));
    }

    /// Counts `messages` failed messages.
    pub fn fail(&mut self, messages: u64) {
        self.errors = self.errors.saturating_add(messages);
    }

    /// Adds `other` to this tally.
    ///
    /// # Errors
    /// [`BenchError::Histogram`] if the histograms are incompatible (same bounds everywhere, so
    /// not expected).
    pub fn merge(&mut self, other: &Tally) -> Result<(), BenchError> {
        self.messages = self.messages.saturating_add(other.messages);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.errors = self.errors.saturating_add(other.errors);
        self.latency
            .add(&other.latency)
            .map_err(|e| BenchError::Histogram(format!("{e:?}")))
    }

    /// Empties the tally, keeping its histogram allocation.
    pub fn clear(&mut self) {
        self.messages = 0;
        self.bytes = 0;
        self.errors = 0;
        self.latency.reset();
    }

    /// Latency percentiles of this tally.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles::of(&self.latency)
    }
}

/// Latency percentiles in µs (all 0 when nothing was recorded).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value.
    pub max: u64,
    /// Smallest value.
    pub min: u64,
    /// Mean, rounded to 0.1 µs.
    pub mean: f64,
    /// Number of samples.
    pub samples: u64,
}

impl Percentiles {
    /// The percentiles of `h`.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self {
                p50: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                max: 0,
                min: 0,
                mean: 0.0,
                samples: 0,
            };
        }
        Self {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            min: h.min(),
            mean: (h.mean() * 10.0).round() / 10.0,
            samples: h.len(),
        }
    }
}

/// One worker's tally.
#[derive(Debug)]
pub struct Shard {
    tally: Mutex<Tally>,
}

impl Shard {
    /// Runs `f` on this shard's tally (one lock for a whole batch of messages).
    pub fn with<R>(&self, f: impl FnOnce(&mut Tally) -> R) -> R {
        f(&mut lock(&self.tally))
    }

    /// Counts `messages` successful messages with one latency sample.
    pub fn record(&self, latency_us: u64, messages: u64, bytes: u64) {
        self.with(|t| t.record(latency_us, messages, bytes));
    }

    /// Counts `messages` failed messages.
    pub fn fail(&self, messages: u64) {
        self.with(|t| t.fail(messages));
    }
}

/// The shards of one kind of measurement (sends, or deliveries), and the first error seen.
#[derive(Debug, Default)]
pub struct Recorder {
    shards: Mutex<Vec<Arc<Shard>>>,
    first_error: Mutex<Option<String>>,
}

impl Recorder {
    /// A recorder with no shards.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new shard for one worker.
    ///
    /// # Errors
    /// As [`Tally::new`].
    pub fn shard(&self) -> Result<Arc<Shard>, BenchError> {
        let shard = Arc::new(Shard {
            tally: Mutex::new(Tally::new()?),
        });
        lock(&self.shards).push(Arc::clone(&shard));
        Ok(shard)
    }

    /// Keeps the text of the first error (for the summary); later ones are only counted.
    pub fn note_error(&self, e: &dyn Display) {
        let mut first = lock(&self.first_error);
        if first.is_none() {
            tracing::warn!(error = %e, "first failure (later ones are only counted)");
            *first = Some(e.to_string());
        }
    }

    /// The first error seen.
    pub fn first_error(&self) -> Option<String> {
        lock(&self.first_error).clone()
    }

    /// Moves what every shard recorded since the last call into `into`, leaving them empty.
    ///
    /// # Errors
    /// As [`Tally::merge`].
    pub fn drain_into(&self, into: &mut Tally) -> Result<(), BenchError> {
        let shards: Vec<Arc<Shard>> = lock(&self.shards).clone();
        for shard in shards {
            let mut t = lock(&shard.tally);
            into.merge(&t)?;
            t.clear();
        }
        Ok(())
    }
}

/// Locks a mutex, ignoring poisoning: a panicked worker leaves counters that are still valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_drain_into_intervals() {
        let rec = Recorder::new();
        let a = rec.shard().unwrap();
        let b = rec.shard().unwrap();
        for us in 1..=1000 {
            a.record(us, 1, 100);
        }
        b.record(5_000, 10, 1_000);
        b.fail(3);
        let mut interval = Tally::new().unwrap();
        rec.drain_into(&mut interval).unwrap();
        assert_eq!(interval.messages, 1010);
        assert_eq!(interval.bytes, 101_000);
        assert_eq!(interval.errors, 3);
        let p = interval.percentiles();
        assert_eq!(p.samples, 1001);
        assert!((499..=501).contains(&p.p50), "{p:?}");
        assert!((989..=991).contains(&p.p99), "{p:?}");
        assert!(p.max >= 4_995 && p.max <= 5_005, "{p:?}");
        assert_eq!(p.min, 1);
        // Drained: the next interval starts empty.
        let mut next = Tally::new().unwrap();
        rec.drain_into(&mut next).unwrap();
        assert_eq!((next.messages, next.errors, next.latency.len()), (0, 0, 0));
    }

    #[test]
    fn clamps_and_empty_percentiles() {
        let mut t = Tally::new().unwrap();
        assert_eq!(t.percentiles().p99, 0);
        t.record(u64::MAX, 1, 1);
        t.record(0, 1, 1);
        let p = t.percentiles();
        assert!(p.max >= MAX_LATENCY_US && p.max <= MAX_LATENCY_US + MAX_LATENCY_US / 1000);
        assert_eq!(p.min, 1, "0 µs is recorded as 1 µs");
    }

    #[test]
    fn first_error_is_kept() {
        let rec = Recorder::new();
        assert_eq!(rec.first_error(), None);
        rec.note_error(&"boom");
        rec.note_error(&"later");
        assert_eq!(rec.first_error().as_deref(), Some("boom"));
    }
}
