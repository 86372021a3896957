//! Saturn's message store: a RocketMQ-compatible commit log with consume queues and a key index.
//! No networking; the broker drives it through [`MessageStore`].
//!
//! Map of the crate (the path of a message):
//! - [`store`]: [`MessageStore`], the facade: open/recover, append, close, background threads.
//! - [`commit_log`]: segment files of stored records (append, zero-copy read, recovery, the
//!   write lease that bounds what recovery must zero, and the thread working ahead of the
//!   writer: prefaulting, next segment, early lease extension).
//! - [`consume_queue`]: per-queue arrays of 20-byte units, built by the [`consume_queue::dispatch`]
//!   dispatcher live on append and again from the commit log on recovery.
//! - [`index`]: hash index files for lookups by key / unique id and time, built in the
//!   background from the commit log by [`index::builder`].
//! - [`flush`]: async flushing, sync group commit, durability waiters, poisoning.
//! - `housekeeping` (internal): the maintenance thread (consume-queue/index flush, checkpoint,
//!   retention) and the expiry of overdue durability callbacks.
//! - [`checkpoint`]: durable progress markers used by recovery.
//! - [`retention`]: deleting old segments and what only points into them; disk-full detection.
//! - [`query`]: pulls, lookups and stats.
//! - [`mapped_file`]: the mmap layer, [`disk`]: the file-system seam.
//! - [`background`]: the lower CPU priority of the background threads. It and `mapped_file` hold
//!   the crate's only `unsafe` (system calls).
//! - [`config`], [`error`].
//!
//! On-disk formats are described byte by byte in `docs/store-format.md`.

pub mod background;
pub mod checkpoint;
pub mod commit_log;
pub mod config;
pub mod consume_queue;
pub mod disk;
pub mod error;
pub mod flush;
mod housekeeping;
pub mod index;
pub mod mapped_file;
pub mod query;
pub mod retention;
pub mod store;

pub use commit_log::append::Appended;
pub use commit_log::recover::TailCleanup;
pub use config::{FlushMode, StoreConfig};
pub use consume_queue::Unit;
pub use disk::{Disk, OsDisk};
pub use error::{StoreError, StoreResult};
pub use flush::Durability;
pub use query::{
    AcceptAll, GetMessageResult, GetMessageStatus, MessageFilter, QueryResult, QueueInfo,
    QueueStats,
};
pub use retention::RetentionReport;
pub use store::{AppendResult, MessageStore, RecoveryReport};

#[cfg(test)]
mod test_util;
