//! Graceful shutdown: stop accepting, finish in-flight requests up to the grace deadline, close.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::ext::ExtFields;
use saturn_remoting::{ClientConfig, RemotingClient, RemotingError, ServerConfig};
use tokio::net::TcpStream;

/// Polls until connecting to `addr` is refused, i.e. the listener is gone.
async fn wait_until_refused(addr: std::net::SocketAddr) {
    tokio::time::timeout(SOON, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("listener still accepting after shutdown");
}

#[tokio::test]
async fn in_flight_requests_finish_then_connections_close() {
    let handler = TestHandler::new();
    let mut started = handler.watch_started();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let addr = server.addr_str();
    let client = RemotingClient::new(ClientConfig::default());
    let channel = client.channel(&addr).await.unwrap();

    let gated = RemotingCommand::new_request(GATED, ExtFields::new())
        .with_body(Bytes::from_static(b"in flight"));
    let in_flight = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request(gated, SOON).await }
    });
    assert_eq!(started.recv().await.unwrap().0, GATED);

    server.shutdown.cancel();
    wait_until_refused(server.addr).await;
    assert!(!in_flight.is_finished());

    // The handler finishes after shutdown began: its response must still be delivered.
    handler.gate.add_permits(1);
    let reply = in_flight.await.unwrap().unwrap();
    assert_eq!(&reply.body[..], b"in flight");

    tokio::time::timeout(SOON, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    tokio::time::timeout(SOON, channel.closed()).await.unwrap();
    let err = channel
        .request(RemotingCommand::new_request(ECHO, ExtFields::new()), SOON)
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::ConnectionClosed), "{err:?}");
}

#[tokio::test]
async fn requests_still_running_at_the_deadline_are_cut_off() {
    let handler = TestHandler::new();
    let mut started = handler.watch_started();
    let config = ServerConfig {
        shutdown_grace: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = start_server(handler.clone(), config).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();
    let stuck = tokio::spawn({
        let client = client.clone();
        let addr = addr.clone();
        async move {
            client
                .invoke(
                    &addr,
                    RemotingCommand::new_request(NEVER, ExtFields::new()),
                    Duration::from_secs(60),
                )
                .await
        }
    });
    assert_eq!(started.recv().await.unwrap().0, NEVER);

    server.shutdown.cancel();
    tokio::time::timeout(SOON, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let err = tokio::time::timeout(SOON, stuck)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, RemotingError::ConnectionClosed), "{err:?}");
    wait_until_refused(server.addr).await;
}
