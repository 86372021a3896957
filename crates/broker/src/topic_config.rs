//! The broker's topic table ([`TopicConfigs`]): system topics, auto-creation on send, retry and
//! dead-letter topics, persisted to `<root>/config/topics.json` (Java's
//! `TopicConfigSerializeWrapper` JSON). Every change bumps the [`DataVersion`] and wakes the
//! name-server registration ([`TopicConfigs::watch`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};

use saturn_protocol::body::{self, DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use tokio::sync::watch;

use crate::error::{BrokerError, RequestError};
use crate::persist;

/// Template topic of auto-creation (`TBW102`).
pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
/// Delayed messages wait here (18 queues, one per level).
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Transaction half messages.
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Transaction op (commit/rollback marker) records.
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Prefix of a group's retry topic.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of a group's dead-letter topic.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";

/// Permission bits (`PermName`).
pub mod perm {
    /// Readable.
    pub const READ: i32 = 4;
    /// Writable.
    pub const WRITE: i32 = 2;
    /// May serve as an auto-creation template.
    pub const INHERIT: i32 = 1;
}

/// `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%<group>`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

/// Topics producers may not send to directly.
fn is_send_forbidden(topic: &str) -> bool {
    matches!(
        topic,
        SCHEDULE_TOPIC | TRANS_HALF_TOPIC | TRANS_OP_HALF_TOPIC
    )
}

/// Checks a topic name: `^[%|a-zA-Z0-9_-]+$`, at most `max_len` characters (retry and
/// dead-letter topics may reach 255, as their names embed a group name).
///
/// # Errors
/// [`RequestError::MessageIllegal`] naming the rule broken.
pub fn validate_topic(topic: &str, max_len: usize) -> Result<(), RequestError> {
    if topic.is_empty() {
        return Err(RequestError::MessageIllegal(
            "The specified topic is blank.".into(),
        ));
    }
    let ok_chars = topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'));
    if !ok_chars {
        return Err(RequestError::MessageIllegal(format!(
            "The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        )));
    }
    let group_topic =
        topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) || topic.starts_with(DLQ_GROUP_TOPIC_PREFIX);
    let limit = if group_topic { 255 } else { max_len };
    if topic.len() > limit {
        return Err(RequestError::MessageIllegal(format!(
            "The specified topic is longer than topic max length {limit}."
        )));
    }
    Ok(())
}

/// What [`TopicConfigs::for_send`] needs from the SEND header.
#[derive(Debug, Clone, Copy)]
pub struct AutoCreate<'a> {
    /// Queue count the producer asks for (capped by the broker's `default_topic_queue_nums`).
    pub queue_nums: i32,
    /// The template topic named by the producer (normally `TBW102`).
    pub default_topic: &'a str,
}

struct Table {
    topics: BTreeMap<String, TopicConfig>,
    version: DataVersion,
}

/// The topic table. Reads take a shared lock; changes are rare.
pub struct TopicConfigs {
    table: RwLock<Table>,
    path: PathBuf,
    save: Mutex<()>,
    changed: watch::Sender<i64>,
    auto_create: bool,
    max_auto_queue_nums: i32,
}

fn topic(name: &str, queues: i32, perm: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_owned(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm,
        ..TopicConfig::default()
    }
}

fn now_ms() -> i64 {
    crate::state::now_ms()
}

impl TopicConfigs {
    /// Loads `<config_dir>/topics.json` (if any) and adds the system topics that are missing.
    ///
    /// # Errors
    /// [`BrokerError::File`] / [`BrokerError::CorruptFile`].
    pub fn load(
        config_dir: PathBuf,
        cluster: &str,
        broker_name: &str,
        auto_create: bool,
        max_auto_queue_nums: i32,
    ) -> Result<Self, BrokerError> {
        let path = config_dir.join("topics.json");
        let mut wrapper = match persist::read(&path)? {
            Some(bytes) => body::decode::<TopicConfigSerializeWrapper>(&bytes).map_err(|e| {
                BrokerError::CorruptFile {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })?,
            None => TopicConfigSerializeWrapper::default(),
        };
        let rw = perm::READ | perm::WRITE;
        let tbw_perm = if auto_create { rw | perm::INHERIT } else { rw };
        let system = [
            topic(AUTO_CREATE_TOPIC_KEY, 8, tbw_perm),
            topic(cluster, 1, rw | perm::INHERIT),
            topic(broker_name, 1, rw | perm::INHERIT),
            topic(SCHEDULE_TOPIC, 18, rw),
            topic(TRANS_HALF_TOPIC, 1, rw),
            topic(TRANS_OP_HALF_TOPIC, 1, rw),
        ];
        for t in system {
            let name = t.topic_name.clone();
            let entry = wrapper.topic_config_table.entry(name).or_insert(t);
            if entry.topic_name == AUTO_CREATE_TOPIC_KEY {
                // Follows the switch even for a table persisted under the other setting.
                entry.perm = tbw_perm;
            }
        }
        let mut version = wrapper.data_version;
        version.counter = version.counter.saturating_add(1);
        version.timestamp = now_ms();
        let me = TopicConfigs {
            table: RwLock::new(Table {
                topics: wrapper.topic_config_table,
                version,
            }),
            path,
            save: Mutex::new(()),
            changed: watch::channel(0).0,
            auto_create,
            max_auto_queue_nums,
        };
        me.save_now()?;
        Ok(me)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The config of `topic`.
    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.read().topics.get(topic).cloned()
    }

    /// Every topic name.
    pub fn names(&self) -> Vec<String> {
        self.read().topics.keys().cloned().collect()
    }

    /// The whole table with its version (REGISTER_BROKER, GET_ALL_TOPIC_CONFIG).
    pub fn snapshot(&self) -> TopicConfigSerializeWrapper {
        let t = self.read();
        TopicConfigSerializeWrapper {
            data_version: t.version.clone(),
            topic_config_table: t.topics.clone(),
            ..Default::default()
        }
    }

    /// A receiver that sees every change of the table (each name-server registration loop
    /// holds one).
    pub fn watch(&self) -> watch::Receiver<i64> {
        self.changed.subscribe()
    }

    /// Inserts or replaces a topic, bumps the version, persists and wakes the registration.
    ///
    /// # Errors
    /// [`RequestError::System`] if the file could not be written (the change stays in memory).
    pub async fn upsert(
        self: &std::sync::Arc<Self>,
        config: TopicConfig,
    ) -> Result<(), RequestError> {
        {
            let mut t = self.write();
            if t.topics.get(&config.topic_name) == Some(&config) {
                return Ok(());
            }
            t.topics.insert(config.topic_name.clone(), config);
            bump(&mut t.version);
        }
        self.persist_and_announce().await
    }

    /// Removes a topic. Returns whether it existed.
    ///
    /// # Errors
    /// As [`TopicConfigs::upsert`].
    pub async fn remove(self: &std::sync::Arc<Self>, topic: &str) -> Result<bool, RequestError> {
        {
            let mut t = self.write();
            if t.topics.remove(topic).is_none() {
                return Ok(false);
            }
            bump(&mut t.version);
        }
        self.persist_and_announce().await.map(|()| true)
    }

    /// The topic a SEND goes to, created from the template when unknown and auto-creation is on
    /// (Java `createTopicInSendMessageMethod`): `min(requested, default_topic_queue_nums)`
    /// queues, the template's permission without INHERIT. Retry topics are created with one
    /// queue. Sending to the internal system topics is refused.
    ///
    /// # Errors
    /// [`RequestError::NoPermission`] for internal topics or an unwritable topic,
    /// [`RequestError::TopicNotExist`] when the topic is unknown and may not be created.
    pub async fn for_send(
        self: &std::sync::Arc<Self>,
        topic: &str,
        auto: AutoCreate<'_>,
    ) -> Result<TopicConfig, RequestError> {
        if is_send_forbidden(topic) {
            return Err(RequestError::NoPermission(format!(
                "Sending message to topic[{topic}] is forbidden."
            )));
        }
        let config = match self.get(topic) {
            Some(c) => c,
            None if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) => {
                self.ensure_group_topic(topic).await?
            }
            None => self.auto_create(topic, auto).await?,
        };
        if config.perm & perm::WRITE == 0 {
            return Err(RequestError::NoPermission(format!(
                "the topic[{topic}] sending message is forbidden"
            )));
        }
        Ok(config)
    }

    async fn auto_create(
        self: &std::sync::Arc<Self>,
        topic: &str,
        auto: AutoCreate<'_>,
    ) -> Result<TopicConfig, RequestError> {
        let not_exist = || {
            RequestError::TopicNotExist(format!("topic[{topic}] not exist, apply first please!"))
        };
        if !self.auto_create {
            return Err(not_exist());
        }
        let template = self
            .get(auto.default_topic)
            .or_else(|| self.get(AUTO_CREATE_TOPIC_KEY))
            .filter(|t| t.perm & perm::INHERIT != 0)
            .ok_or_else(not_exist)?;
        let queues = auto
            .queue_nums
            .clamp(1, self.max_auto_queue_nums)
            .min(template.write_queue_nums.max(1));
        let config = TopicConfig {
            topic_name: topic.to_owned(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: template.perm & !perm::INHERIT,
            topic_filter_type: template.topic_filter_type,
            topic_sys_flag: template.topic_sys_flag,
            ..TopicConfig::default()
        };
        self.insert_if_absent(config).await
    }

    /// The retry or dead-letter topic `topic` (`%RETRY%g` / `%DLQ%g`), created with one queue,
    /// read + write permission, when missing.
    ///
    /// # Errors
    /// As [`TopicConfigs::upsert`].
    pub async fn ensure_group_topic(
        self: &std::sync::Arc<Self>,
        topic: &str,
    ) -> Result<TopicConfig, RequestError> {
        if let Some(c) = self.get(topic) {
            return Ok(c);
        }
        self.insert_if_absent(self::topic(topic, 1, perm::READ | perm::WRITE))
            .await
    }

    async fn insert_if_absent(
        self: &std::sync::Arc<Self>,
        config: TopicConfig,
    ) -> Result<TopicConfig, RequestError> {
        {
            let mut t = self.write();
            // Another request may have created it meanwhile: keep theirs.
            if let Some(existing) = t.topics.get(&config.topic_name) {
                return Ok(existing.clone());
            }
            t.topics.insert(config.topic_name.clone(), config.clone());
            bump(&mut t.version);
        }
        tracing::info!(topic = %config.topic_name, queues = config.write_queue_nums, "topic created");
        self.persist_and_announce().await?;
        Ok(config)
    }

    async fn persist_and_announce(self: &std::sync::Arc<Self>) -> Result<(), RequestError> {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
        let me = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || me.save_now())
            .await
            .map_err(|e| RequestError::System(format!("topic config save task: {e}")))?
            .map_err(|e| RequestError::System(e.to_string()))
    }

    /// Writes the current table (snapshotted under the save lock, so concurrent saves cannot
    /// write an older table last).
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
    v.timestamp = now_ms();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn topic_names() {
        assert!(validate_topic("Topic_a-1|%", 127).is_ok());
        assert!(validate_topic("", 127).is_err());
        assert!(validate_topic("a.b", 127).is_err());
        assert!(validate_topic(&"a".repeat(128), 127).is_err());
        assert!(validate_topic(&format!("%RETRY%{}", "g".repeat(150)), 127).is_ok());
    }

    #[tokio::test]
    async fn system_topics_auto_create_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        let t = Arc::new(TopicConfigs::load(cfg.clone(), "C", "B", true, 4).unwrap());
        let tbw = t.get(AUTO_CREATE_TOPIC_KEY).unwrap();
        assert_eq!((tbw.perm, tbw.write_queue_nums), (7, 8));
        assert!(t.get("C").is_some() && t.get("B").is_some());
        let v0 = t.snapshot().data_version.counter;
        let auto = AutoCreate {
            queue_nums: 16,
            default_topic: AUTO_CREATE_TOPIC_KEY,
        };
        let c = t.for_send("NewTopic", auto).await.unwrap();
        assert_eq!((c.write_queue_nums, c.perm), (4, 6));
        assert!(t.snapshot().data_version.counter > v0);
        assert!(t.for_send(TRANS_HALF_TOPIC, auto).await.is_err());
        let r = t.ensure_group_topic(&retry_topic("g")).await.unwrap();
        assert_eq!((r.write_queue_nums, r.perm), (1, 6));
        drop(t);
        let t = TopicConfigs::load(cfg, "C", "B", false, 4).unwrap();
        assert_eq!(t.get("NewTopic").unwrap().write_queue_nums, 4);
        assert_eq!(t.get(AUTO_CREATE_TOPIC_KEY).unwrap().perm, 6);
        let t = Arc::new(t);
        assert!(matches!(
            t.for_send("Other", auto).await,
            Err(RequestError::TopicNotExist(_))
        ));
    }
}
