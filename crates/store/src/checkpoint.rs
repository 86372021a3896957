//! The checkpoint file: how far each structure is known durable, so recovery knows where to start
//! re-validating the commit log and re-dispatching consume-queue and index entries.
//!
//! Written atomically (temporary file, fsync, rename, fsync directory) and protected by a CRC, so
//! a crash leaves either the old or the new checkpoint. Layout in `docs/store-format.md`. Also
//! the store's checkpoint step (flush consume queues, and the index when due, then write).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::disk::sync_dir;
use crate::error::{StoreError, StoreResult};
use crate::index::builder::IndexProgress;
use crate::store::Inner;

/// Bytes at the end of each consume-queue and index file that stay mapped after a checkpoint
/// (the units and entries most likely to be read next).
const RESIDENT_KEEP: usize = 64 * 1024;

const MAGIC: u32 = 0x5343_4B50; // "SCKP"
const VERSION: u32 = 1;
/// Encoded size in bytes.
pub const CHECKPOINT_LEN: usize = 80;

/// Durable progress of the store's structures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Commit-log bytes below this physical offset are durable.
    pub commit_log_flushed: u64,
    /// Consume-queue units of every record below this physical offset are durable.
    pub consume_queue_phys: u64,
    /// Index entries of every record below this physical offset are durable.
    pub index_phys: u64,
    /// Name (as a number, `yyyyMMddHHmmssSSS`) of the index file being written at that point; 0
    /// if none.
    pub index_file: u64,
    /// That index file's entry count (next entry number) at that point.
    pub index_count: u32,
    /// Store time of the last record below `commit_log_flushed` (ms; informational).
    pub physic_msg_timestamp: i64,
    /// Store time of the last record below `consume_queue_phys` (ms; informational).
    pub logics_msg_timestamp: i64,
    /// Store time of the last record below `index_phys` (ms; informational).
    pub index_msg_timestamp: i64,
}

impl Checkpoint {
    /// Fixed big-endian encoding with a trailing CRC32.
    pub fn encode(&self) -> [u8; CHECKPOINT_LEN] {
        let mut b = [0u8; CHECKPOINT_LEN];
        let mut w = Vec::with_capacity(CHECKPOINT_LEN);
        w.extend_from_slice(&MAGIC.to_be_bytes());
        w.extend_from_slice(&VERSION.to_be_bytes());
        w.extend_from_slice(&self.commit_log_flushed.to_be_bytes());
        w.extend_from_slice(&self.consume_queue_phys.to_be_bytes());
        w.extend_from_slice(&self.index_phys.to_be_bytes());
        w.extend_from_slice(&self.index_file.to_be_bytes());
        w.extend_from_slice(&self.index_count.to_be_bytes());
        w.extend_from_slice(&0u32.to_be_bytes());
        w.extend_from_slice(&self.physic_msg_timestamp.to_be_bytes());
        w.extend_from_slice(&self.logics_msg_timestamp.to_be_bytes());
        w.extend_from_slice(&self.index_msg_timestamp.to_be_bytes());
        let crc = crc32fast::hash(&w);
        w.extend_from_slice(&crc.to_be_bytes());
        w.extend_from_slice(&0u32.to_be_bytes());
        b.copy_from_slice(&w);
        b
    }

    /// Decodes and checks magic, version and CRC; `None` if any is wrong.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != CHECKPOINT_LEN {
            return None;
        }
        let u32_at = |o: usize| -> Option<u32> {
            Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
        };
        let u64_at = |o: usize| -> Option<u64> {
            Some(u64::from_be_bytes(b.get(o..o + 8)?.try_into().ok()?))
        };
        if u32_at(0)? != MAGIC || u32_at(4)? != VERSION {
            return None;
        }
        if crc32fast::hash(b.get(..72)?) != u32_at(72)? {
            return None;
        }
        Some(Self {
            commit_log_flushed: u64_at(8)?,
            consume_queue_phys: u64_at(16)?,
            index_phys: u64_at(24)?,
            index_file: u64_at(32)?,
            index_count: u32_at(40)?,
            physic_msg_timestamp: u64_at(48)? as i64,
            logics_msg_timestamp: u64_at(56)? as i64,
            index_msg_timestamp: u64_at(64)? as i64,
        })
    }
}

