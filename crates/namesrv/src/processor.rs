//! Request processing: the shared [`NamesrvState`] and the one `match` that says which function
//! serves which request code.
//!
//! Processors are synchronous: they take a lock, change or read the tables and release it
//! before the transport awaits anything, so a `std::sync` lock is right here (cheaper than an
//! async one, and it cannot be held across an `.await` by construction).
//!
//! Files: [`broker`] (REGISTER/UNREGISTER_BROKER, QUERY_DATA_VERSION, BROKER_HEARTBEAT),
//! [`route`] (routes, cluster info, topic lists, topic admin, write permission), [`kv`] (KV
//! config).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use saturn_protocol::code::{request as req, response};
use saturn_protocol::command::RemotingCommand;
use saturn_remoting::Channel;
use tracing::{debug, info};

use crate::error::RequestError;
use crate::kv_config::KvConfig;
use crate::route_table::{ConnId, DroppedBroker, RouteTable};

pub mod broker;
pub mod kv;
pub mod route;

/// Everything the name server knows, shared by all connections and the expiry scan.
#[derive(Debug, Default)]
pub struct NamesrvState {
    routes: RwLock<RouteTable>,
    kv: RwLock<KvConfig>,
    /// Connections brokers registered over, so a silent broker's socket can be closed when it
    /// expires (its connection may still be open, e.g. a hung process).
    broker_conns: Mutex<HashMap<ConnId, Channel>>,
}

impl NamesrvState {
    /// An empty name server state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves one request; the answer is always built (the caller drops it for oneway requests).
    pub fn process(&self, channel: &Channel, request: &RemotingCommand) -> RemotingCommand {
        let result = match request.code {
            req::REGISTER_BROKER => broker::register(self, channel, request),
            req::UNREGISTER_BROKER => broker::unregister(self, request),
            req::QUERY_DATA_VERSION => broker::query_data_version(self, request),
            req::BROKER_HEARTBEAT => broker::heartbeat(self, request),
            req::GET_ROUTEINFO_BY_TOPIC => route::route_by_topic(self, request),
            req::GET_BROKER_CLUSTER_INFO => route::cluster_info(self, request),
            req::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => route::all_topics(self, request),
            req::GET_TOPICS_BY_CLUSTER => route::topics_by_cluster(self, request),
            req::DELETE_TOPIC_IN_NAMESRV => route::delete_topic(self, request),
            req::REGISTER_TOPIC_IN_NAMESRV => route::register_topic(self, request),
            req::WIPE_WRITE_PERM_OF_BROKER => route::write_perm(self, request, false),
            req::ADD_WRITE_PERM_OF_BROKER => route::write_perm(self, request, true),
            req::PUT_KV_CONFIG => kv::put(self, request),
            req::GET_KV_CONFIG => kv::get(self, request),
            req::DELETE_KV_CONFIG => kv::delete(self, request),
            req::GET_KVLIST_BY_NAMESPACE => kv::list_namespace(self, request),
            other => {
                debug!(code = other, remote = %channel.remote_addr(), "unsupported request code");
                // Java's exact text (leading space included): tools match on it.
                let remark = format!(" request type {other} not supported");
                return request.response_to(response::REQUEST_CODE_NOT_SUPPORTED, Some(remark));
            }
        };
        result.unwrap_or_else(|e| {
            debug!(code = request.code, remote = %channel.remote_addr(), error = %e, "request refused");
            request.response_to(e.response_code(), Some(e.to_string()))
        })
    }

    /// Drops brokers silent for longer than `max_idle` and closes their connections.
    pub fn expire(&self, now: Instant, max_idle: Duration) -> Vec<DroppedBroker> {
        let dropped = self.routes_mut().expire(now, max_idle);
        for broker in &dropped {
            info!(addr = %broker.broker_addr, name = ?broker.broker_name, "broker expired");
        }
        let conns: Vec<Channel> = {
            let mut map = self.conns();
            dropped
                .iter()
                .filter_map(|b| b.conn.and_then(|c| map.remove(&c)))
                .collect()
        };
        for ch in conns {
            ch.close();
        }
        dropped
    }

    /// A connection closed: every broker registered over it is gone at once.
    pub fn connection_closed(&self, conn: ConnId) -> Vec<DroppedBroker> {
        let dropped = self.routes_mut().drop_connection(conn);
        for broker in &dropped {
            info!(addr = %broker.broker_addr, name = ?broker.broker_name, "broker connection closed");
        }
        self.conns().remove(&conn);
        dropped
    }

    /// Read access to the route table (for inspection; never held across `.await`).
    pub fn routes(&self) -> RwLockReadGuard<'_, RouteTable> {
        // A panicking writer leaves the table structurally valid (every mutation is a map
        // operation), so keep serving rather than failing every later request.
        self.routes.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn routes_mut(&self) -> RwLockWriteGuard<'_, RouteTable> {
        self.routes.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn kv(&self) -> RwLockReadGuard<'_, KvConfig> {
        self.kv.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn kv_mut(&self) -> RwLockWriteGuard<'_, KvConfig> {
        self.kv.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<ConnId, Channel>> {
        self.broker_conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A SUCCESS response to `request`.
fn success(request: &RemotingCommand) -> RemotingCommand {
    request.response_to(response::SUCCESS, None)
}

/// Result of one processor.
type Reply = Result<RemotingCommand, RequestError>;
