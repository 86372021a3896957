//! [`BrokerConfig`]: every broker option with its documented default.
//!
//! Two sources: TOML with snake_case keys ([`BrokerConfig::from_toml`]; missing keys take the
//! defaults) and RocketMQ's `broker.conf` properties ([`BrokerConfig::from_properties`], mapping in
//! [`properties`]). [`BrokerConfig::validate`] checks ranges; [`Broker::start`](crate::Broker::start)
//! calls it.

pub mod properties;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When a send is acknowledged relative to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FlushDiskType {
    /// Acknowledge once written to the page cache; a background flush follows (RocketMQ default).
    #[default]
    #[serde(rename = "ASYNC_FLUSH", alias = "async", alias = "async_flush")]
    AsyncFlush,
    /// Acknowledge only once durable; a timeout answers FLUSH_DISK_TIMEOUT (10).
    #[serde(rename = "SYNC_FLUSH", alias = "sync", alias = "sync_flush")]
    SyncFlush,
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML text did not parse.
    #[error("bad broker config TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// A `broker.conf` value did not parse.
    #[error("bad value {value:?} for {key}: {reason}")]
    BadValue {
        /// The property name.
        key: String,
        /// The value as written.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// A value is out of range.
    #[error("invalid broker config: {0}")]
    Invalid(String),
}

/// Broker configuration. `Default` is the documented default of every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// Cluster this broker belongs to. Default `DefaultCluster` (`brokerClusterName`).
    pub cluster: String,
    /// Broker group name (master and slaves share it). Default `broker-a` (`brokerName`).
    pub broker_name: String,
    /// 0 = master, ≥ 1 = slave. Default 0 (`brokerId`).
    pub broker_id: i64,
    /// Name servers (`host:port`) to register with; empty = none. Default empty (`namesrvAddr`,
    /// written `a:9876;b:9876` there).
    pub namesrv_addrs: Vec<String>,
    /// Address the broker listens on. Default `127.0.0.1:10911` (`listenPort` sets the port).
    pub listen: SocketAddr,
    /// Address advertised to name servers and written into every record's STOREHOST (so it is
    /// also the host part of offset message ids). Default: the IP of `listen`, or 127.0.0.1 when
    /// that is unspecified (`brokerIP1`).
    pub broker_ip: Option<IpAddr>,
    /// Root directory: `commitlog/`, `consumequeue/`, `index/` and `config/` (topics, offsets,
    /// subscription groups). Default `./store` (`storePathRootDir`).
    pub store_root_dir: PathBuf,
    /// Async or sync flush. Default `ASYNC_FLUSH` (`flushDiskType`).
    pub flush_disk_type: FlushDiskType,
    /// Write zeros over commit-log space before the writer reaches it, so group commits do not
    /// also pay for converting preallocated extents (a second write of every byte, in the
    /// background). Default: on with sync flush, off with async (`warmMapedFileEnable`).
    pub warm_mapped_file: Option<bool>,
    /// Sync flush: how long a send waits for durability before answering FLUSH_DISK_TIMEOUT, ms.
    /// Default 5000 (`syncFlushTimeout`).
    pub sync_flush_timeout_ms: u64,
    /// Async flush: period of the background commit-log flush, ms (what a machine crash can
    /// lose at most). Default 500 (`flushIntervalCommitLog`).
    pub flush_interval_ms: u64,
    /// Create unknown topics on first send (from the `TBW102` template). Default true
    /// (`autoCreateTopicEnable`).
    pub auto_create_topic: bool,
    /// Cap on the queue count of auto-created topics (the producer asks for its own count,
    /// usually 4). Default 4 (`defaultTopicQueueNums`).
    pub default_topic_queue_nums: i32,
    /// Period of the name-server registration, ms. Default 30000 (`registerNameServerPeriod`).
    pub register_period_ms: u64,
    /// Timeout of one registration request, ms. Default 6000 (`registerBrokerTimeoutMills`).
    pub register_timeout_ms: u64,
    /// Commit-log files older than this are deleted, hours. Default 72 (`fileReservedTime`).
    pub file_reserved_time_hours: u64,
    /// Accepted and ignored: retention runs periodically, not at a fixed hour. Default `04`
    /// (`deleteWhen`).
    pub delete_when: String,
    /// Above this disk usage (percent) the oldest files are deleted regardless of age. Default
    /// 75 (`diskMaxUsedSpaceRatio`).
    pub disk_max_used_space_ratio: u32,
    /// Size of one commit-log segment file, bytes. Default 1 GiB (`mappedFileSizeCommitLog`).
    pub commit_log_segment_size: u64,
    /// Hash slots per index file. Default 5,000,000 (`maxHashSlotNum`).
    pub index_max_hash_slots: u32,
    /// Entries per index file. Default 20,000,000 (`maxIndexNum`).
    pub index_max_entries: u32,
    /// Hold pulls that find nothing until a message arrives (long polling). Default true
    /// (`longPollingEnable`).
    pub long_polling_enable: bool,
    /// Longest hold of a long-polling pull, whatever the client asks, ms. Default 30000.
    pub max_suspend_ms: u64,
    /// Hold time of a pull with the suspend bit when long polling is off, ms. Default 1000
    /// (`shortPollingTimeMills`).
    pub short_polling_ms: u64,
    /// Largest accepted message body, bytes; larger sends get MESSAGE_ILLEGAL (13). Default
    /// 4 MiB (`maxMessageSize`).
    pub max_message_size: usize,
    /// Longest accepted topic name. Default 127 (Java 4.x `TopicValidator`).
    pub max_topic_length: usize,
    /// Byte cap of one pull response body. Default 256 KiB
    /// (`maxTransferBytesOnMessageInMemory`).
    pub pull_max_bytes: usize,
    /// Message cap of one pull response (the client's `maxMsgNums` may lower it). Default 32
    /// (`maxTransferCountOnMessageInMemory`).
    pub pull_max_msgs: usize,
    /// Consumer offsets are written to disk this often (and at shutdown), ms. Default 5000
    /// (`flushConsumerOffsetInterval`).
    pub offset_flush_interval_ms: u64,
    /// A client channel without heartbeat for this long is dropped, ms. Default 120000.
    pub channel_expired_ms: u64,
    /// An orderly-consumption queue lock not renewed for this long may be taken over, ms.
    /// Default 60000 (`rebalanceLockMaxLiveTime`).
    pub lock_max_live_ms: u64,
    /// `MSG_REGION` of send responses. Default `DefaultRegion` (`regionId`).
    pub region_id: String,
    /// `TRACE_ON` of send responses. Default true (`traceOn`).
    pub trace_on: bool,
    /// Accepted for `broker.conf` compatibility (`ASYNC_MASTER`, `SYNC_MASTER`, `SLAVE`); only
    /// masters exist so far. Default `ASYNC_MASTER` (`brokerRole`).
    pub broker_role: String,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            cluster: "DefaultCluster".to_owned(),
            broker_name: "broker-a".to_owned(),
            broker_id: 0,
            namesrv_addrs: Vec::new(),
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 10911),
            broker_ip: None,
            store_root_dir: PathBuf::from("store"),
            flush_disk_type: FlushDiskType::AsyncFlush,
            warm_mapped_file: None,
            sync_flush_timeout_ms: 5_000,
            flush_interval_ms: 500,
            auto_create_topic: true,
            default_topic_queue_nums: 4,
            register_period_ms: 30_000,
            register_timeout_ms: 6_000,
            file_reserved_time_hours: 72,
            delete_when: "04".to_owned(),
            disk_max_used_space_ratio: 75,
            commit_log_segment_size: 1024 * 1024 * 1024,
            index_max_hash_slots: 5_000_000,
            index_max_entries: 20_000_000,
            long_polling_enable: true,
            max_suspend_ms: 30_000,
            short_polling_ms: 1_000,
            max_message_size: 4 * 1024 * 1024,
            max_topic_length: 127,
            pull_max_bytes: 256 * 1024,
            pull_max_msgs: 32,
            offset_flush_interval_ms: 5_000,
            channel_expired_ms: 120_000,
            lock_max_live_ms: 60_000,
            region_id: "DefaultRegion".to_owned(),
            trace_on: true,
            broker_role: "ASYNC_MASTER".to_owned(),
        }
    }
}

