//! Who is connected ([`ClientManager`]): consumer groups (members by client id, their
//! subscriptions, consume type/model/start position) and producer groups, learned from
//! HEART_BEAT and forgotten on UNREGISTER_CLIENT, when the connection closes, or after
//! `channel_expired_ms` without a heartbeat.
//!
//! Whenever the members of a consumer group change, every remaining member gets
//! NOTIFY_CONSUMER_IDS_CHANGED (oneway, never waiting on a slow peer) so it rebalances at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use saturn_protocol::body::{
    Connection, ConsumeFromWhere, ConsumeType, ConsumerConnection, ConsumerData, MessageModel,
    SubscriptionData, EXPRESSION_TAG,
};
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, NotifyConsumerIdsChangedRequest};
use saturn_protocol::message::TagFilter;
use saturn_remoting::Channel;

/// A parsed subscription: the heartbeat's data plus its server-side filter.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// As the client sent it.
    pub data: SubscriptionData,
    /// `None` for expression types other than TAG (SQL92 is not evaluated yet).
    pub tag_filter: Option<TagFilter>,
}

impl Subscription {
    /// Parses `data` (TAG expressions from `subString`; the lenient C++ form has no code set).
    pub fn new(data: SubscriptionData) -> Self {
        let tag_filter = data
            .expression_type()
            .eq_ignore_ascii_case(EXPRESSION_TAG)
            .then(|| TagFilter::parse(data.sub_string.trim()));
        Subscription { data, tag_filter }
    }
}

/// One connected client as a group member.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    /// The connection it heartbeats on.
    pub channel: Channel,
    /// Its client id (`ip@instance`).
    pub client_id: String,
    /// Language name from its requests (`JAVA`, `CPP`, …).
    pub language: String,
    /// Version ordinal from its requests.
    pub version: i32,
    last_heartbeat: Instant,
}

impl ClientChannel {
    /// A member seen just now.
    pub fn new(channel: Channel, client_id: String, language: String, version: i32) -> Self {
        ClientChannel {
            channel,
            client_id,
            language,
            version,
            last_heartbeat: Instant::now(),
        }
    }
}

#[derive(Debug)]
struct ConsumerGroup {
    members: BTreeMap<String, ClientChannel>,
    subscriptions: BTreeMap<String, Arc<Subscription>>,
    consume_type: ConsumeType,
    message_model: MessageModel,
    consume_from_where: ConsumeFromWhere,
}

#[derive(Default)]
struct Groups {
    consumers: HashMap<String, ConsumerGroup>,
    producers: HashMap<String, BTreeMap<String, ClientChannel>>,
}

/// The client registry. A std mutex: short map operations only, never across an await;
/// notifications are sent after it is released.
pub struct ClientManager {
    groups: Mutex<Groups>,
    expiry: Duration,
}

