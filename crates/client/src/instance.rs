//! The client instance behind every producer, consumer and admin client: the connection pool,
//! the route cache, the client id, the heartbeat and route-refresh task, and the handler for
//! requests brokers send to us (NOTIFY_CONSUMER_IDS_CHANGED).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use saturn_protocol::body::{self, ConsumerData, HeartbeatData, ProducerData};
use saturn_protocol::code::{request, response};
use saturn_protocol::header::{
    CommandHeader, NotifyConsumerIdsChangedRequest, UnregisterClientRequest,
};
use saturn_protocol::message::UniqIdGenerator;
use saturn_protocol::{ExtFields, RemotingCommand};
use saturn_remoting::{BoxFuture, Channel, RemotingClient, RequestHandler};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::route::{lock, NameServers, RouteCache};

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Per consumer group, a wake-up for its rebalance task (set by NOTIFY_CONSUMER_IDS_CHANGED).
#[derive(Default)]
pub(crate) struct Notices {
    groups: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Notices {
    fn get(&self, group: &str) -> Arc<Notify> {
        Arc::clone(lock(&self.groups).entry(group.to_owned()).or_default())
    }

    fn signal(&self, group: &str) {
        let notify = lock(&self.groups).get(group).cloned();
        if let Some(n) = notify {
            // notify_one stores a permit if the rebalance task is busy, so no change is missed.
            n.notify_one();
        }
    }
}

/// Serves broker → client requests arriving on our broker connections.
struct BrokerRequests {
    notices: Arc<Notices>,
}

impl RequestHandler for BrokerRequests {
    fn handle(
        &self,
        _channel: &Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let reply = answer_broker_request(&self.notices, req);
        Box::pin(async move { reply })
    }
}

/// Acts on one broker → client request; the answer is `None` for oneway requests.
fn answer_broker_request(notices: &Notices, req: RemotingCommand) -> Option<RemotingCommand> {
    let reply = match req.code {
        request::NOTIFY_CONSUMER_IDS_CHANGED => {
            match NotifyConsumerIdsChangedRequest::from_ext(&req.ext_fields) {
                Ok(h) => {
                    debug!(group = %h.consumer_group, "consumer ids changed");
                    notices.signal(&h.consumer_group);
                    req.response_to(response::SUCCESS, None)
                }
                Err(e) => req.response_to(response::SYSTEM_ERROR, Some(e.to_string())),
            }
        }
        code => req.response_to(
            response::REQUEST_CODE_NOT_SUPPORTED,
            Some(format!(" request type {code} not supported")),
        ),
    };
    (!req.is_oneway()).then_some(reply)
}

#[derive(Default)]
struct Groups {
    producers: BTreeSet<String>,
    consumers: BTreeMap<String, ConsumerData>,
}

/// Shared state of one client (one client id).
pub(crate) struct ClientInstance {
    pub(crate) config: ClientConfig,
    /// `ip@instanceName`: our identity towards brokers.
    pub(crate) client_id: String,
    pub(crate) remoting: RemotingClient,
    pub(crate) routes: RouteCache,
    pub(crate) uniq: UniqIdGenerator,
    groups: Mutex<Groups>,
    notices: Arc<Notices>,
    pub(crate) shutdown: CancellationToken,
}

impl Drop for ClientInstance {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl ClientInstance {
    /// Creates the instance and starts its route-refresh and heartbeat task.
    pub(crate) async fn start(config: ClientConfig) -> Result<Arc<Self>, ClientError> {
        config.validate()?;
        let ip = match config.client_ip {
            Some(ip) => ip,
            None => {
                let target = config.namesrv_addrs.first().cloned().unwrap_or_default();
                tokio::task::spawn_blocking(move || local_ip_towards(&target))
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
        };
        let instance_name = config.instance_name.clone().unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let n = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
            format!("{}#{n}#{nanos}", std::process::id())
        });
        let notices = Arc::new(Notices::default());
        let remoting = RemotingClient::with_handler(
            saturn_remoting::ClientConfig {
                connect_timeout: config.request_timeout,
                ..Default::default()
            },
            Arc::new(BrokerRequests {
                notices: Arc::clone(&notices),
            }),
        );
        let namesrv = NameServers::new(
            config.namesrv_addrs.clone(),
            remoting.clone(),
            config.request_timeout,
        );
        let instance = Arc::new(Self {
            client_id: format!("{ip}@{instance_name}"),
            uniq: UniqIdGenerator::new(ip),
            remoting,
            routes: RouteCache::new(namesrv),
            groups: Mutex::new(Groups::default()),
            notices,
            shutdown: CancellationToken::new(),
            config,
        });
        tokio::spawn(maintenance(
            Arc::downgrade(&instance),
            instance.shutdown.clone(),
        ));
        Ok(instance)
    }

