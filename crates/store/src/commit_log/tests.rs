use saturn_protocol::message::record::{decode, BLANK_MAGIC_CODE};

use super::append::{append, AppendContext};
use super::recover::{self, classify, Slot};
use crate::consume_queue::table::ConsumeQueueTable;
use crate::disk::OsDisk;
use crate::test_util::msg;

fn open(dir: &std::path::Path) -> recover::Opened {
    recover::open(&dir.join("commitlog"), 4096, 0).unwrap()
}

#[test]
fn rolls_over_with_blank_marker_and_global_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut opened = open(dir.path());
    let queues = ConsumeQueueTable::load(dir.path(), 100, 0).unwrap();
    let ctx = AppendContext::for_test(&opened.log, &queues, 1 << 20);
    let body = vec![7u8; 1000];
    let mut all = Vec::new();
    for i in 0..9 {
        let m = msg("T", 0, &body, "");
        let r = append(&ctx, &mut opened.tail, &[m], 1_700_000_000_000 + i).unwrap();
        all.extend(r);
    }
    // 1000-byte bodies give 1092-byte records: three fit in 4096 (leaving >= 8), then roll.
    let first = all[0].size as u64;
    assert_eq!(first, 1092);
    assert_eq!(all[3].phys, 4096, "fourth record starts the second segment");
    assert_eq!(all[6].phys, 8192);
    let names: Vec<String> = {
        let mut v: Vec<_> = std::fs::read_dir(dir.path().join("commitlog"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names,
        [
            "00000000000000000000",
            "00000000000000004096",
            "00000000000000008192"
        ]
    );
    // The blank marker fills the rest of segment 0.
    let seg0 = opened.log.segment_for(0).unwrap();
    let tail_at = 3 * 1092;
    let marker = seg0.file.read(tail_at, 8).unwrap();
    assert_eq!(
        i32::from_be_bytes(marker[..4].try_into().unwrap()),
        (4096 - tail_at) as i32
    );
    assert_eq!(
        u32::from_be_bytes(marker[4..].try_into().unwrap()),
        BLANK_MAGIC_CODE
    );
    // Records decode from the global offset and carry it.
    for (i, a) in all.iter().enumerate() {
        let rec = opened.log.record_at(a.phys).unwrap();
        let (m, n) = decode(&rec).unwrap();
        assert_eq!(n, a.size);
        assert_eq!(m.physical_offset as u64, a.phys);
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(
            opened.log.store_timestamp_at(a.phys),
            Some(m.store_timestamp)
        );
    }
    assert!(
        opened.log.record_at(tail_at as u64).is_none(),
        "blank marker is not a record"
    );
    assert!(opened.log.record_at(1).is_none(), "not a record start");
    assert_eq!(queues.get("T", 0).unwrap().max_offset(), 9);
}

#[test]
fn too_large_batch_is_rejected_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut opened = open(dir.path());
    let queues = ConsumeQueueTable::load(dir.path(), 100, 0).unwrap();
    let ctx = AppendContext::for_test(&opened.log, &queues, 1 << 20);
    let big = msg("T", 0, &vec![0u8; 4096], "");
    assert!(append(&ctx, &mut opened.tail, &[big], 1).is_err());
    let small = msg("T", 0, b"x", "");
    assert!(append(&ctx, &mut opened.tail, &[small], 1).is_ok());
    assert_eq!(queues.get("T", 0).unwrap().max_offset(), 1);
}

#[test]
fn reopen_cuts_at_every_possible_tear_of_the_last_record() {
    // Write three records, then for every prefix length of the third record, reopen a copy of
    // the segment truncated (zero-filled) there: exactly two records must survive.
    let dir = tempfile::tempdir().unwrap();
    let sizes = {
        let mut opened = open(dir.path());
        let queues = ConsumeQueueTable::load(dir.path(), 100, 0).unwrap();
        let ctx = AppendContext::for_test(&opened.log, &queues, 1 << 20);
        let mut v = Vec::new();
        for i in 0..3u8 {
            let m = msg("Tear", 0, &[i; 50], "KEYS\u{1}k\u{2}");
            v.extend(append(&ctx, &mut opened.tail, &[m], 1000).unwrap());
        }
        opened.log.flush(&OsDisk).unwrap();
        v
    };
    let seg_path = dir.path().join("commitlog").join("00000000000000000000");
    let original = std::fs::read(&seg_path).unwrap();
    let third = sizes[2];
    let keep_end = third.phys as usize;
    for cut in 0..third.size {
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir(copy.path().join("commitlog")).unwrap();
        let mut bytes = original.clone();
        bytes[keep_end + cut..].fill(0);
        std::fs::write(
            copy.path().join("commitlog").join("00000000000000000000"),
            &bytes,
        )
        .unwrap();
        let opened = open(copy.path());
        assert_eq!(opened.log.written(), keep_end as u64, "cut at {cut}");
        let on_disk =
            std::fs::read(copy.path().join("commitlog").join("00000000000000000000")).unwrap();
        assert!(on_disk[keep_end..].iter().all(|b| *b == 0), "tail zeroed");
    }
    // A flipped body byte is caught by the CRC.
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir(copy.path().join("commitlog")).unwrap();
    let mut bytes = original.clone();
    bytes[keep_end + 90] ^= 0xFF;
    std::fs::write(
        copy.path().join("commitlog").join("00000000000000000000"),
        &bytes,
    )
    .unwrap();
    assert_eq!(open(copy.path()).log.written(), keep_end as u64);
}

#[test]
fn classify_rejects_garbage() {
    assert!(matches!(classify(&[0u8; 100], 100, 0, true), Slot::End(_)));
    let mut blank = vec![0u8; 16];
    blank[..4].copy_from_slice(&16i32.to_be_bytes());
    blank[4..8].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
    assert!(matches!(classify(&blank, 16, 0, true), Slot::Blank));
    assert!(matches!(classify(&blank, 24, 0, true), Slot::End(_)));
}

#[test]
fn missing_middle_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("commitlog");
    std::fs::create_dir(&log_dir).unwrap();
    for name in ["00000000000000000000", "00000000000000008192"] {
        std::fs::write(log_dir.join(name), vec![0u8; 4096]).unwrap();
    }
    assert!(recover::open(&log_dir, 4096, 0).is_err());
}
