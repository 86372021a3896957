//! Request/response over real sockets: forms, concurrency, oneway, timeouts, reconnects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use saturn_protocol::code::response;
use saturn_protocol::command::{RemotingCommand, SerializeType};
use saturn_protocol::ext::ExtFields;
use saturn_remoting::{ClientConfig, RemotingClient, RemotingCodec, RemotingError, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

#[tokio::test]
async fn json_and_binary_requests_get_answers_in_their_own_form() {
    let handler = TestHandler::new();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());

    for (form, name) in [
        (SerializeType::Json, "json"),
        (SerializeType::RocketMq, "binary"),
    ] {
        let reply = client
            .invoke(&server.addr_str(), echo_request(b"hello body", form), SOON)
            .await
            .unwrap();
        assert!(reply.is_response());
        assert_eq!(reply.code, response::SUCCESS);
        assert_eq!(
            reply.serialize_type, form,
            "response mirrors the request form"
        );
        assert_eq!(
            reply.ext_fields.get("form"),
            Some(name),
            "server saw the form we sent"
        );
        assert_eq!(reply.ext_fields.get("k"), Some("v"));
        assert_eq!(&reply.body[..], b"hello body");
    }

    let unknown = RemotingCommand::new_request(4242, ExtFields::new());
    let reply = client
        .invoke(&server.addr_str(), unknown, SOON)
        .await
        .unwrap();
    assert_eq!(reply.code, response::REQUEST_CODE_NOT_SUPPORTED);
    server.stop().await;
}

