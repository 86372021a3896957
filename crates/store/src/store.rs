//! [`MessageStore`]: the facade the broker uses. Opening runs recovery; background threads run
//! until [`MessageStore::close`]: the commit-log flusher, a maintenance thread (consume-queue and
//! index flushes, checkpoints, retention), the thread working ahead of the commit-log writer
//! (prefaulting, next segment; [`crate::commit_log::ahead`]) and, with the index enabled, the
//! index builder ([`crate::index::builder`]).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use saturn_protocol::message::record::MessageToStore;

use crate::background;
use crate::checkpoint::{self, Checkpoint};
use crate::commit_log::append::{self, AppendContext, AppendFailure, Appended};
use crate::commit_log::recover::TailCleanup;
use crate::commit_log::{recover, CommitLog, Tail};
use crate::config::{FlushMode, StoreConfig};
use crate::consume_queue::dispatch::{DispatchRequest, Dispatcher};
use crate::consume_queue::table::ConsumeQueueTable;
use crate::disk::{self, Disk, OsDisk};
use crate::error::{StoreError, StoreResult};
use crate::flush::{self, Durability, FlushShared};
use crate::housekeeping::{expiry_loop, maintenance_loop, Stop};
use crate::index::builder::{IndexBuilder, IndexProgress};
use crate::index::{IndexRecovery, IndexService};
use crate::mapped_file::sys;

/// Where an appended message landed (see [`Appended`]).
pub type AppendResult = Appended;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// State shared by the facade and its threads.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: StoreConfig,
    pub(crate) root: PathBuf,
    pub(crate) disk: Arc<dyn Disk>,
    pub(crate) log: CommitLog,
    /// The append lock: commit-log tail, queue-offset assignment and live dispatch.
    pub(crate) tail: Mutex<Tail>,
    pub(crate) queues: ConsumeQueueTable,
    pub(crate) index: Option<IndexService>,
    /// Builds the index in the background (present when `index` is).
    pub(crate) index_builder: Option<IndexBuilder>,
    /// The index position recorded in checkpoints: the builder's progress at the last index
    /// flush, and when that was.
    pub(crate) index_flushed: Mutex<(IndexProgress, Instant)>,
    pub(crate) flush: Arc<FlushShared>,
    /// Commit-log offset up to which records are dispatched to the consume queues.
    pub(crate) dispatched: AtomicU64,
    pub(crate) disk_full: AtomicBool,
    pub(crate) closed: AtomicBool,
    pub(crate) delay_levels_ms: Vec<i64>,
    /// What the last open found and did.
    pub(crate) recovery: RecoveryReport,
    /// Held (flock) from open to close.
    lock: Mutex<Option<File>>,
}

/// What opening the store found and did (for logs, metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The previous run closed the store cleanly (no `abort` marker).
    pub clean_shutdown: bool,
    /// Where validation of the commit log started.
    pub scan_start: u64,
    /// End of the valid commit log.
    pub log_end: u64,
    /// How the space after the end was zeroed (`None` for an empty log).
    pub tail_cleanup: Option<TailCleanup>,
}

/// The message store. `Send + Sync`: share it with an `Arc`.
#[derive(Debug)]
pub struct MessageStore {
    pub(crate) inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop: Arc<Stop>,
}

impl MessageStore {
    /// Opens (creating if needed) the store at `config.store_path`, recovering from a crash if
    /// the previous run did not close cleanly, and starts the background threads.
    ///
    /// # Errors
    /// Invalid config, the directory locked by another store, unrepairable files, I/O errors.
    pub fn open(config: StoreConfig) -> StoreResult<Self> {
        Self::open_with_disk(config, Arc::new(OsDisk))
    }

    /// As [`MessageStore::open`] with a custom [`Disk`] (tests use it to simulate a full disk or
    /// a failing flush).
    ///
    /// # Errors
    /// As [`MessageStore::open`].
    pub fn open_with_disk(config: StoreConfig, disk: Arc<dyn Disk>) -> StoreResult<Self> {
        let inner = Arc::new(Inner::open(config, disk)?);
        let store = Self {
            inner,
            threads: Mutex::new(Vec::new()),
            stop: Arc::new(Stop::default()),
        };
        store.start_threads()?;
        Ok(store)
    }

