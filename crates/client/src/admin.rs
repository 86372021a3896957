//! [`AdminClient`]: what `mqadmin`-style tools need — routes, clusters, topics, statistics,
//! consumer progress, and finding messages by id or key.

use std::collections::BTreeSet;
use std::sync::Arc;

use saturn_protocol::body::{
    self, ClusterInfo, ConsumeStats, TopicList, TopicRouteData, TopicStatsTable,
};
use saturn_protocol::code::{request, response};
use saturn_protocol::header::{
    CommandHeader, CreateTopicRequest, GetConsumeStatsRequest, GetTopicStatsInfoRequest,
    QueryMessageRequest, ViewMessageRequest,
};
use saturn_protocol::message::{decode_offset_msg_id, properties, record};
use saturn_protocol::{ExtFields, RemotingCommand};
use tracing::debug;

use crate::broker_api;
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::{MessageExt, MessageQueue};
use crate::route::{DEFAULT_TOPIC, PERM_READ_WRITE};

/// Most messages asked of each broker by [`AdminClient::query_by_key`].
const QUERY_MAX_NUM: i32 = 64;

/// Where [`AdminClient::create_topic`] creates a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicTarget {
    /// On the master of every broker group of this cluster.
    Cluster(String),
    /// On one broker, by address (`host:port`).
    Broker(String),
}

/// Offsets of one queue of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// The queue.
    pub queue: MessageQueue,
    /// Oldest stored offset.
    pub min_offset: i64,
    /// One past the newest offset.
    pub max_offset: i64,
    /// Store time of the newest message (ms), 0 if unknown.
    pub last_update_timestamp: i64,
}

/// A consumer group's progress on one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueProgress {
    /// The queue.
    pub queue: MessageQueue,
    /// One past the newest offset of the queue.
    pub broker_offset: i64,
    /// The group's committed offset (−1 when it has none).
    pub consumer_offset: i64,
    /// Messages not yet consumed: `broker_offset − max(consumer_offset, 0)`.
    pub lag: i64,
    /// Store time of the last consumed message (ms), 0 if unknown.
    pub last_timestamp: i64,
}

/// Administrative requests against name servers and brokers.
pub struct AdminClient {
    instance: Arc<ClientInstance>,
}

impl AdminClient {
    /// An admin client for the given name servers.
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad configuration.
    pub async fn start(config: ClientConfig) -> Result<Self, ClientError> {
        Ok(Self {
            instance: ClientInstance::start(config).await?,
        })
    }

