//! The name server's state: live brokers, broker groups, clusters and topic queues.
//!
//! Pure data — no I/O and no clock: every method that cares about time takes `now`, so expiry
//! is tested with made-up instants. Connections appear only as opaque [`ConnId`]s; the server
//! maps them back to sockets.
//!
//! Rules (what 4.x/5.x clients expect from a RocketMQ name server):
//! - a topic's queue data comes only from broker **masters** (id 0); slaves' topic tables are
//!   ignored, but slaves are listed in the group's `brokerAddrs`;
//! - one entry per address: a broker that re-registers under another id loses its old entry;
//! - dropping a broker (unregister, expiry, closed connection) removes its address; a group
//!   with no address left disappears with its queue data (and topics left without queues
//!   disappear); a group that lost only its master keeps its queues read-only, so consumers can
//!   still read from the slaves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use saturn_protocol::body::{
    BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData, MASTER_ID,
};

/// Permission bit "writable" (Java `PermName.PERM_WRITE`).
pub const PERM_WRITE: i32 = 1 << 1;

/// Identifies the connection a broker registered over (the remoting channel id).
pub type ConnId = u64;

/// One REGISTER_BROKER request, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistration {
    /// Cluster the broker belongs to.
    pub cluster: String,
    /// Broker group name (shared by a master and its slaves).
    pub broker_name: String,
    /// `ip:port` clients connect to.
    pub broker_addr: String,
    /// 0 for the master, ≥ 1 for slaves.
    pub broker_id: i64,
    /// `ip:haPort` slaves replicate from.
    pub ha_server_addr: String,
    /// 5.x zone, if the broker sent one.
    pub zone_name: Option<String>,
    /// 5.x acting-master switch (echoed in every route).
    pub enable_acting_master: bool,
    /// Version of the topic table below.
    pub data_version: DataVersion,
    /// The broker's topics (all of them, system topics included).
    pub topics: BTreeMap<String, TopicConfig>,
    /// Connection the registration arrived on, if any.
    pub conn: Option<ConnId>,
}

/// What a registering broker is told back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// For a slave: the master's address, when the master is alive.
    pub master_addr: Option<String>,
    /// For a slave: the master's HA address, when the master is alive.
    pub master_ha_addr: Option<String>,
    /// True when the topic table was (re)applied: first registration or a new data version.
    pub topics_applied: bool,
}

/// A broker removed from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedBroker {
    /// Its address.
    pub broker_addr: String,
    /// Its group, if it was still listed in one.
    pub broker_name: Option<String>,
    /// The connection it had registered over, if known.
    pub conn: Option<ConnId>,
}

/// Liveness record of one broker address.
#[derive(Debug, Clone)]
struct LiveBroker {
    broker_name: String,
    ha_server_addr: String,
    data_version: DataVersion,
    last_update: Instant,
    conn: Option<ConnId>,
}

