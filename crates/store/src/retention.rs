//! Retention: delete the oldest commit-log segments when they are older than
//! `file_reserved_hours` or while the disk is used above `disk_max_used_ratio`, never the segment
//! being written; then the consume-queue and index files that only point into deleted segments,
//! moving each queue's min offset up. Also refreshes the disk-full flag that makes appends fail
//! with [`crate::StoreError::DiskFull`].

use std::time::UNIX_EPOCH;

use crate::error::StoreResult;
use crate::store::{Inner, MessageStore};

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionReport {
    /// Commit-log segments deleted.
    pub segments_deleted: usize,
    /// Consume-queue files deleted.
    pub queue_files_deleted: usize,
    /// Index files deleted.
    pub index_files_deleted: usize,
    /// Disk usage measured at the end of the pass.
    pub used_ratio: f64,
    /// Commit-log min offset after the pass.
    pub min_phys_offset: u64,
}

impl MessageStore {
    /// Runs one retention pass as of `now_ms` (epoch ms). The maintenance thread calls this every
    /// `retention_interval_ms`; tests call it directly with a chosen clock.
    ///
    /// # Errors
    /// Deleting a file failed.
    pub fn run_retention(&self, now_ms: i64) -> StoreResult<RetentionReport> {
        self.inner.run_retention(now_ms)
    }
}

impl Inner {
    pub(crate) fn run_retention(&self, now_ms: i64) -> StoreResult<RetentionReport> {
        let reserved_ms = i64::try_from(self.config.file_reserved_hours)
            .unwrap_or(i64::MAX / 3_600_000)
            .saturating_mul(3_600_000);
        let mut report = RetentionReport::default();
        let mut ratio = self.update_disk_full();
        loop {
            let over_disk = ratio > self.config.disk_max_used_ratio;
            let removed = self.log.remove_oldest_if(|seg| {
                if over_disk {
                    return true;
                }
                // Age of a segment = time of its last write (the file's mtime, which writes
                // through the mapping update).
                let modified = std::fs::metadata(seg.file.path())
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .and_then(|d| i64::try_from(d.as_millis()).ok());
                modified.is_some_and(|m| m.saturating_add(reserved_ms) <= now_ms)
            })?;
            let Some(seg) = removed else { break };
            tracing::info!(segment = %seg.file.path().display(), over_disk, "deleted commit-log segment");
            report.segments_deleted += 1;
            if over_disk {
                ratio = self.update_disk_full();
            }
        }
        let min = self.log.min_offset();
        if report.segments_deleted > 0 {
            for q in self.queues.all() {
                report.queue_files_deleted += q.drop_below(min)?;
            }
            if let Some(index) = &self.index {
                report.index_files_deleted += index.drop_below(min)?;
            }
            ratio = self.update_disk_full();
        }
        report.used_ratio = ratio;
        report.min_phys_offset = min;
        Ok(report)
    }
}
