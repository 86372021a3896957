//! Work done ahead of the writer: the next commit-log segment is created in the background, so a
//! roll-over allocates nothing; it never shows up as a segment, is removed at close, and one left
//! by a crash is removed at open. The background index builder catches up before lookups.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{msg, small_config, FaultDisk};
use saturn_store::{AcceptAll, FlushMode, MessageStore};

const SEG: u64 = 8192;

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn roll_over_uses_the_pre_created_segment() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FaultDisk::default());
    let store =
        MessageStore::open_with_disk(small_config(dir.path(), FlushMode::Sync), disk.clone())
            .unwrap();
    let first = store.append(&msg("A", 0, &[1; 3000], &[])).unwrap();
    let staged = dir
        .path()
        .join("commitlog")
        .join(format!("{SEG:020}.next.tmp"));
    wait_until("the next segment", || {
        store.next_segment_ready() == Some(SEG)
    });
    assert!(staged.exists());
    assert_eq!(std::fs::metadata(&staged).unwrap().len(), SEG, "full size");

    // From now on no file can be allocated; the roll-over still works, since its segment exists.
    disk.no_space.store(true, Ordering::SeqCst);
    store.append(&msg("A", 0, &[2; 3000], &[])).unwrap();
    let third = store.append(&msg("A", 0, &[3; 3000], &[])).unwrap();
    assert_eq!(third.phys, SEG, "third record starts the second segment");
    assert!(!staged.exists(), "renamed into place");
    assert!(dir
        .path()
        .join("commitlog")
        .join(format!("{SEG:020}"))
        .exists());
    disk.no_space.store(false, Ordering::SeqCst);

    store.close().unwrap();
    assert!(
        tmp_files(dir.path()).is_empty(),
        "{:?}",
        tmp_files(dir.path())
    );
    drop(store);
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap();
    let r = store.get_messages("A", 0, 0, 10, 1 << 20, &AcceptAll);
    assert_eq!(r.messages.len(), 3);
    assert_eq!(store.message_at(first.phys).unwrap(), r.messages[0]);
    assert_eq!(store.message_at(SEG).unwrap(), r.messages[2]);
}

#[test]
fn a_pre_created_segment_left_by_a_crash_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap();
        store.append(&msg("A", 0, b"one", &[])).unwrap();
        store.close().unwrap();
    }
    // What a crash after pre-creation leaves: a full-size file with a `.tmp` name.
    let leftover = dir
        .path()
        .join("commitlog")
        .join(format!("{SEG:020}.next.tmp"));
    std::fs::write(&leftover, vec![0u8; SEG as usize]).unwrap();
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap();
    assert_eq!(store.min_phys_offset(), 0);
    let a = store.append(&msg("A", 0, b"two", &[])).unwrap();
    assert_eq!(a.queue_offset, 1);
    assert!(a.phys < SEG, "appends continue in the first segment");
    store.close().unwrap();
    assert!(tmp_files(dir.path()).is_empty());
}

#[test]
fn lookups_see_every_message_appended_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Async)).unwrap();
    // Keys of many index files (128 entries each in the small config): the builder creates them.
    for i in 0..300 {
        let k = format!("k{i}");
        store
            .append(&msg("L", i % 4, b"body", &[("KEYS", &k)]))
            .unwrap();
        if i % 50 == 0 {
            let hits = store.query_by_key("L", &k, 4, 0, i64::MAX);
            assert_eq!(hits.messages.len(), 1, "{k} right after its append");
        }
    }
    assert!(store.wait_indexed(Duration::from_secs(10)));
    for i in (0..300).step_by(7) {
        let hits = store.query_by_key("L", &format!("k{i}"), 4, 0, i64::MAX);
        assert_eq!(hits.messages.len(), 1, "k{i}");
    }
    // A clean close indexes everything, and the checkpoint records it: nothing to rebuild.
    store.close().unwrap();
    drop(store);
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Async)).unwrap();
    let cp = store.checkpoint().unwrap();
    assert_eq!(cp.index_phys, store.max_phys_offset());
    assert_eq!(
        store
            .query_by_key("L", "k299", 4, 0, i64::MAX)
            .messages
            .len(),
        1
    );
}
