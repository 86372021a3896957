use super::*;
use crate::disk::OsDisk;

fn unit(phys: i64) -> Unit {
    Unit {
        phys,
        size: 100,
        tags_code: phys * 7,
    }
}

fn fill(q: &ConsumeQueue, n: i64) {
    for i in 0..n {
        q.reserve(&OsDisk, q.max_offset() + 1).unwrap();
        q.put(i, unit(i * 100)).unwrap();
    }
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn units_are_20_bytes_big_endian_in_fixed_files() {
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "T", 3, 4);
    fill(&q, 10);
    assert_eq!(q.max_offset(), 10);
    assert_eq!(q.unit(9), Some(unit(900)));
    assert_eq!(q.unit(10), None);
    let qdir = queue_dir(dir.path(), "T", 3);
    // 4 units per file = 80 bytes; names are 20-digit start byte offsets.
    assert_eq!(
        file_names(&qdir),
        [
            "00000000000000000000",
            "00000000000000000080",
            "00000000000000000160"
        ]
    );
    let bytes = fs::read(qdir.join("00000000000000000080")).unwrap();
    assert_eq!(bytes.len(), 80);
    // Unit 5 = second unit of the second file.
    assert_eq!(&bytes[20..28], &500i64.to_be_bytes());
    assert_eq!(&bytes[28..32], &100i32.to_be_bytes());
    assert_eq!(&bytes[32..40], &3500i64.to_be_bytes());
}

#[test]
fn put_is_idempotent_and_fills_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "T", 0, 4);
    fill(&q, 3);
    q.put(1, unit(12345)).unwrap();
    assert_eq!(q.unit(1), Some(unit(100)), "existing unit kept");
    q.reserve(&OsDisk, 6).unwrap();
    q.put(5, unit(500)).unwrap();
    assert!(q.unit(3).unwrap().is_blank());
    assert!(q.unit(4).unwrap().is_blank());
    assert_eq!(q.unit(5), Some(unit(500)));
}

#[test]
fn load_truncates_units_past_the_valid_end() {
    let dir = tempfile::tempdir().unwrap();
    {
        let q = ConsumeQueue::new(dir.path(), "T", 0, 4);
        fill(&q, 10);
        q.flush(&OsDisk).unwrap();
    }
    // Units point to [i*100, i*100+100); keep those ending at or below 650 -> units 0..=5.
    let q = ConsumeQueue::load(dir.path(), "T", 0, 4, 650).unwrap();
    assert_eq!(q.max_offset(), 6);
    assert_eq!(q.unit(5), Some(unit(500)));
    assert_eq!(q.unit(6), None);
    // The third file (units 8..) only held dropped units: deleted.
    assert_eq!(file_names(&queue_dir(dir.path(), "T", 0)).len(), 2);
    // Appending continues at 6 and survives another load.
    q.reserve(&OsDisk, 7).unwrap();
    q.put(6, unit(600)).unwrap();
    q.flush(&OsDisk).unwrap();
    drop(q);
    let q = ConsumeQueue::load(dir.path(), "T", 0, 4, u64::MAX).unwrap();
    assert_eq!(q.max_offset(), 7);
    assert_eq!(q.unit(6), Some(unit(600)));
    // Everything dropped: the first file stays, empty.
    drop(q);
    let q = ConsumeQueue::load(dir.path(), "T", 0, 4, 0).unwrap();
    assert_eq!((q.min_offset(), q.max_offset()), (0, 0));
}

#[test]
fn retention_deletes_old_files_and_moves_min_offset() {
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "T", 0, 4);
    fill(&q, 10);
    // Commit log now starts at 550: units 0..=4 point below it, 5 straddles (kept as min? no:
    // it starts below 550) -> first unit at or above 550 is 6.
    let deleted = q.drop_below(550).unwrap();
    assert_eq!(deleted, 1, "only the first file is wholly below");
    assert_eq!(q.min_offset(), 6);
    assert_eq!(q.unit(5), None, "below min offset");
    assert_eq!(q.unit(6), Some(unit(600)));
    // The file being written is never deleted.
    let deleted = q.drop_below(10_000).unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(file_names(&queue_dir(dir.path(), "T", 0)).len(), 1);
    assert_eq!(q.min_offset(), 10);
    assert_eq!(q.max_offset(), 10);
}

#[test]
fn reserve_reports_disk_full() {
    #[derive(Debug)]
    struct Full;
    impl Disk for Full {
        fn preallocate(&self, _: &std::fs::File, _: u64) -> std::io::Result<()> {
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "T", 0, 4);
    assert!(matches!(
        q.reserve(&Full, 1),
        Err(StoreError::DiskFull { .. })
    ));
    assert_eq!(q.max_offset(), 0);
}
