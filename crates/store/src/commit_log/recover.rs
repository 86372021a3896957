//! Opening the commit log: map the segments, validate records from the checkpointed segment on,
//! cut the log at the first invalid record (zeroing what may follow it in that segment and
//! deleting later segments), and replay a range of records for the dispatcher.
//!
//! The zeroing after the cut covers `[end, lease end)` when the lease file records a lease for the
//! last segment, and `[end, segment end)` otherwise; [`super::lease`] explains why that is enough.

use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, RwLock};

use saturn_protocol::message::record::{
    decode_view, peek_magic, peek_total_size, RecordView, BLANK_MAGIC_CODE,
    END_FILE_MIN_BLANK_LENGTH,
};

use super::lease::{self, Lease, LeaseFile};
use super::{CommitLog, Segment, Tail};
use crate::disk;
use crate::error::{StoreError, StoreResult};
use crate::mapped_file::MappedFile;

/// What sits at a position of a segment.
#[derive(Debug)]
pub enum Slot<'a> {
    /// A complete, valid record.
    Record(RecordView<'a>),
    /// The end-of-segment marker.
    Blank,
    /// Anything else: end of the valid log.
    End(&'static str),
}

/// Classifies the bytes at the start of `rest` (the readable bytes from this position) that
/// should hold the record at `expected_phys`; `to_segment_end` is the distance to the end of the
/// segment. With `check_crc`, the body CRC is verified too.
pub fn classify(
    rest: &[u8],
    to_segment_end: usize,
    expected_phys: u64,
    check_crc: bool,
) -> Slot<'_> {
    let (Some(total), Some(magic)) = (peek_total_size(rest), peek_magic(rest)) else {
        return Slot::End("no room for a header");
    };
    if magic == BLANK_MAGIC_CODE {
        return if usize::try_from(total).ok() == Some(to_segment_end) {
            Slot::Blank
        } else {
            Slot::End("blank marker with a wrong length")
        };
    }
    let view = match decode_view(rest) {
        Ok(v) => v,
        Err(_) => return Slot::End("not a decodable record"),
    };
    // We always leave room for the blank marker after a record.
    if view.total_size + END_FILE_MIN_BLANK_LENGTH > to_segment_end {
        return Slot::End("record leaves no room for the end marker");
    }
    if u64::try_from(view.physical_offset).ok() != Some(expected_phys) {
        return Slot::End("physical offset field does not match the position");
    }
    if check_crc && !view.verify_crc() {
        return Slot::End("body CRC mismatch");
    }
    // Fields the CRC does not cover: reject what a partly written (zero-filled) record shows.
    if view.topic.is_empty()
        || view.topic.contains('\0')
        || view.properties.contains('\0')
        || view.store_timestamp <= 0
        || view.queue_id < 0
    {
        return Slot::End("implausible header fields");
    }
    Slot::Record(view)
}

/// Result of opening the log.
#[derive(Debug)]
pub struct Opened {
    /// The log, cut at its last valid record.
    pub log: CommitLog,
    /// Write state positioned at the end.
    pub tail: Tail,
    /// Where validation started (everything before is trusted as flushed earlier).
    pub scan_start: u64,
    /// How the space after the valid end was cleaned (`None` for an empty log).
    pub tail_cleanup: Option<TailCleanup>,
}

/// How recovery zeroed the space after the end of the valid log in the last segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailCleanup {
    /// Start of the last segment.
    pub segment_start: u64,
    /// Physical offset where the valid log ends; cleaning started there.
    pub from: u64,
    /// Physical offset where cleaning stopped: the lease end, or the segment end.
    pub to: u64,
    /// The lease that bounded the cleaning; `None` means the full check to the segment end.
    pub lease: Option<Lease>,
    /// Bytes read and compared (ranges the file system reports as holes are skipped).
    pub scanned: u64,
    /// Bytes rewritten with zeros.
    pub zeroed: u64,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Opens (or creates) the commit log in `dir`, validating from the segment holding `scan_from`.
