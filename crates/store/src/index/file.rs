//! One index file, laid out exactly as RocketMQ's `IndexFile`:
//!
//! ```text
//! header (40 B): beginTimestamp i64 | endTimestamp i64 | beginPhyOffset i64 | endPhyOffset i64
//!                | hashSlotCount i32 | indexCount i32          (all big-endian)
//! slots  (4 B each): number of the newest entry whose key hashes to the slot, 0 = empty
//! entries (20 B each): keyHash i32 | phyOffset i64 | timeDiff i32 (s) | prevIndex i32
//! ```
//!
//! Entry 0 is never used (indexCount starts at 1), so 0 means "none" in slots and chains.
//! Every field is accessed as atomic 32-bit words (8-byte fields as two words, high first). An
//! entry is complete before the slot pointing to it is stored with Release, and readers load the
//! slot with Acquire, so a reader walking a chain only meets complete entries.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::disk::{self, Disk};
use crate::error::{StoreError, StoreResult};
use crate::mapped_file::WordMap;

/// Header length in bytes.
pub const HEADER_LEN: usize = 40;
/// Entry length in bytes.
pub const ENTRY_LEN: usize = 20;
const HEADER_WORDS: usize = HEADER_LEN / 4;
const ENTRY_WORDS: usize = ENTRY_LEN / 4;

/// Header word positions.
const BEGIN_TS: usize = 0;
const END_TS: usize = 2;
const BEGIN_PHYS: usize = 4;
const END_PHYS: usize = 6;
const SLOT_COUNT: usize = 8;
const INDEX_COUNT: usize = 9;

/// File length for the given geometry.
pub fn file_len(slots: u32, max_entries: u32) -> u64 {
    HEADER_LEN as u64 + u64::from(slots) * 4 + u64::from(max_entries) * ENTRY_LEN as u64
}

/// One entry of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// `abs(hashCode(key))`.
    pub key_hash: u32,
    /// Commit-log offset of the message.
    pub phys: i64,
    /// Seconds since the file's begin timestamp.
    pub time_diff: i32,
    /// Previous entry of the same slot (0 = end of chain).
    pub prev: u32,
}

/// A mapped index file.
#[derive(Debug)]
pub struct IndexFile {
    map: WordMap,
    id: u64,
    slots: u32,
    max_entries: u32,
    /// indexCount at the last successful flush.
    flushed_count: AtomicU32,
}

impl IndexFile {
    /// Creates a new, empty, preallocated file named after `id` (`yyyyMMddHHmmssSSS`).
    ///
    /// # Errors
    /// Creation failed ([`StoreError::DiskFull`] on ENOSPC).
    pub fn create(
        disk: &dyn Disk,
        dir: &Path,
        id: u64,
        slots: u32,
        max_entries: u32,
    ) -> StoreResult<Self> {
        let name = id.to_string();
        let path = dir.join(&name);
        let len = file_len(slots, max_entries);
        let file = disk::create_preallocated(disk, dir, &name, len)
            .map_err(|e| StoreError::io("create index file", &path, e))?;
        let map = WordMap::map(&path, &file, len as usize)
            .map_err(|e| StoreError::io("map index file", &path, e))?;
        let f = Self {
            map,
            id,
            slots,
            max_entries,
            flushed_count: AtomicU32::new(0),
        };
        f.set(INDEX_COUNT, 1);
        Ok(f)
    }

