//! The commit log: every record of every topic, appended to fixed-size memory-mapped segment
//! files named by their 20-digit start offset. Physical offsets are global: segment `k` covers
//! `[start_k, start_k + segment_size)` with `start_{k+1} = start_k + segment_size`. A record never
//! spans segments; the unused end of a segment holds a blank marker (TOTALSIZE = bytes left,
//! MAGIC = `0xCBD43194`), and at least 8 bytes are always left for it.
//!
//! Submodules: [`append`] (the write path under the append lock), [`read`] (zero-copy reads),
//! [`recover`] (open: validate the tail, truncate a torn record, replay for the dispatcher),
//! [`lease`] (the durable bound on where the last segment may hold non-zero bytes, which keeps
//! recovery's zeroing of the cut-off tail short), [`ahead`] (the thread that prefaults pages and
//! pre-creates the next segment ahead of the writer).

pub mod ahead;
pub mod append;
pub mod lease;
pub mod read;
pub mod recover;
pub mod resident;
pub mod warm;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::disk::{self, Disk};
use crate::error::{StoreError, StoreResult};
use crate::mapped_file::{FileWriter, MappedFile};
use lease::LeaseFile;

/// One segment file.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Physical offset of its first byte.
    pub start: u64,
    /// The mapping.
    pub file: Arc<MappedFile>,
}

/// Write-side state, owned by whoever holds the store's append lock.
#[derive(Debug)]
pub struct Tail {
    /// Writer of the last segment (`None` before the first append of an empty log).
    pub(crate) writer: Option<FileWriter>,
    /// Start offset of the writer's segment.
    pub(crate) writer_start: u64,
    /// Store time of the last record, so store times never go backwards.
    pub(crate) last_store_timestamp: i64,
}

/// The commit log.
#[derive(Debug)]
pub struct CommitLog {
    dir: PathBuf,
    segment_size: u64,
    segments: RwLock<Vec<Segment>>,
    /// End of published data (records and blank markers).
    written: AtomicU64,
    /// Everything below is durable.
    flushed: AtomicU64,
    /// Prefaulting and segment pre-creation ahead of the writer.
    pub(crate) ahead: ahead::Ahead,
    /// The write lease of the writer's segment: extended before bytes past it are staged.
    lease: Mutex<LeaseFile>,
    /// Global offset up to which the durable lease in force covers its segment (segment start +
    /// lease end; 0 without one): the append path's lock-free check.
    lease_until: AtomicU64,
    /// A segment was renamed into place since the directory was last synced: the next flush
    /// syncs the directory before any byte of that segment counts as durable.
    dir_sync_pending: AtomicBool,
    /// Segment writers `pwrite` their records instead of storing them through the mapping
    /// ([`FileWriter::write_through`]); set for sync flush.
    write_through: AtomicBool,
}

impl CommitLog {
    /// Segment size in bytes.
    pub fn segment_size(&self) -> u64 {
        self.segment_size
    }

    /// Directory of the segment files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First physical offset still on disk.
    pub fn min_offset(&self) -> u64 {
        let segs = self.segments.read().unwrap_or_else(|p| p.into_inner());
        segs.first().map_or_else(|| self.written(), |s| s.start)
    }

    /// End of the published log (next record's offset, or the next segment's start).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Durable end of the log.
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Snapshot of the segment list.
    pub fn segments(&self) -> Vec<Segment> {
        self.segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The segment holding `phys`.
    pub fn segment_for(&self, phys: u64) -> Option<Segment> {
        let segs = self.segments.read().unwrap_or_else(|p| p.into_inner());
        let first = segs.first()?.start;
        let idx = usize::try_from(phys.checked_sub(first)? / self.segment_size).ok()?;
        segs.get(idx).filter(|s| s.start <= phys).cloned()
    }

    /// Creates the segment starting at `start` and returns its writer: the pre-created one if the
    /// [`ahead`] thread has it ready (a rename; the directory sync is left to the next flush),
    /// otherwise a new file created inline.
    fn create_segment(&self, disk: &dyn Disk, start: u64) -> StoreResult<FileWriter> {
        let name = disk::offset_name(start);
        let path = self.dir.join(&name);
        let mapped = match self.ahead.take_staged(start) {
            Some((tmp, mapped)) => match std::fs::rename(&tmp, &path) {
                Ok(()) => {
                    self.dir_sync_pending.store(true, Ordering::Release);
                    Some(mapped)
                }
                Err(e) => {
                    tracing::warn!(error = %e, path = %tmp.display(), "cannot use the pre-created segment");
                    let _ = std::fs::remove_file(&tmp);
                    None
                }
            },
            None => None,
        };
        let mapped = match mapped {
            Some(m) => m,
            None => {
                let file = disk::create_preallocated(disk, &self.dir, &name, self.segment_size)
                    .map_err(|e| StoreError::io("create commit-log segment", &path, e))?;
                let len = usize::try_from(self.segment_size).map_err(|_| {
                    StoreError::InvalidConfig("segment size does not fit in memory".into())
                })?;
                let m = MappedFile::map(&path, &file, len, 0)
                    .map_err(|e| StoreError::io("map commit-log segment", &path, e))?;
                writing_mode(&m, true);
                m
            }
        };
        let mut writer = mapped.writer().ok_or_else(|| StoreError::Corrupt {
            path: path.clone(),
            reason: "new segment already has a writer".into(),
        })?;
        writer.disable_prefault();
        self.apply_write_through(&mut writer)?;
        self.segments
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Segment {
                start,
                file: mapped,
            });
        // Time to stage the one after it.
        self.ahead.kick();
        Ok(writer)
    }

