//! The shared handles the processors are built from ([`Shared`]), the broker's identity
//! ([`Identity`]) and its counters ([`Stats`]). `Shared` exists only for wiring: each processor
//! keeps the few handles it uses, nothing reaches into `Shared` at request time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use saturn_store::MessageStore;

use crate::client_manager::ClientManager;
use crate::config::BrokerConfig;
use crate::consumer_offsets::ConsumerOffsets;
use crate::long_poll::LongPoll;
use crate::subscription_groups::SubscriptionGroups;
use crate::topic_config::TopicConfigs;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Who this broker is on the wire.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Cluster name (stored as the `CLUSTER` property of every message).
    pub cluster: String,
    /// Broker name.
    pub broker_name: String,
    /// Broker id (0 = master).
    pub broker_id: i64,
    /// Advertised IP + actual listen port: STOREHOST of every record, host of offset msg ids,
    /// `brokerAddr` of the registration.
    pub store_host: SocketAddr,
}

/// Everything the processors are built from.
#[derive(Clone)]
pub struct Shared {
    /// The configuration in force.
    pub config: Arc<BrokerConfig>,
    /// Identity.
    pub identity: Arc<Identity>,
    /// The message store.
    pub store: Arc<MessageStore>,
    /// Topic table.
    pub topics: Arc<TopicConfigs>,
    /// Consumer group configs.
    pub groups: Arc<SubscriptionGroups>,
    /// Connected clients.
    pub clients: Arc<ClientManager>,
    /// Committed consumer offsets.
    pub offsets: Arc<ConsumerOffsets>,
    /// Held pulls.
    pub long_poll: Arc<LongPoll>,
    /// Counters.
    pub stats: Arc<Stats>,
}

/// Message counters for GET_BROKER_RUNTIME_INFO.
#[derive(Debug)]
pub struct Stats {
    put: AtomicU64,
    got: AtomicU64,
    boot: Instant,
    boot_ms: i64,
    samples: Mutex<Samples>,
}

/// Counter snapshots: the last 10 minutes every 10 s (for TPS) and the day boundaries.
#[derive(Debug, Default)]
struct Samples {
    ring: std::collections::VecDeque<(Instant, u64, u64)>,
    day: i64,
    today_morning: (u64, u64),
    yesterday_morning: (u64, u64),
}

/// Period of [`Stats::sample`].
pub const STATS_SAMPLE_PERIOD: Duration = Duration::from_secs(10);
const RING_LEN: usize = 61;
const DAY_MS: i64 = 86_400_000;

impl Default for Stats {
    fn default() -> Self {
        Stats {
            put: AtomicU64::new(0),
            got: AtomicU64::new(0),
            boot: Instant::now(),
            boot_ms: now_ms(),
            samples: Mutex::new(Samples {
                day: now_ms() / DAY_MS,
                ..Samples::default()
            }),
        }
    }
}

impl Stats {
    /// `n` messages stored.
    pub fn add_put(&self, n: usize) {
        self.put.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` messages delivered by pulls.
    pub fn add_got(&self, n: usize) {
        self.got.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Messages stored since start.
    pub fn put_total(&self) -> u64 {
        self.put.load(Ordering::Relaxed)
    }

    /// Messages delivered since start.
    pub fn got_total(&self) -> u64 {
        self.got.load(Ordering::Relaxed)
    }

    /// Start time, ms since the epoch.
    pub fn boot_ms(&self) -> i64 {
        self.boot_ms
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.boot.elapsed()
    }

    /// Records a sample (called every [`STATS_SAMPLE_PERIOD`]) and rolls the day counters at
    /// UTC midnight.
    pub fn sample(&self) {
        let (put, got) = (self.put_total(), self.got_total());
        let mut s = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        s.ring.push_back((Instant::now(), put, got));
        while s.ring.len() > RING_LEN {
            s.ring.pop_front();
        }
        let day = now_ms() / DAY_MS;
        if day != s.day {
            s.day = day;
            s.yesterday_morning = s.today_morning;
            s.today_morning = (put, got);
        }
    }

    /// (put, get) messages per second over the last `window` (from the samples).
    pub fn tps(&self, window: Duration) -> (f64, f64) {
        let s = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let (put, got) = (self.put_total(), self.got_total());
        let oldest = s
            .ring
            .iter()
            .find(|(t, _, _)| now.saturating_duration_since(*t) <= window)
            .copied();
        match oldest {
            Some((t, p, g)) => {
                let secs = now.saturating_duration_since(t).as_secs_f64();
                if secs <= 0.0 {
                    return (0.0, 0.0);
                }
                (
                    put.saturating_sub(p) as f64 / secs,
                    got.saturating_sub(g) as f64 / secs,
                )
            }
            None => (0.0, 0.0),
        }
    }

    /// ((put, get) at this UTC midnight, (put, get) at yesterday's), as counted since start.
    pub fn mornings(&self) -> ((u64, u64), (u64, u64)) {
        let s = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        (s.today_morning, s.yesterday_morning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_tps() {
        let s = Stats::default();
        s.sample();
        s.add_put(10);
        s.add_got(4);
        assert_eq!((s.put_total(), s.got_total()), (10, 4));
        let (p, g) = s.tps(Duration::from_secs(60));
        assert!(p >= 0.0 && g >= 0.0);
        assert!(now_ms() >= s.boot_ms());
    }
}