    /// The route of `topic` as the name servers have it.
    ///
    /// # Errors
    /// [`ClientError::TopicNotFound`] when unknown, or a name server failure.
    pub async fn route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        self.instance
            .routes
            .fetch(topic)
            .await?
            .ok_or_else(|| ClientError::TopicNotFound(topic.to_owned()))
    }

    /// Clusters, broker groups and their addresses (GET_BROKER_CLUSTER_INFO).
    ///
    /// # Errors
    /// A name server failure or a bad body.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, ClientError> {
        let cmd = RemotingCommand::new_request(request::GET_BROKER_CLUSTER_INFO, ExtFields::new());
        let resp = self.instance.routes.namesrv().invoke(cmd).await?;
        if resp.code != response::SUCCESS {
            return Err(ClientError::from_response(&resp));
        }
        Ok(body::decode(&resp.body)?)
    }

    /// Every topic the name servers know (GET_ALL_TOPIC_LIST_FROM_NAMESERVER), sorted.
    ///
    /// # Errors
    /// A name server failure or a bad body.
    pub async fn topic_list(&self) -> Result<Vec<String>, ClientError> {
        let cmd = RemotingCommand::new_request(
            request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
            ExtFields::new(),
        );
        let resp = self.instance.routes.namesrv().invoke(cmd).await?;
        if resp.code != response::SUCCESS {
            return Err(ClientError::from_response(&resp));
        }
        let list: TopicList = body::decode(&resp.body)?;
        let mut topics = list.topic_list;
        topics.sort();
        topics.dedup();
        Ok(topics)
    }

    /// Creates or updates `topic` (read/write permission) with the given queue counts
    /// (UPDATE_AND_CREATE_TOPIC); returns the broker addresses it was created on.
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] for a bad name, [`ClientError::Config`] for an unknown
    /// cluster or zero queues, or the first broker refusal.
    pub async fn create_topic(
        &self,
        topic: &str,
        read_queues: i32,
        write_queues: i32,
        target: &TopicTarget,
    ) -> Result<Vec<String>, ClientError> {
        crate::outgoing::check_topic(topic)?;
        if read_queues <= 0 || write_queues <= 0 {
            return Err(ClientError::Config("queue counts must be positive".into()));
        }
        let addrs = match target {
            TopicTarget::Broker(addr) => vec![addr.clone()],
            TopicTarget::Cluster(name) => {
                let info = self.cluster_info().await?;
                let brokers = info
                    .cluster_addr_table
                    .get(name)
                    .ok_or_else(|| ClientError::Config(format!("unknown cluster {name}")))?;
                brokers
                    .iter()
                    .filter_map(|b| {
                        info.broker_addr_table
                            .get(b)?
                            .master_addr()
                            .map(str::to_owned)
                    })
                    .collect()
            }
        };
        let header = CreateTopicRequest {
            topic: topic.to_owned(),
            default_topic: DEFAULT_TOPIC.to_owned(),
            read_queue_nums: read_queues,
            write_queue_nums: write_queues,
            perm: PERM_READ_WRITE,
            topic_filter_type: "SINGLE_TAG".to_owned(),
            topic_sys_flag: Some(0),
            order: false,
            attributes: None,
            force: None,
        };
        for addr in &addrs {
            let cmd =
                RemotingCommand::new_request(request::UPDATE_AND_CREATE_TOPIC, header.to_ext());
            let resp = self.instance.invoke(addr, cmd).await?;
            if resp.code != response::SUCCESS {
                return Err(ClientError::from_response(&resp));
            }
        }
        Ok(addrs)
    }

    /// Min/max offsets of every queue of `topic` (GET_TOPIC_STATS_INFO to each master),
    /// sorted by broker name and queue id.
    ///
    /// # Errors
    /// [`ClientError::TopicNotFound`], or a broker failure.
    pub async fn topic_stats(&self, topic: &str) -> Result<Vec<QueueStats>, ClientError> {
        let route = crate::route::TopicRoute::new(topic, self.route(topic).await?);
        let mut out = Vec::new();
        for addr in route.master_addrs() {
            let header = GetTopicStatsInfoRequest {
                topic: topic.to_owned(),
            };
            let cmd = RemotingCommand::new_request(request::GET_TOPIC_STATS_INFO, header.to_ext());
            let resp = self.instance.invoke(&addr, cmd).await?;
            if resp.code != response::SUCCESS {
                return Err(ClientError::from_response(&resp));
            }
            let table: TopicStatsTable = body::decode(&resp.body)?;
            out.extend(table.offset_table.into_iter().map(|(queue, o)| QueueStats {
                queue,
                min_offset: o.min_offset,
                max_offset: o.max_offset,
                last_update_timestamp: o.last_update_timestamp,
            }));
        }
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(out)
    }

    /// A group's progress on every queue it has offsets for (GET_CONSUME_STATS to every master
    /// of every cluster), sorted by queue.
    ///
    /// # Errors
    /// The last broker failure when no broker answered.
    pub async fn consumer_progress(&self, group: &str) -> Result<Vec<QueueProgress>, ClientError> {
        let info = self.cluster_info().await?;
        let masters: BTreeSet<String> = info
            .broker_addr_table
            .values()
            .filter_map(|b| b.master_addr().map(str::to_owned))
            .collect();
        let mut out = Vec::new();
        let mut last_err = None;
        let mut answered = false;
        for addr in masters {
            let header = GetConsumeStatsRequest {
                consumer_group: group.to_owned(),
                topic: None,
            };
            let cmd = RemotingCommand::new_request(request::GET_CONSUME_STATS, header.to_ext());
            let resp = match self.instance.invoke(&addr, cmd).await {
                Ok(r) => r,
                Err(e) => {
                    last_err = Some(e);
                    continue;
                }
            };
            if resp.code != response::SUCCESS {
                debug!(%addr, code = resp.code, "no consume stats");
                last_err = Some(ClientError::from_response(&resp));
                continue;
            }
            answered = true;
            let stats: ConsumeStats = body::decode(&resp.body)?;
            out.extend(
                stats
                    .offset_table
                    .into_iter()
                    .map(|(queue, o)| QueueProgress {
                        lag: o.broker_offset.saturating_sub(o.consumer_offset.max(0)),
                        queue,
                        broker_offset: o.broker_offset,
                        consumer_offset: o.consumer_offset,
                        last_timestamp: o.last_timestamp,
                    }),
            );
        }
        match (answered, last_err) {
            (false, Some(e)) => Err(e),
            _ => {
                out.sort_by(|a, b| a.queue.cmp(&b.queue));
                Ok(out)
            }
        }
    }

    /// A group's progress on each queue of one topic, computed from GET_MAX_OFFSET and
    /// QUERY_CONSUMER_OFFSET (works with brokers lacking GET_CONSUME_STATS).
    ///
    /// # Errors
    /// [`ClientError::TopicNotFound`], or a broker failure.
    pub async fn topic_progress(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<Vec<QueueProgress>, ClientError> {
        let route = self
            .instance
            .routes
            .refresh(topic)
            .await?
            .ok_or_else(|| ClientError::TopicNotFound(topic.to_owned()))?;
        let mut out = Vec::with_capacity(route.read_queues.len());
        for mq in &route.read_queues {
            let broker_offset = broker_api::max_offset(&self.instance, mq).await?;
            let consumer_offset = broker_api::query_consumer_offset(&self.instance, group, mq)
                .await?
                .unwrap_or(-1);
            out.push(QueueProgress {
                queue: mq.clone(),
                broker_offset,
                consumer_offset,
                lag: broker_offset.saturating_sub(consumer_offset.max(0)),
                last_timestamp: 0,
            });
        }
        Ok(out)
    }

    /// The message with this offset message id (decoded into broker address and commit-log
    /// offset, then VIEW_MESSAGE_BY_ID to that broker).
    ///
    /// # Errors
    /// [`ClientError::Message`] for a malformed id, or the broker's refusal.
    pub async fn view_message(&self, offset_msg_id: &str) -> Result<MessageExt, ClientError> {
        let (host, offset) = decode_offset_msg_id(offset_msg_id)?;
        let addr = host.to_string();
        // A client's unique id is also 32 hex digits and "decodes" into a bogus address: never
        // dial an address taken from an id unless it is a broker of the cluster.
        if self.broker_name_of(&addr).await.is_none() {
            return Err(ClientError::BrokerNotFound(format!(
                "{offset_msg_id} is not an offset message id of a known broker ({addr}); \
                 a client message id (UNIQ_KEY) needs its topic"
            )));
        }
        let header = ViewMessageRequest {
            offset,
            topic: None,
        };
        let cmd = RemotingCommand::new_request(request::VIEW_MESSAGE_BY_ID, header.to_ext());
        let resp = self.instance.invoke(&addr, cmd).await?;
        if resp.code != response::SUCCESS {
            return Err(ClientError::from_response(&resp));
        }
        let (msg, _) = record::decode(&resp.body)?;
        let broker_name = self.broker_name_of(&addr).await.unwrap_or_default();
        Ok(MessageExt::from_stored(msg, &broker_name))
    }

    /// Messages of `topic` whose KEYS contain `key` or whose UNIQ_KEY is `key` (QUERY_MESSAGE
    /// to every master; the index matches hashes, so results are re-checked here).
    ///
    /// # Errors
    /// [`ClientError::TopicNotFound`], or a broker failure.
    pub async fn query_by_key(
        &self,
        topic: &str,
        key: &str,
    ) -> Result<Vec<MessageExt>, ClientError> {
        self.query_index(topic, key, false).await
    }

    /// QUERY_MESSAGE to every master of `topic`; `unique_key` sets Java's `_UNIQUE_KEY_QUERY`.
    async fn query_index(
        &self,
        topic: &str,
        key: &str,
        unique_key: bool,
    ) -> Result<Vec<MessageExt>, ClientError> {
        let route = crate::route::TopicRoute::new(topic, self.route(topic).await?);
        let mut out: Vec<MessageExt> = Vec::new();
        for bd in &route.data.broker_datas {
            let Some(addr) = bd.master_addr() else {
                continue;
            };
            let header = QueryMessageRequest {
                topic: topic.to_owned(),
                key: key.to_owned(),
                max_num: QUERY_MAX_NUM,
                begin_timestamp: 0,
                end_timestamp: i64::MAX,
                unique_key_query: unique_key.then_some(true),
            };
            let cmd = RemotingCommand::new_request(request::QUERY_MESSAGE, header.to_ext());
            let resp = self.instance.invoke(addr, cmd).await?;
            match resp.code {
                response::SUCCESS => {}
                response::QUERY_NOT_FOUND => continue,
                _ => return Err(ClientError::from_response(&resp)),
            }
            for m in record::decode_all(&resp.body) {
                let matches = m.topic == topic
                    && (m.uniq_key() == Some(key)
                        || m.keys()
                            .is_some_and(|k| properties::split_keys(k).any(|k| k == key)));
                if matches {
                    out.push(MessageExt::from_stored(m, &bd.broker_name));
                }
            }
        }
        // Same record from two brokers' answers sorts adjacent, so dedup catches it.
        out.sort_by_key(|m| (m.store_timestamp, m.offset_msg_id.clone()));
        out.dedup_by(|a, b| a.offset_msg_id == b.offset_msg_id);
        Ok(out)
    }

    /// Finds a message by either id a RocketMQ user sees, as `mqadmin queryMsgById` does: as an
    /// offset message id of a known broker first, then — when `topic` is given — as a client
    /// unique id (UNIQ_KEY, the `msgId` clients print), through the broker's unique-key index.
    ///
    /// # Errors
    /// [`ClientError::BrokerNotFound`] when the id is no offset id and no topic was given, or a
    /// broker failure; an empty result is `Ok(vec![])`.
    pub async fn find_message(
        &self,
        id: &str,
        topic: Option<&str>,
    ) -> Result<Vec<MessageExt>, ClientError> {
        let by_offset = self.view_message(id).await;
        let Some(topic) = topic else {
            return by_offset.map(|m| vec![m]);
        };
        if let Ok(m) = by_offset {
            if m.topic == topic {
                return Ok(vec![m]);
            }
        }
        let mut found = self.query_index(topic, id, true).await?;
        found.retain(|m| m.msg_id == id || m.offset_msg_id == id);
        Ok(found)
    }

    async fn broker_name_of(&self, addr: &str) -> Option<String> {
        let info = self.cluster_info().await.ok()?;
        info.broker_addr_table
            .values()
            .find(|b| b.broker_addrs.values().any(|a| a == addr))
            .map(|b| b.broker_name.clone())
    }

    /// Closes connections.
    pub async fn shutdown(&self) {
        self.instance.close();
    }
}
