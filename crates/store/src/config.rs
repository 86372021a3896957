//! [`StoreConfig`]: every knob of the store, with RocketMQ's defaults and names as aliases.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};

/// When an append is acknowledged relative to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FlushMode {
    /// Acknowledge after the write to the mapped file; a background thread flushes every
    /// `flush_interval_ms` (RocketMQ `ASYNC_FLUSH`, the default).
    #[default]
    #[serde(alias = "ASYNC_FLUSH", alias = "async")]
    Async,
    /// Acknowledge only after the record is durable; concurrent appends share one flush (group
    /// commit) (RocketMQ `SYNC_FLUSH`).
    #[serde(alias = "SYNC_FLUSH", alias = "sync")]
    Sync,
}

/// Store configuration. `Default` gives the documented defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// Root directory holding `commitlog/`, `consumequeue/`, `index/`, `checkpoint`, `abort` and
    /// `lock`. Default `./store`. (RocketMQ `storePathRootDir`.)
    #[serde(alias = "storePathRootDir")]
    pub store_path: PathBuf,
    /// Size of each commit-log segment file in bytes. Default 1 GiB (1,073,741,824).
    /// (RocketMQ `mappedFileSizeCommitLog`.) Must not change once a store holds data.
    #[serde(alias = "mappedFileSizeCommitLog")]
    pub commit_log_segment_size: u64,
    /// Number of 20-byte units per consume-queue file. Default 300,000 (6,000,000-byte files).
    pub consume_queue_units_per_file: u32,
    /// Hash slots per index file. Default 5,000,000. (RocketMQ `maxHashSlotNum`.)
    #[serde(alias = "maxHashSlotNum")]
    pub index_slots: u32,
    /// Index entries per index file. Default 20,000,000 (a 420,000,040-byte file with the default
    /// slots). (RocketMQ `maxIndexNum`.)
    #[serde(alias = "maxIndexNum")]
    pub index_max_entries: u32,
    /// Build the key/unique-id index. Default true. (RocketMQ `messageIndexEnable`.)
    #[serde(alias = "messageIndexEnable")]
    pub index_enabled: bool,
    /// Async or sync flush. Default async. (RocketMQ `flushDiskType`.)
    #[serde(alias = "flushDiskType")]
    pub flush_mode: FlushMode,
    /// Async mode: period of the background commit-log flush, ms. Default 500.
    /// (RocketMQ `flushIntervalCommitLog`.)
    #[serde(alias = "flushIntervalCommitLog")]
    pub flush_interval_ms: u64,
    /// Sync mode: how long a blocking append waits for durability before returning
    /// [`StoreError::FlushTimeout`], ms. Default 5,000. (RocketMQ `syncFlushTimeout`.)
    #[serde(alias = "syncFlushTimeout")]
    pub sync_flush_timeout_ms: u64,
    /// Period of the consume-queue/index flush and checkpoint write, ms. Default 1,000.
    /// (RocketMQ `flushIntervalConsumeQueue`.)
    #[serde(alias = "flushIntervalConsumeQueue")]
    pub flush_consume_queue_interval_ms: u64,
    /// Period of the index flush, ms. Default 10,000. Flushing write-protects the index pages
    /// again, so every slot written afterwards costs a page fault: flushing less often than the
    /// consume queues saves most of them. The price is paid only after a crash, when the index
    /// entries of up to this much traffic are rebuilt from the commit log (in the background).
    pub index_flush_interval_ms: u64,
    /// Create the next commit-log segment in the background before it is needed, so a roll-over
    /// is a rename instead of a preallocation and two `fsync`s under the append lock. Costs one
    /// segment of disk space ahead of time. Default true.
    pub precreate_segments: bool,
    /// Write zeros over commit-log space (and sync them) before the writer reaches it, so that
    /// group commits do not also pay for converting preallocated extents (about twice as fast an
    /// `fdatasync` on ext4; see `commit_log::warm`). Costs a second write of every byte of the
    /// log, in the background. Default false; the broker turns it on with sync flush.
    #[serde(alias = "warmMapedFileEnable")]
    pub warm_segments: bool,
    /// Commit-log segments whose last write is older than this many hours are deleted. Default 72.
    /// (RocketMQ `fileReservedTime`.)
    #[serde(alias = "fileReservedTime")]
    pub file_reserved_hours: u64,
    /// While the disk holding the store is used above this ratio, the oldest segments are deleted
    /// regardless of age. Default 0.75 (RocketMQ `diskMaxUsedSpaceRatio` = 75, a percentage there).
    pub disk_max_used_ratio: f64,
    /// Above this used ratio appends are refused with [`StoreError::DiskFull`]. Default 0.90
    /// (RocketMQ `diskSpaceWarningLevelRatio`).
    pub disk_full_ratio: f64,
    /// Period of the retention pass and disk-usage check, ms. Default 10,000.
    /// (RocketMQ `cleanResourceInterval`.)
    #[serde(alias = "cleanResourceInterval")]
    pub retention_interval_ms: u64,
    /// Largest accepted message body in bytes. Default 4 MiB. (RocketMQ `maxMessageSize`.)
    #[serde(alias = "maxMessageSize")]
    pub max_message_size: usize,
    /// Delay levels for `SCHEDULE_TOPIC_XXXX` (their consume-queue tags code is the delivery
    /// time). Default `"1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"`.
    /// (RocketMQ `messageDelayLevel`.)
    #[serde(alias = "messageDelayLevel")]
    pub message_delay_level: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            store_path: PathBuf::from("store"),
            commit_log_segment_size: 1024 * 1024 * 1024,
            consume_queue_units_per_file: 300_000,
            index_slots: 5_000_000,
            index_max_entries: 20_000_000,
            index_enabled: true,
            flush_mode: FlushMode::Async,
            flush_interval_ms: 500,
            sync_flush_timeout_ms: 5_000,
            flush_consume_queue_interval_ms: 1_000,
            index_flush_interval_ms: 10_000,
            precreate_segments: true,
            warm_segments: false,
            file_reserved_hours: 72,
            disk_max_used_ratio: 0.75,
            disk_full_ratio: 0.90,
            retention_interval_ms: 10_000,
            max_message_size: 4 * 1024 * 1024,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
                .to_string(),
        }
    }
}

