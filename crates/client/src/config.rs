//! Settings of the client instance, the producer and the consumers, with Java's defaults.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ClientError;

/// Settings shared by every producer, consumer and admin client: where the name servers are
/// and how the client identifies itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Name server addresses (`host:port`); see [`ClientConfig::parse_namesrv`].
    pub namesrv_addrs: Vec<String>,
    /// Timeout of ordinary requests (route lookups, sends, offset queries); default 3 s.
    pub request_timeout: Duration,
    /// Instance name, the part after `@` in the client id. `None` (default) picks one unique
    /// to this client object (`<pid>#<counter>#<nanos>`), so two consumers in one process are
    /// two group members.
    pub instance_name: Option<String>,
    /// IP announced in the client id and in message unique keys; `None` (default) uses the local
    /// address of the interface that reaches the first name server.
    pub client_ip: Option<IpAddr>,
    /// How often routes of the topics in use are refreshed; default 30 s.
    pub route_refresh_interval: Duration,
    /// How often heartbeats go to every known broker; default 30 s.
    pub heartbeat_interval: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            namesrv_addrs: Vec::new(),
            request_timeout: Duration::from_secs(3),
            instance_name: None,
            client_ip: None,
            route_refresh_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(30),
        }
    }
}

impl ClientConfig {
    /// A configuration for the given name servers (`"host:port;host:port"`), defaults otherwise.
    pub fn new(namesrv: &str) -> Self {
        Self {
            namesrv_addrs: Self::parse_namesrv(namesrv),
            ..Self::default()
        }
    }

    /// Splits a RocketMQ name server list (`"a:9876;b:9876"`, also `,` or whitespace separated)
    /// into addresses, dropping empty entries.
    pub fn parse_namesrv(list: &str) -> Vec<String> {
        list.split([';', ',', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ClientError::Config`] when no name server is given or an interval is zero.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.namesrv_addrs.is_empty() {
            return Err(ClientError::Config("no name server address".into()));
        }
        for (name, d) in [
            ("request_timeout", self.request_timeout),
            ("route_refresh_interval", self.route_refresh_interval),
            ("heartbeat_interval", self.heartbeat_interval),
        ] {
            if d.is_zero() {
                return Err(ClientError::Config(format!("{name} must be positive")));
            }
        }
        Ok(())
    }
}

/// Default producer group, as in Java.
pub const DEFAULT_PRODUCER_GROUP: &str = "DEFAULT_PRODUCER";

/// Settings of a [`crate::Producer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Name servers and identity.
    pub client: ClientConfig,
    /// Producer group (reported in heartbeats); default `DEFAULT_PRODUCER`.
    pub group: String,
    /// Extra attempts on another queue/broker after a retryable failure of a sync send;
    /// default 2 (Java's `retryTimesWhenSendFailed`).
    pub retries: u32,
    /// Timeout of one send attempt; default 3 s.
    pub send_timeout: Duration,
    /// Template topic for auto-creation; default `TBW102`.
    pub default_topic: String,
    /// Queues of an auto-created topic; default 4.
    pub default_topic_queue_nums: i32,
    /// Bodies larger than this are zlib-compressed (not batches); default 4096, 0 disables.
    pub compress_over: usize,
    /// Largest body (or batch body) accepted; default 4 MiB.
    pub max_message_size: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            group: DEFAULT_PRODUCER_GROUP.to_owned(),
            retries: 2,
            send_timeout: Duration::from_secs(3),
            default_topic: crate::route::DEFAULT_TOPIC.to_owned(),
            default_topic_queue_nums: 4,
            compress_over: 4096,
            max_message_size: 4 * 1024 * 1024,
        }
    }
}

impl ProducerConfig {
    /// A producer of `group` talking to the name servers in `namesrv` (`"a:1;b:2"`).
    pub fn new(namesrv: &str, group: impl Into<String>) -> Self {
        Self {
            client: ClientConfig::new(namesrv),
            group: group.into(),
            ..Self::default()
        }
    }
}

/// How a consumer group shares messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageModel {
    /// Each message goes to one member; queues are divided among members; offsets on the broker.
    #[default]
    Clustering,
    /// Every member gets every message; offsets kept in a local file.
    Broadcasting,
}

/// Where a consumer group with no committed offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsumeFrom {
    /// At the end: only messages sent from now on (Java's default).
    #[default]
    Last,
    /// At the oldest message still stored.
    First,
    /// At the first message stored at or after this time (ms since the epoch).
    Timestamp(i64),
}