#[tokio::test]
async fn a_later_request_is_answered_while_an_earlier_one_is_still_running() {
    let handler = TestHandler::new();
    let mut started = handler.watch_started();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();
    let channel = client.channel(&addr).await.unwrap();

    let gated = RemotingCommand::new_request(GATED, ExtFields::new())
        .with_body(Bytes::from_static(b"first"));
    let first = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request(gated, SOON).await }
    });
    assert_eq!(started.recv().await.unwrap().0, GATED);

    let second = client
        .invoke(&addr, echo_request(b"second", SerializeType::Json), SOON)
        .await
        .unwrap();
    assert_eq!(&second.body[..], b"second");
    assert!(
        !first.is_finished(),
        "the gated request cannot have been answered yet"
    );
    assert_eq!(channel.pending_requests(), 1);

    handler.gate.add_permits(1);
    let first = first.await.unwrap().unwrap();
    assert_eq!(&first.body[..], b"first");
    assert_eq!(channel.pending_requests(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_on_one_connection_are_matched_by_opaque() {
    const WAITING: usize = 40;
    const OTHERS: usize = 60;
    let handler = TestHandler::new();
    handler.others.needed.store(OTHERS, Ordering::SeqCst);
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();
    let channel = client.channel(&addr).await.unwrap();

    // The first WAITING requests can only finish after all later ones were handled, so a server
    // answering in arrival order would never finish; the later ones sleep for varying tokio time
    // so their own answers interleave too.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..WAITING + OTHERS {
        let mut ext = ExtFields::new();
        let code = if i < WAITING {
            AFTER_OTHERS
        } else {
            ext.insert("delayMs", ((i * 7) % 13).to_string());
            DELAY
        };
        let request = RemotingCommand::new_request(code, ext).with_body(Bytes::from(i.to_string()));
        let client = client.clone();
        let addr = addr.clone();
        tasks.spawn(async move { (i, client.invoke(&addr, request, SOON).await) });
    }
    let mut seen = [false; WAITING + OTHERS];
    while let Some(joined) = tasks.join_next().await {
        let (i, reply) = joined.unwrap();
        let reply = reply.unwrap();
        assert_eq!(
            reply.body,
            Bytes::from(i.to_string()),
            "reply {i} carries its own body"
        );
        seen[i] = true;
    }
    assert!(seen.iter().all(|s| *s));
    let again = client.channel(&addr).await.unwrap();
    assert_eq!(
        again.id(),
        channel.id(),
        "all requests shared one connection"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_arrive_whole_among_many_pipelined_replies() {
    let handler = TestHandler::new();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();
    let mut tasks = Vec::new();
    for i in 0..300usize {
        let client = client.clone();
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            // Sizes from empty to several write batches' worth, with recognisable content.
            let len = (i * 997) % 20_000;
            let body: Bytes = (0..len)
                .map(|j| (i + j * 7) as u8)
                .collect::<Vec<u8>>()
                .into();
            let code = if i % 3 == 0 { ECHO } else { CHUNKED };
            let form = if i % 2 == 0 {
                SerializeType::Json
            } else {
                SerializeType::RocketMq
            };
            let req = RemotingCommand::new_request(code, ExtFields::new())
                .with_body(body.clone())
                .with_serialize_type(form);
            let reply = client.invoke(&addr, req, SOON).await.unwrap();
            assert_eq!(reply.code, response::SUCCESS);
            assert_eq!(reply.body, body, "request {i}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    server.stop().await;
}

#[tokio::test]
async fn oneway_requests_get_no_response_even_if_the_handler_returns_one() {
    let handler = TestHandler::new();
    let mut started = handler.watch_started();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let mut framed = Framed::new(stream, RemotingCodec::default());

    // ECHO handlers always return a response; for the oneway one it must be dropped.
    let mut oneway = echo_request(b"oneway", SerializeType::Json).with_opaque(1);
    oneway.mark_oneway();
    framed.send(oneway).await.unwrap();
    assert_eq!(started.recv().await.unwrap(), (ECHO, 1, true));

    let normal = echo_request(b"normal", SerializeType::Json).with_opaque(2);
    framed.send(normal).await.unwrap();
    let reply = tokio::time::timeout(SOON, framed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.opaque, 2);
    assert_eq!(&reply.body[..], b"normal");

    // Half-close: the server closes after flushing everything queued; nothing else may come.
    framed.get_mut().shutdown().await.unwrap();
    let rest = tokio::time::timeout(SOON, framed.next()).await.unwrap();
    assert!(
        rest.is_none(),
        "unexpected frame after the only response: {rest:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn timeout_fires_and_the_late_response_is_ignored() {
    let handler = TestHandler::new();
    let mut started = handler.watch_started();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();
    let channel = client.channel(&addr).await.unwrap();

    let slow = RemotingCommand::new_request(GATED, ExtFields::new())
        .with_body(Bytes::from_static(b"late"));
    let err = client
        .invoke(&addr, slow, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Timeout), "{err:?}");
    assert_eq!(
        channel.pending_requests(),
        0,
        "the timed-out request is forgotten"
    );
    assert_eq!(started.recv().await.unwrap().0, GATED);

    // Release the handler: its response arrives after the requester gave up.
    handler.gate.add_permits(1);
    for round in 0..5 {
        let reply = client
            .invoke(&addr, echo_request(b"fresh", SerializeType::Json), SOON)
            .await
            .unwrap();
        assert_eq!(
            &reply.body[..],
            b"fresh",
            "round {round} got its own response"
        );
    }
    assert!(
        !channel.is_closed(),
        "a late response does not break the connection"
    );
    assert_eq!(client.channel(&addr).await.unwrap().id(), channel.id());
    server.stop().await;
}

#[tokio::test]
async fn client_reconnects_after_the_server_closed_the_connection() {
    let handler = TestHandler::new();
    let mut connected = handler.watch_connected();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();

    let first = client.channel(&addr).await.unwrap();
    connected.recv().await.unwrap();
    client
        .invoke_oneway(
            &addr,
            RemotingCommand::new_request(CLOSE_ME, ExtFields::new()),
        )
        .await
        .unwrap();
    tokio::time::timeout(SOON, first.closed()).await.unwrap();
    assert!(first.is_closed());
    let err = first
        .request(echo_request(b"x", SerializeType::Json), SOON)
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::ConnectionClosed), "{err:?}");

    let reply = client
        .invoke(
            &addr,
            echo_request(b"after reconnect", SerializeType::Json),
            SOON,
        )
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"after reconnect");
    let second = client.channel(&addr).await.unwrap();
    assert_ne!(second.id(), first.id());
    assert_ne!(
        second.local_addr(),
        first.local_addr(),
        "a new TCP connection"
    );
    let server_side = connected.recv().await.unwrap();
    assert_eq!(server_side.remote_addr(), second.local_addr());
    server.stop().await;
}

#[tokio::test]
async fn pending_requests_fail_with_connection_closed_when_the_peer_drops() {
    // A bare listener that reads three requests and then drops the socket without answering.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peer = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut framed = Framed::new(stream, RemotingCodec::default());
        for _ in 0..3 {
            let request = framed.next().await.unwrap().unwrap();
            assert!(!request.is_response());
        }
    });

    let client = RemotingClient::new(ClientConfig::default());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let client = client.clone();
        let addr = addr.clone();
        tasks.spawn(async move {
            client
                .invoke(
                    &addr,
                    echo_request(b"?", SerializeType::Json),
                    Duration::from_secs(60),
                )
                .await
        });
    }
    tokio::time::timeout(SOON, peer).await.unwrap().unwrap();
    let mut failed = 0;
    while let Some(joined) = tokio::time::timeout(SOON, tasks.join_next()).await.unwrap() {
        let err = joined.unwrap().unwrap_err();
        assert!(matches!(err, RemotingError::ConnectionClosed), "{err:?}");
        failed += 1;
    }
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_a_typed_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let client = RemotingClient::new(ClientConfig::default());
    let err = client
        .invoke(&addr, echo_request(b"", SerializeType::Json), SOON)
        .await
        .unwrap_err();
    match err {
        RemotingError::ConnectFailed { addr: failed, .. } => assert_eq!(failed, addr),
        other => panic!("expected ConnectFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn client_shutdown_closes_its_connections() {
    let handler = TestHandler::new();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let channel = client.channel(&server.addr_str()).await.unwrap();
    client.shutdown();
    tokio::time::timeout(SOON, channel.closed()).await.unwrap();
    let err = client
        .invoke(
            &server.addr_str(),
            echo_request(b"", SerializeType::Json),
            SOON,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::ConnectionClosed), "{err:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_request_that_cannot_be_encoded_fails_fast_and_the_connection_survives() {
    let server = start_server(TestHandler::new(), ServerConfig::default()).await;
    let mut config = ClientConfig::default();
    config.connection.max_frame_len = 1024;
    let client = RemotingClient::new(config);
    let addr = server.addr_str();
    let channel = client.channel(&addr).await.unwrap();

    let big = echo_request(b"", SerializeType::Json).with_body(Bytes::from(vec![b'x'; 2048]));
    let err = client.invoke(&addr, big, SOON).await.unwrap_err();
    assert!(
        matches!(err, RemotingError::FrameTooLarge { max: 1024, .. }),
        "{err:?}"
    );
    // POP_MESSAGE-sized codes cannot travel in a binary header.
    let pop = RemotingCommand::new_request(200_050, ExtFields::new())
        .with_serialize_type(SerializeType::RocketMq);
    let err = client.invoke(&addr, pop, SOON).await.unwrap_err();
    assert!(matches!(err, RemotingError::Frame(_)), "{err:?}");

    let reply = client
        .invoke(&addr, echo_request(b"ok", SerializeType::Json), SOON)
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"ok");
    assert_eq!(client.channel(&addr).await.unwrap().id(), channel.id());
    server.stop().await;
}