/// Smallest segment accepted: room for one small record plus the end-of-file marker.
const MIN_SEGMENT_SIZE: u64 = 4096;

impl StoreConfig {
    /// Defaults with `store_path` set.
    pub fn new(store_path: impl Into<PathBuf>) -> Self {
        Self {
            store_path: store_path.into(),
            ..Self::default()
        }
    }

    /// Checks ranges and parses the delay levels.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] naming the offending field.
    pub fn validate(&self) -> StoreResult<()> {
        let bad = |m: &str| Err(StoreError::InvalidConfig(m.to_string()));
        // The end-of-segment marker stores the remaining length as an i32.
        if self.commit_log_segment_size < MIN_SEGMENT_SIZE
            || self.commit_log_segment_size > i32::MAX as u64
        {
            return bad("commit_log_segment_size must be between 4096 and 2^31 - 1");
        }
        if self.consume_queue_units_per_file == 0 {
            return bad("consume_queue_units_per_file must be > 0");
        }
        if self.index_slots == 0 || self.index_max_entries < 2 {
            return bad("index_slots must be > 0 and index_max_entries >= 2");
        }
        if self.index_max_entries > i32::MAX as u32 || self.index_slots > i32::MAX as u32 {
            return bad("index_slots / index_max_entries must fit in an i32");
        }
        if self.flush_interval_ms == 0
            || self.flush_consume_queue_interval_ms == 0
            || self.index_flush_interval_ms == 0
        {
            return bad("flush intervals must be > 0");
        }
        if self.retention_interval_ms == 0 {
            return bad("retention_interval_ms must be > 0");
        }
        if !(0.0..=1.0).contains(&self.disk_max_used_ratio)
            || !(0.0..=1.0).contains(&self.disk_full_ratio)
        {
            return bad("disk ratios must be within 0.0..=1.0");
        }
        if self.max_message_size == 0 {
            return bad("max_message_size must be > 0");
        }
        self.delay_levels_ms()?;
        Ok(())
    }

    /// The delay levels in milliseconds (level 1 first).
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] if a level is not `<number><s|m|h|d>`.
    pub fn delay_levels_ms(&self) -> StoreResult<Vec<i64>> {
        self.message_delay_level
            .split_whitespace()
            .map(|level| {
                let (num, unit) = level.split_at(level.len().saturating_sub(1));
                let factor: i64 = match unit {
                    "s" => 1_000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => 0,
                };
                num.parse::<i64>()
                    .ok()
                    .filter(|_| factor != 0)
                    .and_then(|n| n.checked_mul(factor))
                    .ok_or_else(|| {
                        StoreError::InvalidConfig(format!(
                            "bad message_delay_level entry {level:?}"
                        ))
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = StoreConfig::default();
        c.validate().unwrap();
        assert_eq!(c.commit_log_segment_size, 1 << 30);
        assert_eq!(c.index_slots, 5_000_000);
        let levels = c.delay_levels_ms().unwrap();
        assert_eq!(levels.len(), 18);
        assert_eq!(levels[0], 1_000);
        assert_eq!(levels[17], 7_200_000);
    }

    #[test]
    fn java_names_and_bad_values() {
        let c: StoreConfig = serde_json::from_str(
            r#"{"flushDiskType":"SYNC_FLUSH","mappedFileSizeCommitLog":65536,"fileReservedTime":48}"#,
        )
        .unwrap();
        assert_eq!(c.flush_mode, FlushMode::Sync);
        assert_eq!(c.commit_log_segment_size, 65536);
        assert_eq!(c.file_reserved_hours, 48);
        let bad = StoreConfig {
            commit_log_segment_size: 100,
            ..StoreConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = StoreConfig {
            message_delay_level: "1s 5x".into(),
            ..StoreConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
