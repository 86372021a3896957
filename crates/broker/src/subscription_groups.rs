//! Consumer group configurations ([`SubscriptionGroups`]): created on first heartbeat (Java
//! `autoCreateSubscriptionGroup`) or by UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, persisted to
//! `<root>/config/subscriptionGroup.json`. The broker reads `retry_max_times` (dead-letter
//! threshold) from here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use saturn_protocol::body::{self, DataVersion, SubscriptionGroupConfig};
use serde::{Deserialize, Serialize};

use crate::error::BrokerError;
use crate::persist;

/// File form (Java's `SubscriptionGroupWrapper`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionGroupTable {
    /// Group name → config.
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    /// Version of the table.
    pub data_version: DataVersion,
}

/// The group table.
pub struct SubscriptionGroups {
    table: Mutex<SubscriptionGroupTable>,
    save: Mutex<()>,
    path: PathBuf,
}

impl SubscriptionGroups {
    /// Loads `<config_dir>/subscriptionGroup.json` if present.
    ///
    /// # Errors
    /// [`BrokerError::File`] / [`BrokerError::CorruptFile`].
    pub fn load(config_dir: PathBuf) -> Result<Self, BrokerError> {
        let path = config_dir.join("subscriptionGroup.json");
        let table = match persist::read(&path)? {
            Some(bytes) => body::decode(&bytes).map_err(|e| BrokerError::CorruptFile {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            None => SubscriptionGroupTable::default(),
        };
        Ok(SubscriptionGroups {
            table: Mutex::new(table),
            save: Mutex::new(()),
            path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, SubscriptionGroupTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The config of `group`, or Java's defaults when it has none.
    pub fn get_or_default(&self, group: &str) -> SubscriptionGroupConfig {
        self.lock()
            .subscription_group_table
            .get(group)
            .cloned()
            .unwrap_or_else(|| SubscriptionGroupConfig {
                group_name: group.to_owned(),
                ..SubscriptionGroupConfig::default()
            })
    }

    /// Creates `group` with default settings if unknown; returns whether it was created.
    pub fn ensure(&self, group: &str) -> bool {
        let mut t = self.lock();
        if t.subscription_group_table.contains_key(group) {
            return false;
        }
        t.subscription_group_table.insert(
            group.to_owned(),
            SubscriptionGroupConfig {
                group_name: group.to_owned(),
                ..SubscriptionGroupConfig::default()
            },
        );
        bump(&mut t.data_version);
        true
    }

    /// Inserts or replaces a group config.
    pub fn upsert(&self, config: SubscriptionGroupConfig) {
        let mut t = self.lock();
        t.subscription_group_table
            .insert(config.group_name.clone(), config);
        bump(&mut t.data_version);
    }

    /// A copy of the table (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
    pub fn snapshot(&self) -> SubscriptionGroupTable {
        self.lock().clone()
    }

    /// Writes the table. Blocking: call from a blocking thread.
    ///
    /// # Errors
    /// [`BrokerError::File`].
    pub fn save_now(&self) -> Result<(), BrokerError> {
        let _guard = self.save.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = body::encode(&self.snapshot());
        persist::write_atomic(&self.path, &bytes)
    }
}

fn bump(v: &mut DataVersion) {
    v.counter = v.counter.saturating_add(1);
    v.timestamp = crate::state::now_ms();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_upsert_reload() {
        let dir = tempfile::tempdir().unwrap();
        let g = SubscriptionGroups::load(dir.path().to_owned()).unwrap();
        assert_eq!(g.get_or_default("x").retry_max_times, 16);
        assert!(g.ensure("cg"));
        assert!(!g.ensure("cg"));
        let mut c = g.get_or_default("cg");
        c.retry_max_times = 3;
        g.upsert(c);
        g.save_now().unwrap();
        let g = SubscriptionGroups::load(dir.path().to_owned()).unwrap();
        assert_eq!(g.get_or_default("cg").retry_max_times, 3);
    }
}
