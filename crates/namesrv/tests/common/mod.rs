//! Shared fixtures: a name server on 127.0.0.1:0, broker registration requests, raw frames.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use saturn_namesrv::{NameServer, NamesrvConfig, NamesrvHandle};
use saturn_protocol::body::{self, DataVersion, RegisterBrokerBody, TopicConfig};
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::ext::ExtFields;
use saturn_protocol::frame::{decode_frame, DEFAULT_MAX_FRAME_LEN};
use saturn_protocol::header::{CommandHeader, GetRouteInfoRequest, RegisterBrokerRequest};
use saturn_protocol::message::record::body_crc;
use saturn_remoting::{CancellationToken, ClientConfig, RemotingClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound for anything that should happen "soon"; only reached when a test fails.
pub const SOON: Duration = Duration::from_secs(10);

/// A running name server and the token that stops it.
pub struct TestNamesrv {
    pub handle: NamesrvHandle,
    pub shutdown: CancellationToken,
    pub addr: String,
}

impl TestNamesrv {
    pub async fn start() -> Self {
        Self::start_with(NamesrvConfig::default()).await
    }

    pub async fn start_with(mut config: NamesrvConfig) -> Self {
        config.listen = "127.0.0.1:0".parse().unwrap();
        let shutdown = CancellationToken::new();
        let handle = NameServer::start(config, shutdown.clone()).await.unwrap();
        let addr = handle.local_addr().to_string();
        TestNamesrv {
            handle,
            shutdown,
            addr,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(SOON, self.handle.join())
            .await
            .expect("name server did not stop")
            .unwrap();
    }
}

pub fn client() -> RemotingClient {
    RemotingClient::new(ClientConfig::default())
}

pub fn topic(name: &str, read: i32, write: i32, perm: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_owned(),
        read_queue_nums: read,
        write_queue_nums: write,
        perm,
        ..TopicConfig::default()
    }
}

pub fn register_body(topics: &[TopicConfig], counter: i64) -> RegisterBrokerBody {
    let mut b = RegisterBrokerBody::default();
    b.topic_config_serialize_wrapper.data_version = DataVersion {
        counter,
        state_version: 0,
        timestamp: 1_700_000_000_000,
    };
    for t in topics {
        b.topic_config_serialize_wrapper
            .topic_config_table
            .insert(t.topic_name.clone(), t.clone());
    }
    b
}

/// A REGISTER_BROKER request like a Java broker sends (JSON body, real CRC).
pub fn register_request(
    cluster: &str,
    name: &str,
    addr: &str,
    id: i64,
    topics: &[TopicConfig],
) -> RemotingCommand {
    let body = body::encode_bytes(&register_body(topics, 1));
    register_request_with_body(cluster, name, addr, id, body, false)
}

pub fn register_request_with_body(
    cluster: &str,
    name: &str,
    addr: &str,
    id: i64,
    body: Bytes,
    compressed: bool,
) -> RemotingCommand {
    let header = RegisterBrokerRequest {
        broker_name: name.to_owned(),
        broker_addr: addr.to_owned(),
        cluster_name: cluster.to_owned(),
        ha_server_addr: format!("{addr}-ha"),
        broker_id: id,
        compressed: Some(compressed),
        body_crc32: Some(i32::try_from(body_crc(&body)).unwrap()),
        ..RegisterBrokerRequest::default()
    };
    RemotingCommand::new_request(request::REGISTER_BROKER, header.to_ext()).with_body(body)
}

pub fn route_request(topic: &str) -> RemotingCommand {
    let header = GetRouteInfoRequest {
        topic: topic.to_owned(),
        accept_standard_json_only: None,
    };
    RemotingCommand::new_request(request::GET_ROUTEINFO_BY_TOPIC, header.to_ext())
}

pub fn ext(pairs: &[(&str, &str)]) -> ExtFields {
    pairs.iter().copied().collect()
}

pub async fn invoke(client: &RemotingClient, addr: &str, cmd: RemotingCommand) -> RemotingCommand {
    client.invoke(addr, cmd, SOON).await.unwrap()
}

pub fn json(resp: &RemotingCommand) -> serde_json::Value {
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| {
        panic!(
            "body is not standard JSON ({e}): {}",
            String::from_utf8_lossy(&resp.body)
        )
    })
}

/// Polls `cond` until it is true; panics after [`SOON`].
pub async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes one frame with a JSON header given as raw text (as jsoncpp-based clients send it).
pub async fn write_raw_json_frame(stream: &mut TcpStream, header_json: &str, body: &[u8]) {
    let header = header_json.as_bytes();
    let total = 4 + header.len() + body.len();
    let mut buf = Vec::with_capacity(4 + total);
    buf.extend_from_slice(&u32::try_from(total).unwrap().to_be_bytes());
    buf.extend_from_slice(&u32::try_from(header.len()).unwrap().to_be_bytes());
    buf.extend_from_slice(header);
    buf.extend_from_slice(body);
    stream.write_all(&buf).await.unwrap();
}

/// Reads the next frame from a raw socket.
pub async fn read_frame(stream: &mut TcpStream, buf: &mut BytesMut) -> RemotingCommand {
    tokio::time::timeout(SOON, async {
        loop {
            if let Some(cmd) = decode_frame(buf, DEFAULT_MAX_FRAME_LEN).unwrap() {
                return cmd;
            }
            let n = stream.read_buf(buf).await.unwrap();
            assert!(n > 0, "connection closed before a whole frame arrived");
        }
    })
    .await
    .expect("no frame arrived")
}
