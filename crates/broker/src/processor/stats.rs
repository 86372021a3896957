//! Monitoring: GET_BROKER_RUNTIME_INFO (28, KVTable), GET_TOPIC_STATS_INFO (202),
//! GET_CONSUMER_CONNECTION_LIST (203), GET_CONSUME_STATS (208).
//!
//! TopicStatsTable and ConsumeStats are maps keyed by MessageQueue objects; they are written in
//! Java's fastjson form (object keys), which Java admin tools and our body decoder both read.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use saturn_protocol::body::{
    self, ConsumeStats, KvTable, MessageQueue, OffsetWrapper, TopicOffset, TopicStatsTable,
};
use saturn_protocol::code::response;
use saturn_protocol::command::{RemotingCommand, CURRENT_VERSION};
use saturn_protocol::header::{
    CommandHeader, GetConsumeStatsRequest, GetConsumerConnectionListRequest,
    GetTopicStatsInfoRequest,
};
use saturn_store::MessageStore;

use super::Reply;
use crate::client_manager::ClientManager;
use crate::consumer_offsets::ConsumerOffsets;
use crate::error::RequestError;
use crate::state::{Identity, Stats};
use crate::topic_config::TopicConfigs;

/// Serves the monitoring codes.
pub struct StatsProcessor {
    store: Arc<MessageStore>,
    topics: Arc<TopicConfigs>,
    clients: Arc<ClientManager>,
    offsets: Arc<ConsumerOffsets>,
    stats: Arc<Stats>,
    identity: Arc<Identity>,
}

impl StatsProcessor {
    /// Builds the processor.
    pub fn new(
        store: Arc<MessageStore>,
        topics: Arc<TopicConfigs>,
        clients: Arc<ClientManager>,
        offsets: Arc<ConsumerOffsets>,
        stats: Arc<Stats>,
        identity: Arc<Identity>,
    ) -> Self {
        StatsProcessor {
            store,
            topics,
            clients,
            offsets,
            stats,
            identity,
        }
    }

    /// GET_BROKER_RUNTIME_INFO: counters and offsets under Java's key names.
    pub fn runtime_info(&self, req: &RemotingCommand) -> Reply {
        let s = &self.stats;
        let (put, got) = (s.put_total(), s.got_total());
        let ((put_today, got_today), (put_yday, got_yday)) = s.mornings();
        let tps = |w: u64| s.tps(Duration::from_secs(w));
        let (p10, g10) = tps(10);
        let (p60, g60) = tps(60);
        let (p600, g600) = tps(600);
        let up = s.uptime().as_secs();
        let entries: [(&str, String); 17] = [
            ("brokerVersion", CURRENT_VERSION.to_string()),
            (
                "brokerVersionDesc",
                format!("saturn-{}", env!("CARGO_PKG_VERSION")),
            ),
            ("bootTimestamp", s.boot_ms().to_string()),
            (
                "runtime",
                format!(
                    "[ {} days, {} hours, {} minutes, {} seconds ]",
                    up / 86_400,
                    up / 3_600 % 24,
                    up / 60 % 60,
                    up % 60
                ),
            ),
            ("msgPutTotalTodayNow", put.to_string()),
            ("msgGetTotalTodayNow", got.to_string()),
            ("msgPutTotalTodayMorning", put_today.to_string()),
            ("msgGetTotalTodayMorning", got_today.to_string()),
            ("msgPutTotalYesterdayMorning", put_yday.to_string()),
            ("msgGetTotalYesterdayMorning", got_yday.to_string()),
            ("putTps", format!("{p10:.2} {p60:.2} {p600:.2}")),
            ("getFoundTps", format!("{g10:.2} {g60:.2} {g600:.2}")),
            (
                "commitLogMinOffset",
                self.store.min_phys_offset().to_string(),
            ),
            (
                "commitLogMaxOffset",
                self.store.max_phys_offset().to_string(),
            ),
            (
                "earliestMessageTimeStamp",
                self.store.earliest_message_time().unwrap_or(0).to_string(),
            ),
            ("dispatchBehindBytes", "0".to_owned()),
            ("brokerAddr", self.identity.store_host.to_string()),
        ];
        let table = KvTable {
            table: entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        };
        Ok(req
            .response_to(response::SUCCESS, None)
            .with_body(body::encode_bytes(&table)))
    }

