//! Append throughput: async mode, and sync mode (group commit) with 1 and 16 writer threads,
//! for 100-byte and 1 KiB bodies. Each iteration is one message.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use saturn_store::{FlushMode, MessageStore};

fn append_async(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_async");
    let mut dirs = Vec::new();
    for size in [100usize, 1024] {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(common::config(dir.path(), FlushMode::Async)).unwrap();
        let body = Bytes::from(vec![b'x'; size]);
        let mut n = 0u64;
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("{size}B"), |b| {
            b.iter(|| {
                n += 1;
                store
                    .append(&common::message(&body, (n % 8) as i32, n))
                    .unwrap()
            })
        });
        store.close().unwrap();
        dirs.push(dir);
    }
    g.finish();
    drop(dirs);
}

fn append_sync(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_sync");
    // Directories are removed at the end: deleting GBs of files between runs loads the journal
    // and slows the next run's fsyncs.
    let mut dirs = Vec::new();
    for size in [100usize, 1024] {
        for writers in [1u64, 16] {
            let dir = tempfile::tempdir().unwrap();
            let store =
                Arc::new(MessageStore::open(common::config(dir.path(), FlushMode::Sync)).unwrap());
            let body = Bytes::from(vec![b'x'; size]);
            g.throughput(Throughput::Elements(1));
            g.bench_function(format!("{size}B/{writers}w"), |b| {
                b.iter_custom(|iters| {
                    let per = iters.div_ceil(writers);
                    let start = Instant::now();
                    let threads: Vec<_> = (0..writers)
                        .map(|w| {
                            let store = Arc::clone(&store);
                            let body = body.clone();
                            std::thread::spawn(move || {
                                for i in 0..per {
                                    let m = common::message(&body, w as i32, w << 40 | i);
                                    store.append(&m).unwrap();
                                }
                            })
                        })
                        .collect();
                    for t in threads {
                        t.join().unwrap();
                    }
                    start.elapsed()
                })
            });
            store.close().unwrap();
            dirs.push(dir);
        }
    }
    g.finish();
    drop(dirs);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = append_async, append_sync
}
criterion_main!(benches);
