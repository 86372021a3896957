use super::file::{key_hash, timestamp_id, IndexFile};
use super::*;
use crate::disk::OsDisk;
use saturn_protocol::message::tag::tags_code;

const T0: i64 = 1_700_000_000_000;

fn props(keys: &str, uniq: &str) -> String {
    format!("KEYS\u{1}{keys}\u{2}UNIQ_KEY\u{1}{uniq}\u{2}")
}

fn fresh(dir: &Path, slots: u32, entries: u32) -> IndexService {
    IndexService::load(
        dir,
        slots,
        entries,
        IndexRecovery {
            valid_below_phys: u64::MAX,
            checkpoint_file: 0,
            checkpoint_count: 0,
            clean_shutdown: true,
        },
    )
    .unwrap()
}

fn put(svc: &IndexService, topic: &str, p: &str, phys: i64, ts: i64) {
    svc.reserve(&OsDisk, index_keys(p).count() as u32, ts)
        .unwrap();
    svc.put(topic, p, phys, ts).unwrap();
}

#[test]
fn key_hash_is_abs_java_hash() {
    assert_eq!(key_hash(&["TagA"]), 2598919);
    for s in ["T#k1", "TopicTest#ORDER-1", "日本#ключ", ""] {
        let expected = (tags_code(s) as i32).checked_abs().unwrap_or(0) as u32;
        let (a, b) = s.split_at(s.find('#').unwrap_or(0));
        assert_eq!(key_hash(&[a, b]), expected, "{s}");
    }
    assert_eq!(timestamp_id(0), 19700101000000000);
    // 2024-02-29T12:34:56.789Z
    assert_eq!(timestamp_id(1_709_210_096_789), 20240229123456789);
}

#[test]
fn chains_collisions_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    // 2 slots: every key collides with many others.
    let svc = fresh(dir.path(), 2, 100);
    for i in 0..20i64 {
        put(
            &svc,
            "T",
            &props(&format!("k{i} shared"), &format!("U{i}")),
            i * 10,
            T0 + i * 1000,
        );
    }
    assert_eq!(svc.lookup("T", "k3", 10, 0, i64::MAX), vec![30]);
    assert_eq!(svc.lookup("T", "U7", 10, 0, i64::MAX), vec![70]);
    let shared = svc.lookup("T", "shared", 100, 0, i64::MAX);
    assert_eq!(
        shared,
        (0..20).rev().map(|i| i * 10).collect::<Vec<_>>(),
        "newest first"
    );
    assert_eq!(
        svc.lookup("T", "shared", 3, 0, i64::MAX).len(),
        3,
        "max respected"
    );
    assert!(
        svc.lookup("Other", "k3", 10, 0, i64::MAX).is_empty(),
        "topic is part of the key"
    );
    let f = svc.current().unwrap();
    assert_eq!(f.index_count(), 1 + 20 * 3, "indexCount starts at 1");
    // File layout: 40-byte header, 2 slots, then 20-byte entries from entry 0.
    let bytes = std::fs::read(f.path()).unwrap();
    assert_eq!(bytes.len(), 40 + 2 * 4 + 100 * 20);
    assert_eq!(&bytes[0..8], &T0.to_be_bytes(), "begin timestamp");
    assert_eq!(&bytes[36..40], &61i32.to_be_bytes(), "index count");
    let e1 = 40 + 8 + 20;
    assert_eq!(
        &bytes[e1..e1 + 4],
        &key_hash(&["T", "#", "U0"]).to_be_bytes()
    );
    assert_eq!(&bytes[e1 + 4..e1 + 12], &0i64.to_be_bytes());
}

#[test]
fn time_range_filters_entries() {
    let dir = tempfile::tempdir().unwrap();
    let svc = fresh(dir.path(), 16, 100);
    for i in 0..10i64 {
        put(&svc, "T", &props("k", &format!("U{i}")), i, T0 + i * 60_000);
    }
    let hits = svc.lookup("T", "k", 100, T0 + 2 * 60_000, T0 + 4 * 60_000);
    assert_eq!(hits, vec![4, 3, 2]);
    assert!(svc
        .lookup("T", "k", 100, T0 + 3_600_000, i64::MAX)
        .is_empty());
}

#[test]
fn rolls_to_a_new_file_when_full_and_searches_all() {
    let dir = tempfile::tempdir().unwrap();
    let svc = fresh(dir.path(), 4, 5); // entries 1..=4 usable
    for i in 0..10i64 {
        put(&svc, "T", &props(&format!("k{i}"), ""), i, T0 + i);
    }
    assert_eq!(svc.file_count(), 3);
    for i in 0..10i64 {
        assert_eq!(svc.lookup("T", &format!("k{i}"), 5, 0, i64::MAX), vec![i]);
    }
    // Retention drops files whose entries all point below the cut, never the current one.
    assert_eq!(svc.drop_below(5).unwrap(), 1);
    assert!(svc.lookup("T", "k0", 5, 0, i64::MAX).is_empty());
    assert_eq!(svc.drop_below(1000).unwrap(), 1);
    assert_eq!(svc.file_count(), 1);
}

#[test]
fn recovery_cuts_entries_past_the_target_and_rebuilds_chains() {
    let dir = tempfile::tempdir().unwrap();
    {
        let svc = fresh(dir.path(), 2, 100);
        for i in 0..10i64 {
            put(&svc, "T", &props("k", &format!("U{i}")), i * 10, T0);
        }
        svc.flush(&OsDisk).unwrap();
    }
    let svc = IndexService::load(
        dir.path(),
        2,
        100,
        IndexRecovery {
            valid_below_phys: 45,
            checkpoint_file: 0,
            checkpoint_count: 0,
            clean_shutdown: false,
        },
    )
    .unwrap();
    assert_eq!(
        svc.lookup("T", "k", 100, 0, i64::MAX),
        vec![40, 30, 20, 10, 0]
    );
    assert!(svc.lookup("T", "U6", 100, 0, i64::MAX).is_empty());
    assert_eq!(svc.current().unwrap().index_count(), 11);
    put(&svc, "T", &props("k", "U5"), 50, T0);
    assert_eq!(svc.lookup("T", "k", 2, 0, i64::MAX), vec![50, 40]);
    assert_eq!(svc.lookup("T", "U5", 9, 0, i64::MAX), vec![50]);
}

#[test]
fn index_file_put_refuses_when_full() {
    let dir = tempfile::tempdir().unwrap();
    let f = IndexFile::create(&OsDisk, dir.path(), 1, 4, 3).unwrap();
    assert!(f.put(1, 0, T0));
    assert!(f.put(2, 1, T0));
    assert!(!f.put(3, 2, T0));
    assert_eq!(f.free_entries(), 0);
}