/// Settings of a [`crate::PushConsumer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushConsumerConfig {
    /// Name servers and identity.
    pub client: ClientConfig,
    /// Consumer group.
    pub group: String,
    /// `(topic, expression)` pairs; expression `*` or `TagA || TagB`.
    pub subscriptions: Vec<(String, String)>,
    /// Clustering (default) or broadcasting.
    pub model: MessageModel,
    /// Start position of a group without a committed offset; default [`ConsumeFrom::Last`].
    pub consume_from: ConsumeFrom,
    /// Messages handed to one `consume` call; default 1.
    pub batch_size: usize,
    /// Messages asked for per pull; default 32.
    pub pull_batch_size: i32,
    /// Listener calls running at once for this consumer; default 20.
    pub consume_concurrency: usize,
    /// The listener may block (I/O, locks, sleeps), so each call runs on a blocking thread, as
    /// Java runs it on its consume thread pool; default true. Set false for a listener that
    /// only computes and returns at once: its calls then run on the async runtime, which saves
    /// two thread wake-ups per batch. A blocking listener with `false` stalls the client.
    pub blocking_listener: bool,
    /// Pulled but unconsumed messages per queue before pulling pauses; default 1000.
    pub max_in_flight_per_queue: usize,
    /// How often queues are re-divided among members; default 20 s.
    pub rebalance_interval: Duration,
    /// How often consumed offsets are committed; default 5 s.
    pub persist_interval: Duration,
    /// Long-poll hold time asked of the broker; default 15 s.
    pub suspend_timeout: Duration,
    /// Retries before the broker moves a message to the dead-letter topic; default 16.
    pub max_reconsume_times: i32,
    /// Broadcasting only: directory of the local offset file `<group>.json`; default
    /// `~/.saturn/offsets`.
    pub offset_dir: Option<PathBuf>,
}

impl Default for PushConsumerConfig {
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            group: String::new(),
            subscriptions: Vec::new(),
            model: MessageModel::Clustering,
            consume_from: ConsumeFrom::Last,
            batch_size: 1,
            pull_batch_size: 32,
            consume_concurrency: 20,
            blocking_listener: true,
            max_in_flight_per_queue: 1000,
            rebalance_interval: Duration::from_secs(20),
            persist_interval: Duration::from_secs(5),
            suspend_timeout: Duration::from_secs(15),
            max_reconsume_times: 16,
            offset_dir: None,
        }
    }
}

impl PushConsumerConfig {
    /// A clustering consumer of `group` subscribed to `topic` with `expression`.
    pub fn new(namesrv: &str, group: impl Into<String>, topic: &str, expression: &str) -> Self {
        Self {
            client: ClientConfig::new(namesrv),
            group: group.into(),
            subscriptions: vec![(topic.to_owned(), expression.to_owned())],
            ..Self::default()
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ClientError::Config`] for an empty group or subscription list, zero sizes or intervals.
    pub fn validate(&self) -> Result<(), ClientError> {
        self.client.validate()?;
        if self.group.is_empty() {
            return Err(ClientError::Config("consumer group is empty".into()));
        }
        if self.subscriptions.is_empty() {
            return Err(ClientError::Config("no subscription".into()));
        }
        if self.batch_size == 0
            || self.pull_batch_size <= 0
            || self.consume_concurrency == 0
            || self.max_in_flight_per_queue == 0
        {
            return Err(ClientError::Config(
                "batch sizes and limits must be positive".into(),
            ));
        }
        if self.rebalance_interval.is_zero() || self.persist_interval.is_zero() {
            return Err(ClientError::Config("intervals must be positive".into()));
        }
        Ok(())
    }
}

/// Settings of a [`crate::LitePullConsumer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LitePullConsumerConfig {
    /// Name servers and identity.
    pub client: ClientConfig,
    /// Consumer group (used for committed offsets).
    pub group: String,
    /// Start position of an assigned queue that was not sought and has no committed offset.
    pub consume_from: ConsumeFrom,
    /// Most messages returned by one pull of one queue; default 32.
    pub pull_batch_size: i32,
}

impl Default for LitePullConsumerConfig {
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            group: String::new(),
            consume_from: ConsumeFrom::Last,
            pull_batch_size: 32,
        }
    }
}

impl LitePullConsumerConfig {
    /// A pull consumer of `group`.
    pub fn new(namesrv: &str, group: impl Into<String>) -> Self {
        Self {
            client: ClientConfig::new(namesrv),
            group: group.into(),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rocketmq_namesrv_lists() {
        assert_eq!(
            ClientConfig::parse_namesrv("10.0.0.1:9876;10.0.0.2:9876"),
            ["10.0.0.1:9876", "10.0.0.2:9876"]
        );
        assert_eq!(
            ClientConfig::parse_namesrv(" a:1 ;; b:2, c:3 "),
            ["a:1", "b:2", "c:3"]
        );
        assert!(ClientConfig::parse_namesrv(" ; ").is_empty());
        assert!(ClientConfig::new("").validate().is_err());
        assert!(ClientConfig::new("a:1").validate().is_ok());
    }

    #[test]
    fn consumer_config_checks() {
        let ok = PushConsumerConfig::new("a:1", "g", "T", "*");
        assert!(ok.validate().is_ok());
        let bad = PushConsumerConfig {
            batch_size: 0,
            ..ok.clone()
        };
        assert!(bad.validate().is_err());
        let bad = PushConsumerConfig {
            group: String::new(),
            ..ok
        };
        assert!(bad.validate().is_err());
    }
}
