//! Topic routes: which broker groups serve a topic with how many queues, fetched from the name
//! servers (with fail-over between them) and cached per topic.
//!
//! A route becomes two queue lists (Java's `topicRouteData2TopicPublishInfo` and
//! `…SubscribeInfo`): *writable* queues are those of brokers with the write permission and a
//! master (broker id 0); *readable* queues those of brokers with the read permission. Both are
//! ordered by broker name, then queue id.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use saturn_protocol::body::{self, MessageQueue, TopicRouteData, MASTER_ID};
use saturn_protocol::code::{request, response};
use saturn_protocol::header::{CommandHeader, GetRouteInfoRequest};
use saturn_protocol::RemotingCommand;
use saturn_remoting::RemotingClient;
use tracing::{debug, warn};

use crate::error::ClientError;

/// Template topic of auto-created topics.
pub const DEFAULT_TOPIC: &str = "TBW102";
/// Permission bit: readable.
pub const PERM_READ: i32 = 4;
/// Permission bit: writable.
pub const PERM_WRITE: i32 = 2;
/// Permission of an ordinary topic (read + write).
pub const PERM_READ_WRITE: i32 = PERM_READ | PERM_WRITE;

/// Upper bound on queues per broker we are willing to expand from a route (guards against a
/// corrupt route allocating millions of entries).
const MAX_QUEUES_PER_BROKER: i32 = 65_536;

/// A topic's route and the queue lists derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRoute {
    /// The topic.
    pub topic: String,
    /// The route as the name server sent it.
    pub data: TopicRouteData,
    /// Queues a producer may send to.
    pub write_queues: Vec<MessageQueue>,
    /// Queues a consumer may pull from.
    pub read_queues: Vec<MessageQueue>,
    /// True when this is the template topic's route standing in for an unknown topic (sending
    /// to it auto-creates the topic on the broker).
    pub from_default: bool,
}

impl TopicRoute {
    /// Derives the queue lists of `topic` from its route.
    pub fn new(topic: &str, data: TopicRouteData) -> Self {
        let mut queue_datas = data.queue_datas.clone();
        queue_datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        let mut write_queues = Vec::new();
        let mut read_queues = Vec::new();
        let ordered = data
            .order_topic_conf
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(conf) = ordered {
            // Globally ordered topic: `brokerName:queueNum;…`, every listed queue is writable.
            for item in conf.split(';') {
                let Some((broker, nums)) = item.split_once(':') else {
                    continue;
                };
                let nums = nums.trim().parse::<i32>().unwrap_or(0);
                push_queues(&mut write_queues, topic, broker.trim(), nums);
            }
        }
        for qd in &queue_datas {
            if ordered.is_none() && qd.perm & PERM_WRITE != 0 {
                let has_master = data
                    .broker_datas
                    .iter()
                    .any(|b| b.broker_name == qd.broker_name && b.master_addr().is_some());
                if has_master {
                    push_queues(
                        &mut write_queues,
                        topic,
                        &qd.broker_name,
                        qd.write_queue_nums,
                    );
                }
            }
            if qd.perm & PERM_READ != 0 {
                push_queues(&mut read_queues, topic, &qd.broker_name, qd.read_queue_nums);
            }
        }
        Self {
            topic: topic.to_owned(),
            data,
            write_queues,
            read_queues,
            from_default: false,
        }
    }

    /// The route of an unknown `topic` derived from the template topic's route: the same
    /// brokers, each with `min(queue_nums, its queue count)` queues (Java's auto-create path).
    pub fn from_default(topic: &str, mut template: TopicRouteData, queue_nums: i32) -> Self {
        for qd in &mut template.queue_datas {
            let n = queue_nums.min(qd.read_queue_nums);
            qd.read_queue_nums = n;
            qd.write_queue_nums = n;
        }
        Self {
            from_default: true,
            ..Self::new(topic, template)
        }
    }

    /// The master address of `broker_name` in this route.
    pub fn master_addr(&self, broker_name: &str) -> Option<&str> {
        self.data
            .broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
            .and_then(|b| b.master_addr())
    }

    /// Master address of every broker group of the route (groups without a master skipped).
    pub fn master_addrs(&self) -> Vec<String> {
        self.data
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr().map(str::to_owned))
            .collect()
    }
}

fn push_queues(out: &mut Vec<MessageQueue>, topic: &str, broker: &str, nums: i32) {
    for queue_id in 0..nums.clamp(0, MAX_QUEUES_PER_BROKER) {
        out.push(MessageQueue {
            topic: topic.to_owned(),
            broker_name: broker.to_owned(),
            queue_id,
        });
    }
}

/// The configured name servers; requests go to one at a time and move to the next on a
/// transport failure (connection refused, timeout).
pub(crate) struct NameServers {
    addrs: Vec<String>,
    current: AtomicUsize,
    remoting: RemotingClient,
    timeout: Duration,
}

impl NameServers {
    pub(crate) fn new(addrs: Vec<String>, remoting: RemotingClient, timeout: Duration) -> Self {
        // Spread clients over the name servers like Java's random initial index.
        let start = usize::try_from(std::process::id()).unwrap_or(0);
        Self {
            current: AtomicUsize::new(start % addrs.len().max(1)),
            addrs,
            remoting,
            timeout,
        }
    }

