//! Shared fixtures: an in-process broker on 127.0.0.1:0 over a temp store with tiny files, typed
//! request builders, and a raw-socket path for C++-style JSON headers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use saturn_broker::{Broker, BrokerConfig, BrokerHandle};
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, PullMessageRequest, SendMessageRequest, SendMessageRequestV2,
    SendMessageResponse,
};
use saturn_protocol::message::record::decode_all;
use saturn_protocol::message::{sysflag, Properties, StoredMessage};
use saturn_remoting::{BoxFuture, Channel, ClientConfig, RemotingClient, RequestHandler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bound for anything that should happen "soon"; only reached when a test fails.
pub const SOON: Duration = Duration::from_secs(10);

/// A broker running in this process.
pub struct TestBroker {
    pub handle: BrokerHandle,
    pub token: CancellationToken,
    pub addr: String,
}

/// Config with a tiny commit-log segment and index so tests create small files and cross
/// segment boundaries.
pub fn test_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        store_root_dir: dir.to_owned(),
        commit_log_segment_size: 8 * 1024,
        index_max_hash_slots: 1_000,
        index_max_entries: 4_000,
        ..BrokerConfig::default()
    }
}

impl TestBroker {
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(test_config(dir)).await
    }

    pub async fn start_with(config: BrokerConfig) -> Self {
        let token = CancellationToken::new();
        let handle = Broker::start(config, token.clone()).await.unwrap();
        let addr = handle.local_addr().to_string();
        TestBroker {
            handle,
            token,
            addr,
        }
    }

    /// Shuts down and waits until the store is closed.
    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle.join())
            .await
            .expect("broker did not stop")
            .unwrap();
    }

    pub fn store_host(&self) -> SocketAddr {
        self.handle.store_host()
    }
}

pub fn client() -> RemotingClient {
    RemotingClient::new(ClientConfig::default())
}

pub async fn call(client: &RemotingClient, addr: &str, cmd: RemotingCommand) -> RemotingCommand {
    client.invoke(addr, cmd, SOON).await.unwrap()
}

/// Properties with the given tags and keys (space-separated), plus `WAIT=true`.
pub fn props(tags: Option<&str>, keys: Option<&str>) -> String {
    let mut p = Properties::new();
    if let Some(t) = tags {
        p.insert("TAGS", t);
    }
    if let Some(k) = keys {
        p.insert("KEYS", k);
    }
    p.insert("WAIT", "true");
    p.encode()
}

pub fn send_header(topic: &str, queue_id: i32, properties: String) -> SendMessageRequest {
    SendMessageRequest {
        producer_group: "pg".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(properties),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        batch: Some(false),
        ..Default::default()
    }
}

/// SEND_MESSAGE_V2 (one-letter keys, the Java producer's form).
pub fn send_v2(
    topic: &str,
    queue_id: i32,
    tags: Option<&str>,
    keys: Option<&str>,
    body: &str,
) -> RemotingCommand {
    let h: SendMessageRequestV2 = send_header(topic, queue_id, props(tags, keys)).into();
    RemotingCommand::new_request(request::SEND_MESSAGE_V2, h.to_ext())
        .with_body(Bytes::copy_from_slice(body.as_bytes()))
}

/// Sends with V2 and returns the parsed response header; panics unless SUCCESS.
pub async fn send_ok(
    c: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
    tags: Option<&str>,
    body: &str,
) -> SendMessageResponse {
    let resp = call(c, addr, send_v2(topic, queue_id, tags, None, body)).await;
    assert_eq!(resp.code, 0, "send failed: {:?}", resp.remark);
    SendMessageResponse::from_ext(&resp.ext_fields).unwrap()
}

pub fn pull_header(group: &str, topic: &str, queue_id: i32, offset: i64) -> PullMessageRequest {
    PullMessageRequest {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: sysflag::pull::SUBSCRIPTION,
        commit_offset: -1,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        ..Default::default()
    }
}

pub fn pull_cmd(h: &PullMessageRequest) -> RemotingCommand {
    RemotingCommand::new_request(request::PULL_MESSAGE, h.to_ext())
}

pub fn records(resp: &RemotingCommand) -> Vec<StoredMessage> {
    decode_all(&resp.body)
}

/// Sends `cmd` on a fresh raw socket with a hand-written JSON header (numbers as JSON numbers,
/// as the C++ client writes them) and reads one response frame. Returns it and the socket's
/// local address.
pub async fn raw_call(addr: &str, header_json: &str, body: &[u8]) -> (RemotingCommand, SocketAddr) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let local = s.local_addr().unwrap();
    let h = header_json.as_bytes();
    let mut frame = Vec::new();
    frame.extend_from_slice(
        &i32::try_from(4 + h.len() + body.len())
            .unwrap()
            .to_be_bytes(),
    );
    frame.extend_from_slice(&i32::try_from(h.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(h);
    frame.extend_from_slice(body);
    s.write_all(&frame).await.unwrap();
    let mut buf = BytesMut::new();
    let cmd = tokio::time::timeout(SOON, async {
        loop {
            if let Some(cmd) = saturn_protocol::frame::decode_frame(&mut buf, 16 << 20).unwrap() {
                return cmd;
            }
            let n = s.read_buf(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before a response");
        }
    })
    .await
    .unwrap();
    (cmd, local)
}

/// A client-side handler that hands every broker-initiated request to the test.
pub struct Inbox(pub mpsc::UnboundedSender<RemotingCommand>);

impl RequestHandler for Inbox {
    fn handle(
        &self,
        _: &Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let _ = self.0.send(request);
        Box::pin(async { None })
    }
}

/// A client whose server-initiated requests arrive on the returned receiver.
pub fn client_with_inbox() -> (RemotingClient, mpsc::UnboundedReceiver<RemotingCommand>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        RemotingClient::with_handler(ClientConfig::default(), Arc::new(Inbox(tx))),
        rx,
    )
}

/// UPDATE_AND_CREATE_TOPIC with `queues` read/write queues.
pub async fn create_topic(c: &RemotingClient, addr: &str, topic: &str, queues: i32) {
    let h = saturn_protocol::header::CreateTopicRequest {
        topic: topic.into(),
        default_topic: "TBW102".into(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        order: false,
        ..Default::default()
    };
    let resp = call(
        c,
        addr,
        RemotingCommand::new_request(request::UPDATE_AND_CREATE_TOPIC, h.to_ext()),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
}
