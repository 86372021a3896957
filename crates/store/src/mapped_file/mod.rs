//! Memory-mapped files: with [`crate::background`], the only module of the crate that uses `unsafe`.
//!
//! Two views of a mapping are offered, and a file is only ever mapped through one of them:
//! - [`MappedFile`] for append-only data (commit-log segments, consume-queue files). Bytes below
//!   the *published* position are immutable and may be handed out as `&[u8]` or zero-copy
//!   [`Bytes`]; bytes at or above it are written only through the file's single [`FileWriter`].
//! - [`WordMap`] for files rewritten in place (index files): every access is an atomic 32-bit load
//!   or store, so concurrent readers never observe a data race.
//!
//! Rules the rest of the crate relies on (and keeps): a mapped file is never truncated or shrunk
//! while mapped (retention only unlinks, which leaves live mappings valid), and files are
//! preallocated with `posix_fallocate` before mapping, so a store through the mapping cannot hit
//! an unbacked page (SIGBUS) on a full disk.
#![allow(unsafe_code)]

pub mod sys;
mod writer;

pub use writer::{is_zero, FileWriter, ZeroReport};

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{Advice, MmapOptions, MmapRaw};

/// An append-only memory-mapped file of fixed length.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    map: MmapRaw,
    len: usize,
    /// End of the immutable, readable region. Only grows; written with `Release` after the bytes
    /// below it are complete, read with `Acquire`.
    published: AtomicUsize,
    /// Bytes below this position are known durable (maintained by the flush code).
    flushed: AtomicUsize,
    writer_taken: AtomicBool,
}

fn map_file(file: &File, len: usize) -> io::Result<MmapRaw> {
    let on_disk = file.metadata()?.len();
    if u64::try_from(len).ok() != Some(on_disk) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is {on_disk} bytes, expected {len}"),
        ));
    }
    MmapOptions::new().len(len).map_raw(file)
}

/// Page size assumed for [`release_pages`]; rounding to it keeps partial pages mapped, and a
/// larger real page size only makes the call release less.
const PAGE: usize = 4096;

/// Drops this process's page-table entries for the whole pages inside `[from, to)` of `map`
/// (`MADV_DONTNEED`), so they stop counting in its resident set; returns the bytes covered.
///
/// Safe for these mappings because they are shared file mappings (`MAP_SHARED`, made by
/// [`map_file`]): the pages stay in the page cache with their contents, a dirty page is marked
/// dirty there and written back as usual, and the next access faults the same page back in.
/// Nothing is lost or zeroed (that only happens for private mappings, which this crate never
/// makes). Concurrent readers and writers see no difference beyond a minor fault.
fn release_pages(map: &MmapRaw, len: usize, from: usize, to: usize) -> io::Result<usize> {
    let from = from.div_ceil(PAGE).saturating_mul(PAGE);
    let to = to.min(len) / PAGE * PAGE;
    if from >= to {
        return Ok(0);
    }
    // SAFETY: see above: on a MAP_SHARED file mapping, MADV_DONTNEED only unmaps pages; their
    // contents remain those of the file, so every outstanding `&[u8]`/`Bytes`/atomic view keeps
    // reading (and writing) exactly the same bytes after the next fault.
    unsafe {
        map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)?;
    }
    Ok(to - from)
}

