//! Counting and the summary: a [`Tally`] per worker (histogram of µs latencies, counts),
//! merged at the end into a [`Summary`] whose JSON form has the field names of
//! `saturn bench --json`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::error::DriverError;

/// Bytes in the "MB" of `mb_per_sec` (MiB), as in `saturn bench`.
const MB: f64 = 1024.0 * 1024.0;
/// Largest latency the histogram holds (1 hour in µs); larger values are clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// What one worker measured.
#[derive(Debug, Clone)]
pub struct Tally {
    latency: Histogram<u64>,
    /// Messages counted (acknowledged publishes, or deliveries).
    pub messages: u64,
    /// Failed publishes.
    pub errors: u64,
    /// Body bytes of `messages`.
    pub bytes: u64,
    /// Text of the first failure.
    pub first_error: Option<String>,
}

impl Tally {
    /// An empty tally (3 significant digits, 1 µs to 1 h).
    pub fn new() -> Result<Self, DriverError> {
        let latency = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
            .map_err(|e| DriverError::Histogram(e.to_string()))?;
        Ok(Self {
            latency,
            messages: 0,
            errors: 0,
            bytes: 0,
            first_error: None,
        })
    }

    /// One message of `bytes` body bytes with its latency.
    pub fn record(&mut self, latency_us: u64, bytes: usize) {
        // saturating_record clamps to the histogram's range instead of failing.
        self.latency
            .saturating_record(latency_us.clamp(1, MAX_LATENCY_US));
        self.messages += 1;
        self.bytes = self.bytes.saturating_add(bytes as u64);
    }

    /// One failed message.
    pub fn error(&mut self, error: &DriverError) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }

    /// Adds another worker's tally.
    pub fn merge(&mut self, other: &Tally) -> Result<(), DriverError> {
        self.latency
            .add(&other.latency)
            .map_err(|e| DriverError::Histogram(e.to_string()))?;
        self.messages += other.messages;
        self.errors += other.errors;
        self.bytes = self.bytes.saturating_add(other.bytes);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        Ok(())
    }

    /// The percentiles object of the JSON summary (µs).
    pub fn percentiles(&self) -> Value {
        let h = &self.latency;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        json!({
            "p50": q(0.50),
            "p90": q(0.90),
            "p99": q(0.99),
            "p999": q(0.999),
            "max": if h.is_empty() { 0 } else { h.max() },
            "min": if h.is_empty() { 0 } else { h.min() },
            "mean": (h.mean() * 10.0).round() / 10.0,
            "samples": h.len(),
        })
    }
}

/// The result of a run.
#[derive(Debug)]
pub struct Summary {
    fields: Map<String, Value>,
}

impl Summary {
    /// The common fields: `kind`, `messages`, … `latency_us` from `total` over `seconds`.
    pub fn new(kind: &str, system: &str, latency: &str, total: &Tally, seconds: f64) -> Self {
        let per_sec = |v: f64| if seconds > 0.0 { v / seconds } else { 0.0 };
        let mut fields = Map::new();
        fields.insert("kind".into(), json!(kind));
        fields.insert("system".into(), json!(system));
        fields.insert("messages".into(), json!(total.messages));
        fields.insert("errors".into(), json!(total.errors));
        fields.insert("seconds".into(), json!(round(seconds, 3)));
        fields.insert(
            "msgs_per_sec".into(),
            json!(round(per_sec(total.messages as f64), 1)),
        );
        fields.insert(
            "mb_per_sec".into(),
            json!(round(per_sec(total.bytes as f64) / MB, 3)),
        );
        fields.insert("bytes".into(), json!(total.bytes));
        fields.insert("latency".into(), json!(latency));
        fields.insert("latency_us".into(), total.percentiles());
        if let Some(e) = &total.first_error {
            fields.insert("first_error".into(), json!(e));
        }
        Self { fields }
    }

    /// Adds (or replaces) a field.
    pub fn set(&mut self, key: &str, value: Value) {
        self.fields.insert(key.to_owned(), value);
    }

    /// Human form to stderr; with `json` also the JSON line on stdout (the last line).
    pub fn print(&self, json: bool) -> Result<(), DriverError> {
        let get = |k: &str| self.fields.get(k).cloned().unwrap_or(Value::Null);
        let lat = get("latency_us");
        eprintln!(
            "{} ({}): {} messages in {} s = {} msg/s, {} MiB/s; {} errors\n  {} latency µs: p50 {} p90 {} p99 {} p99.9 {} max {}",
            get("kind"),
            get("system"),
            get("messages"),
            get("seconds"),
            get("msgs_per_sec"),
            get("mb_per_sec"),
            get("errors"),
            get("latency"),
            lat["p50"],
            lat["p90"],
            lat["p99"],
            lat["p999"],
            lat["max"],
        );
        if let Some(e) = self.fields.get("first_error") {
            eprintln!("  first error: {e}");
        }
        if json {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", Value::Object(self.fields.clone()))?;
            out.flush()?;
        }
        Ok(())
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Wall-clock µs since the epoch (0 if the clock is before 1970).
pub fn wall_now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Prints `[  12.0s] label N msg/s` to stderr once a second from a shared counter, until
/// the returned handle is aborted. The counter is only read here, so workers pay one relaxed
/// atomic add per message.
pub fn spawn_live(
    label: &'static str,
    counter: Arc<AtomicU64>,
    t0: Instant,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick =
            tokio::time::interval_at(t0 + Duration::from_secs(1), Duration::from_secs(1));
        let mut last = 0u64;
        loop {
            let now = tick.tick().await;
            let total = counter.load(Ordering::Relaxed);
            eprintln!(
                "[{:>6.1}s] {label} {:>9} msg/s",
                now.saturating_duration_since(t0).as_secs_f64(),
                total.saturating_sub(last)
            );
            last = total;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tallies_give_rates_and_percentiles() {
        let mut a = Tally::new().unwrap();
        let mut b = Tally::new().unwrap();
        for us in 1..=1000 {
            a.record(us, 100);
        }
        b.record(1_000_000, 100);
        b.error(&DriverError::Task("x".into()));
        a.merge(&b).unwrap();
        let s = Summary::new("produce", "nats", "send", &a, 2.0);
        let v = Value::Object(s.fields);
        assert_eq!(v["messages"], 1001);
        assert_eq!(v["errors"], 1);
        assert_eq!(v["msgs_per_sec"], 500.5);
        let p50 = v["latency_us"]["p50"].as_u64().unwrap();
        assert!((495..=505).contains(&p50), "{p50}");
        assert!(v["latency_us"]["max"].as_u64().unwrap() >= 999_000);
        assert_eq!(v["first_error"], "task: x");
    }
}
