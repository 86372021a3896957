//! Measures how long reopening a store takes: a 1 GiB commit-log segment (the default) holding a
//! few MB of messages, closed cleanly, then reopened. Run with
//! `cargo run --release -p saturn-store --example reopen_time [MiB of data] [--drop-caches]`.
//! `--drop-caches` (root only) evicts the page cache before each reopen, as after a reboot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use saturn_protocol::message::record::MessageToStore;
use saturn_store::{FlushMode, MessageStore, StoreConfig};

fn message(body: &Bytes, queue_id: i32) -> MessageToStore {
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    MessageToStore {
        topic: "ReopenTopic".to_string(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: host,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: body.clone(),
        properties: "TAGS\u{1}TagA\u{2}".to_string(),
    }
}

fn drop_caches() {
    std::fs::write("/proc/sys/vm/drop_caches", b"1\n").expect("drop caches (needs root)");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mib: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(4);
    let evict = args.iter().any(|a| a == "--drop-caches");
    let base = std::env::var_os("SATURN_REOPEN_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).unwrap();
    let config = StoreConfig {
        store_path: dir.path().to_path_buf(),
        flush_mode: FlushMode::Async,
        ..StoreConfig::default()
    };
    let body = Bytes::from(vec![b'x'; 1024]);
    let store = MessageStore::open(config.clone()).unwrap();
    let count = mib * 1024;
    for i in 0..count {
        store.append(&message(&body, (i % 8) as i32)).unwrap();
    }
    store.close().unwrap();
    drop(store);
    println!(
        "segment {} MiB, {count} messages ({mib} MiB of bodies), drop caches: {evict}",
        config.commit_log_segment_size >> 20
    );
    for round in 1..=3 {
        if evict {
            drop_caches();
        }
        let t = Instant::now();
        let store = MessageStore::open(config.clone()).unwrap();
        let open = t.elapsed();
        let tail = store.recovery_report().tail_cleanup;
        store.close().unwrap();
        println!(
            "reopen {round}: {:.1} ms; tail check: {}",
            open.as_secs_f64() * 1000.0,
            tail.map_or_else(
                || "none".to_string(),
                |t| format!(
                    "[{}, {}) lease {}, {} KiB compared, {} KiB zeroed",
                    t.from,
                    t.to,
                    t.lease.map_or("none".to_string(), |l| l.end.to_string()),
                    t.scanned >> 10,
                    t.zeroed >> 10
                )
            )
        );
    }
}
