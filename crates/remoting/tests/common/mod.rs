//! Shared fixtures: a scriptable server handler, a server on 127.0.0.1:0, raw-socket helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use saturn_protocol::code::response;
use saturn_protocol::command::{RemotingCommand, SerializeType};
use saturn_protocol::ext::ExtFields;
use saturn_remoting::{
    BoxFuture, CancellationToken, Channel, RemotingError, RequestHandler, Server, ServerConfig,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

/// Answers SUCCESS with the request's body and ext fields, plus `form` = the header form seen.
pub const ECHO: i32 = 9001;
/// Like ECHO, but first waits for a permit of [`TestHandler::gate`].
pub const GATED: i32 = 9002;
/// Closes the connection it arrived on and answers nothing.
pub const CLOSE_ME: i32 = 9003;
/// Never answers.
pub const NEVER: i32 = 9004;
/// Like ECHO after `delayMs` of tokio time.
pub const DELAY: i32 = 9005;
/// Waits until `ungated` ECHO/DELAY requests were handled, then echoes.
pub const AFTER_OTHERS: i32 = 9006;

/// Like ECHO, but the reply body goes out as chunks of assorted sizes (`body_chunks`).
pub const CHUNKED: i32 = 9007;

/// Generous bound for anything that should happen "soon"; only hit when the test fails.
pub const SOON: Duration = Duration::from_secs(10);

/// What the test server does, observable from the test.
pub struct TestHandler {
    /// GATED requests take one permit each; starts with none.
    pub gate: Arc<Semaphore>,
    /// (code, opaque, oneway) of every request, sent when the handler starts on it.
    pub started: Mutex<Option<mpsc::UnboundedSender<(i32, i32, bool)>>>,
    /// Every connection, as it connects.
    pub connected: Mutex<Option<mpsc::UnboundedSender<Channel>>>,
    /// Progress of ECHO/DELAY requests, for AFTER_OTHERS.
    pub others: Arc<Others>,
}

/// Counts handled ECHO/DELAY requests so AFTER_OTHERS can wait for them.
#[derive(Default)]
pub struct Others {
    handled: AtomicUsize,
    /// AFTER_OTHERS waits until this many ECHO/DELAY requests were handled.
    pub needed: AtomicUsize,
    changed: tokio::sync::Notify,
}

impl Others {
    fn count(&self) {
        self.handled.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    async fn wait(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.handled.load(Ordering::SeqCst) >= self.needed.load(Ordering::SeqCst) {
                return;
            }
            changed.await;
        }
    }
}

impl TestHandler {
    pub fn new() -> Arc<Self> {
        Arc::new(TestHandler {
            gate: Arc::new(Semaphore::new(0)),
            started: Mutex::new(None),
            connected: Mutex::new(None),
            others: Arc::default(),
        })
    }

    pub fn watch_started(&self) -> mpsc::UnboundedReceiver<(i32, i32, bool)> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.started.lock().unwrap() = Some(tx);
        rx
    }

    pub fn watch_connected(&self) -> mpsc::UnboundedReceiver<Channel> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.connected.lock().unwrap() = Some(tx);
        rx
    }
}

pub fn echo_of(request: &RemotingCommand) -> RemotingCommand {
    let mut reply = request.response_to(response::SUCCESS, None);
    reply.ext_fields = request.ext_fields.clone();
    let form = match request.serialize_type {
        SerializeType::Json => "json",
        SerializeType::RocketMq => "binary",
    };
    reply.ext_fields.insert("form", form);
    reply.with_body(request.body.clone())
}

impl RequestHandler for TestHandler {
    fn handle(
        &self,
        channel: &Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        if let Some(tx) = self.started.lock().unwrap().as_ref() {
            let _ = tx.send((request.code, request.opaque, request.is_oneway()));
        }
        match request.code {
            ECHO => {
                self.others.count();
                Box::pin(async move { Some(echo_of(&request)) })
            }
            GATED => {
                let gate = Arc::clone(&self.gate);
                Box::pin(async move {
                    gate.acquire().await.unwrap().forget();
                    Some(echo_of(&request))
                })
            }
            DELAY => {
                let ms: u64 = request.ext_fields.get("delayMs").unwrap().parse().unwrap();
                self.others.count();
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Some(echo_of(&request))
                })
            }
            AFTER_OTHERS => {
                let others = Arc::clone(&self.others);
                Box::pin(async move {
                    others.wait().await;
                    Some(echo_of(&request))
                })
            }
            CHUNKED => {
                let whole = request.body.clone();
                let mut chunks = Vec::new();
                let mut at = 0;
                // Tiny, empty, and larger-than-inline pieces, cycling.
                for size in [1usize, 0, 700, 3, 2000, 64].into_iter().cycle() {
                    if at >= whole.len() {
                        break;
                    }
                    let end = (at + size).min(whole.len());
                    chunks.push(whole.slice(at..end));
                    at = end;
                }
                let reply = echo_of(&request).with_body_chunks(chunks);
                Box::pin(async move { Some(reply) })
            }
            CLOSE_ME => {
                channel.close();
                Box::pin(async { None })
            }
            NEVER => Box::pin(std::future::pending()),
            code => {
                let remark = format!("request type {code} not supported");
                let reply = request.response_to(response::REQUEST_CODE_NOT_SUPPORTED, Some(remark));
                Box::pin(async move { Some(reply) })
            }
        }
    }

    fn on_connected(&self, channel: &Channel) {
        if let Some(tx) = self.connected.lock().unwrap().as_ref() {
            let _ = tx.send(channel.clone());
        }
    }
}

/// A running server: its address, shutdown token and task.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), RemotingError>>,
}

pub async fn start_server(handler: Arc<dyn RequestHandler>, config: ServerConfig) -> TestServer {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), config, handler)
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.run(shutdown.clone()));
    TestServer {
        addr,
        shutdown,
        task,
    }
}

impl TestServer {
    pub fn addr_str(&self) -> String {
        self.addr.to_string()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(SOON, self.task)
            .await
            .expect("server did not stop")
            .unwrap()
            .unwrap();
    }
}

pub fn echo_request(body: &'static [u8], form: SerializeType) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("k", "v");
    RemotingCommand::new_request(ECHO, ext)
        .with_body(Bytes::from_static(body))
        .with_serialize_type(form)
}

/// Reads until the server closes the socket; returns the bytes it sent before closing.
/// A reset counts as closed (Linux resets when unread input is left in our send path).
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let res = tokio::time::timeout(SOON, stream.read_to_end(&mut got))
        .await
        .expect("server did not close the connection");
    match res {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    got
}
