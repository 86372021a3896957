//! The index builder: a background thread that adds the index entries of appended records,
//! reading them back from the commit log (RocketMQ builds its index asynchronously as well).
//!
//! Why not on the append path: every key writes a hash slot at a random place of the slot table
//! (20 MB with the default geometry), and after each flush those pages are write-protected again,
//! so nearly every slot write took a page fault, under the append lock. Here the work happens off
//! the request path, in batches, and the slot pages are flushed only every
//! `index_flush_interval_ms` (see `MessageStore::checkpoint`), which is what the faults came from.
//!
//! Consequences, documented in `docs/store-format.md`:
//! - a lookup by key may lag appends by a few milliseconds; [`IndexBuilder::wait_for`] lets a
//!   query wait until everything appended before it is indexed;
//! - the checkpoint's index offset is the builder's progress at the last index flush, and
//!   recovery rebuilds entries past it from the commit log: after open the builder simply starts
//!   there and catches up in the background.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use saturn_protocol::message::record::RecordView;
use saturn_protocol::message::sysflag;

use super::{index_keys, IndexService};
use crate::commit_log::CommitLog;
use crate::disk::Disk;
use crate::error::StoreResult;

/// Sleep between rounds while records keep coming: batches the work.
const BUSY_PARK: Duration = Duration::from_millis(1);
/// Sleep between rounds when there was nothing to do.
const IDLE_PARK: Duration = Duration::from_millis(10);
/// Pause after a failure (e.g. no space for a new index file) before retrying.
const RETRY_PARK: Duration = Duration::from_secs(1);

/// How far the index is built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexProgress {
    /// Every record below this commit-log offset is indexed; none at or above it is.
    pub phys: u64,
    /// Index file being written at that point (0 = none).
    pub file: u64,
    /// That file's entry count at that point.
    pub count: u32,
}

#[derive(Debug)]
struct State {
    progress: IndexProgress,
    /// Threads blocked in [`IndexBuilder::wait_for`].
    waiters: u32,
}

/// Shared state of the index builder thread.
#[derive(Debug)]
pub struct IndexBuilder {
    state: Mutex<State>,
    advanced: Condvar,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
}

impl IndexBuilder {
    /// A builder that will resume at `start` (the position recovery left the index in).
    pub fn new(start: IndexProgress) -> Self {
        Self {
            state: Mutex::new(State {
                progress: start,
                waiters: 0,
            }),
            advanced: Condvar::new(),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How far the index is built (a consistent snapshot).
    pub fn progress(&self) -> IndexProgress {
        self.lock().progress
    }

    fn publish(&self, progress: IndexProgress) {
        let mut st = self.lock();
        st.progress = progress;
        if st.waiters > 0 {
            self.advanced.notify_all();
        }
    }

    fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Blocks until every record below `target` is indexed, at most `timeout`; whether it is.
    /// Returns at once when the builder has stopped.
    pub fn wait_for(&self, target: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while st.progress.phys < target {
            let now = Instant::now();
            if now >= deadline || self.stop.load(Ordering::Acquire) {
                return false;
            }
            st.waiters += 1;
            self.wake();
            st = self
                .advanced
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
            st.waiters -= 1;
        }
        true
    }

    /// Asks the thread to index what is written so far and stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    /// The thread's loop: indexes new records of `log` into `index` until [`IndexBuilder::stop`],
    /// after a last round that catches up with the log. A failure (e.g. no space for a new index
    /// file) is logged and retried from the failed record; nothing is indexed twice.
    pub fn run(&self, log: &CommitLog, index: &IndexService, disk: &dyn Disk) {
        let _ = self.thread.set(std::thread::current());
        let mut from = self.progress().phys;
        let mut failing = false;
        loop {
            // Read before the round: a stop seen here still gets one full catch-up round.
            let stopping = self.stop.load(Ordering::Acquire);
            let to = log.written();
            let worked = to > from;
            if worked {
                let mut cursor = from;
                let result = log.replay(from, to, |view| {
                    index_record(index, disk, view)?;
                    let phys = u64::try_from(view.physical_offset).unwrap_or(cursor);
                    cursor = phys.saturating_add(view.total_size as u64);
                    Ok(())
                });
                match result {
                    Ok(()) => {
                        from = to;
                        failing = false;
                    }
                    Err(e) => {
                        if !failing {
                            tracing::error!(error = %e, at = cursor, "building the index failed; retrying");
                        }
                        from = cursor;
                        failing = true;
                    }
                }
                let (file, count) = index.position();
                self.publish(IndexProgress {
                    phys: from,
                    file,
                    count,
                });
            }
            if stopping {
                return;
            }
            let pause = if failing {
                RETRY_PARK
            } else if worked {
                BUSY_PARK
            } else {
                IDLE_PARK
            };
            std::thread::park_timeout(pause);
        }
    }
}

/// Adds the index entries of one record (every record but rollbacks, under each of its keys).
///
/// # Errors
/// A new index file was needed and could not be created.
pub fn index_record(
    index: &IndexService,
    disk: &dyn Disk,
    view: &RecordView<'_>,
) -> StoreResult<()> {
    if sysflag::transaction_value(view.sys_flag) == sysflag::TRANSACTION_ROLLBACK_TYPE {
        return Ok(());
    }
    let n = u32::try_from(index_keys(view.properties).count()).unwrap_or(u32::MAX);
    if n == 0 {
        return Ok(());
    }
    if n >= index.max_entries() {
        // Appends refuse such messages; one can only come from a store written with a larger
        // index geometry. It stays readable, just not by key.
        tracing::warn!(
            phys = view.physical_offset,
            keys = n,
            "record has more keys than an index file holds; not indexed"
        );
        return Ok(());
    }
    index.reserve(disk, n, view.store_timestamp)?;
    index.put(
        view.topic,
        view.properties,
        view.physical_offset,
        view.store_timestamp,
    )
}
