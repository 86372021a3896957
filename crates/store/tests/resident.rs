//! The store keeps its resident memory small: pages of the commit log behind the writer, and of
//! consume-queue and index files behind their ends, are released from the process's mappings
//! (they stay in the page cache), and whatever catch-up reads fault back in is released again.
//! Nothing released is lost: every message reads back intact, also after a reopen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::msg;
use saturn_protocol::message::record::decode;
use saturn_store::{AcceptAll, FlushMode, GetMessageStatus, MessageStore, StoreConfig};

const MIB: u64 = 1024 * 1024;
const SEG: u64 = 2 * MIB;
const MESSAGES: usize = 40_000;
const BODY: usize = 1000;
/// Written in total: ~40 MiB. Resident bound: 4 MiB kept behind the writer, the prefaulted
/// current and next segments, and a release step of slack.
const BOUND_KIB: u64 = 12 * 1024;

fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        store_path: dir.to_path_buf(),
        commit_log_segment_size: SEG,
        flush_mode: FlushMode::Async,
        flush_interval_ms: 50,
        flush_consume_queue_interval_ms: 50,
        retention_interval_ms: 3_600_000,
        ..StoreConfig::default()
    }
}

/// Resident KiB of this process's mappings of files under `dir/commitlog` (from smaps).
fn commit_log_rss_kib(dir: &Path) -> u64 {
    let needle = dir.join("commitlog").to_string_lossy().into_owned();
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            inside = line.contains(&needle);
        } else if inside {
            if let Some(v) = line.strip_prefix("Rss:") {
                total += v
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap();
            }
        }
    }
    total
}

fn wait_for_rss_at_most(dir: &Path, kib: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let rss = commit_log_rss_kib(dir);
        if rss <= kib || Instant::now() >= deadline {
            return rss;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn body(i: usize) -> Vec<u8> {
    (0..BODY).map(|j| (i * 31 + j) as u8).collect()
}

fn read_all_back(store: &MessageStore) {
    let mut seen = 0;
    for q in 0..4 {
        let mut off = store.min_offset("Resident", q);
        while off < store.max_offset("Resident", q) {
            let r = store.get_messages("Resident", q, off, 64, 1 << 20, &AcceptAll);
            assert_eq!(r.status, GetMessageStatus::Found, "queue {q} offset {off}");
            for rec in &r.messages {
                let (m, _) = decode(rec).unwrap();
                assert!(m.verify_crc());
                let i: usize = m.keys().unwrap().parse().unwrap();
                assert_eq!(&m.body[..], &body(i)[..], "message {i}");
                seen += 1;
            }
            off = r.next_begin_offset;
        }
    }
    assert_eq!(seen, MESSAGES);
}

#[test]
fn pages_behind_the_writer_leave_the_resident_set_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    for i in 0..MESSAGES {
        let key = i.to_string();
        store
            .append(&msg(
                "Resident",
                (i % 4) as i32,
                &body(i),
                &[("KEYS", &key)],
            ))
            .unwrap();
    }
    let written_kib = store.max_phys_offset() / 1024;
    assert!(written_kib > 3 * BOUND_KIB, "wrote only {written_kib} KiB");
    let rss = wait_for_rss_at_most(dir.path(), BOUND_KIB, Duration::from_secs(10));
    assert!(
        rss <= BOUND_KIB,
        "commit-log mappings hold {rss} KiB resident after writing {written_kib} KiB"
    );

    // Catch-up reads fault pages back in; the periodic sweep releases them again.
    read_all_back(&store);
    let rss = wait_for_rss_at_most(dir.path(), BOUND_KIB, Duration::from_secs(15));
    assert!(rss <= BOUND_KIB, "{rss} KiB still resident after the sweep");

    // Released pages were still written back: everything survives a reopen.
    store.close().unwrap();
    drop(store);
    let store = MessageStore::open(config(dir.path())).unwrap();
    read_all_back(&store);
}
