//! Hostile bytes on both server ports: random garbage, a truncated frame, a 2 GiB length
//! prefix. Each connection must be closed by the server, and the servers must keep serving
//! real clients afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Standalone;
use saturn_client::{AdminClient, ClientConfig, Message, Producer, ProducerConfig, SendStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the server may take to drop a bad connection.
const CLOSE_DEADLINE: Duration = Duration::from_secs(10);

/// Deterministic pseudo-random bytes (xorshift), so a failure can be replayed.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Reads until the server closes the connection (EOF or reset); fails the test if it is still
/// open after [`CLOSE_DEADLINE`].
async fn assert_closed_by_server(mut stream: TcpStream, what: &str, addr: SocketAddr) {
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(CLOSE_DEADLINE, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                // An error response before the close is fine; keep reading until the close.
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "{addr} kept the connection open for {CLOSE_DEADLINE:?} after {what}"
    );
}

async fn attack(addr: SocketAddr) {
    // 1. A frame-sized burst of random bytes: a plausible length prefix (4 KiB) followed by
    //    garbage where the header length, serialisation type and header should be.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut frame = 4092u32.to_be_bytes().to_vec();
    frame.extend(garbage(4092, 0x5eed_0001));
    stream.write_all(&frame).await.unwrap();
    assert_closed_by_server(stream, "a frame of random bytes", addr).await;

    // 2. Pure random bytes (whatever length prefix they spell), then our side finishes
    //    sending: the server must not wait forever for the rest.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&garbage(1000, 0x5eed_0002)).await.unwrap();
    stream.shutdown().await.unwrap();
    assert_closed_by_server(stream, "random bytes and a half-close", addr).await;

    // 3. A truncated frame: the prefix promises 200 bytes, 10 arrive, then we stop sending.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut partial = 200u32.to_be_bytes().to_vec();
    partial.extend_from_slice(&[0, 0, 0, 20, b'{', b'"', b'c', b'o', b'd', b'e']);
    stream.write_all(&partial).await.unwrap();
    stream.shutdown().await.unwrap();
    assert_closed_by_server(stream, "a truncated frame and a half-close", addr).await;

    // 4. A 2 GiB length prefix (and a little more): rejected before any buffering, the
    //    connection closed without our side closing anything.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut huge = (2u32 << 30).to_be_bytes().to_vec();
    huge.extend_from_slice(&[0, 0, 0, 2, b'{', b'}']);
    stream.write_all(&huge).await.unwrap();
    assert_closed_by_server(stream, "a 2 GiB length prefix", addr).await;

    // 5. The same as a signed length: 0xFFFFFFFF (-1).
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0])
        .await
        .unwrap();
    assert_closed_by_server(stream, "a negative length prefix", addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_drop_bad_connections_and_keep_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();

    // A topic with a message before the attack, so the route exists.
    let producer = Producer::start(ProducerConfig::new(&ns, "bad-input-producer"))
        .await
        .unwrap();
    let before = producer
        .send(Message::new("Hardened", "before"))
        .await
        .unwrap();
    assert_eq!(before.status, SendStatus::SendOk);

    attack(server.namesrv).await;
    attack(server.broker).await;

    // Both servers still answer: a route lookup (name server) and a send (broker), on new
    // connections.
    // The broker publishes an auto-created topic to the name server in the background (as
    // RocketMQ does), so the route may appear a moment after the first send was answered.
    let admin = AdminClient::start(ClientConfig::new(&ns)).await.unwrap();
    let routed = common::eventually(Duration::from_secs(30), || async {
        matches!(admin.route("Hardened").await, Ok(r) if r.broker_datas.len() == 1)
    })
    .await;
    assert!(
        routed,
        "the name server never answered the route of Hardened with one broker"
    );
    let fresh = Producer::start(ProducerConfig::new(&ns, "bad-input-producer-2"))
        .await
        .unwrap();
    let after = fresh.send(Message::new("Hardened", "after")).await.unwrap();
    assert_eq!(after.status, SendStatus::SendOk);
    assert!(after.queue_offset >= 0);
    let stored = admin.view_message(&after.offset_msg_id).await.unwrap();
    assert_eq!(&stored.body[..], b"after");
    fresh.shutdown().await;
    producer.shutdown().await;
    admin.shutdown().await;
}