    fn start_threads(&self) -> StoreResult<()> {
        let spawn_err = |e: std::io::Error| StoreError::io("spawn thread", &self.inner.root, e);
        let inner = Arc::clone(&self.inner);
        let interval = Duration::from_millis(self.inner.config.flush_interval_ms);
        let flusher = std::thread::Builder::new()
            .name("saturn-store-flush".into())
            .spawn(move || {
                let shared = Arc::clone(&inner.flush);
                flush::run_flusher(&shared, interval, || inner.log.flush(&*inner.disk));
            })
            .map_err(spawn_err)?;
        let inner = Arc::clone(&self.inner);
        let stop = Arc::clone(&self.stop);
        let maintenance = std::thread::Builder::new()
            .name("saturn-store-maint".into())
            .spawn(move || {
                background::lower_current_thread();
                maintenance_loop(&inner, &stop)
            })
            .map_err(spawn_err)?;
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        threads.push(flusher);
        threads.push(maintenance);
        if self.inner.config.flush_mode == FlushMode::Sync {
            let inner = Arc::clone(&self.inner);
            let stop = Arc::clone(&self.stop);
            threads.push(
                std::thread::Builder::new()
                    .name("saturn-store-expiry".into())
                    .spawn(move || expiry_loop(&inner, &stop))
                    .map_err(spawn_err)?,
            );
        }
        let inner = Arc::clone(&self.inner);
        threads.push(
            std::thread::Builder::new()
                .name("saturn-store-ahead".into())
                .spawn(move || {
                    background::lower_current_thread();
                    inner.log.run_ahead(
                        &*inner.disk,
                        inner.config.precreate_segments,
                        inner.config.warm_segments,
                    )
                })
                .map_err(spawn_err)?,
        );
        if self.inner.index_builder.is_some() {
            let inner = Arc::clone(&self.inner);
            threads.push(
                std::thread::Builder::new()
                    .name("saturn-store-index".into())
                    .spawn(move || {
                        if let (Some(b), Some(index)) = (&inner.index_builder, &inner.index) {
                            b.run(&inner.log, index, &*inner.disk);
                        }
                    })
                    .map_err(spawn_err)?,
            );
        }
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// What opening the store found and did.
    pub fn recovery_report(&self) -> RecoveryReport {
        self.inner.recovery
    }

    /// Appends one message. In sync mode returns only once it is durable.
    ///
    /// # Errors
    /// [`StoreError::InvalidMessage`], [`StoreError::MessageTooLarge`], [`StoreError::DiskFull`],
    /// [`StoreError::Poisoned`], [`StoreError::FlushTimeout`] (written, durability unconfirmed),
    /// [`StoreError::Closed`], I/O errors.
    pub fn append(&self, msg: &MessageToStore) -> StoreResult<AppendResult> {
        let (r, d) = self.append_deferred(msg)?;
        d.wait()?;
        Ok(r)
    }

    /// Appends messages as consecutive records (consecutive queue offsets per queue) under one
    /// lock acquisition and one durability wait. All of them fit in one segment or none is
    /// written.
    ///
    /// # Errors
    /// As [`MessageStore::append`].
    pub fn append_batch(&self, msgs: &[MessageToStore]) -> StoreResult<Vec<AppendResult>> {
        let (r, d) = self.append_batch_deferred(msgs)?;
        d.wait()?;
        Ok(r)
    }

    /// Appends without waiting for durability; the returned [`Durability`] is waited on with
    /// `wait()` (blocking) or `wait_async().await`. The message is readable (and dispatched to
    /// its consume queue) when this returns. In async mode the durability is immediately ready.
    ///
    /// # Errors
    /// As [`MessageStore::append`] minus the flush errors.
    pub fn append_deferred(&self, msg: &MessageToStore) -> StoreResult<(AppendResult, Durability)> {
        let (mut v, d) = self.append_batch_deferred(std::slice::from_ref(msg))?;
        let r = v
            .pop()
            .ok_or(StoreError::InvalidMessage("nothing appended".into()))?;
        Ok((r, d))
    }

    /// Batch form of [`MessageStore::append_deferred`].
    ///
    /// # Errors
    /// As [`MessageStore::append_deferred`].
    pub fn append_batch_deferred(
        &self,
        msgs: &[MessageToStore],
    ) -> StoreResult<(Vec<AppendResult>, Durability)> {
        let inner = &*self.inner;
        inner.check_writable()?;
        if msgs.is_empty() {
            return Ok((Vec::new(), Durability::ready()));
        }
        let ctx = inner.append_context();
        let out = {
            let mut tail = inner.tail.lock().unwrap_or_else(|p| p.into_inner());
            // Re-check under the lock: close() takes the lock after setting `closed`.
            inner.check_writable()?;
            let r = append::append(&ctx, &mut tail, msgs, now_ms());
            inner
                .dispatched
                .store(inner.log.written(), Ordering::Release);
            match r {
                Ok(out) => out,
                Err(AppendFailure::NothingWritten(e)) => return Err(e),
                Err(AppendFailure::DispatchFailed(e)) => {
                    inner.flush.complete(Err(format!("dispatch failed: {e}")));
                    return Err(e);
                }
            }
        };
        inner.log.release_if_lagging();
        let end = out.last().map_or(0, |a| a.phys + a.size as u64);
        let durability = match inner.config.flush_mode {
            FlushMode::Sync => Durability::pending(
                &inner.flush,
                end,
                Duration::from_millis(inner.config.sync_flush_timeout_ms),
            ),
            FlushMode::Async => Durability::ready(),
        };
        Ok((out, durability))
    }

    /// Makes everything appended so far durable (any mode), blocking.
    ///
    /// # Errors
    /// [`StoreError::Poisoned`] or [`StoreError::FlushTimeout`].
    pub fn flush(&self) -> StoreResult<()> {
        let target = self.inner.log.written();
        Durability::pending(
            &self.inner.flush,
            target,
            Duration::from_millis(self.inner.config.sync_flush_timeout_ms.max(1000)),
        )
        .wait()
    }

    /// Writes a checkpoint now (flushing consume queues and index first); normally done by the
    /// maintenance thread every `flush_consume_queue_interval_ms`, which flushes the index only
    /// every `index_flush_interval_ms`.
    ///
    /// # Errors
    /// A flush or the checkpoint write failed (the store is then poisoned).
    pub fn checkpoint(&self) -> StoreResult<Checkpoint> {
        self.inner.checkpoint_now(true)
    }

    /// Stops the background threads, flushes everything, writes the checkpoint and removes the
    /// abort marker, so the next open knows the shutdown was clean. Later calls return
    /// [`StoreError::Closed`].
    ///
    /// # Errors
    /// A final flush failed (the abort marker then stays and the next open recovers).
    pub fn close(&self) -> StoreResult<()> {
        let inner = &*self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return Err(StoreError::Closed);
        }
        let closed = self.close_open();
        // Whatever the last round did not cover (it failed, or never ran) gets its answer now.
        inner.flush.abandon();
        closed
    }

