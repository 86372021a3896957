//! The public API of `MessageStore`: append, pull statuses, filters, lookups, stats, modes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::{msg, small_config, FaultDisk};
use saturn_protocol::message::record::{decode, MessageToStore};
use saturn_protocol::message::{tags_code, TagFilter};
use saturn_store::{AcceptAll, FlushMode, GetMessageStatus, MessageStore, StoreConfig, StoreError};

fn body(i: usize) -> Vec<u8> {
    format!("body-{i}").into_bytes()
}

#[test]
fn append_then_pull_with_every_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Async)).unwrap();
    let r = store.get_messages("T", 0, 0, 32, 1 << 20, &AcceptAll);
    assert_eq!(r.status, GetMessageStatus::NoMatchedLogicQueue);
    for i in 0..40 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        let a = store
            .append(&msg("T", 0, &body(i), &[("TAGS", tag)]))
            .unwrap();
        assert_eq!(a.queue_offset, i as i64);
    }
    let r = store.get_messages("T", 0, 0, 32, 1 << 20, &AcceptAll);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(r.messages.len(), 32);
    assert_eq!(r.next_begin_offset, 32);
    assert_eq!((r.min_offset, r.max_offset), (0, 40));
    for (i, rec) in r.messages.iter().enumerate() {
        let (m, _) = decode(rec).unwrap();
        assert_eq!(m.body.as_ref(), body(i).as_slice());
        assert_eq!(m.queue_offset, i as i64);
        assert!(m.verify_crc());
    }
    // Tag filter on the consume queue's tags code.
    let only_b = TagFilter::parse("B");
    let r = store.get_messages("T", 0, 0, 5, 1 << 20, &only_b);
    assert_eq!(r.queue_offsets, vec![1, 3, 5, 7, 9]);
    assert_eq!(r.next_begin_offset, 10);
    let code_a = tags_code("A");
    let r = store.get_messages("T", 0, 38, 5, 1 << 20, &|c: i64| c == code_a + 1000);
    assert_eq!(r.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(r.next_begin_offset, 40);
    // Byte limit: the first message always, then as many as fit.
    let one = store.get_messages("T", 0, 0, 32, 1, &AcceptAll);
    assert_eq!(one.messages.len(), 1);
    let size = one.total_bytes;
    let three = store.get_messages("T", 0, 0, 32, size * 3 + size / 2, &AcceptAll);
    assert_eq!(three.messages.len(), 3);
    assert_eq!(
        store
            .get_messages("T", 0, 40, 32, 1 << 20, &AcceptAll)
            .status,
        GetMessageStatus::OffsetOverflowOne
    );
    let bad = store.get_messages("T", 0, 41, 32, 1 << 20, &AcceptAll);
    assert_eq!(bad.status, GetMessageStatus::OffsetOverflowBadly);
    assert_eq!(
        bad.next_begin_offset, 0,
        "RocketMQ: back to min when min is 0"
    );
    store.append(&msg("Empty", 1, b"", &[])).unwrap();
    assert_eq!(store.max_offset("Empty", 1), 1);
    assert_eq!(store.min_offset("T", 0), 0);
    assert_eq!(store.topics(), vec!["Empty".to_string(), "T".to_string()]);
    store.close().unwrap();
    assert!(matches!(
        store.append(&msg("T", 0, b"x", &[])),
        Err(StoreError::Closed)
    ));
}

#[test]
fn batch_gets_consecutive_offsets_and_one_store_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap();
    store.append(&msg("B", 2, b"first", &[])).unwrap();
    let batch: Vec<MessageToStore> = (0..5).map(|i| msg("B", 2, &body(i), &[])).collect();
    let out = store.append_batch(&batch).unwrap();
    assert_eq!(
        out.iter().map(|a| a.queue_offset).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(out
        .windows(2)
        .all(|w| w[1].phys == w[0].phys + w[0].size as u64));
    assert!(out
        .iter()
        .all(|a| a.store_timestamp == out[0].store_timestamp));
    assert!(
        store.flushed_phys_offset() >= out[4].phys + out[4].size as u64,
        "sync batch durable"
    );
    for a in &out {
        let rec = store.message_at(a.phys).unwrap();
        assert_eq!(decode(&rec).unwrap().0.queue_offset, a.queue_offset);
    }
    assert!(store.message_at(out[0].phys + 1).is_none());
}

