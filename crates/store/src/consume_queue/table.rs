//! The set of consume queues, keyed by topic then queue id.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::ConsumeQueue;
use crate::error::{StoreError, StoreResult};

type Queues = HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>;

/// All consume queues of the store. Lookups take a short read lock; creating a queue takes the
/// write lock once per new queue.
#[derive(Debug)]
pub struct ConsumeQueueTable {
    root: PathBuf,
    units_per_file: u32,
    queues: RwLock<Queues>,
}

impl ConsumeQueueTable {
    /// Loads every queue under `root/consumequeue`, truncating each to units below
    /// `valid_below_phys` (see [`ConsumeQueue::load`]).
    ///
    /// # Errors
    /// Listing or loading failed.
    pub fn load(root: &Path, units_per_file: u32, valid_below_phys: u64) -> StoreResult<Self> {
        let base = root.join("consumequeue");
        let mut queues: Queues = HashMap::new();
        let list = |dir: &Path| -> StoreResult<Vec<(String, PathBuf)>> {
            match fs::read_dir(dir) {
                Ok(rd) => Ok(rd
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
                    .collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(StoreError::io("list consume queues", dir, e)),
            }
        };
        for (topic, topic_dir) in list(&base)? {
            for (qid, _) in list(&topic_dir)? {
                let Ok(queue_id) = qid.parse::<i32>() else {
                    continue;
                };
                let q =
                    ConsumeQueue::load(root, &topic, queue_id, units_per_file, valid_below_phys)?;
                queues
                    .entry(topic.clone())
                    .or_default()
                    .insert(queue_id, Arc::new(q));
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            units_per_file,
            queues: RwLock::new(queues),
        })
    }

    /// The queue, if it exists.
    pub fn get(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        let queues = self.queues.read().unwrap_or_else(|p| p.into_inner());
        queues.get(topic)?.get(&queue_id).cloned()
    }

    /// The queue, created empty (in memory) if missing.
    pub fn get_or_create(&self, topic: &str, queue_id: i32) -> Arc<ConsumeQueue> {
        if let Some(q) = self.get(topic, queue_id) {
            return q;
        }
        let mut queues = self.queues.write().unwrap_or_else(|p| p.into_inner());
        let per_topic = queues.entry(topic.to_string()).or_default();
        Arc::clone(per_topic.entry(queue_id).or_insert_with(|| {
            Arc::new(ConsumeQueue::new(
                &self.root,
                topic,
                queue_id,
                self.units_per_file,
            ))
        }))
    }

    /// Every queue, in no particular order.
    pub fn all(&self) -> Vec<Arc<ConsumeQueue>> {
        let queues = self.queues.read().unwrap_or_else(|p| p.into_inner());
        queues.values().flat_map(|m| m.values().cloned()).collect()
    }

    /// Queues of one topic, sorted by queue id.
    pub fn of_topic(&self, topic: &str) -> Vec<Arc<ConsumeQueue>> {
        let queues = self.queues.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = queues
            .get(topic)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|q| q.queue_id());
        v
    }

    /// Removes a topic's queues from the table and returns them.
    pub fn remove_topic(&self, topic: &str) -> Vec<Arc<ConsumeQueue>> {
        let mut queues = self.queues.write().unwrap_or_else(|p| p.into_inner());
        queues
            .remove(topic)
            .map(|m| m.into_values().collect())
            .unwrap_or_default()
    }
}