impl BrokerConfig {
    /// Parses TOML (snake_case keys, unknown keys rejected, missing keys defaulted).
    ///
    /// # Errors
    /// [`ConfigError::Toml`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Checks ranges.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.cluster.is_empty() || self.broker_name.is_empty() {
            return bad("cluster and broker_name must not be empty");
        }
        if !(1..=1024).contains(&self.default_topic_queue_nums) {
            return bad("default_topic_queue_nums must be within 1..=1024");
        }
        if self.register_period_ms == 0 || self.register_timeout_ms == 0 {
            return bad("register_period_ms and register_timeout_ms must be > 0");
        }
        if self.offset_flush_interval_ms == 0 || self.channel_expired_ms == 0 {
            return bad("offset_flush_interval_ms and channel_expired_ms must be > 0");
        }
        if self.flush_interval_ms == 0 || self.sync_flush_timeout_ms == 0 {
            return bad("flush_interval_ms and sync_flush_timeout_ms must be > 0");
        }
        if self.max_message_size == 0 || self.pull_max_bytes == 0 || self.pull_max_msgs == 0 {
            return bad("max_message_size, pull_max_bytes and pull_max_msgs must be > 0");
        }
        if !(1..=255).contains(&self.max_topic_length) {
            return bad("max_topic_length must be within 1..=255");
        }
        if self.disk_max_used_space_ratio > 100 {
            return bad("disk_max_used_space_ratio is a percentage (0..=100)");
        }
        if self.namesrv_addrs.iter().any(|a| a.trim().is_empty()) {
            return bad("namesrv_addrs must not contain empty entries");
        }
        Ok(())
    }

    /// The advertised IP (see [`BrokerConfig::broker_ip`]).
    pub fn advertised_ip(&self) -> IpAddr {
        match self.broker_ip {
            Some(ip) => ip,
            None if self.listen.ip().is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            None => self.listen.ip(),
        }
    }

    /// Period of the name-server registration.
    pub fn register_period(&self) -> Duration {
        Duration::from_millis(self.register_period_ms)
    }

    /// Where the broker's JSON config files live: `<store_root_dir>/config`.
    pub fn config_dir(&self) -> PathBuf {
        self.store_root_dir.join("config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_match_the_docs() {
        let c = BrokerConfig::default();
        c.validate().unwrap();
        assert_eq!(c.listen.port(), 10911);
        assert_eq!(c.advertised_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(c.max_message_size, 4 << 20);
        assert_eq!(c.register_period(), Duration::from_secs(30));
    }

    #[test]
    fn toml_snake_case_with_defaults() {
        let c = BrokerConfig::from_toml(
            "broker_name = \"b\"\nnamesrv_addrs = [\"127.0.0.1:9876\"]\nflush_disk_type = \"SYNC_FLUSH\"\nlisten = \"0.0.0.0:10000\"\n",
        )
        .unwrap();
        assert_eq!(c.broker_name, "b");
        assert_eq!(c.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.cluster, "DefaultCluster");
        assert_eq!(c.advertised_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(BrokerConfig::from_toml("no_such_key = 1").is_err());
    }

    #[test]
    fn validate_rejects_out_of_range() {
        let c = BrokerConfig {
            default_topic_queue_nums: 0,
            ..BrokerConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
