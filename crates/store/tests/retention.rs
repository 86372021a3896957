//! Retention deletes the right commit-log segments (by age, then by disk usage), never the
//! active one, plus the consume-queue and index files that only point into them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{msg, small_config, FaultDisk};
use saturn_store::{AcceptAll, AppendResult, FlushMode, GetMessageStatus, MessageStore};

const SEG: u64 = 8192;

/// Files in `dir`, not counting `.tmp` files (the next commit-log segment, pre-created in the
/// background, is one until the writer needs it).
fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .count()
        })
        .unwrap_or(0)
}

fn age_segment(root: &std::path::Path, start: u64, hours: u64) {
    let path = root.join("commitlog").join(format!("{start:020}"));
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(hours * 3600))
        .unwrap();
}

#[test]
fn deletes_old_segments_and_what_points_into_them() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FaultDisk::default());
    disk.used_permille.store(100, Ordering::SeqCst);
    let mut cfg = small_config(dir.path(), FlushMode::Async);
    cfg.index_max_entries = 32;
    let store = MessageStore::open_with_disk(cfg.clone(), disk.clone()).unwrap();
    let mut appended: Vec<(i32, AppendResult)> = Vec::new();
    for i in 0..60 {
        let q = i % 2;
        let m = msg(
            "Ret",
            q,
            &[i as u8; 500],
            &[("KEYS", &format!("k{i}")), ("UNIQ_KEY", &format!("u{i}"))],
        );
        appended.push((q, store.append(&m).unwrap()));
    }
    let segments = count_files(&dir.path().join("commitlog"));
    assert!(segments >= 5, "{segments}");
    // The index is built in the background.
    assert!(store.wait_indexed(Duration::from_secs(10)));
    let index_files_before = count_files(&dir.path().join("index"));
    assert_eq!(index_files_before, 4);

    // Segments 0 and 1 are 80 h old, segment 2 is 10 h old: only 0 and 1 go (72 h default).
    age_segment(dir.path(), 0, 80);
    age_segment(dir.path(), SEG, 80);
    age_segment(dir.path(), 2 * SEG, 10);
    let now = saturn_store::store::now_ms();
    let report = store.run_retention(now).unwrap();
    assert_eq!(report.segments_deleted, 2);
    let min = 2 * SEG;
    assert_eq!(store.min_phys_offset(), min);
    assert!(store.message_at(0).is_none());

    for q in 0..2 {
        let units: Vec<&AppendResult> = appended
            .iter()
            .filter(|(qq, _)| *qq == q)
            .map(|(_, a)| a)
            .collect();
        let expect_min = units.iter().position(|a| a.phys >= min).unwrap() as i64;
        assert_eq!(store.min_offset("Ret", q), expect_min, "queue {q}");
        let r = store.get_messages("Ret", q, 0, 8, 1 << 20, &AcceptAll);
        assert_eq!(r.status, GetMessageStatus::OffsetTooSmall);
        assert_eq!(r.next_begin_offset, expect_min);
        let r = store.get_messages("Ret", q, expect_min, 1, 1 << 20, &AcceptAll);
        assert_eq!(r.status, GetMessageStatus::Found);
        // 16 units per file: a file goes when all its records ended at or below `min`.
        let first_file_gone = units[15].phys + units[15].size as u64 <= min;
        let qdir = dir
            .path()
            .join("consumequeue")
            .join("Ret")
            .join(q.to_string());
        assert_eq!(
            count_files(&qdir),
            if first_file_gone { 1 } else { 2 },
            "queue {q}"
        );
    }
    // Index file j holds messages 15j..15j+15; it goes when its last message is below `min`.
    let gone = (0..3)
        .filter(|j| appended[15 * j + 14].1.phys < min)
        .count();
    assert_eq!(report.index_files_deleted, gone);
    assert_eq!(
        count_files(&dir.path().join("index")),
        index_files_before - gone
    );
    assert!(
        store
            .query_by_key("Ret", "k59", 4, 0, i64::MAX)
            .messages
            .len()
            == 1
    );
    assert!(store
        .query_by_key("Ret", "k1", 4, 0, i64::MAX)
        .messages
        .is_empty());

    // Disk above diskMaxUsedSpaceRatio: everything but the active segment goes, whatever its age.
    disk.used_permille.store(800, Ordering::SeqCst);
    let report = store.run_retention(now).unwrap();
    assert_eq!(count_files(&dir.path().join("commitlog")), 1);
    assert_eq!(report.segments_deleted, segments - 3);
    let active_start = store.max_phys_offset() - store.max_phys_offset() % SEG;
    assert_eq!(store.min_phys_offset(), active_start);
    // 0.80 is below diskFullRatio (0.90): appends still work and land after the old ones.
    let a = store.append(&msg("Ret", 0, b"after", &[])).unwrap();
    assert_eq!(a.queue_offset, 30);
    // Ages far in the future never delete the active segment either.
    disk.used_permille.store(100, Ordering::SeqCst);
    assert_eq!(
        store
            .run_retention(now + 1_000 * 3_600_000)
            .unwrap()
            .segments_deleted,
        0
    );
    store.close().unwrap();

    // Reopen: min offsets are recomputed from the remaining files.
    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.min_phys_offset(), active_start);
    let r = store.get_messages(
        "Ret",
        0,
        store.min_offset("Ret", 0),
        64,
        1 << 20,
        &AcceptAll,
    );
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(r.next_begin_offset, 31);
}