#[test]
fn sync_mode_concurrent_writers_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let a = store.append(&msg("S", t, &body(i), &[])).unwrap();
                    assert!(store.flushed_phys_offset() >= a.phys + a.size as u64);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for q in 0..8 {
        assert_eq!(store.max_offset("S", q), 25);
    }
}

#[test]
fn async_waiter_resolves_in_sync_mode_without_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap();
    let (a, durability) = store.append_deferred(&msg("W", 0, b"x", &[])).unwrap();
    // Readable (dispatched) before durability is awaited.
    assert_eq!(store.max_offset("W", 0), 1);
    let fut = durability.wait_async();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = Box::pin(fut);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let std::task::Poll::Ready(r) = std::future::Future::poll(fut.as_mut(), &mut cx) {
            r.unwrap();
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "durability never reported"
        );
        std::thread::yield_now();
    }
    assert!(store.flushed_phys_offset() >= a.phys + a.size as u64);
}

#[test]
fn lookups_by_key_time_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Async)).unwrap();
    let mut appended = Vec::new();
    for i in 0..30 {
        let keys = format!("order-{} common", i % 3);
        let uniq = format!("UNIQ{i:04}");
        let m = msg(
            "K",
            i % 2,
            &body(i as usize),
            &[("KEYS", &keys), ("UNIQ_KEY", &uniq)],
        );
        appended.push(store.append(&m).unwrap());
    }
    let r = store.query_by_key("K", "order-1", 100, 0, i64::MAX);
    assert_eq!(r.messages.len(), 10);
    for rec in &r.messages {
        let (m, _) = decode(rec).unwrap();
        assert!(m.keys().unwrap().split(' ').any(|k| k == "order-1"));
    }
    assert_eq!(
        store
            .query_by_key("K", "common", 4, 0, i64::MAX)
            .messages
            .len(),
        4
    );
    let by_id = store.query_by_key("K", "UNIQ0017", 32, 0, i64::MAX);
    assert_eq!(by_id.messages.len(), 1);
    assert_eq!(
        decode(&by_id.messages[0]).unwrap().0.physical_offset as u64,
        appended[17].phys
    );
    assert!(store
        .query_by_key("Other", "UNIQ0017", 32, 0, i64::MAX)
        .messages
        .is_empty());
    let ts = appended[17].store_timestamp;
    assert!(store
        .query_by_key("K", "UNIQ0017", 32, ts + 1, i64::MAX)
        .messages
        .is_empty());
    assert_eq!(r.index_last_update_timestamp, appended[29].store_timestamp);

    // Store times never go backwards, so binary search by time works.
    let t5 = store.store_time_at("K", 1, 5).unwrap();
    let found = store.offset_for_timestamp("K", 1, t5);
    assert!(found <= 5 && store.store_time_at("K", 1, found).unwrap() == t5);
    assert_eq!(store.offset_for_timestamp("K", 1, i64::MAX), 15);
    assert_eq!(store.offset_for_timestamp("K", 1, 0), 0);
    assert_eq!(store.offset_for_timestamp("nope", 1, 0), 0);

    let stats = store.queue_stats("K", 0).unwrap();
    assert_eq!(
        (stats.min_offset, stats.max_offset, stats.message_count),
        (0, 15, 15)
    );
    assert_eq!(
        stats.last_store_timestamp,
        Some(appended[28].store_timestamp)
    );
    assert_eq!(
        store.earliest_message_time(),
        Some(appended[0].store_timestamp)
    );
    assert_eq!(store.queues().len(), 2);
}

