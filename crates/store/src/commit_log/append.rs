//! The write path. Runs entirely under the store's append lock: reserve every file the append
//! will need (so nothing can fail half-way for lack of space), extend the segment's write lease
//! if the records would cross it (see [`super::lease`]), encode the records straight into the
//! mapped segment, publish them, then dispatch them to the consume queues. Index entries are
//! added afterwards by the index builder thread, and pages and the next segment are prepared by
//! the [`super::ahead`] thread, so neither costs the append path.

use saturn_protocol::message::record::{
    encode_into, encoded_len, write_blank_marker, MessageToStore,
};

use super::{CommitLog, Tail};
use crate::consume_queue::dispatch::{self, DispatchRequest, Dispatcher};
use crate::consume_queue::ConsumeQueue;
use crate::disk::Disk;
use crate::error::{StoreError, StoreResult};
use std::sync::Arc;

/// Bytes always kept free at the end of a segment for the blank marker.
const MIN_BLANK: usize = 8;

/// Where one appended record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Commit-log offset of the record.
    pub phys: u64,
    /// Record size (TOTALSIZE).
    pub size: usize,
    /// Queue offset (0 for half and rollback records, which take none).
    pub queue_offset: i64,
    /// Store time written in the record, ms.
    pub store_timestamp: i64,
}

/// Everything an append needs besides the tail.
#[derive(Debug, Clone, Copy)]
pub struct AppendContext<'a> {
    /// The log.
    pub log: &'a CommitLog,
    /// Where records are dispatched.
    pub dispatcher: Dispatcher<'a>,
    /// File-system seam.
    pub disk: &'a dyn Disk,
    /// Delay levels for the schedule topic's tags code.
    pub delay_levels_ms: &'a [i64],
    /// Largest accepted body.
    pub max_body: usize,
    /// With the index enabled, its entries per file: a message with this many keys or more
    /// could never be indexed and is refused.
    pub max_index_keys: Option<u32>,
}

#[cfg(test)]
impl<'a> AppendContext<'a> {
    /// What the unit tests append with: the real disk, no delay levels, no index limit.
    pub(crate) fn for_test(
        log: &'a CommitLog,
        queues: &'a crate::consume_queue::table::ConsumeQueueTable,
        max_body: usize,
    ) -> Self {
        Self {
            log,
            dispatcher: Dispatcher {
                queues,
                disk: &crate::disk::OsDisk,
            },
            disk: &crate::disk::OsDisk,
            delay_levels_ms: &[],
            max_body,
            max_index_keys: None,
        }
    }
}

/// Topic names become directory names: allow only RocketMQ's character set (`[%|a-zA-Z0-9_-]`),
/// which also rules out `.`/`..` and path separators.
pub fn check_topic(topic: &str) -> StoreResult<()> {
    let ok = !topic.is_empty()
        && topic.len() <= 255
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidMessage(format!(
            "illegal topic name {topic:?}"
        )))
    }
}

/// Why an append failed, and whether anything became visible.
#[derive(Debug)]
pub enum AppendFailure {
    /// Nothing was written (bad message, no space for a new file, …).
    NothingWritten(StoreError),
    /// The records were published but dispatching them failed: the consume queues lag the log,
    /// so the caller must poison the store (recovery rebuilds them on reopen).
    DispatchFailed(StoreError),
}

/// Appends `msgs` as consecutive records (one batch: same store time, one segment).
///
/// # Errors
/// See [`AppendFailure`].
pub fn append(
    ctx: &AppendContext<'_>,
    tail: &mut Tail,
    msgs: &[MessageToStore],
    now_ms: i64,
) -> Result<Vec<Appended>, AppendFailure> {
    let out = write_records(ctx, tail, msgs, now_ms).map_err(AppendFailure::NothingWritten)?;
    for (m, a) in msgs.iter().zip(&out) {
        let req = DispatchRequest {
            topic: &m.topic,
            queue_id: m.queue_id,
            queue_offset: a.queue_offset,
            phys: a.phys as i64,
            size: a.size as i32,
            tags_code: dispatch::tags_code(
                &m.topic,
                &m.properties,
                a.store_timestamp,
                ctx.delay_levels_ms,
            ),
            store_timestamp: a.store_timestamp,
            sys_flag: m.sys_flag,
        };
        ctx.dispatcher
            .dispatch(&req)
            .map_err(AppendFailure::DispatchFailed)?;
    }
    Ok(out)
}

