//! Tearing the last record by hand: recovery drops exactly it (and its consume-queue unit and
//! index entries) and keeps everything before it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use common::{msg, small_config};
use saturn_protocol::message::record::decode;
use saturn_store::{AcceptAll, AppendResult, FlushMode, GetMessageStatus, MessageStore};

#[derive(Debug, Clone, Copy)]
enum Tear {
    /// Zero the second half of the record (a write that never reached the disk).
    ZeroTail,
    /// Flip one body byte (caught by the body CRC).
    FlipBody,
    /// Garbage in TOTALSIZE.
    BadSize,
    /// Zero the properties only (not covered by the CRC).
    ZeroProperties,
}

fn write_all(dir: &std::path::Path) -> Vec<AppendResult> {
    let store = MessageStore::open(small_config(dir, FlushMode::Sync)).unwrap();
    let mut out = Vec::new();
    for i in 0..20 {
        let keys = format!("key-{i}");
        let uniq = format!("U-{i}");
        let body = vec![i as u8; 300];
        out.push(
            store
                .append(&msg(
                    "Torn",
                    i % 2,
                    &body,
                    &[("KEYS", &keys), ("UNIQ_KEY", &uniq), ("TAGS", "t")],
                ))
                .unwrap(),
        );
    }
    store.close().unwrap();
    out
}

fn tear(dir: &std::path::Path, last: &AppendResult, how: Tear) {
    let seg_size = 8192u64;
    let seg_start = last.phys - last.phys % seg_size;
    let path = dir.join("commitlog").join(format!("{seg_start:020}"));
    let f = OpenOptions::new().write(true).open(path).unwrap();
    let off = last.phys - seg_start;
    match how {
        Tear::ZeroTail => {
            let half = last.size as u64 / 2;
            f.write_all_at(&vec![0u8; last.size - half as usize], off + half)
                .unwrap();
        }
        Tear::FlipBody => f.write_all_at(&[0xEE], off + 84 + 4 + 10).unwrap(),
        Tear::BadSize => f.write_all_at(&7777i32.to_be_bytes(), off).unwrap(),
        Tear::ZeroProperties => {
            // Properties are the last bytes of the record; keep their length prefix.
            let props = "KEYS\u{1}key-19\u{2}UNIQ_KEY\u{1}U-19\u{2}TAGS\u{1}t\u{2}".len() as u64;
            f.write_all_at(&vec![0u8; props as usize], off + last.size as u64 - props)
                .unwrap();
        }
    }
    f.sync_all().unwrap();
}

#[test]
fn recovery_drops_exactly_the_torn_record() {
    for how in [
        Tear::ZeroTail,
        Tear::FlipBody,
        Tear::BadSize,
        Tear::ZeroProperties,
    ] {
        for abnormal in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let appended = write_all(dir.path());
            let last = *appended.last().unwrap();
            tear(dir.path(), &last, how);
            if abnormal {
                // As if the process had died: recovery also rebuilds the index slot table.
                std::fs::write(dir.path().join("abort"), b"").unwrap();
            }
            let store = MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap();
            let ctx = format!("{how:?} abnormal={abnormal}");
            assert_eq!(
                store.max_phys_offset(),
                last.phys,
                "{ctx}: log ends before the torn record"
            );
            assert!(store.message_at(last.phys).is_none(), "{ctx}");
            // Last record was queue 1, offset 9; queue 0 is untouched.
            assert_eq!(store.max_offset("Torn", 1), 9, "{ctx}");
            assert_eq!(store.max_offset("Torn", 0), 10, "{ctx}");
            let r = store.get_messages("Torn", 1, 9, 32, 1 << 20, &AcceptAll);
            assert_eq!(r.status, GetMessageStatus::OffsetOverflowOne, "{ctx}");
            assert!(
                store
                    .query_by_key("Torn", "key-19", 32, 0, i64::MAX)
                    .messages
                    .is_empty(),
                "{ctx}"
            );
            assert!(
                store
                    .query_by_key("Torn", "U-19", 32, 0, i64::MAX)
                    .messages
                    .is_empty(),
                "{ctx}"
            );
            // Everything before is intact, through the queues and the index.
            for (i, a) in appended.iter().take(19).enumerate() {
                let r = store.get_messages(
                    "Torn",
                    (i % 2) as i32,
                    a.queue_offset,
                    1,
                    1 << 20,
                    &AcceptAll,
                );
                let (m, _) = decode(&r.messages[0]).unwrap();
                assert_eq!(m.physical_offset as u64, a.phys, "{ctx}");
                assert_eq!(m.body.as_ref(), vec![i as u8; 300].as_slice(), "{ctx}");
                assert!(m.verify_crc(), "{ctx}");
                let hits = store.query_by_key("Torn", &format!("key-{i}"), 32, 0, i64::MAX);
                assert_eq!(hits.messages.len(), 1, "{ctx}: key-{i}");
            }
            // The log continues where the torn record was.
            let next = store
                .append(&msg("Torn", 1, b"after", &[("KEYS", "key-19")]))
                .unwrap();
            assert_eq!((next.phys, next.queue_offset), (last.phys, 9), "{ctx}");
            assert_eq!(
                store
                    .query_by_key("Torn", "key-19", 32, 0, i64::MAX)
                    .messages
                    .len(),
                1,
                "{ctx}"
            );
            store.close().unwrap();
        }
    }
}