    fn queue(&self, topic: &str, queue_id: i32) -> MessageQueue {
        MessageQueue {
            broker_name: self.identity.broker_name.clone(),
            queue_id,
            topic: topic.to_owned(),
        }
    }

    /// GET_TOPIC_STATS_INFO: min/max offset and last store time of every queue.
    ///
    /// # Errors
    /// Bad header; [`RequestError::TopicNotExist`].
    pub fn topic_stats(&self, req: &RemotingCommand) -> Reply {
        let h = GetTopicStatsInfoRequest::from_ext(&req.ext_fields)?;
        let config = self
            .topics
            .get(&h.topic)
            .ok_or_else(|| RequestError::TopicNotExist(format!("topic[{}] not exist", h.topic)))?;
        let offset_table = (0..config.write_queue_nums)
            .map(|q| {
                let stats = self.store.queue_stats(&h.topic, q);
                let offsets = TopicOffset {
                    min_offset: stats.as_ref().map_or(0, |s| s.min_offset),
                    max_offset: stats.as_ref().map_or(0, |s| s.max_offset),
                    last_update_timestamp: stats.and_then(|s| s.last_store_timestamp).unwrap_or(0),
                };
                (self.queue(&h.topic, q), offsets)
            })
            .collect();
        let body = TopicStatsTable { offset_table }.to_fastjson();
        Ok(req
            .response_to(response::SUCCESS, None)
            .with_body(Bytes::from(body)))
    }

    /// GET_CONSUMER_CONNECTION_LIST.
    ///
    /// # Errors
    /// Bad header; CONSUMER_NOT_ONLINE (206) when the group has no live member.
    pub fn consumer_connections(&self, req: &RemotingCommand) -> Reply {
        let h = GetConsumerConnectionListRequest::from_ext(&req.ext_fields)?;
        match self.clients.consumer_connection(&h.consumer_group) {
            Some(c) => Ok(req
                .response_to(response::SUCCESS, None)
                .with_body(body::encode_bytes(&c))),
            None => Ok(req.response_to(
                response::CONSUMER_NOT_ONLINE,
                Some(format!(
                    "the consumer group[{}] not online",
                    h.consumer_group
                )),
            )),
        }
    }

    /// GET_CONSUME_STATS: per queue of every topic the group subscribes to or committed on,
    /// the queue's max offset, the group's offset and the lag.
    ///
    /// # Errors
    /// Bad header.
    pub fn consume_stats(&self, req: &RemotingCommand) -> Reply {
        let h = GetConsumeStatsRequest::from_ext(&req.ext_fields)?;
        let group = &h.consumer_group;
        let committed = self.offsets.of_group(group);
        let topics: BTreeSet<String> = match h.topic.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => BTreeSet::from([t.to_owned()]),
            None => committed
                .iter()
                .map(|(t, _, _)| t.clone())
                .chain(self.clients.subscribed_topics(group))
                .collect(),
        };
        let mut offset_table = Vec::new();
        for topic in &topics {
            let Some(config) = self.topics.get(topic) else {
                continue;
            };
            for q in 0..config.read_queue_nums {
                let consumer_offset = committed
                    .iter()
                    .find(|(t, qid, _)| t == topic && *qid == q)
                    .map_or(0, |(_, _, o)| (*o).max(0));
                let last_timestamp = consumer_offset
                    .checked_sub(1)
                    .and_then(|o| self.store.store_time_at(topic, q, o))
                    .unwrap_or(0);
                offset_table.push((
                    self.queue(topic, q),
                    OffsetWrapper {
                        broker_offset: self.store.max_offset(topic, q),
                        consumer_offset,
                        last_timestamp,
                        pull_offset: consumer_offset,
                    },
                ));
            }
        }
        let stats = ConsumeStats {
            consume_tps: 0.0,
            offset_table,
        };
        tracing::trace!(group = %group, lag = stats.total_diff(), "consume stats");
        Ok(req
            .response_to(response::SUCCESS, None)
            .with_body(Bytes::from(stats.to_fastjson())))
    }
}