    fn close_open(&self) -> StoreResult<()> {
        let inner = &*self.inner;
        // Wait for in-flight appends to finish.
        drop(inner.tail.lock().unwrap_or_else(|p| p.into_inner()));
        inner.flush.shutdown();
        self.stop.stop();
        inner.log.ahead.stop();
        // The builder indexes what was appended before it stops.
        if let Some(b) = &inner.index_builder {
            b.stop();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        inner.log.discard_staged();
        inner.flush.check()?;
        let flushed = inner.log.flush(&*inner.disk)?;
        inner.flush.complete(Ok(flushed));
        inner.checkpoint_now(true)?;
        let abort = inner.root.join("abort");
        fs::remove_file(&abort).map_err(|e| StoreError::io("remove abort marker", &abort, e))?;
        disk::sync_dir(&inner.root).map_err(|e| StoreError::io("sync dir", &inner.root, e))?;
        // Release the directory for the next user.
        drop(inner.lock.lock().unwrap_or_else(|p| p.into_inner()).take());
        Ok(())
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if !self.inner.closed.load(Ordering::Acquire) {
            if let Err(e) = self.close() {
                tracing::error!(error = %e, "closing the store on drop failed");
            }
        }
    }
}

impl Inner {
    fn open(config: StoreConfig, disk: Arc<dyn Disk>) -> StoreResult<Self> {
        config.validate()?;
        let delay_levels_ms = config.delay_levels_ms()?;
        let root = config.store_path.clone();
        disk::create_dir_durable(&root)
            .map_err(|e| StoreError::io("create store dir", &root, e))?;
        let lock = acquire_lock(&root)?;
        let abort = root.join("abort");
        let clean = !abort.exists();
        if !clean {
            tracing::warn!(path = %root.display(), "abort marker found: recovering after an abnormal shutdown");
        }
        let cp = checkpoint::load(&root)?.unwrap_or_default();
        let scan_from = cp
            .commit_log_flushed
            .min(cp.consume_queue_phys)
            .min(cp.index_phys);
        let opened = recover::open(
            &root.join("commitlog"),
            config.commit_log_segment_size,
            scan_from,
        )?;
        let log = opened.log;
        let mut tail = opened.tail;
        if config.flush_mode == FlushMode::Sync {
            // Every append waits for a sync: pwrite makes those syncs far cheaper.
            log.enable_write_through(tail.writer.as_mut())?;
        }
        let end = log.written();
        let recovery = RecoveryReport {
            clean_shutdown: clean,
            scan_start: opened.scan_start,
            log_end: end,
            tail_cleanup: opened.tail_cleanup,
        };
        let cq_target = cp.consume_queue_phys.min(end);
        let idx_target = cp.index_phys.min(end);
        let queues =
            ConsumeQueueTable::load(&root, config.consume_queue_units_per_file, cq_target)?;
        let log_min = log.min_offset();
        for q in queues.all() {
            q.correct_min_offset(log_min);
        }
        let index = if config.index_enabled {
            Some(IndexService::load(
                &root,
                config.index_slots,
                config.index_max_entries,
                IndexRecovery {
                    valid_below_phys: idx_target,
                    checkpoint_file: cp.index_file,
                    checkpoint_count: cp.index_count,
                    clean_shutdown: clean,
                },
            )?)
        } else {
            None
        };
        // The builder resumes where recovery cut the index and catches up in the background.
        let index_start = IndexProgress {
            phys: idx_target,
            file: index.as_ref().map_or(0, |i| i.position().0),
            count: index.as_ref().map_or(0, |i| i.position().1),
        };
        let index_builder = index.as_ref().map(|_| IndexBuilder::new(index_start));
        let flushed = log.flushed();
        let inner = Self {
            root: root.clone(),
            disk,
            tail: Mutex::new(tail),
            queues,
            index,
            index_builder,
            index_flushed: Mutex::new((index_start, Instant::now())),
            flush: FlushShared::new(flushed),
            dispatched: AtomicU64::new(end),
            disk_full: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            delay_levels_ms,
            log,
            config,
            recovery,
            lock: Mutex::new(Some(lock)),
        };
        inner.replay_queues(cq_target, end)?;
        // Make the repaired state durable and record it, so a second crash starts from here.
        let flushed = inner.log.flush(&*inner.disk)?;
        inner.flush.complete(Ok(flushed));
        inner.checkpoint_now(true)?;
        File::create(&abort).map_err(|e| StoreError::io("create abort marker", &abort, e))?;
        disk::sync_dir(&root).map_err(|e| StoreError::io("sync dir", &root, e))?;
        inner.update_disk_full();
        Ok(inner)
    }

