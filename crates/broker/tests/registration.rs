//! Name-server registration: the broker registers with every name server (a dead one delays no
//! one), re-registers at once after a topic is created, and disappears at shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use saturn_namesrv::{NameServer, NamesrvConfig};
use saturn_protocol::body::{self, TopicRouteData};
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, GetRouteInfoRequest};
use saturn_remoting::RemotingClient;
use tokio_util::sync::CancellationToken;

async fn route(c: &RemotingClient, namesrv: &str, topic: &str) -> Option<TopicRouteData> {
    let h = GetRouteInfoRequest {
        topic: topic.into(),
        accept_standard_json_only: Some(true),
    };
    let resp = call(
        c,
        namesrv,
        RemotingCommand::new_request(request::GET_ROUTEINFO_BY_TOPIC, h.to_ext()),
    )
    .await;
    (resp.code == 0).then(|| body::decode(&resp.body).unwrap())
}

async fn wait_route(c: &RemotingClient, namesrv: &str, topic: &str, present: bool) -> Duration {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + SOON;
    while route(c, namesrv, topic).await.is_some() != present {
        assert!(
            tokio::time::Instant::now() < deadline,
            "route of {topic} at {namesrv}: expected present={present}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn registers_with_every_name_server() {
    let ns_token = CancellationToken::new();
    let mut namesrvs = Vec::new();
    for _ in 0..2 {
        let cfg = NamesrvConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..NamesrvConfig::default()
        };
        namesrvs.push(NameServer::start(cfg, ns_token.clone()).await.unwrap());
    }
    // A "name server" that accepts connections and never answers.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addrs: Vec<String> = namesrvs
        .iter()
        .map(|n| n.local_addr().to_string())
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.namesrv_addrs = vec![
        black_hole.local_addr().unwrap().to_string(),
        addrs[0].clone(),
        addrs[1].clone(),
    ];
    cfg.register_timeout_ms = 1_000;
    let b = TestBroker::start_with(cfg).await;
    let c = client();

    for ns in &addrs {
        let took = wait_route(&c, ns, "TBW102", true).await;
        println!("registered at {ns} within {took:?}");
        let r = route(&c, ns, "TBW102").await.unwrap();
        assert_eq!(r.broker_datas[0].broker_name, "broker-a");
        assert_eq!(
            r.broker_datas[0].master_addr(),
            Some(b.store_host().to_string().as_str())
        );
    }

    // A new topic reaches every name server long before the 30 s period.
    create_topic(&c, &b.addr, "FreshTopic", 3).await;
    for ns in &addrs {
        let took = wait_route(&c, ns, "FreshTopic", true).await;
        println!("new topic visible at {ns} after {took:?}");
        assert!(took < Duration::from_secs(5));
        let r = route(&c, ns, "FreshTopic").await.unwrap();
        assert_eq!(r.queue_datas[0].write_queue_nums, 3);
    }

    b.stop().await;
    for ns in &addrs {
        wait_route(&c, ns, "FreshTopic", false).await;
    }
    ns_token.cancel();
    for n in namesrvs {
        n.join().await.unwrap();
    }
}
