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
//!
//! That thread runs at the lowest CPU priority ([`crate::background`]), so under sustained full
//! load it may hardly run. The bound on resident memory must not depend on it: once more than
//! [`WRITER_RELEASES_AT`] bytes behind the writer are still mapped, the append path releases them
//! itself ([`CommitLog::release_if_lagging`], one comparison per append otherwise). Measured
//! before this fallback: peak RSS 197 MiB instead of ~55 MiB in a comparison run whose 16
//! unpaced producers kept both cores busy.

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
/// Mapped bytes behind [`KEEP_BEHIND`] at which the writer stops waiting for the background
/// thread and releases them itself.
pub const WRITER_RELEASES_AT: u64 = 16 * 1024 * 1024;

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
        let sweep = {
            let mut swept = resident.swept.lock().unwrap_or_else(|p| p.into_inner());
            let due = swept.is_none_or(|t| t.elapsed() >= SWEEP_EVERY);
            if due {
                *swept = Some(Instant::now());
            }
            due
        };
        self.release_to_keep(sweep, STEP);
    }

    /// Called on the append path, outside the append lock: releases the pages behind the
    /// writer when the background thread has left more than [`WRITER_RELEASES_AT`] of them
    /// mapped. One atomic load and a comparison when it has not.
    pub fn release_if_lagging(&self) {
        self.release_to_keep(false, WRITER_RELEASES_AT);
    }

    /// Releases up to [`KEEP_BEHIND`] behind the writer when at least `min_step` bytes are due
    /// (or, with `sweep`, everything of the segments below that point again).
    fn release_to_keep(&self, sweep: bool, min_step: u64) {
        let resident = &self.ahead.resident;
        let target = self.written().saturating_sub(KEEP_BEHIND);
        let released = resident.released.load(Ordering::Acquire);
        if !sweep && target < released.saturating_add(min_step) {
            return;
        }
        let from = released.max(self.min_offset());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit_log::append::{append, AppendContext};
    use crate::commit_log::recover;
    use crate::consume_queue::table::ConsumeQueueTable;
    use crate::test_util::msg;
    use saturn_protocol::message::record::decode;

    #[test]
    fn the_writer_releases_what_the_background_thread_left_mapped() {
        let dir = tempfile::tempdir().unwrap();
        // No thread works ahead here: as if it never got the CPU.
        let mut opened = recover::open(&dir.path().join("commitlog"), 64 << 20, 0).unwrap();
        let log = &opened.log;
        let queues = ConsumeQueueTable::load(dir.path(), 1000, 0).unwrap();
        let ctx = AppendContext::for_test(log, &queues, 1 << 20);
        let body = vec![5u8; 256 * 1024];
        let mut first_phys = None;
        // Up to just below the threshold nothing is released...
        while log.written() + 300 * 1024 < KEEP_BEHIND + WRITER_RELEASES_AT {
            let r = append(&ctx, &mut opened.tail, &[msg("T", 0, &body, "")], 1).unwrap();
            first_phys.get_or_insert(r[0].phys);
            log.release_if_lagging();
        }
        assert_eq!(log.ahead.resident.released.load(Ordering::Acquire), 0);
        // ...and once past it, the append path releases everything but the last KEEP_BEHIND.
        while log.written() < KEEP_BEHIND + WRITER_RELEASES_AT + 1024 * 1024 {
            append(&ctx, &mut opened.tail, &[msg("T", 0, &body, "")], 1).unwrap();
        }
        log.release_if_lagging();
        assert_eq!(
            log.ahead.resident.released.load(Ordering::Acquire),
            log.written() - KEEP_BEHIND
        );
        // Released pages are only unmapped: the first record still reads back whole.
        let record = log.record_at(first_phys.unwrap()).unwrap();
        let (stored, _) = decode(&record).unwrap();
        assert_eq!(&stored.body[..], &body[..]);
    }
}
