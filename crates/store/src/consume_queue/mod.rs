//! Consume queues: one per (topic, queue id), an array of 20-byte units
//! `commit-log offset i64 | size i32 | tags code i64` (big-endian) whose index is the queue
//! offset seen on the wire. Stored as fixed-size files `consumequeue/<topic>/<queueId>/<20-digit
//! start byte offset>`.
//!
//! Units are only appended (by the dispatcher, under the store's append lock) and published after
//! they are complete, so readers never see a partial unit and need no lock beyond a short read
//! lock on the file list.

pub mod dispatch;
pub mod table;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::disk::{self, Disk};
use crate::error::{StoreError, StoreResult};
use crate::mapped_file::{FileWriter, MappedFile};

/// Bytes per unit.
pub const UNIT_SIZE: usize = 20;
/// Size field of a filler unit (written only to fill a gap found during recovery).
pub const BLANK_UNIT_SIZE: i32 = i32::MAX;

/// One consume-queue unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// Commit-log offset of the record.
    pub phys: i64,
    /// Record size (TOTALSIZE).
    pub size: i32,
    /// Tags code (tag hash, or delivery time for the schedule topic).
    pub tags_code: i64,
}

impl Unit {
    /// Whether this is a gap filler rather than a message.
    pub fn is_blank(&self) -> bool {
        self.size == BLANK_UNIT_SIZE
    }

    fn encode(&self) -> [u8; UNIT_SIZE] {
        let mut b = [0u8; UNIT_SIZE];
        let (phys, rest) = b.split_at_mut(8);
        let (size, tags) = rest.split_at_mut(4);
        phys.copy_from_slice(&self.phys.to_be_bytes());
        size.copy_from_slice(&self.size.to_be_bytes());
        tags.copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            phys: i64::from_be_bytes(b.get(0..8)?.try_into().ok()?),
            size: i32::from_be_bytes(b.get(8..12)?.try_into().ok()?),
            tags_code: i64::from_be_bytes(b.get(12..20)?.try_into().ok()?),
        })
    }

    fn blank() -> Self {
        Self {
            phys: 0,
            size: BLANK_UNIT_SIZE,
            tags_code: 0,
        }
    }
}

/// A consume queue.
#[derive(Debug)]
pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    dir: PathBuf,
    units_per_file: u64,
    /// Contiguous files; file `i` holds units `[first_unit + i * units_per_file, ..)`.
    files: RwLock<Vec<Arc<MappedFile>>>,
    /// Writer of the file holding the next unit; touched only under the store's append lock
    /// (the mutex is uncontended and exists to make the type `Sync`).
    writer: Mutex<Option<FileWriter>>,
    min_offset: AtomicI64,
    /// Number of the next unit (published with Release after the unit is readable).
    max_offset: AtomicI64,
}

fn file_start_unit(file: &MappedFile) -> Option<u64> {
    let name = file.path().file_name()?.to_str()?;
    Some(disk::parse_offset_name(name)? / UNIT_SIZE as u64)
}

impl ConsumeQueue {
    /// A new, empty queue (its directory and first file are created on the first unit).
    pub fn new(root: &Path, topic: &str, queue_id: i32, units_per_file: u32) -> Self {
        Self {
            topic: topic.to_string(),
            queue_id,
            dir: queue_dir(root, topic, queue_id),
            units_per_file: u64::from(units_per_file),
            files: RwLock::new(Vec::new()),
            writer: Mutex::new(None),
            min_offset: AtomicI64::new(0),
            max_offset: AtomicI64::new(0),
        }
    }

    /// Topic of the queue.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queue id.
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    /// First queue offset still backed by the commit log.
    pub fn min_offset(&self) -> i64 {
        self.min_offset.load(Ordering::Acquire)
    }

    /// Next queue offset to be assigned (number of units written).
    pub fn max_offset(&self) -> i64 {
        self.max_offset.load(Ordering::Acquire)
    }

    fn file_bytes(&self) -> usize {
        self.units_per_file as usize * UNIT_SIZE
    }

