//! Read side of [`MessageStore`]: pulls by queue offset, lookups by physical offset, key and
//! time, and queue statistics. Reads never take the append lock.

use bytes::Bytes;
use saturn_protocol::message::record::decode_view;
use saturn_protocol::message::{properties, TagFilter};

use crate::consume_queue::{ConsumeQueue, Unit};
use crate::store::MessageStore;

/// Units scanned at least per pull before giving up on finding a match (RocketMQ scans
/// `max(16000 bytes / 20, maxMsgNums)` units).
const MIN_SCAN_UNITS: i64 = 800;
/// Longest a lookup by key waits for the background index builder to catch up.
const INDEX_CATCH_UP_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Server-side message filter applied to consume-queue units.
pub trait MessageFilter {
    /// Whether a unit with this tags code may match.
    fn matches_tags_code(&self, tags_code: i64) -> bool;
}

/// A filter that matches everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl MessageFilter for AcceptAll {
    fn matches_tags_code(&self, _: i64) -> bool {
        true
    }
}

impl MessageFilter for TagFilter {
    fn matches_tags_code(&self, tags_code: i64) -> bool {
        self.matches_code(tags_code)
    }
}

impl<F: Fn(i64) -> bool> MessageFilter for F {
    fn matches_tags_code(&self, tags_code: i64) -> bool {
        self(tags_code)
    }
}

/// Outcome of [`MessageStore::get_messages`] (RocketMQ's `GetMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetMessageStatus {
    /// At least one message returned.
    Found,
    /// Units were scanned but none passed the filter; `next_begin_offset` skips them.
    NoMatchedMessage,
    /// The first unit's record is gone from the commit log (retention in progress).
    MessageWasRemoving,
    /// The consume-queue file holding the offset is gone.
    OffsetFoundNull,
    /// The offset is beyond the end of the queue by more than one.
    OffsetOverflowBadly,
    /// The offset equals the end of the queue (nothing new yet: the long-poll case).
    OffsetOverflowOne,
    /// The offset is below the queue's min offset.
    OffsetTooSmall,
    /// The queue does not exist.
    NoMatchedLogicQueue,
    /// The queue exists but has never had a message.
    NoMessageInQueue,
}

/// Result of [`MessageStore::get_messages`].
#[derive(Debug, Clone)]
pub struct GetMessageResult {
    /// What happened.
    pub status: GetMessageStatus,
    /// Where the consumer should continue.
    pub next_begin_offset: i64,
    /// Queue min offset.
    pub min_offset: i64,
    /// Queue max offset (next offset to be written).
    pub max_offset: i64,
    /// Records in stored format, zero-copy slices of the commit log, in queue order.
    pub messages: Vec<Bytes>,
    /// Queue offset of each returned record.
    pub queue_offsets: Vec<i64>,
    /// Sum of the record sizes.
    pub total_bytes: usize,
}

/// Result of [`MessageStore::query_by_key`].
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// Matching records, newest first.
    pub messages: Vec<Bytes>,
    /// Store time of the last indexed message (QUERY_MESSAGE's `indexLastUpdateTimestamp`).
    pub index_last_update_timestamp: i64,
    /// Its commit-log offset (`indexLastUpdatePhyoffset`).
    pub index_last_update_phys: i64,
}

/// Offsets of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// First available offset.
    pub min_offset: i64,
    /// Next offset to be written.
    pub max_offset: i64,
}

/// Statistics of one queue (GET_TOPIC_STATS_INFO-style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// First available offset.
    pub min_offset: i64,
    /// Next offset to be written.
    pub max_offset: i64,
    /// Messages currently available (`max - min`).
    pub message_count: i64,
    /// Store time of the newest message, if any (`lastUpdateTimestamp`).
    pub last_store_timestamp: Option<i64>,
    /// Store time of the oldest available message, if any.
    pub first_store_timestamp: Option<i64>,
}

impl MessageStore {
    fn queue(&self, topic: &str, queue_id: i32) -> Option<std::sync::Arc<ConsumeQueue>> {
        self.inner.queues.get(topic, queue_id)
    }