///
/// # Errors
/// I/O failures, segments of the wrong size, or a missing segment in the middle.
pub fn open(dir: &Path, segment_size: u64, scan_from: u64) -> StoreResult<Opened> {
    disk::create_dir_durable(dir).map_err(|e| StoreError::io("create commit-log dir", dir, e))?;
    disk::remove_tmp_files(dir).map_err(|e| StoreError::io("list commit log", dir, e))?;
    let seg_len = usize::try_from(segment_size)
        .map_err(|_| StoreError::InvalidConfig("segment size does not fit in memory".into()))?;
    let mut starts: Vec<u64> = fs::read_dir(dir)
        .map_err(|e| StoreError::io("list commit log", dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| disk::parse_offset_name(e.file_name().to_str()?))
        .collect();
    starts.sort_unstable();
    let mut segments = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().copied().enumerate() {
        let path = dir.join(disk::offset_name(start));
        if start % segment_size != 0 {
            return Err(corrupt(
                &path,
                "segment name is not a multiple of the segment size",
            ));
        }
        if i > 0 && starts.get(i - 1).map(|p| p + segment_size) != Some(start) {
            return Err(corrupt(
                &path,
                "a commit-log segment before this one is missing",
            ));
        }
        let file = disk::open_rw(&path).map_err(|e| StoreError::io("open segment", &path, e))?;
        // Fully readable for validation; re-mapped below with its real end.
        let mapped = MappedFile::map(&path, &file, seg_len, seg_len).map_err(|e| {
            corrupt(
                &path,
                format!("cannot map segment (segment size changed?): {e}"),
            )
        })?;
        segments.push(Segment {
            start,
            file: mapped,
        });
    }

    let first = segments.first().map_or(0, |s| s.start);
    let start_idx = segments
        .iter()
        .rposition(|s| s.start <= scan_from.max(first))
        .unwrap_or(0);
    let scan_start = segments.get(start_idx).map_or(0, |s| s.start);
    let (end, last_ts) = scan(&segments, start_idx, seg_len);

    // Drop segments wholly past the end (their content follows a torn record).
    while segments.len() > 1 && segments.last().is_some_and(|s| s.start > end) {
        if let Some(s) = segments.pop() {
            tracing::warn!(path = %s.file.path().display(), "deleting segment after the end of the valid log");
            fs::remove_file(s.file.path())
                .map_err(|e| StoreError::io("delete segment", s.file.path(), e))?;
        }
    }
    let (mut lease_file, recorded) = LeaseFile::open(&lease::path(dir))?;
    let mut tail = Tail {
        writer: None,
        writer_start: end,
        last_store_timestamp: last_ts,
    };
    let mut tail_cleanup = None;
    if let Some(last) = segments.last_mut() {
        let published = usize::try_from(end.saturating_sub(last.start))
            .unwrap_or(seg_len)
            .min(seg_len);
        let path = last.file.path().to_path_buf();
        let file = disk::open_rw(&path).map_err(|e| StoreError::io("open segment", &path, e))?;
        last.file = MappedFile::map(&path, &file, seg_len, published)
            .map_err(|e| StoreError::io("map segment", &path, e))?;
        let mut writer = last
            .file
            .writer()
            .ok_or_else(|| corrupt(&path, "segment writer already taken"))?;
        // Pages ahead of the writer are faulted in by the `ahead` thread, as single pages.
        writer.disable_prefault();
        super::writing_mode(&last.file, true);
        let lease = usable_lease(recorded, last.start, published as u64);
        let limit = lease.map_or(seg_len, |l| {
            usize::try_from(l.end).map_or(seg_len, |e| e.min(seg_len))
        });
        let zero = writer
            .zero_unpublished(&file, limit)
            .map_err(|e| StoreError::io("zero the end of the commit log", &path, e))?;
        if let Some(l) = lease {
            lease_file.adopt(l);
        }
        let cleanup = TailCleanup {
            segment_start: last.start,
            from: last.start + published as u64,
            to: last.start + limit.max(published) as u64,
            lease,
            scanned: zero.scanned,
            zeroed: zero.zeroed,
        };
        tracing::debug!(?cleanup, "commit-log tail cleaned");
        tail_cleanup = Some(cleanup);
        tail.writer_start = last.start;
        tail.writer = Some(writer);
    }
    let end = segments
        .last()
        .map_or(end, |s| s.start + s.file.published() as u64);
    let log = CommitLog {
        dir: dir.to_path_buf(),
        segment_size,
        segments: RwLock::new(segments),
        written: AtomicU64::new(end),
        flushed: AtomicU64::new(scan_start.min(end)),
        ahead: Default::default(),
        lease_until: AtomicU64::new(
            lease_file
                .current()
                .map_or(0, |l| l.segment_start.saturating_add(l.end)),
        ),
        lease: Mutex::new(lease_file),
        dir_sync_pending: Default::default(),
        write_through: Default::default(),
    };
    Ok(Opened {
        log,
        tail,
        scan_start,
        tail_cleanup,
    })
}

/// The recorded lease if it bounds the segment starting at `segment_start`, whose valid data
/// ends at `published`. A lease ending below valid data breaks the invariant (someone wrote past
/// it, e.g. a binary unaware of leases): it is not trusted.
fn usable_lease(recorded: Option<Lease>, segment_start: u64, published: u64) -> Option<Lease> {
    let l = recorded.filter(|l| l.segment_start == segment_start)?;
    if l.end < published {
        tracing::warn!(
            lease_end = l.end,
            valid_end = published,
            "commit-log lease ends before the valid data; full tail check"
        );
        return None;
    }
    Some(l)
}

/// Validates records from segment `start_idx` on; returns the end of the valid log and the store
/// time of its last record.
fn scan(segments: &[Segment], start_idx: usize, seg_len: usize) -> (u64, i64) {
    let mut last_ts = 0;
    let mut end = segments.get(start_idx).map_or(0, |s| s.start);
    for seg in segments.iter().skip(start_idx) {
        end = seg.start;
        let mut off = 0usize;
        loop {
            let Some(rest) = seg.file.read(off, seg_len - off) else {
                return (end, last_ts);
            };
            match classify(rest, seg_len - off, seg.start + off as u64, true) {
                Slot::Record(v) => {
                    off += v.total_size;
                    last_ts = v.store_timestamp;
                    end = seg.start + off as u64;
                }
                Slot::Blank => {
                    end = seg.start + seg_len as u64;
                    break;
                }
                Slot::End(reason) => {
                    // The normal end of the log is the zero-filled rest of a segment; only bytes
                    // that are not zero there mean a torn or corrupt record was cut.
                    if rest.iter().take(64).any(|b| *b != 0) {
                        tracing::warn!(
                            segment = %seg.file.path().display(), offset = off, reason,
                            "commit log ends here; cutting the rest"
                        );
                    } else {
                        tracing::debug!(
                            segment = %seg.file.path().display(), offset = off,
                            "commit log ends at zero-filled space"
                        );
                    }
                    return (end, last_ts);
                }
            }
        }
    }
    (end, last_ts)
}

impl CommitLog {
    /// Calls `f` for every record in `[from, to)` in order (`from` must be a record boundary or a
    /// segment start). Records before the validated region are decoded without a CRC check; a
    /// record that does not decode there ends that segment's replay with an error log.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn replay(
        &self,
        from: u64,
        to: u64,
        mut f: impl FnMut(&RecordView<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let seg_len = self.segment_size as usize;
        let from = from.max(self.min_offset());
        for seg in self.segments() {
            let seg_end = seg.start + self.segment_size;
            if seg_end <= from || seg.start >= to {
                continue;
            }
            let mut off = from.saturating_sub(seg.start) as usize;
            while (seg.start + off as u64) < to {
                let readable = seg.file.published().saturating_sub(off);
                let Some(rest) = seg.file.read(off, readable) else {
                    break;
                };
                match classify(
                    rest,
                    seg_len.saturating_sub(off),
                    seg.start + off as u64,
                    false,
                ) {
                    Slot::Record(v) => {
                        f(&v)?;
                        off += v.total_size;
                    }
                    Slot::Blank => break,
                    Slot::End(reason) => {
                        tracing::error!(segment = %seg.file.path().display(), offset = off, reason, "replay stopped in segment");
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
