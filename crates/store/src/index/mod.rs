//! The message index: lookups by `topic#key` (each space-separated `KEYS` entry) and
//! `topic#UNIQ_KEY`, within a store-time range. A sequence of [`file::IndexFile`]s under `index/`,
//! named by creation time; a new one starts when the current one is full. Entries are added by
//! the background [`builder`] (the only writer), not on the append path.

pub mod builder;
pub mod file;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use saturn_protocol::message::properties;

use self::file::{key_hash, timestamp_id, IndexFile};
use crate::disk::{self, Disk};
use crate::error::{StoreError, StoreResult};

/// Where index recovery must cut: entries for records at or above `valid_below_phys` are dropped
/// (they are re-added by the commit-log replay).
#[derive(Debug, Clone, Copy)]
pub struct IndexRecovery {
    /// Keep entries of records strictly below this commit-log offset.
    pub valid_below_phys: u64,
    /// Index file id recorded in the checkpoint (0 = none).
    pub checkpoint_file: u64,
    /// That file's entry count in the checkpoint.
    pub checkpoint_count: u32,
    /// Whether the previous run ended cleanly (then slot tables are trusted when nothing is cut).
    pub clean_shutdown: bool,
}

/// The index files of the store.
#[derive(Debug)]
pub struct IndexService {
    dir: PathBuf,
    slots: u32,
    max_entries: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
}

/// The keys a message is indexed under, borrowed from its properties.
pub fn index_keys(properties: &str) -> impl Iterator<Item = &str> {
    let uniq = properties::find(properties, properties::UNIQ_KEY).filter(|k| !k.is_empty());
    let keys = properties::find(properties, properties::KEYS).unwrap_or("");
    uniq.into_iter().chain(
        keys.split(properties::KEY_SEPARATOR)
            .filter(|k| !k.is_empty()),
    )
}

impl IndexService {
    /// Loads the index files under `root/index` and applies `recovery`.
    ///
    /// # Errors
    /// Listing, mapping or deleting failed.
    pub fn load(
        root: &Path,
        slots: u32,
        max_entries: u32,
        recovery: IndexRecovery,
    ) -> StoreResult<Self> {
        let dir = root.join("index");
        disk::create_dir_durable(&dir).map_err(|e| StoreError::io("create index dir", &dir, e))?;
        disk::remove_tmp_files(&dir).map_err(|e| StoreError::io("list index dir", &dir, e))?;
        let mut ids: Vec<u64> = fs::read_dir(&dir)
            .map_err(|e| StoreError::io("list index dir", &dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name().into_string().ok()?;
                if n.len() == 17 && n.bytes().all(|b| b.is_ascii_digit()) {
                    n.parse().ok()
                } else {
                    None
                }
            })
            .collect();
        ids.sort_unstable();
        let mut files = Vec::with_capacity(ids.len());
        for id in ids {
            let path = dir.join(id.to_string());
            files.push(Arc::new(IndexFile::open(&path, id, slots, max_entries)?));
        }
        let svc = Self {
            dir,
            slots,
            max_entries,
            files: RwLock::new(Vec::new()),
        };
        svc.recover(&mut files, recovery)?;
        *svc.files.write().unwrap_or_else(|p| p.into_inner()) = files;
        Ok(svc)
    }

