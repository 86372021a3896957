//! RocketMQ `broker.conf` (Java properties: `key=value` lines, `#`/`!` comments) → [`BrokerConfig`].
//!
//! Only the options Saturn implements are mapped; other known RocketMQ keys are accepted and
//! ignored (logged at debug), so an existing `broker.conf` loads unchanged.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::{BrokerConfig, ConfigError, FlushDiskType};

/// RocketMQ keys that are accepted but have no effect in Saturn (yet).
const IGNORED_KEYS: &[&str] = &[
    "brokerIP2",
    "haListenPort",
    "storePathCommitLog",
    "storePathConsumeQueue",
    "storePathIndex",
    "storeCheckpoint",
    "abortFile",
    "mapedFileSizeConsumeQueue",
    "mappedFileSizeConsumeQueue",
    "autoCreateSubscriptionGroup",
    "sendMessageThreadPoolNums",
    "pullMessageThreadPoolNums",
    "brokerPermission",
    "enablePropertyFilter",
    "transactionCheckInterval",
    "transactionTimeOut",
    "waitTimeMillsInSendQueue",
    "traceTopicEnable",
    "aclEnable",
    "messageDelayLevel",
    "flushIntervalCommitLog",
    "flushCommitLogTimed",
    "useReentrantLockWhenPutMessage",
];

impl BrokerConfig {
    /// Reads RocketMQ `broker.conf` text: brokerClusterName, brokerName, brokerId, namesrvAddr
    /// (`a:1;b:2`), listenPort, brokerIP1, storePathRootDir, flushDiskType, brokerRole,
    /// autoCreateTopicEnable, defaultTopicQueueNums, fileReservedTime,
    /// mapedFileSizeCommitLog / mappedFileSizeCommitLog, deleteWhen, diskMaxUsedSpaceRatio,
    /// registerNameServerPeriod, maxMessageSize, longPollingEnable, shortPollingTimeMills,
    /// syncFlushTimeout, flushIntervalCommitLog, maxHashSlotNum, maxIndexNum, regionId, traceOn,
    /// rebalanceLockMaxLiveTime, flushConsumerOffsetInterval, registerBrokerTimeoutMills,
    /// maxTransferBytesOnMessageInMemory, maxTransferCountOnMessageInMemory. Unmapped keys are
    /// ignored. Missing keys keep their defaults.
    ///
    /// # Errors
    /// [`ConfigError::BadValue`] for a value that does not parse.
    pub fn from_properties(text: &str) -> Result<Self, ConfigError> {
        let mut c = BrokerConfig::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((key, value)) = line.split_once(['=', ':']) else {
                tracing::debug!(line, "broker.conf line without '=' ignored");
                continue;
            };
            c.set_property(key.trim(), value.trim())?;
        }
        Ok(c)
    }

    fn set_property(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "brokerClusterName" => self.cluster = value.to_owned(),
            "brokerName" => self.broker_name = value.to_owned(),
            "brokerId" => self.broker_id = num(key, value)?,
            "namesrvAddr" => {
                self.namesrv_addrs = value
                    .split(';')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "listenPort" => {
                let port: u16 = num(key, value)?;
                self.listen = SocketAddr::new(self.listen.ip(), port);
            }
            "brokerIP1" => {
                let ip: IpAddr = value
                    .parse()
                    .map_err(|_| bad(key, value, "an IP address"))?;
                self.broker_ip = Some(ip);
            }
            "storePathRootDir" => self.store_root_dir = value.into(),
            "flushDiskType" => {
                self.flush_disk_type = match value {
                    "ASYNC_FLUSH" => FlushDiskType::AsyncFlush,
                    "SYNC_FLUSH" => FlushDiskType::SyncFlush,
                    _ => return Err(bad(key, value, "ASYNC_FLUSH or SYNC_FLUSH")),
                }
            }
            "warmMapedFileEnable" | "warmMappedFileEnable" => {
                self.warm_mapped_file = Some(boolean(key, value)?);
            }
            "brokerRole" => self.broker_role = value.to_owned(),
            "autoCreateTopicEnable" => self.auto_create_topic = boolean(key, value)?,
            "defaultTopicQueueNums" => self.default_topic_queue_nums = num(key, value)?,
            "fileReservedTime" => self.file_reserved_time_hours = num(key, value)?,
            "mapedFileSizeCommitLog" | "mappedFileSizeCommitLog" => {
                self.commit_log_segment_size = num(key, value)?;
            }
            "deleteWhen" => self.delete_when = value.to_owned(),
            "diskMaxUsedSpaceRatio" => self.disk_max_used_space_ratio = num(key, value)?,
            "registerNameServerPeriod" => self.register_period_ms = num(key, value)?,
            "registerBrokerTimeoutMills" => self.register_timeout_ms = num(key, value)?,
            "maxMessageSize" => self.max_message_size = num(key, value)?,
            "longPollingEnable" => self.long_polling_enable = boolean(key, value)?,
            "shortPollingTimeMills" => self.short_polling_ms = num(key, value)?,
            "syncFlushTimeout" => self.sync_flush_timeout_ms = num(key, value)?,
            "flushIntervalCommitLog" => self.flush_interval_ms = num(key, value)?,
            "maxHashSlotNum" => self.index_max_hash_slots = num(key, value)?,
            "maxIndexNum" => self.index_max_entries = num(key, value)?,
            "regionId" => self.region_id = value.to_owned(),
            "traceOn" => self.trace_on = boolean(key, value)?,
            "rebalanceLockMaxLiveTime" => self.lock_max_live_ms = num(key, value)?,
            "flushConsumerOffsetInterval" => self.offset_flush_interval_ms = num(key, value)?,
            "maxTransferBytesOnMessageInMemory" => self.pull_max_bytes = num(key, value)?,
            "maxTransferCountOnMessageInMemory" => self.pull_max_msgs = num(key, value)?,
            _ if IGNORED_KEYS.contains(&key) => {
                tracing::debug!(key, "broker.conf key accepted but not used");
            }
            _ => tracing::warn!(key, "unknown broker.conf key ignored"),
        }
        Ok(())
    }
}