    /// Sends a request to a broker with the configured request timeout.
    pub(crate) async fn invoke(
        &self,
        addr: &str,
        cmd: RemotingCommand,
    ) -> Result<RemotingCommand, ClientError> {
        self.invoke_timeout(addr, cmd, self.config.request_timeout)
            .await
    }

    /// Sends a request to a broker and waits at most `timeout`.
    pub(crate) async fn invoke_timeout(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        if self.shutdown.is_cancelled() {
            return Err(ClientError::Shutdown);
        }
        self.remoting
            .invoke(addr, cmd, timeout)
            .await
            .map_err(|e| ClientError::remoting(addr, e))
    }

    /// Sends a oneway request to a broker.
    pub(crate) async fn invoke_oneway(
        &self,
        addr: &str,
        mut cmd: RemotingCommand,
    ) -> Result<(), ClientError> {
        if self.shutdown.is_cancelled() {
            return Err(ClientError::Shutdown);
        }
        cmd.mark_oneway();
        self.remoting
            .invoke_oneway(addr, cmd)
            .await
            .map_err(|e| ClientError::remoting(addr, e))
    }

    /// Reports `group` as a producer group in heartbeats.
    pub(crate) fn register_producer(&self, group: &str) {
        lock(&self.groups).producers.insert(group.to_owned());
    }

    /// Reports a consumer group (and its subscriptions) in heartbeats; replaces an earlier entry.
    pub(crate) fn register_consumer(&self, data: ConsumerData) {
        lock(&self.groups)
            .consumers
            .insert(data.group_name.clone(), data);
    }

    /// The rebalance wake-up of a consumer group.
    pub(crate) fn rebalance_notice(&self, group: &str) -> Arc<Notify> {
        self.notices.get(group)
    }

    /// Stops reporting a producer group and tells every broker (UNREGISTER_CLIENT).
    pub(crate) async fn unregister_producer(&self, group: &str) {
        lock(&self.groups).producers.remove(group);
        self.unregister(Some(group), None).await;
    }

    /// Stops reporting a consumer group and tells every broker (UNREGISTER_CLIENT), which then
    /// notifies the group's other members.
    pub(crate) async fn unregister_consumer(&self, group: &str) {
        lock(&self.groups).consumers.remove(group);
        self.unregister(None, Some(group)).await;
    }

    async fn unregister(&self, producer: Option<&str>, consumer: Option<&str>) {
        let header = UnregisterClientRequest {
            client_id: self.client_id.clone(),
            producer_group: producer.map(str::to_owned),
            consumer_group: consumer.map(str::to_owned),
        };
        for addr in self.routes.broker_addrs(false) {
            let cmd = RemotingCommand::new_request(request::UNREGISTER_CLIENT, header.to_ext());
            match self.invoke(&addr, cmd).await {
                Ok(r) if r.code == response::SUCCESS => {}
                Ok(r) => debug!(%addr, code = r.code, "unregister refused"),
                Err(e) => debug!(%addr, error = %e, "unregister failed"),
            }
        }
    }

