//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use bytes::Bytes;
use saturn_protocol::message::record::MessageToStore;
use saturn_store::mapped_file::MappedFile;
use saturn_store::{Disk, FlushMode, StoreConfig};

/// Small files so tests roll segments, queue files and index files quickly.
pub fn small_config(dir: &Path, mode: FlushMode) -> StoreConfig {
    StoreConfig {
        store_path: dir.to_path_buf(),
        commit_log_segment_size: 8192,
        consume_queue_units_per_file: 16,
        index_slots: 64,
        index_max_entries: 128,
        flush_mode: mode,
        flush_interval_ms: 10,
        sync_flush_timeout_ms: 5_000,
        flush_consume_queue_interval_ms: 20,
        retention_interval_ms: 3_600_000,
        ..StoreConfig::default()
    }
}

/// A message with properties built from `pairs`.
pub fn msg(topic: &str, queue_id: i32, body: &[u8], pairs: &[(&str, &str)]) -> MessageToStore {
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    let born: SocketAddr = "10.0.0.7:50000".parse().unwrap();
    let mut props = String::new();
    for (k, v) in pairs {
        props.push_str(k);
        props.push('\u{1}');
        props.push_str(v);
        props.push('\u{2}');
    }
    MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: born,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body),
        properties: props,
    }
}

/// A disk whose preallocation, flush and reported usage can be switched by the test. This is a
/// simulation: the real OS calls are made unless a fault is switched on.
#[derive(Debug, Default)]
pub struct FaultDisk {
    /// Preallocation fails with ENOSPC.
    pub no_space: AtomicBool,
    /// Flushes fail with EIO.
    pub fail_sync: AtomicBool,
    /// Reported used ratio × 1000 (0 = ask the OS).
    pub used_permille: AtomicU64,
    /// While true, commit-log flushes hang (a stalled device).
    stalled: Mutex<bool>,
    unstalled: Condvar,
}

impl FaultDisk {
    /// Makes commit-log flushes hang until called again with `false`.
    pub fn stall(&self, on: bool) {
        *self.stalled.lock().unwrap() = on;
        self.unstalled.notify_all();
    }
}

impl Disk for FaultDisk {
    fn preallocate(&self, file: &File, len: u64) -> io::Result<()> {
        if self.no_space.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        saturn_store::mapped_file::sys::posix_fallocate(file, len)
    }

    fn sync_mapped(&self, file: &MappedFile, from: usize, to: usize) -> io::Result<()> {
        drop(
            self.unstalled
                .wait_while(self.stalled.lock().unwrap(), |stalled| *stalled)
                .unwrap(),
        );
        if self.fail_sync.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        file.flush_range(from, to)
    }

    fn used_ratio(&self, dir: &Path) -> io::Result<f64> {
        match self.used_permille.load(Ordering::SeqCst) {
            0 => saturn_store::mapped_file::sys::used_ratio(dir),
            p => Ok(p as f64 / 1000.0),
        }
    }
}