    fn recover(&self, files: &mut Vec<Arc<IndexFile>>, r: IndexRecovery) -> StoreResult<()> {
        let target = i64::try_from(r.valid_below_phys).unwrap_or(i64::MAX);
        // Newest files that are empty or start at/after the cut hold nothing to keep.
        while let Some(last) = files.last() {
            if last.index_count() > 1 && last.begin_phys() < target {
                break;
            }
            let path = last.path().to_path_buf();
            files.pop();
            fs::remove_file(&path).map_err(|e| StoreError::io("delete index file", &path, e))?;
        }
        let Some(last) = files.last() else {
            return Ok(());
        };
        let header_count = last.index_count();
        let mut limit = header_count.min(self.max_entries);
        if last.id() == r.checkpoint_file && r.checkpoint_count > 0 {
            limit = limit.min(r.checkpoint_count);
        }
        // Entries are in commit-log order: keep the prefix below the cut (binary search).
        let (mut lo, mut hi) = (1u32, limit.max(1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if last.entry(mid).phys < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let keep = lo;
        if keep != header_count || !r.clean_shutdown {
            tracing::info!(file = %last.path().display(), keep, header_count, "rebuilding index slots");
            last.rebuild(keep);
        }
        Ok(())
    }

    /// Entries per index file.
    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// Makes sure the current file can take `n` more entries, starting a new file if not.
    ///
    /// # Errors
    /// Creating a file failed.
    pub fn reserve(&self, disk: &dyn Disk, n: u32, now_ms: i64) -> StoreResult<()> {
        if n == 0 {
            return Ok(());
        }
        if n >= self.max_entries {
            return Err(StoreError::InvalidMessage(format!(
                "message has {n} index keys, more than an index file holds"
            )));
        }
        let last = self.current();
        if last.as_ref().is_some_and(|f| f.free_entries() >= n) {
            return Ok(());
        }
        let mut id = timestamp_id(now_ms);
        if let Some(l) = &last {
            // Names must sort in creation order even when created within one millisecond.
            if id <= l.id() {
                id = l.id() + 1;
            }
        }
        // The full file is flushed by the next `flush` (before the checkpoint that names the new
        // file), not here in the builder's path.
        let f = IndexFile::create(disk, &self.dir, id, self.slots, self.max_entries)?;
        self.files
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(f));
        Ok(())
    }

    /// The file being written.
    pub fn current(&self) -> Option<Arc<IndexFile>> {
        self.files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .cloned()
    }

    /// Indexes one message under each of its keys; space must have been reserved.
    ///
    /// # Errors
    /// Space was not reserved (a bug), reported instead of panicking.
    pub fn put(
        &self,
        topic: &str,
        properties: &str,
        phys: i64,
        store_timestamp: i64,
    ) -> StoreResult<()> {
        let mut keys = index_keys(properties).peekable();
        if keys.peek().is_none() {
            return Ok(());
        }
        let file = self.current().ok_or_else(|| self.unreserved())?;
        for key in keys {
            if !file.put(key_hash(&[topic, "#", key]), phys, store_timestamp) {
                return Err(self.unreserved());
            }
        }
        Ok(())
    }

    fn unreserved(&self) -> StoreError {
        StoreError::Corrupt {
            path: self.dir.clone(),
            reason: "index space was not reserved".into(),
        }
    }

    /// Commit-log offsets of messages indexed under `topic#key` whose store time may lie in
    /// `[begin, end]`, newest first, at most `max` (callers confirm key and time on the record).
    pub fn lookup(&self, topic: &str, key: &str, max: usize, begin: i64, end: i64) -> Vec<i64> {
        let hash = key_hash(&[topic, "#", key]);
        let files: Vec<_> = self.files.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut out = Vec::new();
        for f in files.iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.index_count() <= 1 {
                continue;
            }
            // File-level time filter, widened by a second for the header's truncation.
            if f.begin_timestamp() > end || f.end_timestamp().saturating_add(1000) < begin {
                continue;
            }
            f.lookup(hash, begin, end, max, &mut out);
        }
        out
    }

    /// `(end timestamp, end commit-log offset)` of the newest non-empty file (QUERY_MESSAGE
    /// reports them), or zeros.
    pub fn last_update(&self) -> (i64, i64) {
        let files = self.files.read().unwrap_or_else(|p| p.into_inner());
        files
            .iter()
            .rev()
            .find(|f| f.index_count() > 1)
            .map_or((0, 0), |f| (f.end_timestamp(), f.end_phys()))
    }

    /// `(file id, entry count)` of the current file, for the checkpoint.
    pub fn position(&self) -> (u64, u32) {
        self.current().map_or((0, 0), |f| (f.id(), f.index_count()))
    }

    /// Flushes every file with entries added since its last flush (the current one, and a file
    /// that filled up since the last call).
    ///
    /// # Errors
    /// The flush failed.
    pub fn flush(&self, disk: &dyn Disk) -> StoreResult<()> {
        let files: Vec<_> = self.files.read().unwrap_or_else(|p| p.into_inner()).clone();
        for f in files {
            f.flush(disk)?;
        }
        Ok(())
    }

    /// Releases the resident pages of index entries more than `keep` bytes behind the newest
    /// in every file (see [`IndexFile::release_entries`]).
    pub fn release_behind(&self, keep: usize) {
        let files: Vec<_> = self.files.read().unwrap_or_else(|p| p.into_inner()).clone();
        for f in files {
            f.release_entries(keep);
        }
    }

    /// Retention: deletes files (never the current one) whose entries all point below
    /// `log_min_phys`.
    ///
    /// # Errors
    /// Deleting failed.
    pub fn drop_below(&self, log_min_phys: u64) -> StoreResult<usize> {
        let min = i64::try_from(log_min_phys).unwrap_or(i64::MAX);
        let mut deleted = 0;
        loop {
            let victim = {
                let files = self.files.read().unwrap_or_else(|p| p.into_inner());
                if files.len() < 2 {
                    None
                } else {
                    files.first().filter(|f| f.end_phys() < min).cloned()
                }
            };
            let Some(v) = victim else { break };
            self.files
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(0);
            fs::remove_file(v.path())
                .map_err(|e| StoreError::io("delete index file", v.path(), e))?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Number of index files.
    pub fn file_count(&self) -> usize {
        self.files.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests;
