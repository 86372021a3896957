//! Shared setup for the store benchmarks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use saturn_protocol::message::record::MessageToStore;
use saturn_store::{FlushMode, StoreConfig};

/// Bench config: 256 MiB segments (fewer roll-overs than tests, less disk than 1 GiB),
/// default consume-queue and index geometry.
pub fn config(dir: &Path, mode: FlushMode) -> StoreConfig {
    StoreConfig {
        store_path: dir.to_path_buf(),
        commit_log_segment_size: 256 * 1024 * 1024,
        flush_mode: mode,
        ..StoreConfig::default()
    }
}

/// A message shaped like a Java producer's: a tag, WAIT and a 32-character UNIQ_KEY.
pub fn message(body: &Bytes, queue_id: i32, n: u64) -> MessageToStore {
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    MessageToStore {
        topic: "BenchTopic".to_string(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: host,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: body.clone(),
        properties: format!(
            "TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}UNIQ_KEY\u{1}7F0000010B3C1B6E5A3F{n:012X}\u{2}"
        ),
    }
}
