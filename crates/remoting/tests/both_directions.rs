//! Server-initiated requests travel over the connection the client opened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use saturn_protocol::code::{request, response};
use saturn_protocol::command::{RemotingCommand, SerializeType};
use saturn_protocol::ext::ExtFields;
use saturn_remoting::{
    BoxFuture, Channel, ClientConfig, RemotingClient, RequestHandler, ServerConfig, Side,
};
use tokio::sync::mpsc;

/// What a client application would register: answers GET_CONSUMER_RUNNING_INFO, records the
/// oneway notifications.
struct ClientSide {
    seen: Mutex<mpsc::UnboundedSender<(i32, SerializeType, bool, Side)>>,
}

impl RequestHandler for ClientSide {
    fn handle(
        &self,
        channel: &Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let _ = self.seen.lock().unwrap().send((
            req.code,
            req.serialize_type,
            req.is_oneway(),
            channel.side(),
        ));
        let reply = match req.code {
            request::GET_CONSUMER_RUNNING_INFO => Some(
                req.response_to(response::SUCCESS, None)
                    .with_body(Bytes::from_static(b"running")),
            ),
            _ => None,
        };
        Box::pin(async move { reply })
    }
}

fn notify(code: i32) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("consumerGroup", "g1");
    RemotingCommand::new_request(code, ext)
}

#[tokio::test]
async fn server_sends_requests_to_the_client_over_its_own_connection() {
    let handler = TestHandler::new();
    let mut connected = handler.watch_connected();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let client = RemotingClient::with_handler(
        ClientConfig::default(),
        Arc::new(ClientSide {
            seen: Mutex::new(tx),
        }),
    );
    let addr = server.addr_str();
    client
        .invoke(&addr, echo_request(b"hi", SerializeType::Json), SOON)
        .await
        .unwrap();
    let to_client = connected.recv().await.unwrap();
    let client_channel = client.channel(&addr).await.unwrap();
    assert_eq!(to_client.side(), Side::Accepted);
    assert_eq!(
        to_client.remote_addr(),
        client_channel.local_addr(),
        "same TCP connection"
    );
    assert_eq!(to_client.peer_serialize_type(), SerializeType::Json);

    // Sync request server → client.
    let reply = to_client
        .request(notify(request::GET_CONSUMER_RUNNING_INFO), SOON)
        .await
        .unwrap();
    assert_eq!(reply.code, response::SUCCESS);
    assert_eq!(&reply.body[..], b"running");
    assert_eq!(reply.serialize_type, SerializeType::Json);
    assert_eq!(
        seen.recv().await.unwrap(),
        (
            request::GET_CONSUMER_RUNNING_INFO,
            SerializeType::Json,
            false,
            Side::Connected
        )
    );

    // Oneway notification, JSON because the client spoke JSON.
    to_client
        .send_oneway(notify(request::NOTIFY_CONSUMER_IDS_CHANGED))
        .await
        .unwrap();
    assert_eq!(
        seen.recv().await.unwrap(),
        (
            request::NOTIFY_CONSUMER_IDS_CHANGED,
            SerializeType::Json,
            true,
            Side::Connected
        )
    );

    // Once the client speaks binary, the server's own requests follow.
    client
        .invoke(&addr, echo_request(b"bin", SerializeType::RocketMq), SOON)
        .await
        .unwrap();
    assert_eq!(to_client.peer_serialize_type(), SerializeType::RocketMq);
    to_client
        .send_oneway(notify(request::CHECK_TRANSACTION_STATE))
        .await
        .unwrap();
    assert_eq!(
        seen.recv().await.unwrap(),
        (
            request::CHECK_TRANSACTION_STATE,
            SerializeType::RocketMq,
            true,
            Side::Connected
        )
    );
    let reply = to_client
        .request(notify(request::GET_CONSUMER_RUNNING_INFO), SOON)
        .await
        .unwrap();
    assert_eq!(reply.serialize_type, SerializeType::RocketMq);
    assert_eq!(&reply.body[..], b"running");
    server.stop().await;
}

#[tokio::test]
async fn a_client_without_handler_answers_request_code_not_supported() {
    let handler = TestHandler::new();
    let mut connected = handler.watch_connected();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    client.channel(&server.addr_str()).await.unwrap();
    let to_client = connected.recv().await.unwrap();
    let reply = to_client
        .request(notify(request::GET_CONSUMER_RUNNING_INFO), SOON)
        .await
        .unwrap();
    assert_eq!(reply.code, response::REQUEST_CODE_NOT_SUPPORTED);
    assert!(reply.remark.unwrap().contains("307"));
    server.stop().await;
}

#[tokio::test]
async fn server_request_fails_when_the_client_goes_away() {
    let handler = TestHandler::new();
    let mut connected = handler.watch_connected();
    let server = start_server(handler.clone(), ServerConfig::default()).await;
    // A client whose handler never answers, so the server's request stays pending.
    struct Silent;
    impl RequestHandler for Silent {
        fn handle(
            &self,
            _: &Channel,
            _: RemotingCommand,
        ) -> BoxFuture<'static, Option<RemotingCommand>> {
            Box::pin(std::future::pending())
        }
    }
    let client = RemotingClient::with_handler(ClientConfig::default(), Arc::new(Silent));
    client.channel(&server.addr_str()).await.unwrap();
    let to_client = connected.recv().await.unwrap();
    let pending = tokio::spawn({
        let to_client = to_client.clone();
        async move {
            to_client
                .request(notify(request::GET_CONSUMER_RUNNING_INFO), SOON * 6)
                .await
        }
    });
    drop(client);
    let err = tokio::time::timeout(SOON, pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, saturn_remoting::RemotingError::ConnectionClosed),
        "{err:?}"
    );
    assert!(to_client.is_closed());
    server.stop().await;
}
