//! Per assigned queue: which pulled messages are still being consumed, and so which offset is
//! safe to commit (the lowest one not yet consumed).

use std::collections::BTreeSet;
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::message::MessageQueue;
use crate::route::lock;

/// Offsets pulled but not yet consumed, and the next offset to pull.
///
/// The committable offset is the smallest in-flight offset, or the next offset to pull when
/// nothing is in flight — so a crash redelivers every unconsumed message and skips none, however
/// the listener calls finish out of order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetTracker {
    in_flight: BTreeSet<i64>,
    next: i64,
}

impl OffsetTracker {
    /// A tracker for a queue whose consumption starts at `start`.
    pub(crate) fn new(start: i64) -> Self {
        Self {
            in_flight: BTreeSet::new(),
            next: start,
        }
    }

    /// Messages at `offsets` were handed to the listener; the next pull starts at `next_begin`.
    pub(crate) fn pulled(&mut self, offsets: impl IntoIterator<Item = i64>, next_begin: i64) {
        self.in_flight.extend(offsets);
        self.next = self.next.max(next_begin);
    }

    /// A pull found nothing to consume below `next_begin` (no message, all filtered out).
    pub(crate) fn skipped_to(&mut self, next_begin: i64) {
        self.next = self.next.max(next_begin);
    }

    /// Messages at `offsets` are consumed (or handed to the retry topic).
    pub(crate) fn done(&mut self, offsets: impl IntoIterator<Item = i64>) {
        for o in offsets {
            self.in_flight.remove(&o);
        }
    }

    /// The offset to commit.
    pub(crate) fn committable(&self) -> i64 {
        self.in_flight.first().copied().unwrap_or(self.next)
    }

    /// Messages still being consumed.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The broker moved the offset (PULL_OFFSET_MOVED): forget what was in flight and restart.
    pub(crate) fn reset(&mut self, offset: i64) {
        self.in_flight.clear();
        self.next = offset;
    }
}

struct State {
    tracker: OffsetTracker,
    dropped: bool,
}

/// An assigned queue: its tracker, its pull loop's stop signal and a wake-up for flow control.
pub(crate) struct ProcessQueue {
    pub(crate) mq: MessageQueue,
    state: Mutex<State>,
    /// Signalled when in-flight messages complete, so a throttled pull loop resumes.
    pub(crate) room: Notify,
    /// Stops the pull loop.
    pub(crate) cancel: CancellationToken,
}

impl ProcessQueue {
    pub(crate) fn new(mq: MessageQueue, start: i64, cancel: CancellationToken) -> Self {
        Self {
            mq,
            state: Mutex::new(State {
                tracker: OffsetTracker::new(start),
                dropped: false,
            }),
            room: Notify::new(),
            cancel,
        }
    }

    /// Runs `f` on the tracker, then `commit` with the new committable offset, both under the
    /// queue's lock and only if the queue was not dropped (so a late completion can never
    /// re-commit a queue that moved to another consumer). Returns false when dropped.
    pub(crate) fn update(
        &self,
        f: impl FnOnce(&mut OffsetTracker),
        commit: impl FnOnce(i64),
    ) -> bool {
        let mut s = lock(&self.state);
        if s.dropped {
            return false;
        }
        f(&mut s.tracker);
        commit(s.tracker.committable());
        true
    }

    /// Marks consumption of `offsets` done, commits, and wakes the pull loop.
    pub(crate) fn done(
        &self,
        offsets: impl IntoIterator<Item = i64>,
        commit: impl FnOnce(i64),
    ) -> bool {
        let r = self.update(|t| t.done(offsets), commit);
        self.room.notify_one();
        r
    }

    /// Messages still being consumed.
    pub(crate) fn in_flight(&self) -> usize {
        lock(&self.state).tracker.in_flight()
    }

    /// Whether the queue left this consumer.
    pub(crate) fn is_dropped(&self) -> bool {
        lock(&self.state).dropped
    }

    /// Stops the queue (pull loop cancelled, later completions ignored); returns the offset to
    /// commit for it.
    pub(crate) fn drop_queue(&self) -> i64 {
        self.cancel.cancel();
        let mut s = lock(&self.state);
        s.dropped = true;
        s.tracker.committable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_lowest_unconsumed() {
        let mut t = OffsetTracker::new(10);
        assert_eq!(t.committable(), 10);
        t.pulled([10, 11, 12, 13], 14);
        assert_eq!(t.committable(), 10);
        // Out-of-order completion never lets the offset pass an unconsumed message.
        t.done([12, 11]);
        assert_eq!(t.committable(), 10);
        t.done([10]);
        assert_eq!(t.committable(), 13);
        t.done([13]);
        assert_eq!(t.committable(), 14);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn filtered_gaps_and_empty_pulls_advance() {
        let mut t = OffsetTracker::new(0);
        // Offsets 2 and 3 were filtered out by tag; 5..8 was an empty pull.
        t.pulled([0, 1, 4], 5);
        t.done([0, 1]);
        assert_eq!(t.committable(), 4);
        t.skipped_to(8);
        assert_eq!(t.committable(), 4);
        t.done([4]);
        assert_eq!(t.committable(), 8);
        // A stale lower next offset never moves it back.
        t.skipped_to(3);
        assert_eq!(t.committable(), 8);
        t.reset(2);
        assert_eq!(t.committable(), 2);
    }

    #[test]
    fn dropped_queue_ignores_late_completions() {
        let mq = MessageQueue::default();
        let pq = ProcessQueue::new(mq, 0, CancellationToken::new());
        let mut committed = Vec::new();
        assert!(pq.update(|t| t.pulled([0, 1], 2), |c| committed.push(c)));
        assert!(pq.done([1], |c| committed.push(c)));
        assert_eq!(committed, [0, 0]);
        assert_eq!(pq.drop_queue(), 0);
        assert!(pq.cancel.is_cancelled());
        assert!(pq.is_dropped());
        assert!(!pq.done([0], |c| committed.push(c)));
        assert_eq!(committed, [0, 0], "no commit after the drop");
    }
}