#[test]
fn half_messages_take_no_queue_offset_and_schedule_topic_uses_delivery_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Async)).unwrap();
    let mut half = msg("H", 0, b"half", &[("UNIQ_KEY", "HALF1")]);
    half.sys_flag = 0x4;
    let a = store.append(&half).unwrap();
    assert_eq!(a.queue_offset, 0);
    assert_eq!(
        store.max_offset("H", 0),
        0,
        "half messages are not dispatched to a queue"
    );
    assert_eq!(
        store
            .query_by_key("H", "HALF1", 4, 0, i64::MAX)
            .messages
            .len(),
        1,
        "but indexed"
    );
    let delayed = msg(
        "SCHEDULE_TOPIC_XXXX",
        2,
        b"d",
        &[("DELAY", "3"), ("TAGS", "x")],
    );
    let a = store.append(&delayed).unwrap();
    let unit = store.queue_unit("SCHEDULE_TOPIC_XXXX", 2, 0).unwrap();
    assert_eq!(unit.tags_code, a.store_timestamp + 10_000, "level 3 = 10s");
}

#[test]
fn rejects_bad_messages_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path(), FlushMode::Async);
    cfg.max_message_size = 100;
    let store = MessageStore::open(cfg).unwrap();
    assert!(matches!(
        store.append(&msg("T", 0, &[0; 101], &[])),
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert!(matches!(
        store.append(&msg("../x", 0, b"", &[])),
        Err(StoreError::InvalidMessage(_))
    ));
    assert!(matches!(
        store.append(&msg("T", -1, b"", &[])),
        Err(StoreError::InvalidMessage(_))
    ));
    assert_eq!(store.max_phys_offset(), 0);
    assert!(matches!(
        MessageStore::open(small_config(dir.path(), FlushMode::Async)),
        Err(StoreError::Locked { .. })
    ));
}

/// Ends a simulated device stall when dropped.
struct Unstall(Arc<FaultDisk>);

impl Drop for Unstall {
    fn drop(&mut self) {
        self.0.stall(false);
    }
}

#[test]
fn a_stalled_flush_times_out_a_durability_callback_and_keeps_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FaultDisk::default());
    let config = StoreConfig {
        sync_flush_timeout_ms: 100,
        ..small_config(dir.path(), FlushMode::Sync)
    };
    let store = MessageStore::open_with_disk(config, disk.clone()).unwrap();
    store.append(&msg("S", 0, b"before", &[])).unwrap();
    disk.stall(true);
    // Whatever happens below, the device comes back (or the store's threads never finish).
    let _unstall = Unstall(Arc::clone(&disk));
    let (r, durability) = store
        .append_deferred(&msg("S", 0, b"stalled", &[]))
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    durability.on_durable(move |outcome| tx.send(outcome).unwrap());
    // The store's sweep answers it although the flusher is stuck in the device.
    let outcome = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        matches!(outcome, Err(StoreError::FlushTimeout { .. })),
        "{outcome:?}"
    );
    let read = store.get_messages("S", 0, r.queue_offset, 1, 1 << 20, &AcceptAll);
    assert_eq!(
        decode(&read.messages[0]).unwrap().0.body.as_ref(),
        b"stalled"
    );
    disk.stall(false);
    store.append(&msg("S", 0, b"after", &[])).unwrap();
    store.close().unwrap();
}

