//! Reporting: the [`Monitor`] (drains the recorders once a second, prints the live line to
//! stderr, ends the warm-up and the measured phase), the final [`Summary`], and its human and
//! JSON forms.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::args::{CommonArgs, ConsumerArgs, SendArgs, SendMode};
use crate::control::RunState;
use crate::error::BenchError;
use crate::stats::{Percentiles, Recorder, Tally};

/// Bytes in the "MB" of `mb_per_sec` (MiB, 2^20).
pub const MB: f64 = 1024.0 * 1024.0;
/// Period of the live line.
const TICK: Duration = Duration::from_secs(1);

/// One measured quantity (sends, or deliveries) followed by the monitor.
struct Meter {
    label: &'static str,
    recorder: Arc<Recorder>,
    interval: Tally,
    total: Tally,
}

/// What the measured phase produced, per meter in the order given to [`Monitor::new`].
#[derive(Debug)]
pub struct Measured {
    /// Length of the measured phase (0 if it never began).
    pub seconds: f64,
    /// Totals of the measured phase.
    pub totals: Vec<Tally>,
}

/// Drives the clock of a run: warm-up, measured phase, live line, final totals.
pub struct Monitor {
    run: Arc<RunState>,
    meters: Vec<Meter>,
    warmup: Duration,
    run_for: Option<Duration>,
    live: bool,
    t0: Instant,
}

impl Monitor {
    /// A monitor of the given recorders (labelled in the live line).
    ///
    /// # Errors
    /// As [`Tally::new`].
    pub fn new(
        run: Arc<RunState>,
        meters: Vec<(&'static str, Arc<Recorder>)>,
        common: &CommonArgs,
    ) -> Result<Self, BenchError> {
        let meters = meters
            .into_iter()
            .map(|(label, recorder)| {
                Ok(Meter {
                    label,
                    recorder,
                    interval: Tally::new()?,
                    total: Tally::new()?,
                })
            })
            .collect::<Result<_, BenchError>>()?;
        Ok(Self {
            run,
            meters,
            warmup: common.warmup(),
            run_for: common.run_for(),
            live: !common.quiet,
            t0: Instant::now(),
        })
    }

    /// Starts the clock (call just before the workers start); without a warm-up the measured
    /// phase starts now.
    pub fn begin(&mut self) -> Instant {
        self.t0 = Instant::now();
        if self.warmup.is_zero() {
            // The same instant, so the pacers' first deadline is inside the measured phase.
            self.t0 = self.run.begin_measuring();
        }
        self.t0
    }

    /// Runs until `finished` yields the end of the measured phase: prints a live line every
    /// second, ends the warm-up, raises the run's stop signal when the duration is over.
    ///
    /// # Errors
    /// As [`Tally::merge`].
    pub async fn run_until(
        &mut self,
        finished: impl Future<Output = Instant>,
    ) -> Result<Measured, BenchError> {
        tokio::pin!(finished);
        let mut next_tick = self.t0 + TICK;
        let mut last_tick = self.t0;
        let warmup_end = self.t0 + self.warmup;
        let far = self.t0 + Duration::from_secs(100 * 365 * 24 * 3600);
        loop {
            let measuring = self.run.measuring();
            let measure_end = self
                .run
                .measure_start()
                .zip(self.run_for)
                .map(|(s, d)| s + d);
            let stopped = self.run.stop.is_stopped();
            tokio::select! {
                end = &mut finished => {
                    self.drain(self.run.measuring())?;
                    let seconds = self
                        .run
                        .measure_start()
                        .map_or(0.0, |s| end.saturating_duration_since(s).as_secs_f64());
                    return Ok(Measured {
                        seconds,
                        totals: self.meters.iter().map(|m| m.total.clone()).collect(),
                    });
                }
                () = tokio::time::sleep_until(next_tick) => {
                    let now = Instant::now();
                    self.drain(measuring)?;
                    if self.live {
                        self.print_live(now, now.saturating_duration_since(last_tick), measuring);
                    }
                    for m in &mut self.meters {
                        m.interval.clear();
                    }
                    last_tick = now;
                    next_tick += TICK;
                }
                () = tokio::time::sleep_until(warmup_end), if !measuring => {
                    // What the warm-up recorded is dropped.
                    self.drain(false)?;
                    for m in &mut self.meters {
                        m.interval.clear();
                    }
                    self.run.begin_measuring();
                    last_tick = Instant::now();
                }
                () = tokio::time::sleep_until(measure_end.unwrap_or(far)),
                    if measure_end.is_some() && !stopped => {
                    self.run.stop.stop();
                }
            }
        }
    }

    /// Moves the recorders' counts into the interval tallies, and into the totals if measuring.
    fn drain(&mut self, measuring: bool) -> Result<(), BenchError> {
        for m in &mut self.meters {
            if measuring {
                // Drain into a fresh interval first so the live line shows only this second.
                let mut fresh = Tally::new()?;
                m.recorder.drain_into(&mut fresh)?;
                m.total.merge(&fresh)?;
                m.interval.merge(&fresh)?;
            } else {
                m.recorder.drain_into(&mut m.interval)?;
            }
        }
        Ok(())
    }

    fn print_live(&self, now: Instant, dt: Duration, measuring: bool) {
        let secs = dt.as_secs_f64().max(1e-3);
        let mut line = format!(
            "[{:>6.1}s{}]",
            now.saturating_duration_since(self.t0).as_secs_f64(),
            if measuring { "" } else { " warmup" }
        );
        for m in &self.meters {
            let p99 = if measuring {
                m.total.percentiles().p99
            } else {
                m.interval.percentiles().p99
            };
            line.push_str(&format!(
                " {} {:>9} msg/s {:>8.2} MiB/s err {} p99 {} |",
                m.label,
                group_digits(m.interval.messages as f64 / secs),
                m.interval.bytes as f64 / secs / MB,
                m.total.errors.saturating_add(m.interval.errors),
                fmt_us(p99),
            ));
        }
        line.pop();
        eprintln!("{}", line.trim_end());
    }
}

/// The result of a run; its JSON form is what `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `produce`, `consume` or `e2e`.
    pub kind: &'static str,
    /// Messages counted in the measured phase: acknowledged sends (produce), or deliveries.
    pub messages: u64,
    /// Failed messages (produce/e2e: failed sends).
    pub errors: u64,
    /// Length of the measured phase.
    pub seconds: f64,
    /// `messages / seconds`.
    pub msgs_per_sec: f64,
    /// Body MiB (2^20 bytes) per second.
    pub mb_per_sec: f64,
    /// Body bytes of `messages`.
    pub bytes: u64,
    /// What `latency_us` measures: `send` (request to answer, from the scheduled time when
    /// paced), `store_to_delivery` (ms resolution), or `born_to_delivery`.
    pub latency: &'static str,
    /// Latency percentiles in µs.
    pub latency_us: Percentiles,
    /// Topic.
    pub topic: String,
    /// Body size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Producers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producers: Option<usize>,
    /// Send mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<SendMode>,
    /// Messages per send request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Outstanding requests per producer (async mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inflight: Option<usize>,
    /// Target rate (msgs/s), 0 = unpaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Consumers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<usize>,
    /// Consumer group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// e2e: messages acknowledged by the broker in the measured phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    /// e2e: send latency percentiles in µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_latency_us: Option<Percentiles>,
    /// e2e: acknowledged messages not delivered before the drain timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
    /// Text of the first failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl Summary {
    /// A summary of `total` over `seconds`.
    pub fn new(
        kind: &'static str,
        latency: &'static str,
        total: &Tally,
        seconds: f64,
        topic: &str,
    ) -> Self {
        let per_sec = |v: f64| if seconds > 0.0 { v / seconds } else { 0.0 };
        Self {
            kind,
            messages: total.messages,
            errors: total.errors,
            seconds: round(seconds, 3),
            msgs_per_sec: round(per_sec(total.messages as f64), 1),
            mb_per_sec: round(per_sec(total.bytes as f64) / MB, 3),
            bytes: total.bytes,
            latency,
            latency_us: total.percentiles(),
            topic: topic.to_owned(),
            size: None,
            producers: None,
            mode: None,
            batch: None,
            inflight: None,
            rate: None,
            consumers: None,
            group: None,
            sent: None,
            send_latency_us: None,
            lost: None,
            first_error: None,
        }
    }