    /// Sends a heartbeat to every known broker (all addresses when we consume, masters only
    /// otherwise). Returns how many brokers accepted it.
    pub(crate) async fn heartbeat_all(&self) -> usize {
        let data = {
            let groups = lock(&self.groups);
            HeartbeatData {
                client_id: self.client_id.clone(),
                consumer_data_set: groups.consumers.values().cloned().collect(),
                producer_data_set: groups
                    .producers
                    .iter()
                    .map(|g| ProducerData {
                        group_name: g.clone(),
                    })
                    .collect(),
                heartbeat_fingerprint: None,
                without_sub: None,
            }
        };
        if data.consumer_data_set.is_empty() && data.producer_data_set.is_empty() {
            return 0;
        }
        let masters_only = data.consumer_data_set.is_empty();
        let body = body::encode_bytes(&data);
        let mut ok = 0;
        for addr in self.routes.broker_addrs(masters_only) {
            let cmd = RemotingCommand::new_request(request::HEART_BEAT, ExtFields::new())
                .with_body(body.clone());
            match self.invoke(&addr, cmd).await {
                Ok(r) if r.code == response::SUCCESS => ok += 1,
                Ok(r) => warn!(%addr, code = r.code, remark = ?r.remark, "heartbeat refused"),
                Err(e) => debug!(%addr, error = %e, "heartbeat failed"),
            }
        }
        ok
    }

    /// Stops the background task and closes every connection.
    pub(crate) fn close(&self) {
        self.shutdown.cancel();
        self.remoting.shutdown();
    }
}

/// Periodic route refresh and heartbeats, until shutdown or the instance is dropped.
async fn maintenance(instance: Weak<ClientInstance>, shutdown: CancellationToken) {
    let Some((route_every, beat_every)) = instance
        .upgrade()
        .map(|i| (i.config.route_refresh_interval, i.config.heartbeat_interval))
    else {
        return;
    };
    let start = tokio::time::Instant::now();
    let mut routes = tokio::time::interval_at(start + route_every, route_every);
    // First heartbeat soon after start, as Java does (1 s).
    let mut beats = tokio::time::interval_at(start + Duration::from_secs(1), beat_every);
    routes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = routes.tick() => {
                let Some(i) = instance.upgrade() else { return };
                i.routes.refresh_all().await;
            }
            _ = beats.tick() => {
                let Some(i) = instance.upgrade() else { return };
                i.heartbeat_all().await;
            }
        }
    }
}

/// The local address the OS would use to reach `target` (`host:port`); no packet is sent.
fn local_ip_towards(target: &str) -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect(target).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_ip_of_loopback_target() {
        assert_eq!(
            local_ip_towards("127.0.0.1:9876"),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(local_ip_towards("not an address"), None);
    }

    #[tokio::test]
    async fn notify_wakes_the_group_only() {
        let notices = Notices::default();
        let g1 = notices.get("g1");
        let g2 = notices.get("g2");
        let ext: ExtFields = [("consumerGroup", "g1")].into_iter().collect();
        let mut req = RemotingCommand::new_request(request::NOTIFY_CONSUMER_IDS_CHANGED, ext);
        req.mark_oneway();
        assert!(
            answer_broker_request(&notices, req).is_none(),
            "oneway gets no answer"
        );
        tokio::time::timeout(Duration::from_secs(1), g1.notified())
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), g2.notified())
                .await
                .is_err()
        );
        // Unknown requests that expect an answer get REQUEST_CODE_NOT_SUPPORTED.
        let req =
            RemotingCommand::new_request(request::GET_CONSUMER_RUNNING_INFO, ExtFields::new());
        let reply = answer_broker_request(&notices, req).unwrap();
        assert_eq!(reply.code, response::REQUEST_CODE_NOT_SUPPORTED);
        assert!(reply.is_response());
    }
}