impl MappedFile {
    /// Maps the whole of `file` (which must be exactly `len` bytes long) with the first
    /// `published` bytes treated as already written.
    ///
    /// # Errors
    /// The file length differs from `len`, `published > len`, or `mmap` fails.
    pub fn map(path: &Path, file: &File, len: usize, published: usize) -> io::Result<Arc<Self>> {
        if published > len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "published position beyond the end of the file",
            ));
        }
        let map = map_file(file, len)?;
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            map,
            len,
            published: AtomicUsize::new(published),
            flushed: AtomicUsize::new(published),
            writer_taken: AtomicBool::new(false),
        }))
    }

    /// Path the file was mapped from (it may since have been unlinked by retention).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fixed length of the file in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file has zero length (never true for files the store creates).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// End of the written, immutable region.
    pub fn published(&self) -> usize {
        self.published.load(Ordering::Acquire)
    }

    /// Position below which the file is known durable.
    pub fn flushed(&self) -> usize {
        self.flushed.load(Ordering::Acquire)
    }

    /// Borrow `len` published bytes at `offset`; `None` if any of them is not yet published.
    pub fn read(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.published() {
            return None;
        }
        // SAFETY: [offset, end) lies inside the mapping (end <= published <= self.len) and below
        // the published position, which only grows and is stored with Release after the bytes
        // were written (we loaded it with Acquire). Nothing writes below `published` again: the
        // only writer (`FileWriter`) writes at or above it, files are never truncated while
        // mapped, and the mapping lives as long as `&self`.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(offset), len) })
    }

    /// A zero-copy [`Bytes`] over `len` published bytes at `offset`; it keeps the mapping alive
    /// (even after the file is unlinked) until the last clone is dropped.
    pub fn slice(self: &Arc<Self>, offset: usize, len: usize) -> Option<Bytes> {
        // Validate now: the owner's `as_ref` cannot fail later.
        self.read(offset, len)?;
        Some(Bytes::from_owner(PublishedRegion {
            file: Arc::clone(self),
            offset,
            len,
        }))
    }

    /// Takes the file's unique writer; `None` while another writer for it is alive.
    pub fn writer(self: &Arc<Self>) -> Option<FileWriter> {
        if self.writer_taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        let staged = self.published();
        Some(FileWriter::new(Arc::clone(self), staged))
    }

    /// Faults the pages of `[from, to)` in writable with one `MADV_POPULATE_WRITE` (clamped to
    /// the file), without touching their contents: for a never-written page of a preallocated
    /// file that means allocating and zeroing its page-cache page now rather than on the first
    /// store. Safe to run concurrently with readers and the writer, since no byte changes.
    ///
    /// # Errors
    /// The kernel does not support it (Linux < 5.14) or the range could not be populated.
    pub fn prefault(&self, from: usize, to: usize) -> io::Result<()> {
        self.populate(Advice::PopulateWrite, from, to)
    }

    /// As [`MappedFile::prefault`] but mapped read-only (`MADV_POPULATE_READ`), for a file whose
    /// writer uses `pwrite`: its mapping only serves readers, and a read-only mapping means a
    /// flush need not write-protect the pages again (a TLB shoot-down per flushed page).
    ///
    /// # Errors
    /// As [`MappedFile::prefault`].
    pub fn prefault_readable(&self, from: usize, to: usize) -> io::Result<()> {
        self.populate(Advice::PopulateRead, from, to)
    }

    fn populate(&self, how: Advice, from: usize, to: usize) -> io::Result<()> {
        let to = to.min(self.len);
        if from >= to {
            return Ok(());
        }
        self.map.advise_range(how, from, to - from)
    }

    /// Marks the mapping for random access (`MADV_RANDOM`, `on`) or back to the default.
    ///
    /// Why the commit log's segment being written wants it: without it, a fault (or a
    /// `MADV_POPULATE_WRITE`) reads ahead and the page cache gets large folios (up to 2 MiB), and
    /// the kernel writes back and write-protects whole folios. A sync-mode flush of a few KiB then
    /// writes the whole 2 MiB folio around the write position: measured 512 pages per `msync`,
    /// about 260 KB of disk writes per 1 KiB message. With random access the pages are faulted
    /// in as single pages, and a flush writes what changed. Once the segment is complete, reads
    /// benefit from read-ahead again.
    ///
    /// # Errors
    /// `madvise` failed (the caller may ignore it: this only affects performance).
    pub fn advise_random(&self, on: bool) -> io::Result<()> {
        self.map
            .advise(if on { Advice::Random } else { Advice::Normal })
    }

    /// Stops counting the whole pages of `[from, to)` in the process's resident memory (they stay
    /// in the page cache; see [`release_pages`]); returns the bytes covered. For ranges that are
    /// flushed and unlikely to be read soon.
    ///
    /// # Errors
    /// `madvise` failed (the caller may ignore it: this only affects memory accounting).
    pub fn release(&self, from: usize, to: usize) -> io::Result<usize> {
        release_pages(&self.map, self.len, from, to)
    }

    /// Makes `[from, to)` durable with `msync(MS_SYNC)` (Linux turns it into a data sync of the
    /// range) and advances the flushed position to `to` if it was lower.
    ///
    /// # Errors
    /// The range is outside the file, or `msync` fails.
    pub fn flush_range(&self, from: usize, to: usize) -> io::Result<()> {
        if from > to || to > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "flush range outside file",
            ));
        }
        if to > from {
            self.map.flush_range(from, to - from)?;
        }
        self.flushed.fetch_max(to, Ordering::AcqRel);
        Ok(())
    }
}

