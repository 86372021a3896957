//! Brokers disappear from routes when they unregister, their connection closes, or they fall
//! silent for longer than `broker_expiry`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use saturn_namesrv::NamesrvConfig;
use saturn_protocol::code::{request, response};
use saturn_protocol::command::RemotingCommand;
use saturn_remoting::RemotingClient;

async fn route_code(c: &RemotingClient, ns: &str, topic: &str) -> i32 {
    invoke(c, ns, route_request(topic)).await.code
}

#[tokio::test]
async fn closing_the_broker_connection_drops_its_routes() {
    let ns = TestNamesrv::start().await;
    let (broker_a, broker_b, c) = (client(), client(), client());
    invoke(
        &broker_a,
        &ns.addr,
        register_request(
            "C",
            "a",
            "127.0.0.1:1",
            0,
            &[topic("Shared", 4, 4, 6), topic("OnlyA", 4, 4, 6)],
        ),
    )
    .await;
    invoke(
        &broker_b,
        &ns.addr,
        register_request("C", "b", "127.0.0.1:2", 0, &[topic("Shared", 4, 4, 6)]),
    )
    .await;
    assert_eq!(route_code(&c, &ns.addr, "OnlyA").await, response::SUCCESS);

    broker_a.shutdown();
    wait_until("OnlyA to disappear", || async {
        route_code(&c, &ns.addr, "OnlyA").await == response::TOPIC_NOT_EXIST
    })
    .await;
    let v = json(&invoke(&c, &ns.addr, route_request("Shared")).await);
    assert_eq!(v["queueDatas"].as_array().unwrap().len(), 1);
    assert_eq!(v["queueDatas"][0]["brokerName"], "b");
    assert_eq!(v["brokerDatas"].as_array().unwrap().len(), 1);
    assert_eq!(ns.handle.state().routes().live_brokers(), 1);

    let info = json(
        &invoke(
            &c,
            &ns.addr,
            RemotingCommand::new_request(request::GET_BROKER_CLUSTER_INFO, ext(&[])),
        )
        .await,
    );
    assert!(info["brokerAddrTable"].get("a").is_none());
    assert_eq!(info["clusterAddrTable"]["C"], serde_json::json!(["b"]));
    ns.stop().await;
}

#[tokio::test]
async fn silent_broker_expires_and_its_connection_is_closed() {
    let config = NamesrvConfig {
        broker_expiry: Duration::from_millis(500),
        scan_interval: Duration::from_millis(50),
        ..NamesrvConfig::default()
    };
    let ns = TestNamesrv::start_with(config).await;
    let (broker, c) = (client(), client());
    let channel = broker.channel(&ns.addr).await.unwrap();
    invoke(
        &broker,
        &ns.addr,
        register_request("C", "quiet", "127.0.0.1:3", 0, &[topic("Quiet", 4, 4, 6)]),
    )
    .await;
    assert!(ns.handle.state().routes().is_live("127.0.0.1:3"));

    // The broker keeps its connection open but never registers again.
    wait_until("the silent broker to expire", || async {
        route_code(&c, &ns.addr, "Quiet").await == response::TOPIC_NOT_EXIST
    })
    .await;
    assert!(!ns.handle.state().routes().is_live("127.0.0.1:3"));
    tokio::time::timeout(SOON, channel.closed())
        .await
        .expect("the name server closes an expired broker's connection");

    // The client itself stays usable: a new connection registers afresh.
    let resp = invoke(
        &c,
        &ns.addr,
        register_request("C", "quiet", "127.0.0.1:3", 0, &[topic("Quiet", 4, 4, 6)]),
    )
    .await;
    assert_eq!(resp.code, response::SUCCESS);
    assert_eq!(route_code(&c, &ns.addr, "Quiet").await, response::SUCCESS);
    ns.stop().await;
}

#[tokio::test]
async fn unregister_drops_at_once() {
    let ns = TestNamesrv::start().await;
    let c = client();
    invoke(
        &c,
        &ns.addr,
        register_request("C", "u", "127.0.0.1:4", 0, &[topic("Gone", 4, 4, 6)]),
    )
    .await;
    let unregister = RemotingCommand::new_request(
        request::UNREGISTER_BROKER,
        ext(&[
            ("brokerName", "u"),
            ("brokerAddr", "127.0.0.1:4"),
            ("clusterName", "C"),
            ("brokerId", "0"),
        ]),
    );
    assert_eq!(
        invoke(&c, &ns.addr, unregister).await.code,
        response::SUCCESS
    );
    assert_eq!(
        route_code(&c, &ns.addr, "Gone").await,
        response::TOPIC_NOT_EXIST
    );
    assert_eq!(ns.handle.state().routes().live_brokers(), 0);
    ns.stop().await;
}

#[tokio::test]
async fn name_servers_are_independent() {
    let (ns1, ns2) = (TestNamesrv::start().await, TestNamesrv::start().await);
    let c = client();
    invoke(
        &c,
        &ns1.addr,
        register_request("C", "a", "127.0.0.1:5", 0, &[topic("OnlyOnNs1", 4, 4, 6)]),
    )
    .await;
    assert_eq!(
        route_code(&c, &ns1.addr, "OnlyOnNs1").await,
        response::SUCCESS
    );
    assert_eq!(
        route_code(&c, &ns2.addr, "OnlyOnNs1").await,
        response::TOPIC_NOT_EXIST
    );
    ns1.stop().await;
    assert_eq!(
        route_code(&c, &ns2.addr, "OnlyOnNs1").await,
        response::TOPIC_NOT_EXIST
    );
    ns2.stop().await;
}
