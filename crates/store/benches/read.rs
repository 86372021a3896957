//! Read throughput: `get_messages` of 32 × 1 KiB messages (zero-copy slices) from a warm queue.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use saturn_store::{AcceptAll, FlushMode, GetMessageStatus, MessageStore};

const MESSAGES: u64 = 100_000;

fn get_messages(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(common::config(dir.path(), FlushMode::Async)).unwrap();
    let body = Bytes::from(vec![b'x'; 1024]);
    for n in 0..MESSAGES {
        store.append(&common::message(&body, 0, n)).unwrap();
    }
    let mut g = c.benchmark_group("get_messages");
    g.throughput(Throughput::Elements(32));
    let mut offset = 0i64;
    g.bench_function("32x1KiB", |b| {
        b.iter(|| {
            let r = store.get_messages("BenchTopic", 0, offset, 32, 256 * 1024, &AcceptAll);
            assert_eq!(r.status, GetMessageStatus::Found);
            offset = if r.next_begin_offset >= MESSAGES as i64 {
                0
            } else {
                r.next_begin_offset
            };
            r.total_bytes
        })
    });
    g.finish();
    store.close().unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = get_messages
}
criterion_main!(benches);