    /// Reads up to `max_msgs` messages (and about `max_bytes`; the first message is always
    /// returned whole) from `offset` on, skipping units the filter rejects.
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msgs: usize,
        max_bytes: usize,
        filter: &dyn MessageFilter,
    ) -> GetMessageResult {
        let mut r = GetMessageResult {
            status: GetMessageStatus::NoMatchedLogicQueue,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            total_bytes: 0,
        };
        let Some(q) = self.queue(topic, queue_id) else {
            return r;
        };
        let (min, max) = (q.min_offset(), q.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        if max == 0 {
            r.status = GetMessageStatus::NoMessageInQueue;
            return r;
        }
        if offset < min {
            r.status = GetMessageStatus::OffsetTooSmall;
            r.next_begin_offset = min;
            return r;
        }
        if offset == max {
            r.status = GetMessageStatus::OffsetOverflowOne;
            r.next_begin_offset = offset;
            return r;
        }
        if offset > max {
            r.status = GetMessageStatus::OffsetOverflowBadly;
            // RocketMQ sends the consumer back to min when min is 0, else to max.
            r.next_begin_offset = if min == 0 { min } else { max };
            return r;
        }
        let scan_limit = (max_msgs as i64).max(MIN_SCAN_UNITS);
        let mut next = offset;
        let mut removing = false;
        while next < max && next - offset < scan_limit && r.messages.len() < max_msgs {
            let Some(unit) = q.unit(next) else {
                if next == offset {
                    r.status = GetMessageStatus::OffsetFoundNull;
                    r.next_begin_offset = offset + 1;
                    return r;
                }
                break;
            };
            if unit.is_blank() || !filter.matches_tags_code(unit.tags_code) {
                next += 1;
                continue;
            }
            let size = usize::try_from(unit.size).unwrap_or(0);
            if !r.messages.is_empty() && r.total_bytes + size > max_bytes {
                break;
            }
            match self.record_for_unit(&unit) {
                Some(rec) => {
                    r.total_bytes += rec.len();
                    r.messages.push(rec);
                    r.queue_offsets.push(next);
                }
                None => removing = removing || r.messages.is_empty(),
            }
            next += 1;
        }
        r.next_begin_offset = next;
        r.status = if !r.messages.is_empty() {
            GetMessageStatus::Found
        } else if removing {
            GetMessageStatus::MessageWasRemoving
        } else {
            GetMessageStatus::NoMatchedMessage
        };
        r
    }

    fn record_for_unit(&self, unit: &Unit) -> Option<Bytes> {
        let phys = u64::try_from(unit.phys).ok()?;
        let rec = self
            .inner
            .log
            .slice(phys, usize::try_from(unit.size).ok()?)?;
        // Cheap sanity check that the unit and the record agree.
        let stored = rec.get(28..36)?;
        (i64::from_be_bytes(stored.try_into().ok()?) == unit.phys).then_some(rec)
    }

    /// The consume-queue unit at `offset` (e.g. for the schedule service, whose tags code is the
    /// delivery time).
    pub fn queue_unit(&self, topic: &str, queue_id: i32, offset: i64) -> Option<Unit> {
        self.queue(topic, queue_id)?.unit(offset)
    }

    /// The record stored at commit-log offset `phys` (VIEW_MESSAGE_BY_ID).
    pub fn message_at(&self, phys: u64) -> Option<Bytes> {
        self.inner.log.record_at(phys)
    }

    /// Min offset of a queue (0 if unknown).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.queue(topic, queue_id).map_or(0, |q| q.min_offset())
    }

    /// Max offset of a queue: the next offset to be written (0 if unknown).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.queue(topic, queue_id).map_or(0, |q| q.max_offset())
    }

    /// First commit-log offset still on disk.
    pub fn min_phys_offset(&self) -> u64 {
        self.inner.log.min_offset()
    }

    /// End of the written commit log.
    pub fn max_phys_offset(&self) -> u64 {
        self.inner.log.written()
    }

    /// Start offset of the next commit-log segment if it is already created (in the background)
    /// and waiting for the roll-over; for tests and metrics.
    pub fn next_segment_ready(&self) -> Option<u64> {
        self.inner.log.ahead.staged_start()
    }

    /// Durable end of the commit log.
    pub fn flushed_phys_offset(&self) -> u64 {
        self.inner.log.flushed()
    }

    /// Store time of the message at a queue offset.
    pub fn store_time_at(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        let unit = self.queue(topic, queue_id)?.unit(offset)?;
        self.inner
            .log
            .store_timestamp_at(u64::try_from(unit.phys).ok()?)
    }

    /// The first queue offset whose message was stored at or after `timestamp` (ms): binary
    /// search over the queue by store time (store times never decrease in this store). Returns
    /// the max offset if every message is older, the min offset if every message is newer.
    pub fn offset_for_timestamp(&self, topic: &str, queue_id: i32, timestamp: i64) -> i64 {
        let Some(q) = self.queue(topic, queue_id) else {
            return 0;
        };
        let (mut lo, mut hi) = (q.min_offset(), q.max_offset());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // An unreadable unit (being removed) counts as older.
            let t = self.store_time_at(topic, queue_id, mid).unwrap_or(i64::MIN);
            if t < timestamp {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Store time of the oldest message still in the commit log.
    pub fn earliest_message_time(&self) -> Option<i64> {
        let log = &self.inner.log;
        let min = log.min_offset();
        log.store_timestamp_at(min)
    }

    /// Waits until the index covers every message appended before the call, at most `timeout`;
    /// whether it does (true at once with the index disabled). Lookups by key do this
    /// themselves; this is for callers that inspect index files.
    pub fn wait_indexed(&self, timeout: std::time::Duration) -> bool {
        self.inner
            .index_builder
            .as_ref()
            .is_none_or(|b| b.wait_for(self.inner.log.written(), timeout))
    }

    /// Messages indexed under `topic#key` (a `KEYS` entry or a `UNIQ_KEY`) stored within
    /// `[begin, end]` ms, newest first, at most `max`. Hash collisions are filtered out here by
    /// checking the record's topic and keys. Blocks until the index covers everything appended
    /// before the call (normally at most a few ms, never more than 500 ms).
    pub fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin: i64,
        end: i64,
    ) -> QueryResult {
        let Some(index) = &self.inner.index else {
            return QueryResult::default();
        };
        // The index is built in the background: let it catch up with what was appended before
        // this query (normally a few ms at most; bounded for a builder still catching up after
        // a crash, in which case the lookup sees what is indexed so far).
        if let Some(builder) = &self.inner.index_builder {
            builder.wait_for(self.inner.log.written(), INDEX_CATCH_UP_WAIT);
        }
        let (ts, phys) = index.last_update();
        let mut result = QueryResult {
            messages: Vec::new(),
            index_last_update_timestamp: ts,
            index_last_update_phys: phys,
        };
        let mut candidates = index.lookup(topic, key, max.saturating_mul(4).max(64), begin, end);
        // One message may be indexed twice under the same string (as a KEYS entry and as its
        // UNIQ_KEY, or a key repeated in KEYS): report it once.
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|p| seen.insert(*p));
        for p in candidates {
            if result.messages.len() >= max {
                break;
            }
            let Some(rec) = u64::try_from(p)
                .ok()
                .and_then(|p| self.inner.log.record_at(p))
            else {
                continue;
            };
            let Ok(view) = decode_view(&rec) else {
                continue;
            };
            let in_time = view.store_timestamp >= begin && view.store_timestamp <= end;
            let has_key = view.property(properties::UNIQ_KEY) == Some(key)
                || view
                    .property(properties::KEYS)
                    .is_some_and(|ks| ks.split(properties::KEY_SEPARATOR).any(|k| k == key));
            if view.topic == topic && in_time && has_key {
                result.messages.push(rec.clone());
            }
        }
        result
    }

    /// Every known queue with its offsets, sorted by topic then queue id.
    pub fn queues(&self) -> Vec<QueueInfo> {
        let mut v: Vec<QueueInfo> = self
            .inner
            .queues
            .all()
            .iter()
            .map(|q| QueueInfo {
                topic: q.topic().to_string(),
                queue_id: q.queue_id(),
                min_offset: q.min_offset(),
                max_offset: q.max_offset(),
            })
            .collect();
        v.sort_by(|a, b| (&a.topic, a.queue_id).cmp(&(&b.topic, b.queue_id)));
        v
    }

    /// Known topics, sorted.
    pub fn topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.queues().into_iter().map(|q| q.topic).collect();
        t.dedup();
        t
    }

    /// Statistics of one queue.
    pub fn queue_stats(&self, topic: &str, queue_id: i32) -> Option<QueueStats> {
        let q = self.queue(topic, queue_id)?;
        let (min, max) = (q.min_offset(), q.max_offset());
        let at = |o: i64| {
            (o >= min && o < max)
                .then(|| self.store_time_at(topic, queue_id, o))
                .flatten()
        };
        Some(QueueStats {
            min_offset: min,
            max_offset: max,
            message_count: max - min,
            last_store_timestamp: at(max - 1),
            first_store_timestamp: at(min),
        })
    }

    /// Deletes a topic's consume queues (DELETE_TOPIC_IN_BROKER). Its records stay in the commit
    /// log until retention removes them (and records newer than the last checkpoint would be
    /// dispatched again by a crash recovery).
    ///
    /// # Errors
    /// Removing the directories failed.
    pub fn delete_topic(&self, topic: &str) -> crate::StoreResult<()> {
        // Under the append lock so no append re-creates a queue half-way.
        let _tail = self.inner.tail.lock().unwrap_or_else(|p| p.into_inner());
        crate::commit_log::append::check_topic(topic)?;
        for q in self.inner.queues.remove_topic(topic) {
            q.destroy()?;
        }
        let dir = self.inner.root.join("consumequeue").join(topic);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(crate::StoreError::io("delete topic", &dir, e)),
        }
    }
}