    /// Adds the sending options.
    #[must_use]
    pub fn with_send(mut self, send: &SendArgs) -> Self {
        self.size = Some(send.size);
        self.producers = Some(send.producers);
        self.mode = Some(send.mode);
        self.batch = Some(send.batch);
        self.inflight = (send.mode == SendMode::Async).then_some(send.inflight);
        self.rate = Some(send.rate);
        self
    }

    /// Adds the consuming options.
    #[must_use]
    pub fn with_consumers(mut self, consume: &ConsumerArgs, group: &str) -> Self {
        self.consumers = Some(consume.consumers);
        self.group = Some(group.to_owned());
        self
    }

    /// The human-readable summary (several lines).
    pub fn human(&self) -> String {
        let mut s = format!(
            "{}: {} messages in {:.2} s = {} msg/s, {:.2} MiB/s; {} errors\n",
            self.kind,
            group_digits(self.messages as f64),
            self.seconds,
            group_digits(self.msgs_per_sec),
            self.mb_per_sec,
            self.errors
        );
        s.push_str(&latency_line(self.latency, &self.latency_us));
        if let Some(p) = &self.send_latency_us {
            s.push_str(&latency_line("send", p));
        }
        if let (Some(sent), Some(lost)) = (self.sent, self.lost) {
            s.push_str(&format!(
                "  sent {} (acknowledged), received {}, lost {}\n",
                group_digits(sent as f64),
                group_digits(self.messages as f64),
                lost
            ));
        }
        let mut opts = format!("  topic {}", self.topic);
        if let Some(size) = self.size {
            opts.push_str(&format!(", size {size} B"));
        }
        if let (Some(p), Some(mode), Some(batch)) = (self.producers, self.mode, self.batch) {
            opts.push_str(&format!(", producers {p}, {mode:?}, batch {batch}").to_lowercase());
        }
        if let Some(k) = self.inflight {
            opts.push_str(&format!(" inflight {k}"));
        }
        match self.rate {
            Some(r) if r > 0.0 => opts.push_str(&format!(", rate {r} msg/s")),
            Some(_) => opts.push_str(", unpaced"),
            None => {}
        }
        if let (Some(c), Some(g)) = (self.consumers, &self.group) {
            opts.push_str(&format!(", consumers {c} in group {g}"));
        }
        s.push_str(&opts);
        s.push('\n');
        if let Some(e) = &self.first_error {
            s.push_str(&format!("  first error: {e}\n"));
        }
        s
    }