fn bad(key: &str, value: &str, reason: &'static str) -> ConfigError {
    ConfigError::BadValue {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    }
}

fn num<T: FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value.parse().map_err(|_| bad(key, value, "a number"))
}

fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(key, value, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_typical_broker_conf() {
        let text = "\
# comment
brokerClusterName = C1
brokerName=broker-x
brokerId=0
namesrvAddr=10.0.0.1:9876;10.0.0.2:9876
listenPort=10921
brokerIP1=10.0.0.5
deleteWhen=04
fileReservedTime=48
brokerRole=ASYNC_MASTER
flushDiskType=SYNC_FLUSH
flushIntervalCommitLog=200
mapedFileSizeCommitLog=1048576
autoCreateTopicEnable=false
storePathRootDir=/tmp/x
somethingNew=1
";
        let c = BrokerConfig::from_properties(text).unwrap();
        assert_eq!(c.cluster, "C1");
        assert_eq!(c.broker_name, "broker-x");
        assert_eq!(c.namesrv_addrs, vec!["10.0.0.1:9876", "10.0.0.2:9876"]);
        assert_eq!(c.listen.port(), 10921);
        assert_eq!(c.advertised_ip().to_string(), "10.0.0.5");
        assert_eq!(c.file_reserved_time_hours, 48);
        assert_eq!(c.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.flush_interval_ms, 200);
        assert_eq!(c.commit_log_segment_size, 1 << 20);
        assert!(!c.auto_create_topic);
        assert_eq!(c.store_root_dir, std::path::PathBuf::from("/tmp/x"));
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(BrokerConfig::from_properties("brokerId=x").is_err());
        assert!(BrokerConfig::from_properties("flushDiskType=SOMETIMES").is_err());
        assert!(BrokerConfig::from_properties("autoCreateTopicEnable=yes").is_err());
        let never_flushed = BrokerConfig::from_properties("flushIntervalCommitLog=0").unwrap();
        assert!(never_flushed.validate().is_err());
    }
}
