//! The dispatcher: turns one commit-log record into its consume-queue unit. The same
//! [`Dispatcher::dispatch`] runs live inside `append` (before it returns, so a woken long-poll
//! consumer finds the unit) and during recovery, when records past the checkpoint are replayed.
//! Index entries are added separately, by the background index builder
//! ([`crate::index::builder`]).

use saturn_protocol::message::record::RecordView;
use saturn_protocol::message::{properties, sysflag, tag};

use super::table::ConsumeQueueTable;
use super::Unit;
use crate::disk::Disk;
use crate::error::StoreResult;
use crate::index::index_keys;

/// RocketMQ's topic for delayed messages; its tags code is the delivery time.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// What the dispatcher needs to know about one record.
#[derive(Debug, Clone, Copy)]
pub struct DispatchRequest<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Queue id.
    pub queue_id: i32,
    /// Queue offset written in the record.
    pub queue_offset: i64,
    /// Commit-log offset of the record.
    pub phys: i64,
    /// TOTALSIZE.
    pub size: i32,
    /// Consume-queue tags code.
    pub tags_code: i64,
    /// Store time, ms.
    pub store_timestamp: i64,
    /// Sysflag (transaction type decides what is dispatched).
    pub sys_flag: i32,
}

impl<'a> DispatchRequest<'a> {
    /// From a decoded record.
    pub fn from_view(view: &RecordView<'a>, delay_levels_ms: &[i64]) -> Self {
        Self {
            topic: view.topic,
            queue_id: view.queue_id,
            queue_offset: view.queue_offset,
            phys: view.physical_offset,
            size: i32::try_from(view.total_size).unwrap_or(i32::MAX),
            tags_code: tags_code(
                view.topic,
                view.properties,
                view.store_timestamp,
                delay_levels_ms,
            ),
            store_timestamp: view.store_timestamp,
            sys_flag: view.sys_flag,
        }
    }

    /// Whether the record gets a consume-queue unit: half (prepared) and rollback records do
    /// not (RocketMQ dispatches only non-transactional and commit records).
    pub fn goes_to_queue(&self) -> bool {
        takes_queue_offset(self.sys_flag)
    }
}

/// Whether a record with this sysflag consumes a queue offset (see
/// [`DispatchRequest::goes_to_queue`]); others are written with queue offset 0.
pub fn takes_queue_offset(sys_flag: i32) -> bool {
    matches!(
        sysflag::transaction_value(sys_flag),
        sysflag::TRANSACTION_NOT_TYPE | sysflag::TRANSACTION_COMMIT_TYPE
    )
}

/// Number of index entries a message with these properties will add.
pub fn index_entry_count(sys_flag: i32, props: &str) -> u32 {
    if sysflag::transaction_value(sys_flag) == sysflag::TRANSACTION_ROLLBACK_TYPE {
        return 0;
    }
    u32::try_from(index_keys(props).count()).unwrap_or(u32::MAX)
}

/// The consume-queue tags code: the delivery time for the schedule topic (store time + the delay
/// of the `DELAY` level), otherwise the hash of `TAGS` (0 without a tag).
pub fn tags_code(topic: &str, props: &str, store_timestamp: i64, delay_levels_ms: &[i64]) -> i64 {
    if topic == SCHEDULE_TOPIC {
        let delay = properties::find(props, properties::DELAY)
            .and_then(|l| l.trim().parse::<usize>().ok())
            .and_then(|l| l.checked_sub(1))
            .and_then(|i| delay_levels_ms.get(i).copied());
        if let Some(d) = delay {
            return store_timestamp.saturating_add(d);
        }
    }
    tag::tags_code_of_properties(props)
}

/// The structures a record is dispatched to.
#[derive(Debug, Clone, Copy)]
pub struct Dispatcher<'a> {
    /// Consume queues.
    pub queues: &'a ConsumeQueueTable,
    /// For creating files.
    pub disk: &'a dyn Disk,
}

impl Dispatcher<'_> {
    /// Writes the record's consume-queue unit, creating files as needed (the live path has
    /// reserved the space already, so there this cannot fail for space).
    ///
    /// # Errors
    /// Creating a file failed.
    pub fn dispatch(&self, req: &DispatchRequest<'_>) -> StoreResult<()> {
        if req.goes_to_queue() {
            let q = self.queues.get_or_create(req.topic, req.queue_id);
            q.reserve(self.disk, req.queue_offset.saturating_add(1))?;
            q.put(
                req.queue_offset,
                Unit {
                    phys: req.phys,
                    size: req.size,
                    tags_code: req.tags_code,
                },
            )?;
        }
        Ok(())
    }
}