    /// Prints the summary: human form to stdout, or with `json` the human form to stderr and
    /// one JSON line to stdout (the last line a script reads).
    ///
    /// # Errors
    /// [`BenchError::Output`] / [`BenchError::Json`].
    pub fn print(&self, json: bool) -> Result<(), BenchError> {
        if json {
            eprint!("{}", self.human());
            let line = serde_json::to_string(self)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")?;
            out.flush()?;
        } else {
            let mut out = std::io::stdout().lock();
            write!(out, "{}", self.human())?;
            out.flush()?;
        }
        Ok(())
    }
}

fn latency_line(what: &str, p: &Percentiles) -> String {
    format!(
        "  {what} latency: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {}, {} samples)\n",
        fmt_us(p.p50),
        fmt_us(p.p90),
        fmt_us(p.p99),
        fmt_us(p.p999),
        fmt_us(p.max),
        fmt_us(p.mean.round() as u64),
        p.samples
    )
}

/// A latency in µs as `850 µs`, `1.234 ms` or `2.500 s`.
pub fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.3} ms", us as f64 / 1e3)
    } else {
        format!("{:.3} s", us as f64 / 1e6)
    }
}

/// A count rounded to an integer with thousands separators: `12,345`.
fn group_digits(v: f64) -> String {
    let n = if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally() -> Tally {
        let mut t = Tally::new().unwrap();
        for us in 1..=10_000 {
            t.record(us, 1, 1024);
        }
        t.fail(2);
        t
    }

    #[test]
    fn json_has_the_fields_scripts_read() {
        let s = Summary::new("produce", "send", &tally(), 2.0, "T");
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["kind"], "produce");
        assert_eq!(v["messages"], 10_000);
        assert_eq!(v["errors"], 2);
        assert_eq!(v["seconds"], 2.0);
        assert_eq!(v["msgs_per_sec"], 5000.0);
        // 10_000 × 1 KiB in 2 s = 4.883 MiB/s.
        assert_eq!(v["mb_per_sec"], 4.883);
        let lat = &v["latency_us"];
        for (key, expect) in [
            ("p50", 5_000),
            ("p90", 9_000),
            ("p99", 9_900),
            ("p999", 9_990),
        ] {
            let got = lat[key].as_u64().unwrap();
            assert!(got.abs_diff(expect) <= expect / 500, "{key}: {got}");
        }
        assert!(lat["max"].as_u64().unwrap().abs_diff(10_000) <= 10);
        // Options not given are left out rather than null.
        assert!(v.get("producers").is_none() && v.get("lost").is_none());
    }

    #[test]
    fn json_carries_send_options() {
        let send = SendArgs {
            size: 100,
            producers: 16,
            batch: 1,
            mode: SendMode::Sync,
            inflight: 64,
            rate: 0.0,
        };
        let s = Summary::new("produce", "send", &tally(), 1.0, "T").with_send(&send);
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["mode"], "sync");
        assert_eq!(v["producers"], 16);
        assert_eq!(v["size"], 100);
        assert!(
            v.get("inflight").is_none(),
            "inflight only matters for async"
        );
        let line = serde_json::to_string(&s).unwrap();
        assert!(!line.contains('\n'), "one line");
    }

    #[test]
    fn zero_seconds_gives_zero_rates() {
        let s = Summary::new(
            "consume",
            "store_to_delivery",
            &Tally::new().unwrap(),
            0.0,
            "T",
        );
        assert_eq!(s.msgs_per_sec, 0.0);
        assert_eq!(s.latency_us.p99, 0);
        assert!(s.human().contains("0 messages"));
    }

    #[test]
    fn formatting() {
        assert_eq!(group_digits(1234567.4), "1,234,567");
        assert_eq!(group_digits(999.0), "999");
        assert_eq!(group_digits(f64::NAN), "0");
        assert_eq!(fmt_us(850), "850 µs");
        assert_eq!(fmt_us(1234), "1.234 ms");
        assert_eq!(fmt_us(2_500_000), "2.500 s");
    }
}