    /// Makes sure the durable lease covers the segment starting at `segment_start` up to
    /// `needed_end` (an offset within it); see [`lease`]. Lock-free when it already does, which is
    /// the rule since the [`ahead`] thread extends it early.
    ///
    /// # Errors
    /// Recording a new lease failed; nothing may then be written past the old one.
    pub(crate) fn cover_lease(&self, segment_start: u64, needed_end: u64) -> StoreResult<()> {
        // A lease of an earlier segment ends at or before `segment_start`, so this cannot pass
        // for the wrong segment (`needed_end` is at least 1 whenever bytes are staged).
        if needed_end > 0
            && self.lease_until.load(Ordering::Acquire) >= segment_start.saturating_add(needed_end)
        {
            return Ok(());
        }
        let mut lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        lease.cover(segment_start, needed_end, self.segment_size)?;
        self.publish_lease(&lease);
        Ok(())
    }

    fn publish_lease(&self, lease: &LeaseFile) {
        let until = lease
            .current()
            .map_or(0, |l| l.segment_start.saturating_add(l.end));
        self.lease_until.store(until, Ordering::Release);
    }

    /// Flushes everything published so far; returns the new durable end. Only one thread flushes
    /// at a time (the flusher, or the closer after the flusher stopped).
    ///
    /// # Errors
    /// An `msync` failed; the caller poisons the store.
    pub fn flush(&self, disk: &dyn Disk) -> StoreResult<u64> {
        let target = self.written();
        let from = self.flushed();
        if target <= from {
            return Ok(from);
        }
        // A segment renamed into place before `target` was published must have a durable name
        // before its bytes count as flushed (the rename happens before `written` moves into it).
        if self.dir_sync_pending.swap(false, Ordering::AcqRel) {
            if let Err(e) = disk::sync_dir(&self.dir) {
                self.dir_sync_pending.store(true, Ordering::Release);
                return Err(StoreError::io("sync commit-log dir", &self.dir, e));
            }
        }
        for seg in self.segments() {
            let seg_end = seg.start + self.segment_size;
            if seg_end <= from || seg.start >= target {
                continue;
            }
            let lo = from.saturating_sub(seg.start) as usize;
            let hi = (target.min(seg_end) - seg.start) as usize;
            disk.sync_mapped(&seg.file, lo, hi)
                .map_err(|e| StoreError::io("flush commit log", seg.file.path(), e))?;
        }
        self.flushed.store(target, Ordering::Release);
        Ok(target)
    }

    /// Retention: removes the oldest segment if it is not the last one and `pred` accepts it.
    /// Returns the removed segment. Readers holding its bytes keep the mapping alive.
    ///
    /// # Errors
    /// Unlinking failed.
    pub fn remove_oldest_if(
        &self,
        pred: impl FnOnce(&Segment) -> bool,
    ) -> StoreResult<Option<Segment>> {
        let victim = {
            let segs = self.segments.read().unwrap_or_else(|p| p.into_inner());
            match segs.first() {
                Some(first) if segs.len() > 1 && pred(first) => first.clone(),
                _ => return Ok(None),
            }
        };
        {
            let mut segs = self.segments.write().unwrap_or_else(|p| p.into_inner());
            if segs.first().map(|s| s.start) == Some(victim.start) {
                segs.remove(0);
            }
        }
        std::fs::remove_file(victim.file.path())
            .map_err(|e| StoreError::io("delete commit-log segment", victim.file.path(), e))?;
        disk::sync_dir(&self.dir).map_err(|e| StoreError::io("sync dir", &self.dir, e))?;
        Ok(Some(victim))
    }
}

impl CommitLog {
    /// Makes segment writers (the current one, `writer`, and every later one) write through
    /// with `pwrite` (see [`FileWriter::write_through`]); for sync flush.
    ///
    /// # Errors
    /// The segment file could not be opened for writing.
    pub fn enable_write_through(&self, writer: Option<&mut FileWriter>) -> StoreResult<()> {
        self.write_through.store(true, Ordering::Release);
        match writer {
            Some(w) => self.apply_write_through(w),
            None => Ok(()),
        }
    }

    fn apply_write_through(&self, writer: &mut FileWriter) -> StoreResult<()> {
        if self.write_through.load(Ordering::Acquire) {
            let path = writer.file().path().to_path_buf();
            let file = disk::open_rw(&path)
                .map_err(|e| StoreError::io("open commit-log segment", &path, e))?;
            writer.write_through(file);
        }
        Ok(())
    }
}

/// Switches a segment's mapping between the writer's access pattern (random: no read-ahead, so no
/// large folios that a flush would write back whole; see [`MappedFile::advise_random`]) and the
/// default once it is complete. Only a performance hint: failures are logged.
pub(crate) fn writing_mode(file: &MappedFile, writing: bool) {
    if let Err(e) = file.advise_random(writing) {
        tracing::debug!(error = %e, path = %file.path().display(), "madvise on a commit-log segment failed");
    }
}

#[cfg(test)]
mod tests;