    /// Sends `cmd` to the current name server, failing over to the others in turn.
    pub(crate) async fn invoke(
        &self,
        cmd: RemotingCommand,
    ) -> Result<RemotingCommand, ClientError> {
        let n = self.addrs.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut last = String::from("no name server configured");
        for i in 0..n {
            let idx = start.wrapping_add(i) % n;
            let Some(addr) = self.addrs.get(idx) else {
                continue;
            };
            match self.remoting.invoke(addr, cmd.clone(), self.timeout).await {
                Ok(resp) => {
                    if idx != start {
                        self.current.store(idx, Ordering::Relaxed);
                    }
                    return Ok(resp);
                }
                Err(e) => {
                    warn!(namesrv = %addr, error = %e, "name server request failed, trying next");
                    last = e.to_string();
                }
            }
        }
        Err(ClientError::NameServerUnavailable {
            tried: self.addrs.join(";"),
            last,
        })
    }
}

/// Routes of the topics in use, plus the addresses of every broker they mention.
pub(crate) struct RouteCache {
    namesrv: NameServers,
    topics: Mutex<HashMap<String, Arc<TopicRoute>>>,
    /// Broker name → (broker id → address), rebuilt from all cached routes.
    brokers: Mutex<HashMap<String, BTreeMap<i64, String>>>,
}

