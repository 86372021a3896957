//! Consumed offsets per queue: on the broker for clustering consumers (committed with
//! UPDATE_CONSUMER_OFFSET), in a local JSON file for broadcasting ones.
//!
//! The local file (`<dir>/<group>.json`) is standard JSON:
//! `{"group":"g","offsets":[{"topic":"T","brokerName":"b","queueId":0,"offset":42}]}`; it is
//! replaced atomically (write to a temporary file, then rename).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::broker_api;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::MessageQueue;
use crate::route::lock;

#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: i64,
    /// Last value committed (broker) or written (file).
    persisted: Option<i64>,
}

/// Where a consumer keeps its offsets.
pub(crate) struct OffsetStore {
    table: Mutex<HashMap<MessageQueue, Entry>>,
    backend: Backend,
}

enum Backend {
    Remote {
        instance: Arc<ClientInstance>,
        group: String,
    },
    Local {
        path: PathBuf,
        group: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetFile {
    group: String,
    offsets: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileEntry {
    topic: String,
    broker_name: String,
    queue_id: i32,
    offset: i64,
}

impl OffsetStore {
    /// Offsets kept by the brokers.
    pub(crate) fn remote(instance: Arc<ClientInstance>, group: &str) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            backend: Backend::Remote {
                instance,
                group: group.to_owned(),
            },
        }
    }

    /// Offsets kept in `<dir>/<group>.json`, loaded now if the file exists.
    ///
    /// # Errors
    /// [`ClientError::OffsetFile`] / [`ClientError::OffsetFileFormat`] for an unreadable file.
    pub(crate) fn local(dir: &Path, group: &str) -> Result<Self, ClientError> {
        let path = dir.join(format!("{}.json", file_safe(group)));
        let mut table = HashMap::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let file: OffsetFile = serde_json::from_slice(&bytes).map_err(|source| {
                    ClientError::OffsetFileFormat {
                        path: path.clone(),
                        source,
                    }
                })?;
                for e in file.offsets {
                    let mq = MessageQueue {
                        topic: e.topic,
                        broker_name: e.broker_name,
                        queue_id: e.queue_id,
                    };
                    let entry = Entry {
                        offset: e.offset,
                        persisted: Some(e.offset),
                    };
                    table.insert(mq, entry);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ClientError::OffsetFile { path, source }),
        }
        Ok(Self {
            table: Mutex::new(table),
            backend: Backend::Local {
                path,
                group: group.to_owned(),
            },
        })
    }