    /// Maps an existing file.
    ///
    /// # Errors
    /// Wrong size or mapping failure.
    pub fn open(path: &Path, id: u64, slots: u32, max_entries: u32) -> StoreResult<Self> {
        let file = disk::open_rw(path).map_err(|e| StoreError::io("open index file", path, e))?;
        let len = file_len(slots, max_entries) as usize;
        let map = WordMap::map(path, &file, len).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("cannot map index file (index_slots/index_max_entries changed?): {e}"),
        })?;
        // Unknown durability until recovery has looked at it: flush once.
        Ok(Self {
            map,
            id,
            slots,
            max_entries,
            flushed_count: AtomicU32::new(0),
        })
    }

    /// The file's id (its name as a number).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.map.path()
    }

    fn word(&self, i: usize) -> Option<&AtomicU32> {
        self.map.words().get(i)
    }

    fn get(&self, i: usize) -> u32 {
        self.word(i)
            .map_or(0, |w| u32::from_be(w.load(Ordering::Acquire)))
    }

    fn set(&self, i: usize, v: u32) {
        if let Some(w) = self.word(i) {
            w.store(v.to_be(), Ordering::Release);
        }
    }

    fn get64(&self, i: usize) -> i64 {
        ((u64::from(self.get(i)) << 32) | u64::from(self.get(i + 1))) as i64
    }

    fn set64(&self, i: usize, v: i64) {
        let v = v as u64;
        self.set(i, (v >> 32) as u32);
        self.set(i + 1, v as u32);
    }

    /// Store time of the first indexed message (ms).
    pub fn begin_timestamp(&self) -> i64 {
        self.get64(BEGIN_TS)
    }

    /// Store time of the last indexed message (ms).
    pub fn end_timestamp(&self) -> i64 {
        self.get64(END_TS)
    }

    /// Commit-log offset of the first indexed message.
    pub fn begin_phys(&self) -> i64 {
        self.get64(BEGIN_PHYS)
    }

    /// Commit-log offset of the last indexed message.
    pub fn end_phys(&self) -> i64 {
        self.get64(END_PHYS)
    }

    /// Next entry number (1 when empty).
    pub fn index_count(&self) -> u32 {
        self.get(INDEX_COUNT)
    }

    /// Entries that can still be added.
    pub fn free_entries(&self) -> u32 {
        self.max_entries.saturating_sub(self.index_count().max(1))
    }

    fn slot_word(&self, key_hash: u32) -> usize {
        HEADER_WORDS + (key_hash % self.slots) as usize
    }

    fn entry_word(&self, n: u32) -> usize {
        HEADER_WORDS + self.slots as usize + n as usize * ENTRY_WORDS
    }

    /// Reads entry `n` (no bounds check against the count).
    pub fn entry(&self, n: u32) -> Entry {
        let w = self.entry_word(n);
        Entry {
            key_hash: self.get(w),
            phys: self.get64(w + 1),
            time_diff: self.get(w + 3) as i32,
            prev: self.get(w + 4),
        }
    }

    /// Adds an entry; `false` if the file is full. Single writer (the index builder).
    pub fn put(&self, key_hash: u32, phys: i64, store_timestamp: i64) -> bool {
        let count = self.index_count().max(1);
        if count >= self.max_entries {
            return false;
        }
        if count == 1 {
            self.set64(BEGIN_TS, store_timestamp);
            self.set64(BEGIN_PHYS, phys);
        }
        self.link(count, key_hash, phys, store_timestamp);
        self.set64(END_TS, store_timestamp);
        self.set64(END_PHYS, phys);
        self.set(INDEX_COUNT, count + 1);
        true
    }

    /// Writes entry `n` and points its slot at it (entry first, then the slot: see module docs).
    fn link(&self, n: u32, key_hash: u32, phys: i64, store_timestamp: i64) {
        let slot = self.slot_word(key_hash);
        let mut prev = self.get(slot);
        if prev >= n {
            prev = 0;
        }
        let diff = (store_timestamp.saturating_sub(self.begin_timestamp()) / 1000)
            .clamp(0, i64::from(i32::MAX)) as u32;
        let w = self.entry_word(n);
        self.set(w, key_hash);
        self.set64(w + 1, phys);
        self.set(w + 3, diff);
        self.set(w + 4, prev);
        if prev == 0 {
            self.set(SLOT_COUNT, self.get(SLOT_COUNT).saturating_add(1));
        }
        self.set(slot, n);
    }

    /// Walks the chain of `key_hash`, collecting commit-log offsets of entries whose approximate
    /// store time (`begin + timeDiff s`, truncated to seconds) may lie in `[begin, end]`, newest
    /// first, at most `max`. Callers re-check the exact time and the key on the record.
    pub fn lookup(&self, key_hash: u32, begin: i64, end: i64, max: usize, out: &mut Vec<i64>) {
        let count = self.index_count();
        let base = self.begin_timestamp();
        let mut n = self.get(self.slot_word(key_hash));
        while n > 0 && n < count && out.len() < max {
            let e = self.entry(n);
            let t = base.saturating_add(i64::from(e.time_diff).saturating_mul(1000));
            // timeDiff is truncated to whole seconds, so allow up to 999 ms before `begin`.
            if e.key_hash == key_hash && t <= end && t.saturating_add(999) >= begin {
                out.push(e.phys);
            }
            // Chains only point backwards; anything else is corruption, stop rather than loop.
            if e.prev >= n {
                break;
            }
            n = e.prev;
        }
    }

    /// Keeps entries `1..keep` and rebuilds the slot table and header from them, dropping every
    /// pointer to later entries (recovery after a crash, when slot pages may have reached the
    /// disk without the entries they point to).
    pub fn rebuild(&self, keep: u32) {
        let keep = keep.clamp(1, self.max_entries);
        for i in 0..self.slots as usize {
            if let Some(w) = self.word(HEADER_WORDS + i) {
                w.store(0, Ordering::Relaxed);
            }
        }
        self.set(SLOT_COUNT, 0);
        let begin = self.begin_timestamp();
        for n in 1..keep {
            let e = self.entry(n);
            let ts = begin.saturating_add(i64::from(e.time_diff).saturating_mul(1000));
            let slot = self.slot_word(e.key_hash);
            let prev = self.get(slot);
            let w = self.entry_word(n);
            self.set(w + 4, prev);
            if prev == 0 {
                self.set(SLOT_COUNT, self.get(SLOT_COUNT).saturating_add(1));
            }
            self.set(slot, n);
            self.set64(END_TS, ts);
            self.set64(END_PHYS, e.phys);
        }
        // Clear the dropped entries so no stale data lingers in the file.
        let old = self.index_count().min(self.max_entries);
        for n in keep..old.max(keep) {
            let w = self.entry_word(n);
            for k in 0..ENTRY_WORDS {
                self.set(w + k, 0);
            }
        }
        if keep == 1 {
            for i in [BEGIN_TS, END_TS, BEGIN_PHYS, END_PHYS] {
                self.set64(i, 0);
            }
        }
        self.set(INDEX_COUNT, keep);
    }

    /// Releases the resident pages of entries more than `keep` bytes behind the last one (see
    /// [`WordMap::release`]); the header and hash slots, touched by every insert, stay.
    pub fn release_entries(&self, keep: usize) {
        let entries = HEADER_LEN + self.slots as usize * 4;
        let count = self.index_count().min(self.max_entries) as usize;
        let end = (entries + count * ENTRY_LEN).saturating_sub(keep);
        if let Err(e) = self.map.release(entries, end) {
            tracing::debug!(error = %e, path = %self.path().display(), "releasing index pages failed");
        }
    }

    /// Makes the header, slots and entries written so far durable (nothing to do if no entry
    /// was added since the last flush).
    ///
    /// # Errors
    /// The flush failed.
    pub fn flush(&self, disk: &dyn Disk) -> StoreResult<()> {
        let count = self.index_count().min(self.max_entries);
        if count != 0 && count == self.flushed_count.load(Ordering::Acquire) {
            return Ok(());
        }
        let end = HEADER_LEN + self.slots as usize * 4 + count as usize * ENTRY_LEN;
        disk.sync_words(&self.map, 0, end)
            .map_err(|e| StoreError::io("flush index file", self.path(), e))?;
        self.flushed_count.store(count, Ordering::Release);
        Ok(())
    }
}

/// RocketMQ's index key hash: `abs(String.hashCode())` of the concatenated parts (UTF-16 code
/// units, wrapping), 0 when the absolute value overflows. Computed without building the string.
pub fn key_hash(parts: &[&str]) -> u32 {
    let h = parts
        .iter()
        .flat_map(|p| p.encode_utf16())
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)));
    h.checked_abs().unwrap_or(0) as u32
}

/// Formats epoch milliseconds as `yyyyMMddHHmmssSSS` (UTC) and returns it as a number.
pub fn timestamp_id(ms: i64) -> u64 {
    let ms = ms.max(0);
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    let v = ((((year * 100 + month) * 100 + day) * 100 + h) * 100 + m) * 100 + s;
    (v * 1000 + milli) as u64
}
