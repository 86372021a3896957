//! The single writer of a [`MappedFile`] ([`FileWriter`]) and recovery's zero check.
//!
//! A writer either stores through the mapping (the default) or, in write-through mode, keeps the
//! staged bytes in a buffer and writes them to the file with `pwrite` when it publishes them:
//! same page cache, so readers of the mapping see them, but a later `fdatasync` is much cheaper
//! than for pages dirtied through a mapping (see [`FileWriter::write_through`]).
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{sys, MappedFile};

/// The single writer of a [`MappedFile`]: it stages bytes above the published position and then
/// publishes them, so readers only ever see complete data.
#[derive(Debug)]
pub struct FileWriter {
    file: Arc<MappedFile>,
    staged: usize,
    /// End of the region already faulted in writable (see [`FileWriter::stage`]).
    prefaulted: usize,
    /// Write-through mode: the file, and the bytes staged since the last publish.
    through: Option<(File, Vec<u8>)>,
}

/// How far ahead of the write position pages are faulted in, in one `madvise` call: this, but
/// at most 1/16 of the file. A small file written slowly (a 6 MB consume-queue file takes 20-byte
/// units) gains nothing from a big chunk, and every prefaulted page becomes a dirty zero page that
/// is written back and must be read again by recovery's zero check (see
/// [`FileWriter::zero_unpublished`]).
const PREFAULT_CHUNK: usize = 4 * 1024 * 1024;

impl FileWriter {
    /// The writer of `file`, whose first `staged` bytes are published (see
    /// [`MappedFile::writer`]).
    pub(super) fn new(file: Arc<MappedFile>, staged: usize) -> Self {
        Self {
            file,
            staged,
            prefaulted: staged,
            through: None,
        }
    }

    /// The file being written.
    pub fn file(&self) -> &Arc<MappedFile> {
        &self.file
    }

    /// End of the staged (written but maybe unpublished) region.
    pub fn staged_end(&self) -> usize {
        self.staged
    }

    /// Bytes left after the staged region.
    pub fn remaining(&self) -> usize {
        self.file.len.saturating_sub(self.staged)
    }

    /// Stops this writer from prefaulting pages itself, for a file whose pages are faulted in
    /// ahead of it by another thread (the commit log; see `commit_log::ahead`).
    pub fn disable_prefault(&mut self) {
        self.prefaulted = self.file.len;
    }

    /// Switches to write-through mode: staged bytes are kept in a buffer and written to `file`
    /// (which must be the mapped file) with `pwrite` when published, instead of being stored
    /// through the mapping. Why: on ext4, `fdatasync` (or `msync`) after writes through a
    /// shared mapping took ~600 µs here against ~140 µs after the same writes made with
    /// `pwrite` (each sync write-protects the pages again, the next store faults and updates the
    /// inode). Worth one copy per record when every append waits for a sync.
    pub fn write_through(&mut self, file: File) {
        self.through = Some((file, Vec::new()));
    }

    /// Leaves write-through mode (publishing whatever is staged first): later bytes are stored
    /// through the mapping, and [`FileWriter::publish`] cannot fail any more.
    ///
    /// # Errors
    /// Publishing the staged bytes failed (they are discarded; the mode is left anyway).
    pub fn end_write_through(&mut self) -> io::Result<()> {
        let published = self.publish();
        self.through = None;
        published
    }

    /// Reserves the next `len` bytes and returns them for writing; `None` if they do not fit.
    /// The bytes stay invisible to readers until [`FileWriter::publish`].
    pub fn stage(&mut self, len: usize) -> Option<&mut [u8]> {
        let start = self.staged;
        let end = start.checked_add(len)?;
        if end > self.file.len {
            return None;
        }
        if self.through.is_some() {
            self.staged = end;
            let (_, buf) = self.through.as_mut()?;
            let at = buf.len();
            buf.resize(at + len, 0);
            return buf.get_mut(at..);
        }
        if end > self.prefaulted {
            self.prefault(end);
        }
        self.staged = end;
        // SAFETY: [start, end) is inside the mapping and at or above the published position
        // (staged >= published always holds: publish sets published = staged, discard resets
        // staged = published), so no reader borrows it. This writer is the file's only one
        // (`writer_taken`) and the returned borrow ties up `&mut self`, so no other mutable view
        // of these bytes exists while it lives.
        Some(unsafe { std::slice::from_raw_parts_mut(self.file.map.as_mut_ptr().add(start), len) })
    }

