//! Limits on frames and connections: oversized frames, idle connections, the connection cap.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use saturn_protocol::command::SerializeType;
use saturn_remoting::{ClientConfig, ConnectionConfig, RemotingClient, ServerConfig};
use tokio::net::TcpStream;

#[tokio::test]
async fn frames_above_a_configured_limit_close_the_connection() {
    let mut config = ServerConfig::default();
    config.connection.max_frame_len = 1024;
    let server = start_server(TestHandler::new(), config).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();

    let big = vec![b'x'; 2048];
    let request = echo_request(b"", SerializeType::Json).with_body(big.into());
    let channel = client.channel(&addr).await.unwrap();
    let err = channel.request(request, SOON).await.unwrap_err();
    assert!(
        matches!(err, saturn_remoting::RemotingError::ConnectionClosed),
        "the server closes on the oversized frame: {err:?}"
    );
    let reply = client
        .invoke(&addr, echo_request(b"small", SerializeType::Json), SOON)
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"small");
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let config = ServerConfig {
        connection: ConnectionConfig {
            idle_timeout: Some(Duration::from_millis(200)),
            ..ConnectionConfig::default()
        },
        ..ServerConfig::default()
    };
    let server = start_server(TestHandler::new(), config).await;
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    assert!(read_until_closed(&mut raw).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_until_one_leaves() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let handler = TestHandler::new();
    let server = start_server(handler.clone(), config).await;
    let addr = server.addr_str();
    let first = RemotingClient::new(ClientConfig::default());
    first
        .invoke(&addr, echo_request(b"1", SerializeType::Json), SOON)
        .await
        .unwrap();

    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        read_until_closed(&mut extra).await.is_empty(),
        "over the limit: closed at once"
    );
    first
        .invoke(&addr, echo_request(b"1 again", SerializeType::Json), SOON)
        .await
        .unwrap();

    // Once the first client leaves, its slot frees up (poll: the server notices asynchronously).
    drop(first);
    let second = RemotingClient::new(ClientConfig::default());
    let served = tokio::time::timeout(SOON, async {
        loop {
            match second
                .invoke(
                    &addr,
                    echo_request(b"2", SerializeType::Json),
                    Duration::from_secs(1),
                )
                .await
            {
                Ok(reply) => break reply,
                Err(_) => tokio::task::yield_now().await,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&served.body[..], b"2");
    server.stop().await;
}