    /// The default directory of local offset files: `~/.saturn/offsets`.
    pub(crate) fn default_dir() -> PathBuf {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".saturn")
            .join("offsets")
    }

    /// Records the consumed offset of `mq`; it only grows unless `force` (offset reset).
    pub(crate) fn update(&self, mq: &MessageQueue, offset: i64, force: bool) {
        let mut table = lock(&self.table);
        let e = table.entry(mq.clone()).or_insert(Entry {
            offset,
            persisted: None,
        });
        if force || offset > e.offset {
            e.offset = offset;
        }
    }

    /// The offset known in memory.
    pub(crate) fn read(&self, mq: &MessageQueue) -> Option<i64> {
        lock(&self.table).get(mq).map(|e| e.offset)
    }

    /// The stored offset of `mq`: asked of the broker (remote) or read from the file (local);
    /// `None` when the group has none for this queue.
    pub(crate) async fn fetch(&self, mq: &MessageQueue) -> Result<Option<i64>, ClientError> {
        match &self.backend {
            Backend::Local { .. } => Ok(self.read(mq)),
            Backend::Remote { instance, group } => {
                let offset = broker_api::query_consumer_offset(instance, group, mq).await?;
                if let Some(o) = offset {
                    let mut table = lock(&self.table);
                    table.insert(
                        mq.clone(),
                        Entry {
                            offset: o,
                            persisted: Some(o),
                        },
                    );
                }
                Ok(offset)
            }
        }
    }

    /// Forgets `mq` (it left this consumer). The local file keeps its last offset.
    pub(crate) fn remove(&self, mq: &MessageQueue) {
        if matches!(self.backend, Backend::Remote { .. }) {
            lock(&self.table).remove(mq);
        }
    }

    /// Commits `mq`'s offset if it changed (oneway unless `sync`).
    pub(crate) async fn persist(&self, mq: &MessageQueue, sync: bool) -> Result<(), ClientError> {
        match &self.backend {
            Backend::Local { .. } => self.write_file(),
            Backend::Remote { instance, group } => {
                let Some(e) = lock(&self.table).get(mq).copied() else {
                    return Ok(());
                };
                if e.persisted == Some(e.offset) {
                    return Ok(());
                }
                broker_api::update_consumer_offset(instance, group, mq, e.offset, !sync).await?;
                self.mark_persisted(mq, e.offset);
                Ok(())
            }
        }
    }

    /// Commits every changed offset (oneway unless `sync`); failures are logged.
    pub(crate) async fn persist_all(&self, sync: bool) {
        match &self.backend {
            Backend::Local { path, .. } => {
                if let Err(e) = self.write_file() {
                    debug!(path = %path.display(), error = %e, "writing offsets failed");
                }
            }
            Backend::Remote { instance, group } => {
                let changed: Vec<(MessageQueue, i64)> = lock(&self.table)
                    .iter()
                    .filter(|(_, e)| e.persisted != Some(e.offset))
                    .map(|(mq, e)| (mq.clone(), e.offset))
                    .collect();
                for (mq, offset) in changed {
                    match broker_api::update_consumer_offset(instance, group, &mq, offset, !sync)
                        .await
                    {
                        Ok(()) => self.mark_persisted(&mq, offset),
                        Err(e) => debug!(?mq, error = %e, "offset commit failed"),
                    }
                }
            }
        }
    }

    fn mark_persisted(&self, mq: &MessageQueue, offset: i64) {
        if let Some(e) = lock(&self.table).get_mut(mq) {
            e.persisted = Some(offset);
        }
    }

    fn write_file(&self) -> Result<(), ClientError> {
        let Backend::Local { path, group } = &self.backend else {
            return Ok(());
        };
        let mut offsets: Vec<FileEntry> = {
            let table = lock(&self.table);
            if table.values().all(|e| e.persisted == Some(e.offset)) && path.exists() {
                return Ok(());
            }
            table
                .iter()
                .map(|(mq, e)| FileEntry {
                    topic: mq.topic.clone(),
                    broker_name: mq.broker_name.clone(),
                    queue_id: mq.queue_id,
                    offset: e.offset,
                })
                .collect()
        };
        offsets.sort_by(|a, b| {
            (&a.topic, &a.broker_name, a.queue_id).cmp(&(&b.topic, &b.broker_name, b.queue_id))
        });
        let file = OffsetFile {
            group: group.clone(),
            offsets,
        };
        let io_err = |source| ClientError::OffsetFile {
            path: path.clone(),
            source,
        };
        let json =
            serde_json::to_vec_pretty(&file).map_err(|source| ClientError::OffsetFileFormat {
                path: path.clone(),
                source,
            })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        // Write aside then rename, so a crash never leaves a half-written file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &json).map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(io_err)?;
        let mut table = lock(&self.table);
        for e in table.values_mut() {
            e.persisted = Some(e.offset);
        }
        Ok(())
    }
}

/// A group name as a file name: path separators and other odd characters become `_`.
fn file_safe(group: &str) -> String {
    group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '%' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(t: &str, q: i32) -> MessageQueue {
        MessageQueue {
            topic: t.into(),
            broker_name: "broker-a".into(),
            queue_id: q,
        }
    }

    #[tokio::test]
    async fn local_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = OffsetStore::local(dir.path(), "g/1").unwrap();
        store.update(&mq("T", 0), 5, false);
        store.update(&mq("T", 1), 9, false);
        store.update(&mq("T", 0), 3, false); // never backwards unless forced
        store.persist_all(true).await;
        let path = dir.path().join("g_1.json");
        assert!(path.exists());
        assert!(!path.with_extension("json.tmp").exists());

        let again = OffsetStore::local(dir.path(), "g/1").unwrap();
        assert_eq!(again.read(&mq("T", 0)), Some(5));
        assert_eq!(again.fetch(&mq("T", 1)).await.unwrap(), Some(9));
        assert_eq!(again.fetch(&mq("T", 2)).await.unwrap(), None);
        again.update(&mq("T", 1), 2, true);
        again.persist(&mq("T", 1), true).await.unwrap();
        let third = OffsetStore::local(dir.path(), "g/1").unwrap();
        assert_eq!(third.read(&mq("T", 1)), Some(2));
    }

    #[test]
    fn malformed_local_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g.json"), b"{nope").unwrap();
        assert!(matches!(
            OffsetStore::local(dir.path(), "g"),
            Err(ClientError::OffsetFileFormat { .. })
        ));
    }
}
