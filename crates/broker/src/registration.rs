//! Name-server registration ([`run`]): REGISTER_BROKER to every name server at start, every
//! `register_period_ms`, and at once after a topic change; UNREGISTER_BROKER to each at
//! shutdown. Each name server has its own loop and each request its own timeout, so a dead one
//! delays nobody; failures are logged and retried on the next round.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use saturn_protocol::body::{self, RegisterBrokerBody};
use saturn_protocol::code::{request, response};
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, RegisterBrokerRequest, UnregisterBrokerRequest};
use saturn_remoting::RemotingClient;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::state::Identity;
use crate::topic_config::TopicConfigs;

/// What the registration loop needs.
pub struct Registration {
    /// Name servers (`host:port`).
    pub namesrv_addrs: Vec<String>,
    /// Who we are.
    pub identity: Arc<Identity>,
    /// Topic table (body of the registration; its changes trigger a round).
    pub topics: Arc<TopicConfigs>,
    /// Round period.
    pub period: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
}

/// Registers until `shutdown`, then unregisters. Returns at once if there is no name server.
/// Each name server has its own loop, so a dead one never delays the others.
pub async fn run(reg: Registration, shutdown: CancellationToken) {
    if reg.namesrv_addrs.is_empty() {
        tracing::info!("no name server configured; not registering");
        return;
    }
    let reg = Arc::new(reg);
    let client = RemotingClient::new(saturn_remoting::ClientConfig::default());
    let mut loops = JoinSet::new();
    for addr in reg.namesrv_addrs.clone() {
        loops.spawn(one_namesrv(
            Arc::clone(&reg),
            client.clone(),
            addr,
            shutdown.clone(),
        ));
    }
    while loops.join_next().await.is_some() {}
    client.shutdown();
}

/// Registration loop of one name server: register, wait for the period, a topic change or the
/// shutdown; unregister at the end.
async fn one_namesrv(
    reg: Arc<Registration>,
    client: RemotingClient,
    addr: String,
    shutdown: CancellationToken,
) {
    let mut changes = reg.topics.watch();
    loop {
        changes.borrow_and_update();
        let cmd = register_request(&reg.identity, &reg.topics);
        let attempt = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            r = client.invoke(&addr, cmd, reg.timeout) => r,
        };
        match attempt {
            Ok(resp) if resp.code == response::SUCCESS => {
                tracing::debug!(namesrv = %addr, "registered");
            }
            Ok(resp) => tracing::warn!(
                namesrv = %addr, code = resp.code, remark = ?resp.remark, "registration refused"
            ),
            Err(e) => tracing::warn!(namesrv = %addr, error = %e, "registration failed"),
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                // Coalesce a burst of topic creations into one registration.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            () = tokio::time::sleep(reg.period) => {}
        }
    }
    unregister(&reg, &client, &addr).await;
}

fn broker_addr(identity: &Identity) -> String {
    identity.store_host.to_string()
}

/// Masked CRC32 (`UtilAll.crc32`) of a registration body.
pub fn body_crc32(body: &[u8]) -> i32 {
    // The mask keeps the value in 0..=i32::MAX, so the conversion cannot fail.
    i32::try_from(crc32fast::hash(body) & 0x7FFF_FFFF).unwrap_or(0)
}

/// The REGISTER_BROKER request for the current topic table.
pub fn register_request(identity: &Identity, topics: &TopicConfigs) -> RemotingCommand {
    let body = body::encode(&RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: topics.snapshot(),
    });
    let ha_port = identity.store_host.port().saturating_add(1);
    let header = RegisterBrokerRequest {
        broker_name: identity.broker_name.clone(),
        broker_addr: broker_addr(identity),
        cluster_name: identity.cluster.clone(),
        ha_server_addr: format!("{}:{ha_port}", identity.store_host.ip()),
        broker_id: identity.broker_id,
        compressed: Some(false),
        body_crc32: Some(body_crc32(&body)),
        ..Default::default()
    };
    RemotingCommand::new_request(request::REGISTER_BROKER, header.to_ext())
        .with_body(Bytes::from(body))
}

async fn unregister(reg: &Registration, client: &RemotingClient, addr: &str) {
    let header = UnregisterBrokerRequest {
        broker_name: reg.identity.broker_name.clone(),
        broker_addr: broker_addr(&reg.identity),
        cluster_name: reg.identity.cluster.clone(),
        broker_id: reg.identity.broker_id,
    };
    let cmd = RemotingCommand::new_request(request::UNREGISTER_BROKER, header.to_ext());
    match client.invoke(addr, cmd, reg.timeout).await {
        Ok(_) => tracing::debug!(namesrv = %addr, "unregistered"),
        Err(e) => tracing::warn!(namesrv = %addr, error = %e, "unregistration failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_masked_and_matches_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let topics = TopicConfigs::load(dir.path().to_owned(), "C", "B", true, 4).unwrap();
        let id = Identity {
            cluster: "C".into(),
            broker_name: "B".into(),
            broker_id: 0,
            store_host: "10.0.0.1:10911".parse().unwrap(),
        };
        let cmd = register_request(&id, &topics);
        let h = RegisterBrokerRequest::from_ext(&cmd.ext_fields).unwrap();
        assert_eq!(h.ha_server_addr, "10.0.0.1:10912");
        let crc = h.body_crc32.unwrap();
        assert!(crc >= 0);
        assert_eq!(
            i64::from(crc),
            i64::from(crc32fast::hash(&cmd.body) & 0x7FFF_FFFF)
        );
        let b = RegisterBrokerBody::decode(&cmd.body, false).unwrap();
        assert!(b
            .topic_config_serialize_wrapper
            .topic_config_table
            .contains_key("TBW102"));
    }
}
