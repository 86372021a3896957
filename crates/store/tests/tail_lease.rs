//! The commit log's write lease: reopening a store checks only the bytes after the valid end that
//! the lease says may be non-zero (not the rest of a large preallocated segment), falls back to
//! the full check when no lease is recorded, and still never lets a record cut off by recovery
//! come back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use common::{msg, small_config};
use saturn_store::commit_log::lease::{self, Lease, LEASE_AHEAD};
use saturn_store::{AcceptAll, AppendResult, FlushMode, GetMessageStatus, MessageStore};
use saturn_store::{StoreConfig, TailCleanup};

/// Large enough that a lease ends far before the segment does; preallocation keeps it cheap.
const BIG_SEGMENT: u64 = 256 * 1024 * 1024;
const TOPIC: &str = "Lease";

fn big_config(dir: &Path) -> StoreConfig {
    StoreConfig {
        commit_log_segment_size: BIG_SEGMENT,
        ..small_config(dir, FlushMode::Sync)
    }
}

fn lease_path(dir: &Path) -> std::path::PathBuf {
    lease::path(&dir.join("commitlog"))
}

fn append_n(store: &MessageStore, n: usize) -> Vec<AppendResult> {
    (0..n)
        .map(|i| {
            let body = vec![b'a' + (i % 26) as u8; 500];
            store
                .append(&msg(TOPIC, 0, &body, &[("KEYS", "k")]))
                .unwrap()
        })
        .collect()
}

fn tail_of(store: &MessageStore) -> TailCleanup {
    store.recovery_report().tail_cleanup.expect("a tail check")
}

#[test]
fn reopen_checks_only_up_to_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(big_config(dir.path())).unwrap();
    assert_eq!(store.recovery_report().tail_cleanup, None, "empty log");
    let appended = append_n(&store, 200);
    let end = store.max_phys_offset();
    store.close().unwrap();
    drop(store);

    // The lease was recorded before the first byte was written, reaching LEASE_AHEAD past it.
    let recorded = lease::load(&lease_path(dir.path())).unwrap().unwrap();
    assert_eq!(recorded.segment_start, 0);
    assert!(
        recorded.end >= end && recorded.end < BIG_SEGMENT,
        "{recorded:?}"
    );
    assert!(recorded.end <= end + LEASE_AHEAD + 8, "{recorded:?}");

    let store = MessageStore::open(big_config(dir.path())).unwrap();
    let tail = tail_of(&store);
    assert_eq!(tail.lease, Some(recorded));
    assert_eq!((tail.from, tail.to), (end, recorded.end));
    assert!(tail.scanned <= tail.to - tail.from, "{tail:?}");
    assert_eq!(tail.zeroed, 0, "a clean close leaves nothing to zero");
    assert!(
        BIG_SEGMENT - tail.to > BIG_SEGMENT / 2,
        "most of the segment is never looked at: {tail:?}"
    );
    // Data is intact and appends continue where they stopped.
    let r = store.get_messages(TOPIC, 0, 0, 1000, 1 << 30, &AcceptAll);
    assert_eq!(r.messages.len(), appended.len());
    let next = append_n(&store, 1);
    assert_eq!(next[0].phys, end);
    store.close().unwrap();
}

#[test]
fn missing_lease_means_full_check_then_a_new_lease() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(big_config(dir.path())).unwrap();
    append_n(&store, 10);
    store.close().unwrap();
    drop(store);
    // As a store written before leases existed.
    std::fs::remove_file(lease_path(dir.path())).unwrap();

    let store = MessageStore::open(big_config(dir.path())).unwrap();
    let tail = tail_of(&store);
    assert_eq!(tail.lease, None);
    assert_eq!(tail.to, BIG_SEGMENT, "checked to the segment end");
    append_n(&store, 1);
    let end = store.max_phys_offset();
    store.close().unwrap();
    drop(store);

    let recorded = lease::load(&lease_path(dir.path())).unwrap().unwrap();
    assert!(
        recorded.end >= end && recorded.end < BIG_SEGMENT,
        "{recorded:?}"
    );
    let store = MessageStore::open(big_config(dir.path())).unwrap();
    assert_eq!(tail_of(&store).lease, Some(recorded), "bounded again");
    store.close().unwrap();

    // A corrupt lease file is no lease either.
    std::fs::write(lease_path(dir.path()), [0xAB; 32]).unwrap();
    let store = MessageStore::open(big_config(dir.path())).unwrap();
    assert_eq!(tail_of(&store).to, BIG_SEGMENT);
    store.close().unwrap();
}

#[test]
fn the_lease_follows_the_segment_being_written() {
    // Small segments: every lease is clamped to the segment end, and a roll-over moves it.
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path(), FlushMode::Sync);
    let seg = config.commit_log_segment_size;
    let store = MessageStore::open(config.clone()).unwrap();
    let appended = append_n(&store, 40);
    let last = appended.last().unwrap();
    assert!(last.phys >= seg, "rolled over at least once");
    let last_seg = last.phys - last.phys % seg;
    store.close().unwrap();
    drop(store);
    assert_eq!(
        lease::load(&lease_path(dir.path())).unwrap(),
        Some(Lease {
            segment_start: last_seg,
            end: seg
        })
    );
    let store = MessageStore::open(config).unwrap();
    let tail = tail_of(&store);
    assert_eq!(tail.segment_start, last_seg);
    assert_eq!(tail.to, last_seg + seg);
    assert!(tail.lease.is_some());
    store.close().unwrap();
}

#[test]
fn a_record_cut_off_by_recovery_never_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(big_config(dir.path())).unwrap();
    // A, B, C of the same size.
    let abc = append_n(&store, 3);
    let (b, c) = (abc[1], abc[2]);
    assert_eq!(b.size, c.size);
    store.close().unwrap();
    drop(store);

    // Tear B (a body byte: its CRC no longer matches); C stays a complete, valid record.
    let seg_path = dir.path().join("commitlog").join(format!("{:020}", 0));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg_path)
        .unwrap();
    f.write_all_at(&[0xEE], b.phys + 84 + 4 + 10).unwrap();
    f.sync_all().unwrap();

    let store = MessageStore::open(big_config(dir.path())).unwrap();
    assert_eq!(store.max_phys_offset(), b.phys, "cut at B");
    let tail = tail_of(&store);
    assert!(
        tail.lease.is_some(),
        "the lease bounded the check: {tail:?}"
    );
    assert!(c.phys + c.size as u64 <= tail.to, "C lies inside the lease");
    assert!(tail.zeroed > 0, "{tail:?}");
    let mut on_disk = vec![0xFFu8; c.size];
    f.read_exact_at(&mut on_disk, c.phys).unwrap();
    assert!(on_disk.iter().all(|x| *x == 0), "C zeroed on disk");

    // D has B's size, so it ends exactly where C started.
    let d = append_n(&store, 1)[0];
    assert_eq!((d.phys, d.phys + d.size as u64), (b.phys, c.phys));
    store.close().unwrap();
    drop(store);
    // Second crash: the next open validates again from the segment start.
    std::fs::write(dir.path().join("abort"), b"").unwrap();

    let store = MessageStore::open(big_config(dir.path())).unwrap();
    assert_eq!(store.max_phys_offset(), c.phys, "the log ends after D");
    assert!(store.message_at(c.phys).is_none(), "C did not come back");
    assert_eq!(store.max_offset(TOPIC, 0), 2, "A and D only");
    let r = store.get_messages(TOPIC, 0, 2, 10, 1 << 20, &AcceptAll);
    assert_eq!(r.status, GetMessageStatus::OffsetOverflowOne);
    store.close().unwrap();
}