    /// Re-dispatches records in `[cq_from, end)` to the consume queues (units the queues already
    /// hold are skipped). The index builder replays its own part, in the background.
    fn replay_queues(&self, cq_from: u64, end: u64) -> StoreResult<()> {
        if cq_from >= end {
            return Ok(());
        }
        tracing::info!(
            from = cq_from,
            end,
            "replaying commit log into consume queues"
        );
        let dispatcher = Dispatcher {
            queues: &self.queues,
            disk: &*self.disk,
        };
        let mut replayed = 0u64;
        self.log.replay(cq_from, end, |view| {
            dispatcher.dispatch(&DispatchRequest::from_view(view, &self.delay_levels_ms))?;
            replayed += 1;
            Ok(())
        })?;
        tracing::info!(replayed, "replay done");
        Ok(())
    }

    pub(crate) fn append_context(&self) -> AppendContext<'_> {
        AppendContext {
            log: &self.log,
            dispatcher: Dispatcher {
                queues: &self.queues,
                disk: &*self.disk,
            },
            disk: &*self.disk,
            delay_levels_ms: &self.delay_levels_ms,
            max_body: self.config.max_message_size,
            max_index_keys: self.index.as_ref().map(IndexService::max_entries),
        }
    }

    fn check_writable(&self) -> StoreResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        self.flush.check()?;
        if self.disk_full.load(Ordering::Acquire) {
            return Err(StoreError::DiskFull {
                reason: format!(
                    "disk usage above disk_full_ratio {} for {}",
                    self.config.disk_full_ratio,
                    self.root.display()
                ),
            });
        }
        Ok(())
    }

    /// Measures disk usage and sets the disk-full flag; returns the ratio.
    pub(crate) fn update_disk_full(&self) -> f64 {
        match self.disk.used_ratio(&self.root) {
            Ok(r) => {
                let full = r > self.config.disk_full_ratio;
                if full != self.disk_full.swap(full, Ordering::AcqRel) {
                    tracing::warn!(ratio = r, full, "disk-full state changed");
                }
                r
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot measure disk usage");
                0.0
            }
        }
    }
}

fn acquire_lock(root: &Path) -> StoreResult<File> {
    let path = root.join("lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::io("open lock file", &path, e))?;
    sys::try_lock_exclusive(&file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            StoreError::Locked { path: path.clone() }
        } else {
            StoreError::io("lock store", &path, e)
        }
    })?;
    Ok(file)
}
