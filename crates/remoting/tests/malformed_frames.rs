//! Malformed input on raw sockets: each such connection is closed with a warn line naming the
//! peer, and a well-behaved client on its own connection keeps being served.
//!
//! Alone in its test binary on purpose: the log capture uses a thread-local subscriber, and
//! tracing caches per-callsite interest process-wide, so tests logging from other threads in the
//! same process could make the capture miss lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use common::*;
use saturn_protocol::command::SerializeType;
use saturn_remoting::{ClientConfig, RemotingClient, RemotingCodec, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Encoder;

/// Collects log output so tests can check the warn line.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Deterministic noise (xorshift), so a failure can be replayed.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed.to_be_bytes()[0]
        })
        .collect()
}

fn valid_frame() -> BytesMut {
    let mut buf = BytesMut::new();
    RemotingCodec::default()
        .encode(echo_request(b"payload", SerializeType::Json), &mut buf)
        .unwrap();
    buf
}

fn frame_with(total: i32, mark: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = total.to_be_bytes().to_vec();
    v.extend_from_slice(&mark.to_be_bytes());
    v.extend_from_slice(rest);
    v
}

#[tokio::test]
async fn each_bad_connection_is_closed_and_the_server_keeps_serving() {
    let logs = Logs::default();
    let sink = logs.clone();
    // Current-thread runtime: every task logs on this thread, under this subscriber.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let handler = TestHandler::new();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();
    let good = client.channel(&addr).await.unwrap();

    let mut random = noise(4096, 0x5eed);
    // The first byte decides the length prefix; nonzero makes it >= 16 MiB, which must be
    // refused at once (a zero byte would only announce a frame still to come).
    random[0] |= 0x40;
    let truncated = valid_frame();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("random bytes", random, false),
        (
            "length 0x7FFFFFFF",
            frame_with(0x7FFF_FFFF, 0, b"xxxx"),
            false,
        ),
        (
            "length 0x80000000 (negative)",
            frame_with(i32::MIN, 0, b"xxxx"),
            false,
        ),
        (
            "header longer than frame",
            frame_with(8, 100, b"abcd"),
            false,
        ),
        (
            "unknown serialize type",
            frame_with(8, 0x7F00_0004, b"abcd"),
            false,
        ),
        (
            "garbage JSON header",
            frame_with(4 + 16, 16, &noise(16, 7)),
            false,
        ),
        (
            "truncated frame then EOF",
            truncated[..truncated.len() / 2].to_vec(),
            true,
        ),
    ];
    for (name, bytes, half_close) in cases {
        let mut raw = TcpStream::connect(server.addr).await.unwrap();
        let raw_addr = raw.local_addr().unwrap();
        raw.write_all(&bytes).await.unwrap();
        if half_close {
            raw.shutdown().await.unwrap();
        }
        let answer = read_until_closed(&mut raw).await;
        assert!(answer.is_empty(), "{name}: no response for malformed input");

        let reply = client
            .invoke(
                &addr,
                echo_request(b"still here", SerializeType::Json),
                SOON,
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: good client broke: {e}"));
        assert_eq!(&reply.body[..], b"still here");
        let text = logs.text();
        let line = text
            .lines()
            .find(|l| l.contains(&raw_addr.to_string()))
            .unwrap_or_else(|| panic!("{name}: no warn line naming {raw_addr}:\n{text}"));
        assert!(
            line.contains("WARN") && line.contains("malformed frame"),
            "{name}: {line}"
        );
    }
    assert!(!good.is_closed());
    assert_eq!(client.channel(&addr).await.unwrap().id(), good.id());
    server.stop().await;
}