/// Path of the checkpoint file under the store root.
pub fn path(root: &Path) -> PathBuf {
    root.join("checkpoint")
}

/// Reads the checkpoint; `Ok(None)` if there is none or it is unreadable garbage (recovery then
/// starts from the first segment, which is slow but safe).
///
/// # Errors
/// Reading the file failed for a reason other than its absence.
pub fn load(root: &Path) -> StoreResult<Option<Checkpoint>> {
    let p = path(root);
    match fs::read(&p) {
        Ok(bytes) => {
            let cp = Checkpoint::decode(&bytes);
            if cp.is_none() {
                tracing::warn!(path = %p.display(), "checkpoint unreadable; full recovery");
            }
            Ok(cp)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("read checkpoint", p, e)),
    }
}

/// Atomically replaces the checkpoint.
///
/// # Errors
/// Any file operation failed.
pub fn store(root: &Path, cp: &Checkpoint) -> StoreResult<()> {
    let p = path(root);
    let tmp = root.join("checkpoint.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&cp.encode())?;
        f.sync_all()?;
        fs::rename(&tmp, &p)?;
        sync_dir(root)
    };
    write().map_err(|e| StoreError::io("write checkpoint", &p, e))
}

impl Inner {
    /// Flushes the consume queues and writes the checkpoint; flushes the index too when `force`
    /// or when `index_flush_interval_ms` has passed since its last flush, and otherwise records
    /// the index position of that last flush. A flush failure poisons.
    pub(crate) fn checkpoint_now(&self, force: bool) -> StoreResult<Checkpoint> {
        let (dispatched, last_ts) = {
            let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
            (
                self.dispatched.load(Ordering::Acquire),
                tail.last_store_timestamp,
            )
        };
        let result = (|| {
            for q in self.queues.all() {
                q.flush(&*self.disk)?;
            }
            let index_at = match (&self.index, &self.index_builder) {
                (Some(index), Some(builder)) => {
                    let mut last = self.index_flushed.lock().unwrap_or_else(|p| p.into_inner());
                    let every = Duration::from_millis(self.config.index_flush_interval_ms);
                    if force || last.1.elapsed() >= every {
                        // Progress first: entries up to it are in the files when they are flushed.
                        let progress = builder.progress();
                        index.flush(&*self.disk)?;
                        *last = (progress, Instant::now());
                    }
                    last.0
                }
                _ => IndexProgress {
                    phys: dispatched,
                    file: 0,
                    count: 0,
                },
            };
            let cp = Checkpoint {
                commit_log_flushed: self.log.flushed(),
                consume_queue_phys: dispatched,
                index_phys: index_at.phys,
                index_file: index_at.file,
                index_count: index_at.count,
                physic_msg_timestamp: last_ts,
                logics_msg_timestamp: last_ts,
                index_msg_timestamp: last_ts,
            };
            store(&self.root, &cp)?;
            Ok(cp)
        })();
        match &result {
            Ok(_) => {
                // Flushed and checkpointed: their pages need not stay in our resident set.
                for q in self.queues.all() {
                    q.release_behind(RESIDENT_KEEP);
                }
                if let Some(index) = &self.index {
                    index.release_behind(RESIDENT_KEEP);
                }
            }
            Err(e) => self.flush.complete(Err(format!("checkpoint: {e}"))),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let cp = Checkpoint {
            commit_log_flushed: 1 << 40,
            consume_queue_phys: 12345,
            index_phys: 999,
            index_file: 20261125134501123,
            index_count: 42,
            physic_msg_timestamp: 1_700_000_000_000,
            logics_msg_timestamp: -1,
            index_msg_timestamp: 7,
        };
        store(dir.path(), &cp).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(cp));
        let mut bytes = fs::read(path(dir.path())).unwrap();
        bytes[10] ^= 1;
        fs::write(path(dir.path()), &bytes).unwrap();
        assert_eq!(load(dir.path()).unwrap(), None, "CRC mismatch is detected");
    }
}