#[test]
fn failed_flush_poisons_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FaultDisk::default());
    let store =
        MessageStore::open_with_disk(small_config(dir.path(), FlushMode::Sync), disk.clone())
            .unwrap();
    store.append(&msg("P", 0, b"ok", &[])).unwrap();
    disk.fail_sync.store(true, Ordering::SeqCst);
    assert!(matches!(
        store.append(&msg("P", 0, b"lost?", &[])),
        Err(StoreError::Poisoned { .. })
    ));
    disk.fail_sync.store(false, Ordering::SeqCst);
    assert!(matches!(
        store.append(&msg("P", 0, b"later", &[])),
        Err(StoreError::Poisoned { .. })
    ));
    assert!(
        store.close().is_err(),
        "a poisoned store does not claim a clean shutdown"
    );
    drop(store);
    // Reopening recovers; the message acknowledged before the failure is there.
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Sync)).unwrap();
    let r = store.get_messages("P", 0, 0, 10, 1 << 20, &AcceptAll);
    assert_eq!(decode(&r.messages[0]).unwrap().0.body.as_ref(), b"ok");
    store.append(&msg("P", 0, b"again", &[])).unwrap();
}

#[test]
fn full_disk_is_an_error_not_a_crash() {
    // Simulated: the Disk seam makes posix_fallocate report ENOSPC, as a full file system does.
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FaultDisk::default());
    // Segments created at roll-over (a pre-created one would already have its space).
    let cfg = StoreConfig {
        precreate_segments: false,
        ..small_config(dir.path(), FlushMode::Async)
    };
    let store = MessageStore::open_with_disk(cfg, disk.clone()).unwrap();
    store.append(&msg("D", 0, &[1; 3000], &[])).unwrap();
    store.append(&msg("D", 0, &[2; 3000], &[])).unwrap();
    disk.no_space.store(true, Ordering::SeqCst);
    // The third record needs a new segment: refused, nothing half-written.
    let before = store.max_phys_offset();
    assert!(matches!(
        store.append(&msg("D", 0, &[3; 3000], &[])),
        Err(StoreError::DiskFull { .. })
    ));
    assert_eq!(store.max_phys_offset(), before);
    assert_eq!(store.max_offset("D", 0), 2);
    // A new queue needs a new consume-queue file: refused too.
    assert!(matches!(
        store.append(&msg("New", 0, b"x", &[])),
        Err(StoreError::DiskFull { .. })
    ));
    disk.no_space.store(false, Ordering::SeqCst);
    let a = store.append(&msg("D", 0, &[3; 3000], &[])).unwrap();
    assert_eq!(a.queue_offset, 2);
    assert_eq!(a.phys, 8192);
    // Usage above disk_full_ratio (measured by the retention pass) also refuses appends.
    disk.used_permille.store(950, Ordering::SeqCst);
    store.run_retention(0).unwrap();
    assert!(matches!(
        store.append(&msg("D", 0, b"x", &[])),
        Err(StoreError::DiskFull { .. })
    ));
    disk.used_permille.store(100, Ordering::SeqCst);
    store.run_retention(0).unwrap();
    store.append(&msg("D", 0, b"x", &[])).unwrap();
}

#[test]
fn clean_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut offsets = Vec::new();
    {
        let store = MessageStore::open(small_config(dir.path(), FlushMode::Async)).unwrap();
        for i in 0..100 {
            offsets.push(
                store
                    .append(&msg("R", i % 3, &body(i as usize), &[("KEYS", "k")]))
                    .unwrap(),
            );
        }
        store.close().unwrap();
    }
    assert!(!dir.path().join("abort").exists());
    let store = MessageStore::open(small_config(dir.path(), FlushMode::Async)).unwrap();
    for q in 0..3 {
        assert_eq!(store.max_offset("R", q), if q == 0 { 34 } else { 33 });
    }
    assert_eq!(
        store
            .query_by_key("R", "k", 1000, 0, i64::MAX)
            .messages
            .len(),
        100
    );
    let a = store.append(&msg("R", 0, b"next", &[])).unwrap();
    assert_eq!(a.queue_offset, 34);
    assert_eq!(a.phys, offsets[99].phys + offsets[99].size as u64);
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MessageStore>();
    assert_send_sync::<saturn_store::Durability>();
    assert_send_sync::<saturn_store::GetMessageResult>();
}
