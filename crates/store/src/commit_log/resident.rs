//! Keeping the commit log's resident memory small.
//!
//! Every page of a segment that the writer or a reader touched stays mapped in the process, and
//! so counts in its resident set, until the segment is unmapped: at 50 MB/s of appends that is
//! gigabytes of "RSS" within a minute, although it is only page cache the kernel could drop. So
//! the thread working ahead of the writer ([`super::ahead`]) also releases what lies behind it:
//! the pages more than [`KEEP_BEHIND`] bytes behind the write position, as the writer moves
//! (`MADV_DONTNEED` on a shared file mapping: the pages stay cached and dirty ones are still
//! written back, see [`MappedFile::release`]), and, every [`SWEEP_EVERY`], everything of the
//! completed segments again, which catch-up readers fault back in.
//!
//! Consumers close to the tail read from the last [`KEEP_BEHIND`] bytes, still mapped; others
//! pay a minor fault per page (the kernel maps 16 neighbouring cached pages per fault).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::CommitLog;

/// Bytes behind the write position that stay mapped (tail readers, the flusher's range).
pub const KEEP_BEHIND: u64 = 4 * 1024 * 1024;
/// Released in steps of at least this much, so a slow writer does not cost a call per round.
const STEP: u64 = 1024 * 1024;
/// How often completed segments are released whole again.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Progress of the releasing (owned by the thread working ahead of the writer).
#[derive(Debug, Default)]
pub struct Resident {
    /// Physical offset below which pages were released as the writer passed.
    released: AtomicU64,
    /// When completed segments were last swept (`None`: not yet).
    swept: Mutex<Option<Instant>>,
}

impl CommitLog {
    /// Releases the pages behind the writer, and sweeps completed segments when due. Failures
    /// are logged: this only affects memory accounting.
    pub fn release_behind(&self) {
        let resident = &self.ahead.resident;
        let target = self.written().saturating_sub(KEEP_BEHIND);
        let from = resident
            .released
            .load(Ordering::Acquire)
            .max(self.min_offset());
        let sweep = {
            let mut swept = resident.swept.lock().unwrap_or_else(|p| p.into_inner());
            let due = swept.is_none_or(|t| t.elapsed() >= SWEEP_EVERY);
            if due {
                *swept = Some(Instant::now());
            }
            due
        };
        if !sweep && target < from.saturating_add(STEP) {
            return;
        }
        for seg in self.segments() {
            let end = seg.start.saturating_add(self.segment_size);
            // A sweep covers every segment below the target; otherwise only the new range.
            let lo = if sweep {
                seg.start
            } else {
                from.max(seg.start)
            };
            let hi = target.min(end);
            if lo >= hi {
                continue;
            }
            let (Ok(lo), Ok(hi)) = (
                usize::try_from(lo - seg.start),
                usize::try_from(hi - seg.start),
            ) else {
                continue;
            };
            if let Err(e) = seg.file.release(lo, hi) {
                tracing::debug!(error = %e, path = %seg.file.path().display(), "releasing commit-log pages failed");
                return;
            }
        }
        resident.released.fetch_max(target, Ordering::AcqRel);
    }
}