/// Owner handed to [`Bytes::from_owner`]: one published region of a mapped file.
///
/// Soundness of handing these bytes out as a `Bytes` that may live arbitrarily long, on any
/// thread (the `unsafe` itself is in [`MappedFile::read`]):
/// - the `Arc<MappedFile>` keeps the mapping alive until the last `Bytes` clone is dropped, so
///   the pointer never dangles, even after retention unlinks the file (unlinking does not unmap);
/// - the region was below `published` when the owner was built, and `published` never moves
///   back; the only writer ([`FileWriter`]) writes strictly at or above it, so the bytes never
///   change while borrowed (no data race, no aliasing with a `&mut`);
/// - the store never truncates, shrinks or rewrites a published part of a mapped file: recovery
///   zeroes only above the valid end, and does so before any reader exists; files are
///   preallocated, so pages are backed and reads cannot SIGBUS;
/// - other processes are kept out by the store's lock file; a process that ignores it and
///   truncates the file breaks this guarantee, as with any memory map.
struct PublishedRegion {
    file: Arc<MappedFile>,
    offset: usize,
    len: usize,
}

impl AsRef<[u8]> for PublishedRegion {
    fn as_ref(&self) -> &[u8] {
        // `slice` checked this region before building the owner and published regions stay
        // published, so this never falls back to the empty slice.
        self.file.read(self.offset, self.len).unwrap_or(&[])
    }
}

/// A file mapped as an array of atomic 32-bit words (index files). Multi-word values are written
/// word by word; publication order is the caller's business (see the index module).
#[derive(Debug)]
pub struct WordMap {
    path: PathBuf,
    map: MmapRaw,
    words: usize,
}