fn write_records(
    ctx: &AppendContext<'_>,
    tail: &mut Tail,
    msgs: &[MessageToStore],
    now_ms: i64,
) -> StoreResult<Vec<Appended>> {
    let seg_size = usize::try_from(ctx.log.segment_size).unwrap_or(usize::MAX);
    let mut lens = Vec::with_capacity(msgs.len());
    let mut total = 0usize;
    for m in msgs {
        check_topic(&m.topic)?;
        if m.body.len() > ctx.max_body {
            return Err(StoreError::MessageTooLarge {
                size: m.body.len(),
                limit: ctx.max_body,
            });
        }
        if m.queue_id < 0 {
            return Err(StoreError::InvalidMessage(format!(
                "negative queue id {}",
                m.queue_id
            )));
        }
        let len = encoded_len(m).map_err(|e| StoreError::InvalidMessage(e.to_string()))?;
        lens.push(len);
        total = total.saturating_add(len);
        if let Some(max) = ctx.max_index_keys {
            let n = dispatch::index_entry_count(m.sys_flag, &m.properties);
            if n >= max {
                return Err(StoreError::InvalidMessage(format!(
                    "message has {n} index keys, more than an index file holds"
                )));
            }
        }
    }
    if total + MIN_BLANK > seg_size {
        return Err(StoreError::MessageTooLarge {
            size: total,
            limit: seg_size - MIN_BLANK,
        });
    }

    // Queue offsets, assigned here under the append lock; reserve consume-queue space.
    let mut queues: Vec<(Arc<ConsumeQueue>, i64)> = Vec::new();
    let mut offsets = Vec::with_capacity(msgs.len());
    for m in msgs {
        if !dispatch::takes_queue_offset(m.sys_flag) {
            offsets.push(0);
            continue;
        }
        let pos = queues
            .iter()
            .position(|(q, _)| q.queue_id() == m.queue_id && q.topic() == m.topic);
        let pos = match pos {
            Some(p) => p,
            None => {
                let q = ctx.dispatcher.queues.get_or_create(&m.topic, m.queue_id);
                let next = q.max_offset();
                queues.push((q, next));
                queues.len() - 1
            }
        };
        if let Some((_, next)) = queues.get_mut(pos) {
            offsets.push(*next);
            *next += 1;
        }
    }
    for (q, end) in &queues {
        q.reserve(ctx.disk, *end)?;
    }

    let store_ts = now_ms.max(tail.last_store_timestamp);
    ensure_space(ctx, tail, total)?;
    let writer = tail.writer.as_mut().ok_or(StoreError::Closed)?;
    // Room for the end-of-segment marker that may follow these records is covered too.
    let needed_end = (writer.staged_end() + total + MIN_BLANK) as u64;
    ctx.log.cover_lease(tail.writer_start, needed_end)?;
    let mut phys = tail.writer_start + writer.staged_end() as u64;
    let mut out = Vec::with_capacity(msgs.len());
    for ((m, len), qoff) in msgs.iter().zip(&lens).zip(&offsets) {
        let Some(dst) = writer.stage(*len) else {
            writer.discard();
            return Err(StoreError::Closed);
        };
        if let Err(e) = encode_into(m, *qoff, phys as i64, store_ts, dst) {
            writer.discard();
            return Err(StoreError::InvalidMessage(e.to_string()));
        }
        out.push(Appended {
            phys,
            size: *len,
            queue_offset: *qoff,
            store_timestamp: store_ts,
        });
        phys += *len as u64;
    }
    writer
        .publish()
        .map_err(|e| StoreError::io("write commit log", writer.file().path(), e))?;
    ctx.log
        .written
        .store(phys, std::sync::atomic::Ordering::Release);
    tail.last_store_timestamp = store_ts;
    ctx.log.ahead.wrote_to(phys);
    Ok(out)
}

/// Makes sure the current segment has `len + 8` free bytes, rolling over (blank marker in the old
/// segment, new preallocated segment) if not. The new segment is created first, so a full disk
/// leaves the log untouched.
fn ensure_space(ctx: &AppendContext<'_>, tail: &mut Tail, len: usize) -> StoreResult<()> {
    let seg_size = ctx.log.segment_size;
    let Some(writer) = tail.writer.as_mut() else {
        // Empty log: first segment, aligned down to a segment boundary.
        let start = ctx.log.written() - ctx.log.written() % seg_size;
        let w = ctx.log.create_segment(ctx.disk, start)?;
        tail.writer_start = start;
        tail.writer = Some(w);
        return Ok(());
    };
    if writer.remaining() >= len + MIN_BLANK {
        return Ok(());
    }
    let remaining = writer.remaining();
    if remaining > 0 {
        // The marker's bytes must lie inside the lease: normally the last append covered them
        // already, but not after a recovery that found no usable lease for this segment. Done
        // before creating the next segment so a failure leaves nothing half done.
        let marker_end = (writer.staged_end() + MIN_BLANK.min(remaining)) as u64;
        ctx.log.cover_lease(tail.writer_start, marker_end)?;
    }
    let next_start = tail.writer_start + seg_size;
    let new_writer = ctx.log.create_segment(ctx.disk, next_start)?;
    let marker_len = i32::try_from(remaining).unwrap_or(i32::MAX);
    // A segment completed earlier (e.g. found so by recovery) already carries its marker.
    if remaining > 0 {
        // Through the mapping, so that writing it cannot fail once the next segment exists
        // (nothing is staged between appends, so there is nothing to write out first).
        let _ = writer.end_write_through();
        let dst = writer.stage(remaining).ok_or(StoreError::Closed)?;
        write_blank_marker(dst, marker_len).map_err(|e| StoreError::Corrupt {
            path: ctx.log.dir.clone(),
            reason: format!("cannot write the end-of-segment marker: {e}"),
        })?;
        // Cannot fail outside write-through mode.
        let _ = writer.publish();
    }
    ctx.log
        .written
        .store(next_start, std::sync::atomic::Ordering::Release);
    // The completed segment is only read from now on: read-ahead is welcome again.
    super::writing_mode(writer.file(), false);
    tail.writer = Some(new_writer);
    tail.writer_start = next_start;
    Ok(())
}
