//! Real-process crash tests. The test binary re-executes itself as a child (`crash_child_entry`
//! with an environment variable) that appends messages from several threads and prints each
//! acknowledged one; the parent SIGKILLs it at a random moment, reopens the store (recovery) and
//! checks it. Some rounds additionally zero the log after a point to simulate data the kernel had
//! not yet written (SIGKILL alone keeps the page cache, so it cannot lose written pages):
//! - sync mode: everything acknowledged survives, bit for bit, with its offsets;
//! - async mode: what survives is a prefix per writer, and earlier verified data stays;
//! - both: consume queues agree with the commit log, no garbage record is returned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{msg, small_config};
use saturn_protocol::message::record::decode;
use saturn_store::{AcceptAll, FlushMode, GetMessageStatus, MessageStore, StoreConfig};

const CHILD_ENV: &str = "SATURN_STORE_CRASH_CHILD";
const TOPIC: &str = "Crash";
const WRITERS: i32 = 4;
const SEGMENT: u64 = 64 * 1024;

fn config(dir: &Path, mode: FlushMode) -> StoreConfig {
    StoreConfig {
        commit_log_segment_size: SEGMENT,
        consume_queue_units_per_file: 64,
        index_slots: 128,
        index_max_entries: 512,
        // As the broker runs sync flush: segments are warmed (zero-written) before use.
        warm_segments: mode == FlushMode::Sync,
        ..small_config(dir, mode)
    }
}

fn body_for(id: &str) -> Vec<u8> {
    let len = 40 + id.bytes().map(usize::from).sum::<usize>() % 400;
    id.bytes().cycle().take(len).collect()
}

/// The child: append until killed (bounded to 20 s so a lost parent cannot leak it forever).
#[test]
fn crash_child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // Not a child: nothing to do in a normal test run.
    };
    let mut parts = spec.split('|');
    let dir = parts.next().unwrap().to_string();
    let mode = if parts.next() == Some("sync") {
        FlushMode::Sync
    } else {
        FlushMode::Async
    };
    let round = parts.next().unwrap().to_string();
    let store = std::sync::Arc::new(MessageStore::open(config(Path::new(&dir), mode)).unwrap());
    println!("READY");
    let deadline = Instant::now() + Duration::from_secs(20);
    let threads: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = store.clone();
            let round = round.clone();
            std::thread::spawn(move || {
                let mut seq = 0u64;
                while Instant::now() < deadline {
                    let id = format!("{round}-{t}-{seq}");
                    let m = msg(
                        TOPIC,
                        t,
                        &body_for(&id),
                        &[("KEYS", &id), ("UNIQ_KEY", &id)],
                    );
                    let a = store.append(&m).unwrap();
                    println!("ACK {id} {} {} {}", a.phys, a.queue_offset, a.size);
                    seq += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    std::process::exit(0);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ack {
    phys: u64,
    queue_offset: i64,
    size: usize,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

/// Runs one child until a random moment, kills it, returns its acknowledgements.
fn run_child(dir: &Path, mode: &str, round: u32, rng: &mut Rng) -> HashMap<String, Ack> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{}|{mode}|{round}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                // Only complete lines count: a line cut by the kill was never fully acknowledged.
                Ok(n) if n > 0 && line.ends_with(b"\n") => {
                    let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
                }
                _ => break,
            }
        }
    });
    // Wait for the first acknowledgement, not just READY: on a loaded machine the first append
    // can take longer than the shortest random delay, and a round without any append tests
    // nothing.
    let ready_by = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child never acknowledged an append");
        let acked = line.contains("ACK ");
        lines.push(line);
        if acked {
            break;
        }
        assert!(Instant::now() < ready_by);
    }
    // The random moment: the child appends meanwhile.
    std::thread::sleep(Duration::from_millis(rng.range(20, 300)));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let mut acks = HashMap::new();
    for line in lines {
        let Some(pos) = line.find("ACK ") else {
            continue;
        };
        let f: Vec<&str> = line[pos + 4..].split_whitespace().collect();
        let ack = Ack {
            phys: f[1].parse().unwrap(),
            queue_offset: f[2].parse().unwrap(),
            size: f[3].parse().unwrap(),
        };
        acks.insert(f[0].to_string(), ack);
    }
    acks
}

/// Zeroes the commit log from `at` to the end of its segment (simulated unwritten pages).
fn zero_from(dir: &Path, at: u64) {
    let start = at - at % SEGMENT;
    let path = dir.join("commitlog").join(format!("{start:020}"));
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) else {
        return;
    };
    let len = (start + SEGMENT - at) as usize;
    f.write_all_at(&vec![0u8; len], at - start).unwrap();
}