impl WordMap {
    /// Maps `file`, which must be exactly `len` bytes long with `len` a multiple of 4.
    ///
    /// # Errors
    /// Bad length or `mmap` failure.
    pub fn map(path: &Path, file: &File, len: usize) -> io::Result<Self> {
        if len % 4 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "length not a multiple of 4",
            ));
        }
        let map = map_file(file, len)?;
        Ok(Self {
            path: path.to_path_buf(),
            map,
            words: len / 4,
        })
    }

    /// Path the file was mapped from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mapping as atomic words (native byte order; callers store big-endian values).
    pub fn words(&self) -> &[AtomicU32] {
        // SAFETY: the mapping is page-aligned (so 4-aligned) and `words * 4` bytes long, and it
        // lives as long as `&self`. AtomicU32 has the size and alignment of u32 and allows shared
        // mutation; this crate never creates a non-atomic view of a WordMap's bytes, so every
        // concurrent access in the process is atomic (no data race). Other processes changing the
        // file are excluded by the store's lock file.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<AtomicU32>(), self.words) }
    }

    /// As [`MappedFile::release`], for a word map.
    ///
    /// # Errors
    /// `madvise` failed.
    pub fn release(&self, from: usize, to: usize) -> io::Result<usize> {
        release_pages(&self.map, self.words * 4, from, to)
    }

    /// `msync` the byte range `[from, to)`.
    ///
    /// # Errors
    /// The range is outside the file, or `msync` fails.
    pub fn flush_range(&self, from: usize, to: usize) -> io::Result<()> {
        if from > to || to > self.words * 4 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "flush range outside file",
            ));
        }
        if to > from {
            self.map.flush_range(from, to - from)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::writer::ZERO_CHUNK;
    use super::*;

    fn make(dir: &Path, len: u64) -> (PathBuf, File) {
        let path = dir.join("f");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        sys::posix_fallocate(&file, len).unwrap();
        (path, file)
    }

    #[test]
    fn write_through_publishes_through_the_file_and_readers_of_the_mapping_see_it() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = make(dir.path(), 8192);
        let mf = MappedFile::map(&path, &file, 8192, 0).unwrap();
        let mut w = mf.writer().unwrap();
        w.write_through(file.try_clone().unwrap());
        w.stage(3).unwrap().copy_from_slice(b"abc");
        w.stage(4).unwrap().copy_from_slice(b"defg");
        assert!(mf.read(0, 1).is_none(), "nothing visible before publish");
        let mut raw = [0u8; 7];
        file.read_exact_at(&mut raw, 0).unwrap();
        assert_eq!(
            &raw, &[0u8; 7],
            "nothing written to the file before publish"
        );
        w.publish().unwrap();
        assert_eq!(mf.read(0, 7).unwrap(), b"abcdefg");
        file.read_exact_at(&mut raw, 0).unwrap();
        assert_eq!(&raw, b"abcdefg");
        // Discarded bytes are never written; the next stage takes their place.
        w.stage(2).unwrap().copy_from_slice(b"XX");
        w.discard();
        w.stage(2).unwrap().copy_from_slice(b"hi");
        w.end_write_through().unwrap();
        assert_eq!(mf.read(0, 9).unwrap(), b"abcdefghi");
        // Back to stores through the mapping.
        w.stage(1).unwrap().copy_from_slice(b"!");
        w.publish().unwrap();
        let mut all = [0u8; 10];
        file.read_exact_at(&mut all, 0).unwrap();
        assert_eq!(&all, b"abcdefghi!");
    }

    #[test]
    fn staged_bytes_are_invisible_until_published() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = make(dir.path(), 4096);
        let mf = MappedFile::map(&path, &file, 4096, 0).unwrap();
        let mut w = mf.writer().unwrap();
        assert!(mf.writer().is_none(), "only one writer at a time");
        w.stage(5).unwrap().copy_from_slice(b"hello");
        assert!(mf.read(0, 5).is_none());
        w.publish().unwrap();
        assert_eq!(mf.read(0, 5).unwrap(), b"hello");
        let b = mf.slice(1, 3).unwrap();
        drop(w);
        drop(mf);
        assert_eq!(&b[..], b"ell", "Bytes keeps the mapping alive");
    }

    #[test]
    fn discard_and_zero_unpublished() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = make(dir.path(), 200_000);
        let mf = MappedFile::map(&path, &file, 200_000, 0).unwrap();
        let mut w = mf.writer().unwrap();
        w.stage(4).unwrap().copy_from_slice(b"abcd");
        w.publish().unwrap();
        w.stage(100_000).unwrap().fill(7);
        w.discard();
        assert_eq!(w.staged_end(), 4);
        let report = w.zero_unpublished(&file, 200_000).unwrap();
        assert!(report.zeroed >= 100_000, "{report:?}");
        assert!(report.scanned >= report.zeroed && report.scanned <= 199_996);
        w.stage(199_996).unwrap();
        w.publish().unwrap();
        let all = mf.read(0, 200_000).unwrap();
        assert_eq!(&all[..4], b"abcd");
        assert!(all[4..].iter().all(|b| *b == 0));
        assert!(w.stage(1).is_none(), "file is full");
        mf.flush_range(0, 200_000).unwrap();
        assert_eq!(mf.flushed(), 200_000);
    }

    #[test]
    fn zeroing_stops_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = make(dir.path(), 300_000);
        let mf = MappedFile::map(&path, &file, 300_000, 0).unwrap();
        let mut w = mf.writer().unwrap();
        w.stage(300_000).unwrap().fill(9);
        w.discard();
        w.zero_unpublished(&file, 150_000).unwrap();
        w.stage(300_000).unwrap();
        w.publish().unwrap();
        let all = mf.read(0, 300_000).unwrap();
        assert!(is_zero(&all[..150_000]));
        assert!(
            all[150_000..].iter().all(|b| *b == 9),
            "past the limit untouched"
        );
    }

    #[test]
    fn never_written_ranges_are_not_read() {
        const LEN: usize = 64 << 20;
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = make(dir.path(), LEN as u64);
        let mf = MappedFile::map(&path, &file, LEN, 0).unwrap();
        let mut w = mf.writer().unwrap();
        w.stage(10).unwrap().fill(1);
        w.publish().unwrap();
        // Garbage in the next page, as a torn write would leave.
        w.stage(5000).unwrap().fill(3);
        w.discard();
        // Whether this file system reports never-written ranges as holes (ext4, xfs, tmpfs do).
        let holes_reported = sys::data_regions(&file, 16 << 20, LEN as u64)
            .unwrap()
            .is_empty();
        let report = w.zero_unpublished(&file, LEN).unwrap();
        assert!(report.zeroed > 0, "{report:?}");
        w.stage(LEN - 10).unwrap();
        w.publish().unwrap();
        assert!(is_zero(mf.read(10, LEN - 10).unwrap()), "garbage zeroed");
        if holes_reported {
            // Only the pages near the start (written or prefaulted) were read, not the 64 MiB.
            assert!(report.scanned <= (16 << 20) as u64, "{report:?}");
        } else {
            eprintln!("file system reports no holes; the whole range was compared");
        }
    }

    #[test]
    fn is_zero_checks_every_byte() {
        let mut v = vec![0u8; 3 * ZERO_CHUNK + 17];
        assert!(is_zero(&v));
        assert!(is_zero(&[]));
        let last = v.len() - 1;
        v[last] = 1;
        assert!(!is_zero(&v));
        v[last] = 0;
        v[ZERO_CHUNK] = 1;
        assert!(!is_zero(&v));
    }

    #[test]
    fn word_map_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = make(dir.path(), 64);
        let wm = WordMap::map(&path, &file, 64).unwrap();
        wm.words()[3].store(0xdead_beef, Ordering::Release);
        assert_eq!(wm.words()[3].load(Ordering::Acquire), 0xdead_beef);
        assert_eq!(wm.words().len(), 16);
        wm.flush_range(0, 64).unwrap();
        assert!(WordMap::map(&path, &file, 63).is_err());
    }

    #[test]
    fn wrong_length_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = make(dir.path(), 4096);
        assert!(MappedFile::map(&path, &file, 8192, 0).is_err());
    }
}
