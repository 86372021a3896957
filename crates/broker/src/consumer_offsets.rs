//! Committed consumer offsets ([`ConsumerOffsets`]), per `topic@group` and queue, persisted to
//! `<root>/config/consumerOffset.json` in Java's `ConsumerOffsetSerializeWrapper` form
//! (`{"offsetTable":{"topic@group":{"0":5}}}`) — written every `offset_flush_interval_ms` when
//! something changed, and at shutdown; read back at start.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;
use crate::persist;

/// Java's file and GET_ALL_CONSUMER_OFFSET body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OffsetTable {
    /// `topic@group` → queue id → committed offset.
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

/// The offset table. A std mutex: every operation is a short map access, never held across
/// an await.
pub struct ConsumerOffsets {
    table: Mutex<OffsetTable>,
    dirty: AtomicBool,
    save: Mutex<()>,
    path: PathBuf,
}

impl ConsumerOffsets {
    /// Loads `<config_dir>/consumerOffset.json` if present.
    ///
    /// # Errors
    /// [`BrokerError::File`] / [`BrokerError::CorruptFile`].
    pub fn load(config_dir: PathBuf) -> Result<Self, BrokerError> {
        let path = config_dir.join("consumerOffset.json");
        let table = match persist::read(&path)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| BrokerError::CorruptFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            }
            None => OffsetTable::default(),
        };
        Ok(ConsumerOffsets {
            table: Mutex::new(table),
            dirty: AtomicBool::new(false),
            save: Mutex::new(()),
            path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, OffsetTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `offset` as `group`'s committed offset of the queue.
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let mut t = self.lock();
        let queues = t.offset_table.entry(key(topic, group)).or_default();
        if queues.insert(queue_id, offset) != Some(offset) {
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// `group`'s committed offset of the queue, if any.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.lock()
            .offset_table
            .get(&key(topic, group))
            .and_then(|q| q.get(&queue_id))
            .copied()
    }

    /// Every (topic, queue id, offset) committed by `group`.
    pub fn of_group(&self, group: &str) -> Vec<(String, i32, i64)> {
        let suffix = format!("@{group}");
        let t = self.lock();
        let mut out = Vec::new();
        for (k, queues) in &t.offset_table {
            if let Some(topic) = k.strip_suffix(&suffix) {
                out.extend(queues.iter().map(|(q, o)| (topic.to_owned(), *q, *o)));
            }
        }
        out
    }

    /// Forgets every group's offsets of `topic`.
    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}@");
        let mut t = self.lock();
        let before = t.offset_table.len();
        t.offset_table.retain(|k, _| !k.starts_with(&prefix));
        if t.offset_table.len() != before {
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// A copy of the table (GET_ALL_CONSUMER_OFFSET).
    pub fn snapshot(&self) -> OffsetTable {
        self.lock().clone()
    }

    /// Writes the table if it changed since the last write. Blocking: run it on a blocking
    /// thread from async code.
    ///
    /// # Errors
    /// [`BrokerError::File`]; the table stays dirty so the next flush retries.
    pub fn flush(&self) -> Result<(), BrokerError> {
        let _guard = self.save.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&*self.lock()).unwrap_or_default();
        persist::write_atomic(&self.path, &bytes).inspect_err(|_| {
            self.dirty.store(true, Ordering::Release);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_flush_reload() {
        let dir = tempfile::tempdir().unwrap();
        let o = ConsumerOffsets::load(dir.path().to_owned()).unwrap();
        assert_eq!(o.query("g", "T", 0), None);
        o.commit("g", "T", 0, 5);
        o.commit("g", "T", 1, 7);
        o.commit("h", "T", 0, 1);
        assert_eq!(o.query("g", "T", 1), Some(7));
        assert_eq!(o.of_group("g").len(), 2);
        o.flush().unwrap();
        let text = std::fs::read_to_string(dir.path().join("consumerOffset.json")).unwrap();
        assert!(text.contains("\"T@g\""), "{text}");
        let o = ConsumerOffsets::load(dir.path().to_owned()).unwrap();
        assert_eq!(o.query("g", "T", 0), Some(5));
        o.remove_topic("T");
        assert_eq!(o.query("h", "T", 0), None);
    }
}