impl RouteCache {
    pub(crate) fn new(namesrv: NameServers) -> Self {
        Self {
            namesrv,
            topics: Mutex::new(HashMap::new()),
            brokers: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn namesrv(&self) -> &NameServers {
        &self.namesrv
    }

    /// Asks the name servers for `topic`'s route; `Ok(None)` when the topic is unknown.
    pub(crate) async fn fetch(&self, topic: &str) -> Result<Option<TopicRouteData>, ClientError> {
        let header = GetRouteInfoRequest {
            topic: topic.to_owned(),
            accept_standard_json_only: None,
        };
        let cmd = RemotingCommand::new_request(request::GET_ROUTEINFO_BY_TOPIC, header.to_ext());
        let resp = self.namesrv.invoke(cmd).await?;
        match resp.code {
            response::SUCCESS => Ok(Some(body::decode(&resp.body)?)),
            response::TOPIC_NOT_EXIST => Ok(None),
            _ => Err(ClientError::from_response(&resp)),
        }
    }

    /// The cached route of `topic`.
    pub(crate) fn cached(&self, topic: &str) -> Option<Arc<TopicRoute>> {
        lock(&self.topics).get(topic).cloned()
    }

    /// Topics with a cached route.
    pub(crate) fn topics(&self) -> Vec<String> {
        lock(&self.topics).keys().cloned().collect()
    }

    fn store(&self, route: TopicRoute) -> Arc<TopicRoute> {
        let route = Arc::new(route);
        let mut topics = lock(&self.topics);
        topics.insert(route.topic.clone(), Arc::clone(&route));
        let mut brokers: HashMap<String, BTreeMap<i64, String>> = HashMap::new();
        for r in topics.values() {
            for b in &r.data.broker_datas {
                brokers
                    .entry(b.broker_name.clone())
                    .or_default()
                    .extend(b.broker_addrs.iter().map(|(k, v)| (*k, v.clone())));
            }
        }
        drop(topics);
        *lock(&self.brokers) = brokers;
        route
    }

    /// Re-fetches `topic`'s real route and caches it; `Ok(None)` (cache untouched) if unknown.
    pub(crate) async fn refresh(
        &self,
        topic: &str,
    ) -> Result<Option<Arc<TopicRoute>>, ClientError> {
        Ok(self
            .fetch(topic)
            .await?
            .map(|data| self.store(TopicRoute::new(topic, data))))
    }

    /// The route to send to: cached, else fetched; an unknown topic gets the template topic's
    /// route (`default_topic`, `queue_nums` queues per broker) so the broker auto-creates it.
    pub(crate) async fn publish_route(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
    ) -> Result<Arc<TopicRoute>, ClientError> {
        if let Some(r) = self.cached(topic).filter(|r| !r.write_queues.is_empty()) {
            return Ok(r);
        }
        if let Some(r) = self.refresh(topic).await? {
            if !r.write_queues.is_empty() {
                return Ok(r);
            }
        }
        debug!(
            topic,
            default_topic, "topic unknown, using the template route"
        );
        match self.fetch(default_topic).await? {
            Some(template) => Ok(self.store(TopicRoute::from_default(topic, template, queue_nums))),
            None => Err(ClientError::TopicNotFound(topic.to_owned())),
        }
    }

    /// The route to consume from: cached, else fetched; `Ok(None)` when the topic is unknown.
    pub(crate) async fn subscribe_route(
        &self,
        topic: &str,
    ) -> Result<Option<Arc<TopicRoute>>, ClientError> {
        match self.cached(topic) {
            Some(r) if !r.from_default => Ok(Some(r)),
            _ => self.refresh(topic).await,
        }
    }

    /// Re-fetches every cached route (periodic task); failures are logged and the old route kept.
    pub(crate) async fn refresh_all(&self) {
        for topic in self.topics() {
            if let Err(e) = self.refresh(&topic).await {
                debug!(topic, error = %e, "route refresh failed");
            }
        }
    }

    /// The master address of a broker group.
    pub(crate) fn master_addr(&self, broker_name: &str) -> Option<String> {
        lock(&self.brokers)
            .get(broker_name)
            .and_then(|ids| ids.get(&MASTER_ID))
            .cloned()
    }

    /// Every known broker address (masters only if `masters_only`), deduplicated and sorted.
    pub(crate) fn broker_addrs(&self, masters_only: bool) -> Vec<String> {
        let brokers = lock(&self.brokers);
        let mut out: Vec<String> = brokers
            .values()
            .flat_map(|ids| {
                ids.iter()
                    .filter(|(id, _)| !masters_only || **id == MASTER_ID)
                    .map(|(_, a)| a.clone())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Locks a mutex, ignoring poisoning: the maps stay consistent because every critical section
/// is a single insert/replace.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saturn_protocol::body::{BrokerData, QueueData};

    fn qd(name: &str, perm: i32, r: i32, w: i32) -> QueueData {
        QueueData {
            broker_name: name.into(),
            perm,
            read_queue_nums: r,
            write_queue_nums: w,
            topic_sys_flag: 0,
        }
    }

    fn bd(name: &str, addrs: &[(i64, &str)]) -> BrokerData {
        BrokerData {
            broker_addrs: addrs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            broker_name: name.into(),
            cluster: "C".into(),
            ..Default::default()
        }
    }

    fn ids(qs: &[MessageQueue]) -> Vec<(String, i32)> {
        qs.iter()
            .map(|q| (q.broker_name.clone(), q.queue_id))
            .collect()
    }

    #[test]
    fn route_to_queue_lists() {
        let data = TopicRouteData {
            queue_datas: vec![
                qd("broker-b", 6, 2, 3),
                qd("broker-a", 6, 2, 2),
                qd("broker-ro", PERM_READ, 1, 4),
                qd("broker-slave-only", 6, 1, 1),
            ],
            broker_datas: vec![
                bd("broker-a", &[(0, "1.1.1.1:10911")]),
                bd("broker-b", &[(0, "2.2.2.2:10911"), (1, "2.2.2.3:10911")]),
                bd("broker-ro", &[(0, "3.3.3.3:10911")]),
                bd("broker-slave-only", &[(1, "4.4.4.4:10911")]),
            ],
            ..Default::default()
        };
        let r = TopicRoute::new("T", data);
        let s = |b: &str, q| (b.to_owned(), q);
        // Sorted by broker name; read-only and master-less brokers are not writable.
        assert_eq!(
            ids(&r.write_queues),
            [
                s("broker-a", 0),
                s("broker-a", 1),
                s("broker-b", 0),
                s("broker-b", 1),
                s("broker-b", 2)
            ]
        );
        assert_eq!(
            ids(&r.read_queues),
            [
                s("broker-a", 0),
                s("broker-a", 1),
                s("broker-b", 0),
                s("broker-b", 1),
                s("broker-ro", 0),
                s("broker-slave-only", 0)
            ]
        );
        assert!(r.write_queues.iter().all(|q| q.topic == "T"));
        assert_eq!(r.master_addr("broker-b"), Some("2.2.2.2:10911"));
        assert_eq!(r.master_addr("broker-slave-only"), None);
    }

    #[test]
    fn unquoted_broker_addr_keys_are_read() {
        let json = br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"b","cluster":"C"}],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":2,"writeQueueNums":2,"topicSysFlag":0}]}"#;
        let data: TopicRouteData = body::decode(json).unwrap();
        let r = TopicRoute::new("T", data);
        assert_eq!(r.write_queues.len(), 2);
        assert_eq!(r.master_addr("b"), Some("127.0.0.1:10911"));
    }

    #[test]
    fn template_route_caps_queue_count() {
        let data = TopicRouteData {
            queue_datas: vec![qd("a", 7, 8, 8), qd("b", 7, 2, 2)],
            broker_datas: vec![bd("a", &[(0, "x:1")]), bd("b", &[(0, "y:1")])],
            ..Default::default()
        };
        let r = TopicRoute::from_default("NewTopic", data, 4);
        assert!(r.from_default);
        assert_eq!(r.write_queues.len(), 4 + 2);
        assert!(r.write_queues.iter().all(|q| q.topic == "NewTopic"));
    }

    #[test]
    fn order_topic_conf_defines_write_queues() {
        let data = TopicRouteData {
            order_topic_conf: Some("a:2;b:1".into()),
            queue_datas: vec![qd("a", 6, 8, 8)],
            broker_datas: vec![bd("a", &[(0, "x:1")])],
            ..Default::default()
        };
        let r = TopicRoute::new("T", data);
        assert_eq!(
            ids(&r.write_queues),
            [("a".into(), 0), ("a".into(), 1), ("b".into(), 0)]
        );
        assert_eq!(r.read_queues.len(), 8);
    }
}