/// Reopens the store and checks every invariant; returns where each present message is.
fn verify(dir: &Path, mode: FlushMode) -> (HashMap<String, Ack>, u64) {
    let store = MessageStore::open(config(dir, mode)).unwrap();
    let mut present: HashMap<String, Ack> = HashMap::new();
    for q in 0..WRITERS {
        let (min, max) = (store.min_offset(TOPIC, q), store.max_offset(TOPIC, q));
        let mut off = min;
        while off < max {
            let r = store.get_messages(TOPIC, q, off, 32, 1 << 20, &AcceptAll);
            assert_eq!(r.status, GetMessageStatus::Found, "queue {q} offset {off}");
            for (rec, qoff) in r.messages.iter().zip(&r.queue_offsets) {
                let (m, n) = decode(rec).unwrap();
                assert_eq!(n, rec.len());
                assert!(m.verify_crc(), "CRC");
                assert_eq!(
                    (m.topic.as_str(), m.queue_id, m.queue_offset),
                    (TOPIC, q, *qoff)
                );
                let id = m.uniq_key().unwrap().to_string();
                assert_eq!(m.body.as_ref(), body_for(&id).as_slice(), "body of {id}");
                let at = store.message_at(m.physical_offset as u64).unwrap();
                assert_eq!(at, *rec, "commit log and queue agree");
                let ack = Ack {
                    phys: m.physical_offset as u64,
                    queue_offset: m.queue_offset,
                    size: n,
                };
                assert!(present.insert(id, ack).is_none(), "duplicate message");
            }
            off = r.next_begin_offset;
        }
    }
    // Walk the commit log itself: every record is in a queue, nothing else is there.
    let mut p = store.min_phys_offset();
    let mut records = 0;
    while p < store.max_phys_offset() {
        match store.message_at(p) {
            Some(rec) => {
                records += 1;
                p += rec.len() as u64;
            }
            None => p = (p / SEGMENT + 1) * SEGMENT, // blank marker: next segment
        }
    }
    assert_eq!(records, present.len(), "log records == consume-queue units");
    // The index finds a sample of messages by unique key.
    for id in present.keys().take(20) {
        let hits = store.query_by_key(TOPIC, id, 4, 0, i64::MAX);
        assert_eq!(hits.messages.len(), 1, "index lookup of {id}");
    }
    let end = store.max_phys_offset();
    store.close().unwrap();
    (present, end)
}

fn crash_rounds(mode: FlushMode, rounds: u32) {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test {mode:?} seed {seed}");
    let mut rng = Rng(seed);
    let mode_arg = if mode == FlushMode::Sync {
        "sync"
    } else {
        "async"
    };
    let mut survived: HashMap<String, Ack> = HashMap::new();
    let mut round_start = 0u64;
    let mut total_acks = 0;
    for round in 0..rounds {
        let acks = run_child(dir.path(), mode_arg, round, &mut rng);
        assert!(
            !acks.is_empty(),
            "round {round}: child acknowledged nothing"
        );
        total_acks += acks.len();
        let acked_end = acks
            .values()
            .map(|a| a.phys + a.size as u64)
            .max()
            .unwrap_or(0);
        if round % 2 == 0 {
            // Only bytes that may not have been durable can be lost: nothing below the flushed
            // offset recorded in the checkpoint (durable by definition), and in sync mode nothing
            // acknowledged.
            let flushed = saturn_store::checkpoint::load(dir.path())
                .unwrap()
                .map_or(0, |c| c.commit_log_flushed);
            let floor = flushed.max(round_start);
            let cut = match mode {
                FlushMode::Sync => acked_end.max(flushed),
                FlushMode::Async => rng.range(floor, acked_end.max(floor)),
            };
            zero_from(dir.path(), cut);
        }
        let (present, end) = verify(dir.path(), mode);
        // Earlier survivors were made durable by the recovery that found them: still there.
        for (id, ack) in &survived {
            assert_eq!(
                present.get(id),
                Some(ack),
                "round {round}: lost earlier message {id}"
            );
        }
        if mode == FlushMode::Sync {
            for (id, ack) in &acks {
                assert_eq!(
                    present.get(id),
                    Some(ack),
                    "round {round}: acknowledged {id} lost"
                );
            }
        }
        // Per writer, this round's survivors are a prefix of what it wrote.
        let mut per_writer: HashMap<&str, HashSet<u64>> = HashMap::new();
        let prefix = format!("{round}-");
        for id in present.keys().filter(|id| id.starts_with(&prefix)) {
            let mut it = id.splitn(3, '-').skip(1);
            let (w, s) = (
                it.next().unwrap(),
                it.next().unwrap().parse::<u64>().unwrap(),
            );
            per_writer.entry(w).or_default().insert(s);
        }
        for (w, seqs) in per_writer {
            let n = seqs.len() as u64;
            assert!(
                (0..n).all(|s| seqs.contains(&s)),
                "round {round} writer {w}: not a prefix"
            );
        }
        survived = present;
        round_start = end;
    }
    eprintln!(
        "{mode:?}: {total_acks} acknowledged, {} present at the end",
        survived.len()
    );
}

#[test]
fn sync_mode_survives_sigkill_with_every_acknowledged_message() {
    crash_rounds(FlushMode::Sync, 6);
}

#[test]
fn async_mode_survives_sigkill_with_a_valid_prefix() {
    crash_rounds(FlushMode::Async, 6);
}