    /// Loads the queue's files, keeping only the prefix of units that point below
    /// `valid_below_phys` in increasing order (recovery replays the rest from the commit log).
    /// Later units are zeroed and files that end up empty (except the first) are deleted.
    ///
    /// # Errors
    /// I/O failures or a file of the wrong size.
    pub fn load(
        root: &Path,
        topic: &str,
        queue_id: i32,
        units_per_file: u32,
        valid_below_phys: u64,
    ) -> StoreResult<Self> {
        let q = Self::new(root, topic, queue_id, units_per_file);
        fn io<'a>(op: &'static str, p: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
            move |e| StoreError::io(op, p, e)
        }
        disk::remove_tmp_files(&q.dir).map_err(io("list consume queue", &q.dir))?;
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(&q.dir)
            .map_err(io("list consume queue", &q.dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = disk::parse_offset_name(e.file_name().to_str()?)?;
                Some((n, e.path()))
            })
            .collect();
        names.sort();
        let file_bytes = q.file_bytes();
        // Check continuity; a hole means files were lost, keep only the part after the hole.
        let mut kept: Vec<(u64, PathBuf)> = Vec::new();
        for (start, path) in names {
            if start % file_bytes as u64 != 0 {
                return Err(StoreError::Corrupt {
                    path,
                    reason: "consume-queue file name is not a multiple of the file size".into(),
                });
            }
            if let Some((prev, _)) = kept.last() {
                if *prev + file_bytes as u64 != start {
                    tracing::warn!(path = %path.display(), "gap in consume-queue files; dropping older ones");
                    for (_, p) in kept.drain(..) {
                        let _ = fs::remove_file(p);
                    }
                }
            }
            kept.push((start, path));
        }
        let mut files = Vec::with_capacity(kept.len());
        for (_, path) in &kept {
            let file = disk::open_rw(path).map_err(io("open consume queue", path))?;
            // Everything is readable for the scan; the file is re-mapped with its real end.
            let mapped = MappedFile::map(path, &file, file_bytes, file_bytes)
                .map_err(io("map consume queue", path))?;
            files.push(mapped);
        }
        q.truncate_loaded(files, valid_below_phys)?;
        Ok(q)
    }

    /// Finds the valid prefix of freshly mapped files (mapped fully readable) and installs them.
    fn truncate_loaded(
        &self,
        mut files: Vec<Arc<MappedFile>>,
        valid_below: u64,
    ) -> StoreResult<()> {
        // Walk back from the newest file to the first one whose first unit is valid; every file
        // before it is full and valid because units are appended in commit-log order.
        while let Some(last) = files.last() {
            let first_ok = unit_in(last, 0).is_some_and(|u| unit_valid(&u, -1, valid_below));
            if first_ok || files.len() == 1 {
                break;
            }
            if let Some(f) = files.pop() {
                fs::remove_file(f.path())
                    .map_err(|e| StoreError::io("delete cq file", f.path(), e))?;
            }
        }
        let Some(last) = files.last().cloned() else {
            return Ok(());
        };
        let first_unit = file_start_unit(files.first().unwrap_or(&last)).unwrap_or(0);
        let last_start = file_start_unit(&last).unwrap_or(0);
        let mut count = 0u64;
        let mut prev_end: i64 = -1;
        while count < self.units_per_file {
            match unit_in(&last, count as usize) {
                Some(u) if unit_valid(&u, prev_end, valid_below) => {
                    if !u.is_blank() {
                        prev_end = u.phys.saturating_add(i64::from(u.size));
                    }
                    count += 1;
                }
                _ => break,
            }
        }
        // Re-map every file with its published length; older files are full.
        let file_bytes = self.file_bytes();
        let mut installed = Vec::with_capacity(files.len());
        let n = files.len();
        let mut last_file = None;
        for (i, f) in files.into_iter().enumerate() {
            let published = if i + 1 == n {
                count as usize * UNIT_SIZE
            } else {
                file_bytes
            };
            let file =
                disk::open_rw(f.path()).map_err(|e| StoreError::io("open cq", f.path(), e))?;
            let m = MappedFile::map(f.path(), &file, file_bytes, published)
                .map_err(|e| StoreError::io("map cq", f.path(), e))?;
            installed.push(m);
            last_file = Some(file);
        }
        let mut writer = installed.last().and_then(|f| f.writer());
        // Stale units after the valid prefix must go for the same reason as a commit-log tail
        // (see `commit_log::lease`). Files are small (6 MB by default), so no lease: the check
        // skips never-written ranges and compares the rest with memcmp.
        if let (Some(w), Some(file)) = (writer.as_mut(), last_file.as_ref()) {
            w.zero_unpublished(file, file_bytes)
                .map_err(|e| StoreError::io("zero the end of a cq file", w.file().path(), e))?;
        }
        self.min_offset.store(first_unit as i64, Ordering::Release);
        self.max_offset
            .store((last_start + count) as i64, Ordering::Release);
        *self.files.write().unwrap_or_else(|p| p.into_inner()) = installed;
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = writer;
        Ok(())
    }

    /// Makes sure files exist for every unit below `end` (a queue offset), creating them ahead,
    /// so the following [`ConsumeQueue::put`] calls cannot fail. Called before the matching
    /// commit-log records are written.
    ///
    /// # Errors
    /// Creating a file failed ([`StoreError::DiskFull`] on ENOSPC).
    pub fn reserve(&self, disk: &dyn Disk, end: i64) -> StoreResult<()> {
        let end = u64::try_from(end).unwrap_or(0);
        loop {
            let covered = {
                let files = self.files.read().unwrap_or_else(|p| p.into_inner());
                files
                    .last()
                    .and_then(|l| file_start_unit(l))
                    .map(|s| s + self.units_per_file)
            };
            match covered {
                Some(c) if c >= end => return Ok(()),
                Some(c) => self.create_file(disk, c)?,
                None => {
                    // First file of the queue: the one that holds max_offset.
                    let max = self.max_offset() as u64;
                    self.create_file(disk, max - max % self.units_per_file)?;
                }
            }
        }
    }

    fn create_file(&self, disk: &dyn Disk, start_unit: u64) -> StoreResult<()> {
        disk::create_dir_durable(&self.dir)
            .map_err(|e| StoreError::io("create consume queue dir", &self.dir, e))?;
        let name = disk::offset_name(start_unit * UNIT_SIZE as u64);
        let path = self.dir.join(&name);
        let len = self.file_bytes();
        let file = disk::create_preallocated(disk, &self.dir, &name, len as u64)
            .map_err(|e| StoreError::io("create consume queue file", &path, e))?;
        let mapped = MappedFile::map(&path, &file, len, 0)
            .map_err(|e| StoreError::io("map cq", &path, e))?;
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        if files.is_empty() {
            self.min_offset.store(start_unit as i64, Ordering::Release);
        }
        files.push(mapped);
        Ok(())
    }

    /// Puts the unit for queue offset `queue_offset`: appends it if it is the next one, ignores it
    /// if already present (recovery replaying records the queue already holds), and fills a gap
    /// with blank units first if it is beyond the end. Space must have been [`reserve`]d.
    ///
    /// [`reserve`]: ConsumeQueue::reserve
    ///
    /// # Errors
    /// Space was not reserved (a bug) — reported rather than panicking.
    pub fn put(&self, queue_offset: i64, unit: Unit) -> StoreResult<()> {
        let max = self.max_offset();
        if queue_offset < max {
            return Ok(());
        }
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = max;
        while next <= queue_offset {
            let u = if next == queue_offset {
                unit
            } else {
                Unit::blank()
            };
            self.append_one(&mut writer, &u)?;
            next += 1;
            self.max_offset.store(next, Ordering::Release);
        }
        Ok(())
    }

    fn append_one(&self, writer: &mut Option<FileWriter>, unit: &Unit) -> StoreResult<()> {
        let full = writer.as_ref().is_none_or(|w| w.remaining() < UNIT_SIZE);
        if full {
            let next = self.max_offset() as u64;
            let files = self.files.read().unwrap_or_else(|p| p.into_inner());
            let file = files
                .iter()
                .find(|f| {
                    file_start_unit(f).is_some_and(|s| s <= next && next < s + self.units_per_file)
                })
                .cloned();
            drop(files);
            *writer = file.and_then(|f| f.writer());
        }
        let w = writer.as_mut().ok_or_else(|| StoreError::Corrupt {
            path: self.dir.clone(),
            reason: "consume-queue space was not reserved".into(),
        })?;
        let slot = w.stage(UNIT_SIZE).ok_or_else(|| StoreError::Corrupt {
            path: self.dir.clone(),
            reason: "consume-queue file full".into(),
        })?;
        slot.copy_from_slice(&unit.encode());
        // Consume-queue writers store through the mapping: publishing cannot fail.
        let _ = w.publish();
        Ok(())
    }

    /// The unit at `queue_offset`, if it is within `[min_offset, max_offset)` and still on disk.
    pub fn unit(&self, queue_offset: i64) -> Option<Unit> {
        if queue_offset < self.min_offset() || queue_offset >= self.max_offset() {
            return None;
        }
        let q = u64::try_from(queue_offset).ok()?;
        let files = self.files.read().unwrap_or_else(|p| p.into_inner());
        // Files are contiguous, so the first one's start places every unit (one name parsed
        // per read, not two).
        let rel = q.checked_sub(file_start_unit(files.first()?)?)?;
        let file = files.get(usize::try_from(rel / self.units_per_file).ok()?)?;
        let pos = usize::try_from(rel % self.units_per_file).ok()? * UNIT_SIZE;
        Unit::decode(file.read(pos, UNIT_SIZE)?)
    }

    /// Flushes units written since the last flush.
    ///
    /// # Errors
    /// The flush failed.
    pub fn flush(&self, disk: &dyn Disk) -> StoreResult<()> {
        let files: Vec<_> = self.files.read().unwrap_or_else(|p| p.into_inner()).clone();
        for f in files {
            let (from, to) = (f.flushed(), f.published());
            if to > from {
                disk.sync_mapped(&f, from, to)
                    .map_err(|e| StoreError::io("flush consume queue", f.path(), e))?;
            }
        }
        Ok(())
    }

    /// Releases the resident pages of units more than `keep` bytes behind the last one (see
    /// [`MappedFile::release`]); readers fault them back in from the page cache when needed.
    pub fn release_behind(&self, keep: usize) {
        let files: Vec<_> = self.files.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(last) = files.last() else {
            return;
        };
        let last_end = last.published().saturating_sub(keep);
        for (i, f) in files.iter().enumerate() {
            let to = if i + 1 == files.len() {
                last_end
            } else {
                f.len()
            };
            if let Err(e) = f.release(0, to) {
                tracing::debug!(error = %e, path = %f.path().display(), "releasing consume-queue pages failed");
            }
        }
    }

    /// Retention: deletes files whose units all point below `log_min_phys` (never the file being
    /// written) and moves the min offset to the first unit at or above it.
    ///
    /// # Errors
    /// Deleting a file failed.
    pub fn drop_below(&self, log_min_phys: u64) -> StoreResult<usize> {
        let mut deleted = 0;
        loop {
            let victim = {
                let files = self.files.read().unwrap_or_else(|p| p.into_inner());
                if files.len() < 2 {
                    None
                } else {
                    files.first().cloned().filter(|f| {
                        let last = f.published() / UNIT_SIZE;
                        last > 0
                            && unit_in(f, last - 1).is_some_and(|u| {
                                u.is_blank()
                                    || (u.phys.saturating_add(i64::from(u.size))) as u64
                                        <= log_min_phys
                            })
                    })
                }
            };
            let Some(victim) = victim else { break };
            self.files
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(0);
            fs::remove_file(victim.path())
                .map_err(|e| StoreError::io("delete consume queue file", victim.path(), e))?;
            deleted += 1;
        }
        self.correct_min_offset(log_min_phys);
        Ok(deleted)
    }

    /// Moves the min offset up to the first unit that points at or above `log_min_phys`.
    pub fn correct_min_offset(&self, log_min_phys: u64) {
        let files: Vec<_> = self.files.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(first) = files.first() else { return };
        let Some(first_unit) = file_start_unit(first) else {
            return;
        };
        let mut q = self.min_offset().max(first_unit as i64);
        let max = self.max_offset();
        while q < max {
            match self.unit(q) {
                Some(u) if u.is_blank() || (u.phys as u64) < log_min_phys => q += 1,
                _ => break,
            }
        }
        // Only ever moves forward.
        self.min_offset.fetch_max(q, Ordering::AcqRel);
    }

    /// Removes every file and the directory (topic deletion).
    ///
    /// # Errors
    /// Removing the directory failed.
    pub fn destroy(&self) -> StoreResult<()> {
        self.files
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = None;
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("delete consume queue", &self.dir, e)),
        }
    }
}

fn unit_in(file: &MappedFile, idx: usize) -> Option<Unit> {
    Unit::decode(file.read(idx.checked_mul(UNIT_SIZE)?, UNIT_SIZE)?)
}

/// A unit survives recovery if it is a filler, or points to a complete record below the valid
/// commit-log end and after the previous unit's record.
fn unit_valid(u: &Unit, prev_end: i64, valid_below: u64) -> bool {
    if u.is_blank() {
        return true;
    }
    u.size > 0
        && u.phys >= 0
        && u.phys >= prev_end
        && (u.phys.saturating_add(i64::from(u.size)) as u64) <= valid_below
}

/// `consumequeue/<topic>/<queueId>` under `root`.
pub fn queue_dir(root: &Path, topic: &str, queue_id: i32) -> PathBuf {
    root.join("consumequeue")
        .join(topic)
        .join(queue_id.to_string())
}

#[cfg(test)]
mod tests;