impl ClientManager {
    /// A registry dropping clients silent for `expiry`.
    pub fn new(expiry: Duration) -> Self {
        ClientManager {
            groups: Mutex::new(Groups::default()),
            expiry,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Groups> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a consumer heartbeat; notifies the group when `client` is a new member.
    pub fn register_consumer(&self, client: &ClientChannel, data: &ConsumerData, keep_subs: bool) {
        let notify = {
            let mut g = self.lock();
            let group = g
                .consumers
                .entry(data.group_name.clone())
                .or_insert_with(|| ConsumerGroup {
                    members: BTreeMap::new(),
                    subscriptions: BTreeMap::new(),
                    consume_type: data.consume_type,
                    message_model: data.message_model,
                    consume_from_where: data.consume_from_where,
                });
            group.consume_type = data.consume_type;
            group.message_model = data.message_model;
            group.consume_from_where = data.consume_from_where;
            if !keep_subs {
                group.subscriptions = data
                    .subscription_data_set
                    .iter()
                    .map(|s| (s.topic.clone(), Arc::new(Subscription::new(s.clone()))))
                    .collect();
            }
            let is_new = group
                .members
                .insert(client.client_id.clone(), client.clone())
                .is_none();
            is_new.then(|| member_channels(group))
        };
        if let Some(channels) = notify {
            tracing::info!(group = %data.group_name, client = %client.client_id, "consumer joined");
            notify_ids_changed(&data.group_name, &channels);
        }
    }

    /// Records a producer heartbeat.
    pub fn register_producer(&self, client: &ClientChannel, group: &str) {
        self.lock()
            .producers
            .entry(group.to_owned())
            .or_default()
            .insert(client.client_id.clone(), client.clone());
    }

    /// UNREGISTER_CLIENT for a consumer group; notifies the remaining members.
    pub fn unregister_consumer(&self, group: &str, client_id: &str) {
        let notify = {
            let mut g = self.lock();
            remove_member(&mut g.consumers, group, |m| m.client_id == client_id)
        };
        if let Some(channels) = notify {
            tracing::info!(group, client = client_id, "consumer unregistered");
            notify_ids_changed(group, &channels);
        }
    }

    /// UNREGISTER_CLIENT for a producer group.
    pub fn unregister_producer(&self, group: &str, client_id: &str) {
        let mut g = self.lock();
        if let Some(members) = g.producers.get_mut(group) {
            members.remove(client_id);
            if members.is_empty() {
                g.producers.remove(group);
            }
        }
    }

    /// The connection `channel_id` closed: drops its memberships and notifies the groups.
    pub fn channel_closed(&self, channel_id: u64) {
        self.drop_members(|m| m.channel.id() == channel_id, "connection closed");
    }

    /// Drops members silent for longer than the expiry (closing their connections) and
    /// notifies their groups; returns how many were dropped.
    pub fn scan_expired(&self) -> usize {
        let expiry = self.expiry;
        let now = Instant::now();
        let expired = |m: &ClientChannel| now.saturating_duration_since(m.last_heartbeat) > expiry;
        let closing: Vec<Channel> = {
            let g = self.lock();
            g.consumers
                .values()
                .flat_map(|c| c.members.values())
                .chain(g.producers.values().flat_map(|p| p.values()))
                .filter(|m| expired(m))
                .map(|m| m.channel.clone())
                .collect()
        };
        let n = self.drop_members(expired, "heartbeat expired");
        for ch in closing {
            ch.close();
        }
        n
    }

    fn drop_members(&self, pred: impl Fn(&ClientChannel) -> bool, why: &str) -> usize {
        let mut notifications = Vec::new();
        let mut dropped = 0;
        {
            let mut g = self.lock();
            let names: Vec<String> = g.consumers.keys().cloned().collect();
            for name in names {
                let before = g.consumers.get(&name).map_or(0, |c| c.members.len());
                if let Some(channels) = remove_member(&mut g.consumers, &name, &pred) {
                    let after = g.consumers.get(&name).map_or(0, |c| c.members.len());
                    dropped += before - after;
                    notifications.push((name, channels));
                }
            }
            g.producers.retain(|_, members| {
                let before = members.len();
                members.retain(|_, m| !pred(m));
                dropped += before - members.len();
                !members.is_empty()
            });
        }
        for (group, channels) in notifications {
            tracing::info!(group = %group, why, "consumer left");
            notify_ids_changed(&group, &channels);
        }
        dropped
    }

    /// Client ids of the group's live consumers, sorted.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        self.lock()
            .consumers
            .get(group)
            .map(|c| c.members.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The group's subscription of `topic`, from its latest heartbeat.
    pub fn subscription(&self, group: &str, topic: &str) -> Option<Arc<Subscription>> {
        self.lock()
            .consumers
            .get(group)
            .and_then(|c| c.subscriptions.get(topic).cloned())
    }

    /// Topics the group subscribes to.
    pub fn subscribed_topics(&self, group: &str) -> Vec<String> {
        self.lock()
            .consumers
            .get(group)
            .map(|c| c.subscriptions.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// GET_CONSUMER_CONNECTION_LIST body, `None` for a group without live members.
    pub fn consumer_connection(&self, group: &str) -> Option<ConsumerConnection> {
        let g = self.lock();
        let c = g.consumers.get(group)?;
        Some(ConsumerConnection {
            connection_set: c
                .members
                .values()
                .map(|m| Connection {
                    client_addr: m.channel.remote_addr().to_string(),
                    client_id: m.client_id.clone(),
                    language: m.language.clone(),
                    version: m.version,
                })
                .collect(),
            consume_from_where: c.consume_from_where,
            consume_type: c.consume_type,
            message_model: c.message_model,
            subscription_table: c
                .subscriptions
                .iter()
                .map(|(t, s)| (t.clone(), s.data.clone()))
                .collect(),
        })
    }

    /// A live connection of a producer group (for broker → producer requests).
    pub fn producer_channel(&self, group: &str) -> Option<Channel> {
        self.lock()
            .producers
            .get(group)?
            .values()
            .map(|m| m.channel.clone())
            .find(|c| !c.is_closed())
    }
}

fn member_channels(group: &ConsumerGroup) -> Vec<Channel> {
    group.members.values().map(|m| m.channel.clone()).collect()
}

/// Removes the members of `group` matching `pred`; returns the remaining members' channels when
/// something was removed (the group itself goes when empty).
fn remove_member(
    consumers: &mut HashMap<String, ConsumerGroup>,
    group: &str,
    pred: impl Fn(&ClientChannel) -> bool,
) -> Option<Vec<Channel>> {
    let c = consumers.get_mut(group)?;
    let before = c.members.len();
    c.members.retain(|_, m| !pred(m));
    if c.members.len() == before {
        return None;
    }
    let remaining = member_channels(c);
    if c.members.is_empty() {
        consumers.remove(group);
    }
    Some(remaining)
}

/// NOTIFY_CONSUMER_IDS_CHANGED to each channel, oneway and without waiting: a member whose
/// write queue is full simply misses it (it rebalances on its 20 s timer anyway).
fn notify_ids_changed(group: &str, channels: &[Channel]) {
    let header = NotifyConsumerIdsChangedRequest {
        consumer_group: group.to_owned(),
    };
    for ch in channels {
        let mut cmd =
            RemotingCommand::new_request(request::NOTIFY_CONSUMER_IDS_CHANGED, header.to_ext());
        cmd.mark_oneway();
        if let Err(e) = ch.try_send_oneway(cmd) {
            tracing::debug!(group, remote = %ch.remote_addr(), error = %e, "notify failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_parsing() {
        let s = Subscription::new(SubscriptionData {
            topic: "T".into(),
            sub_string: "TagA || TagB".into(),
            ..Default::default()
        });
        let f = s.tag_filter.unwrap();
        assert!(f.matches_tag("TagA") && !f.matches_tag("TagC"));
        let sql = Subscription::new(SubscriptionData {
            expression_type: Some("SQL92".into()),
            sub_string: "a > 1".into(),
            ..Default::default()
        });
        assert!(sql.tag_filter.is_none());
    }
}