    /// Faults in the pages up to `end` plus a chunk ahead with one `MADV_POPULATE_WRITE`, instead
    /// of one page fault (and file-system `page_mkwrite`) per 4 KiB page during appends: about
    /// 2.5× less CPU per appended KiB on ext4. The pages only become dirty zeros (the file is
    /// preallocated); contents are untouched, so this does not race with readers or the writer.
    /// Purely an optimisation: on a kernel without it (< 5.14) the normal faults happen instead.
    /// Consume-queue files use this; the commit log has it done off the append path instead.
    fn prefault(&mut self, end: usize) {
        let from = self.prefaulted.max(self.staged);
        let ahead = PREFAULT_CHUNK.min(self.file.len / 16);
        let to = end.saturating_add(ahead).min(self.file.len);
        if to > from && self.file.prefault(from, to).is_err() {
            // Unsupported: stop trying for this file.
            self.prefaulted = self.file.len;
            return;
        }
        self.prefaulted = to;
    }

    /// Makes everything staged so far visible to readers (writing it to the file first in
    /// write-through mode).
    ///
    /// # Errors
    /// The write-through `pwrite` failed; the staged bytes are then discarded, nothing is
    /// published.
    pub fn publish(&mut self) -> io::Result<()> {
        if let Some((file, buf)) = &mut self.through {
            let at = self.file.published() as u64;
            let written = file.write_all_at(buf, at);
            buf.clear();
            if let Err(e) = written {
                self.staged = self.file.published();
                return Err(e);
            }
        }
        self.file.published.store(self.staged, Ordering::Release);
        Ok(())
    }

    /// Forgets staged but unpublished bytes (they will be overwritten by the next stage).
    pub fn discard(&mut self) {
        self.staged = self.file.published();
        if let Some((_, buf)) = &mut self.through {
            buf.clear();
        }
    }

    /// Zeroes every non-zero byte in `[published, limit)` (`limit` is clamped to the file length)
    /// and makes the zeroed bytes durable. Used by recovery so garbage past the last valid record
    /// can never be mistaken for data later: once appends line up with a stale record that
    /// followed a torn one, a second crash would otherwise resurrect it. Callers bound `limit` by
    /// what can hold stale bytes (the commit log's write lease); bytes at or above it are left
    /// alone.
    ///
    /// Cheap on a mostly empty preallocated file: ranges the file system reports as holes
    /// (unwritten extents read as zeros; see [`sys::data_regions`]) are skipped without faulting
    /// them in, the rest is compared in 64 KiB chunks against a static zero buffer (`memcmp`), and
    /// only dirty chunks are written. `file` must be the file this writer's mapping was made from.
    ///
    /// # Errors
    /// Asking the file system for its data ranges or syncing the zeroed range failed.
    pub fn zero_unpublished(&mut self, file: &File, limit: usize) -> io::Result<ZeroReport> {
        self.discard();
        let limit = limit.min(self.file.len);
        let mut report = ZeroReport::default();
        let mut dirty: Option<(usize, usize)> = None;
        for (from, to) in sys::data_regions(file, self.staged as u64, limit as u64)? {
            // Regions come back within [staged, limit); convert defensively anyway.
            let (Ok(from), Ok(to)) = (usize::try_from(from), usize::try_from(to)) else {
                continue;
            };
            let (from, to) = (from.max(self.staged), to.min(limit));
            let mut pos = from;
            while pos < to {
                let len = ZERO_CHUNK.min(to - pos);
                // SAFETY: same region argument as in `stage`: [pos, pos + len) is inside the
                // mapping (to <= limit <= len of the file), at or above the published position
                // (from >= staged == published after `discard`), and only this writer touches it.
                let chunk = unsafe {
                    std::slice::from_raw_parts_mut(self.file.map.as_mut_ptr().add(pos), len)
                };
                if !is_zero(chunk) {
                    chunk.fill(0);
                    report.zeroed += len as u64;
                    dirty = Some(dirty.map_or((pos, pos + len), |(lo, _)| (lo, pos + len)));
                }
                report.scanned += len as u64;
                pos += len;
            }
        }
        if let Some((lo, hi)) = dirty {
            // Not `flush_range`: the flushed position tracks published data only.
            self.file.map.flush_range(lo, hi - lo)?;
        }
        Ok(report)
    }
}

/// What [`FileWriter::zero_unpublished`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZeroReport {
    /// Bytes read and compared (ranges reported as holes are not read).
    pub scanned: u64,
    /// Bytes rewritten with zeros (whole 64 KiB chunks holding at least one non-zero byte).
    pub zeroed: u64,
}

/// Granularity of the zero check.
pub(super) const ZERO_CHUNK: usize = 64 * 1024;

/// Compared against with `==`, which for byte slices is a `memcmp`: fast even in debug builds,
/// unlike a byte-by-byte `iter().any()`. All zeros, so it lives in `.bss`.
static ZEROS: [u8; ZERO_CHUNK] = [0; ZERO_CHUNK];

/// Whether every byte of `bytes` is zero.
pub fn is_zero(bytes: &[u8]) -> bool {
    bytes
        .chunks(ZERO_CHUNK)
        .all(|c| ZEROS.get(..c.len()).is_some_and(|z| c == z))
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        self.file.writer_taken.store(false, Ordering::Release);
    }
}