/// Brokers, clusters and topic routes (see the module docs for the rules).
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Topic → broker name → queues. Sorted maps keep responses stable.
    topics: BTreeMap<String, BTreeMap<String, QueueData>>,
    /// Broker name → group (cluster, addresses by id).
    groups: BTreeMap<String, BrokerData>,
    /// Cluster → broker names.
    clusters: BTreeMap<String, BTreeSet<String>>,
    /// Broker address → liveness.
    live: HashMap<String, LiveBroker>,
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or refreshes) a broker. A master's topic table is applied on its first
    /// registration and whenever its data version changes; a slave's is ignored.
    pub fn register(&mut self, reg: BrokerRegistration, now: Instant) -> RegisterOutcome {
        self.clusters
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let group = self
            .groups
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: reg.cluster.clone(),
                broker_name: reg.broker_name.clone(),
                ..BrokerData::default()
            });
        group.enable_acting_master = reg.enable_acting_master;
        if reg.zone_name.is_some() {
            group.zone_name.clone_from(&reg.zone_name);
        }
        // One address, one role: a slave promoted to master must not stay listed as a slave.
        group
            .broker_addrs
            .retain(|id, addr| *id == reg.broker_id || *addr != reg.broker_addr);
        let previous = group
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());

        let version_changed = self
            .live
            .get(&reg.broker_addr)
            .is_none_or(|l| l.data_version != reg.data_version);
        let topics_applied = reg.broker_id == MASTER_ID && (previous.is_none() || version_changed);
        if topics_applied {
            for config in reg.topics.values() {
                self.topics
                    .entry(config.topic_name.clone())
                    .or_default()
                    .insert(
                        reg.broker_name.clone(),
                        queue_data(&reg.broker_name, config),
                    );
            }
        }

        self.live.insert(
            reg.broker_addr.clone(),
            LiveBroker {
                broker_name: reg.broker_name.clone(),
                ha_server_addr: reg.ha_server_addr,
                data_version: reg.data_version,
                last_update: now,
                conn: reg.conn,
            },
        );

        let mut outcome = RegisterOutcome {
            topics_applied,
            ..RegisterOutcome::default()
        };
        if reg.broker_id != MASTER_ID {
            let master = self
                .groups
                .get(&reg.broker_name)
                .and_then(|g| g.master_addr())
                .and_then(|addr| Some((addr, self.live.get(addr)?)));
            if let Some((addr, live)) = master {
                outcome.master_addr = Some(addr.to_owned());
                outcome.master_ha_addr = Some(live.ha_server_addr.clone());
            }
        }
        outcome
    }

    /// Removes the broker at `broker_addr` (UNREGISTER_BROKER). Returns what was removed.
    pub fn unregister(&mut self, broker_addr: &str) -> Option<DroppedBroker> {
        self.remove_broker(broker_addr)
    }

    /// Marks the broker at `broker_addr` as alive at `now`; false when it is not registered.
    pub fn refresh(&mut self, broker_addr: &str, now: Instant) -> bool {
        match self.live.get_mut(broker_addr) {
            Some(live) => {
                live.last_update = now;
                true
            }
            None => false,
        }
    }

    /// The data version the broker at `broker_addr` last registered with.
    pub fn data_version(&self, broker_addr: &str) -> Option<&DataVersion> {
        self.live.get(broker_addr).map(|l| &l.data_version)
    }

    /// True when `version` differs from what the broker last registered (or it is unknown):
    /// the broker must then send a full registration.
    pub fn data_version_changed(&self, broker_addr: &str, version: &DataVersion) -> bool {
        self.data_version(broker_addr) != Some(version)
    }

    /// Drops every broker not refreshed for longer than `max_idle` before `now`.
    pub fn expire(&mut self, now: Instant, max_idle: Duration) -> Vec<DroppedBroker> {
        let stale: Vec<String> = self
            .live
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_update) > max_idle)
            .map(|(addr, _)| addr.clone())
            .collect();
        stale
            .iter()
            .filter_map(|addr| self.remove_broker(addr))
            .collect()
    }

    /// Drops every broker whose current registration came over connection `conn`.
    pub fn drop_connection(&mut self, conn: ConnId) -> Vec<DroppedBroker> {
        let gone: Vec<String> = self
            .live
            .iter()
            .filter(|(_, l)| l.conn == Some(conn))
            .map(|(addr, _)| addr.clone())
            .collect();
        gone.iter()
            .filter_map(|addr| self.remove_broker(addr))
            .collect()
    }

    /// Removes one address everywhere; `None` when it was known nowhere.
    fn remove_broker(&mut self, broker_addr: &str) -> Option<DroppedBroker> {
        let live = self.live.remove(broker_addr);
        let mut touched = Vec::new();
        for (name, group) in &mut self.groups {
            let before = group.broker_addrs.len();
            group.broker_addrs.retain(|_, addr| addr != broker_addr);
            if group.broker_addrs.len() != before {
                touched.push(name.clone());
            }
        }
        if live.is_none() && touched.is_empty() {
            return None;
        }
        for name in &touched {
            let (empty, masterless) = match self.groups.get(name) {
                Some(g) => (g.broker_addrs.is_empty(), g.master_addr().is_none()),
                None => continue,
            };
            if empty {
                self.remove_group(name);
            } else if masterless {
                // Nobody can write without a master; slaves still serve reads.
                self.set_write_perm(name, false);
            }
        }
        Some(DroppedBroker {
            broker_addr: broker_addr.to_owned(),
            broker_name: touched
                .into_iter()
                .next()
                .or_else(|| live.as_ref().map(|l| l.broker_name.clone())),
            conn: live.and_then(|l| l.conn),
        })
    }

    /// Removes a whole broker group: its cluster membership and its queues in every topic.
    fn remove_group(&mut self, broker_name: &str) {
        self.groups.remove(broker_name);
        self.clusters.retain(|_, names| {
            names.remove(broker_name);
            !names.is_empty()
        });
        self.topics.retain(|_, queues| {
            queues.remove(broker_name);
            !queues.is_empty()
        });
    }

    /// The route of `topic`, or `None` when no live broker group serves it.
    pub fn route(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topics.get(topic)?;
        let broker_datas: Vec<BrokerData> = queues
            .keys()
            .filter_map(|name| self.groups.get(name))
            .cloned()
            .collect();
        if queues.is_empty() || broker_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData {
            broker_datas,
            queue_datas: queues.values().cloned().collect(),
            ..TopicRouteData::default()
        })
    }

    /// Every broker group and cluster (GET_BROKER_CLUSTER_INFO).
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.groups.clone(),
            cluster_addr_table: self.clusters.clone(),
        }
    }

    /// Every topic with at least one broker group, sorted.
    pub fn topic_names(&self) -> Vec<String> {
        self.topics.keys().cloned().collect()
    }

    /// Topics served by at least one broker group of `cluster`, sorted (empty for an unknown
    /// cluster).
    pub fn topics_of_cluster(&self, cluster: &str) -> Vec<String> {
        let Some(names) = self.clusters.get(cluster) else {
            return Vec::new();
        };
        self.topics
            .iter()
            .filter(|(_, queues)| queues.keys().any(|n| names.contains(n)))
            .map(|(topic, _)| topic.clone())
            .collect()
    }

    /// Deletes `topic` everywhere, or only its queues on `cluster`'s broker groups. Returns
    /// whether anything was removed.
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) -> bool {
        let Some(cluster) = cluster else {
            return self.topics.remove(topic).is_some();
        };
        let (Some(names), Some(queues)) = (self.clusters.get(cluster), self.topics.get_mut(topic))
        else {
            return false;
        };
        let before = queues.len();
        queues.retain(|name, _| !names.contains(name));
        let removed = queues.len() != before;
        if queues.is_empty() {
            self.topics.remove(topic);
        }
        removed
    }

    /// Adds queue data for `topic` (REGISTER_TOPIC_IN_NAMESRV); entries naming an unknown broker
    /// group are skipped. Returns how many were stored.
    pub fn register_topic(&mut self, topic: &str, queue_datas: Vec<QueueData>) -> usize {
        let mut stored = 0;
        for qd in queue_datas {
            if self.groups.contains_key(&qd.broker_name) {
                self.topics
                    .entry(topic.to_owned())
                    .or_default()
                    .insert(qd.broker_name.clone(), qd);
                stored += 1;
            }
        }
        stored
    }

    /// Sets or clears the write bit of every queue of `broker_name`; returns how many topics
    /// the group serves (Java's `wipeTopicCount` / `addTopicCount`).
    pub fn set_write_perm(&mut self, broker_name: &str, writable: bool) -> usize {
        let mut count = 0;
        for queues in self.topics.values_mut() {
            if let Some(qd) = queues.get_mut(broker_name) {
                qd.perm = if writable {
                    qd.perm | PERM_WRITE
                } else {
                    qd.perm & !PERM_WRITE
                };
                count += 1;
            }
        }
        count
    }

    /// Number of live broker addresses.
    pub fn live_brokers(&self) -> usize {
        self.live.len()
    }

    /// True when `broker_addr` is registered and not yet dropped.
    pub fn is_live(&self, broker_addr: &str) -> bool {
        self.live.contains_key(broker_addr)
    }
}

fn queue_data(broker_name: &str, config: &TopicConfig) -> QueueData {
    QueueData {
        broker_name: broker_name.to_owned(),
        perm: config.perm,
        read_queue_nums: config.read_queue_nums,
        topic_sys_flag: config.topic_sys_flag,
        write_queue_nums: config.write_queue_nums,
    }
}

#[cfg(test)]
mod tests;
