//! Registration and route lookup over TCP, checked the way real clients read the answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use common::*;
use saturn_protocol::body::{self, DataVersion};
use saturn_protocol::code::{request, response};
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, RegisterBrokerResponse};

const BROKER_A: &str = "127.0.0.1:10911";

#[tokio::test]
async fn registered_topics_have_routes_real_clients_parse() {
    let ns = TestNamesrv::start().await;
    let broker = client();
    let reg = register_request(
        "DefaultCluster",
        "broker-a",
        BROKER_A,
        0,
        &[topic("TopicA", 4, 4, 6), topic("TopicB", 8, 2, 4)],
    );
    let resp = invoke(&broker, &ns.addr, reg).await;
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    let header = RegisterBrokerResponse::from_ext(&resp.ext_fields).unwrap();
    assert_eq!(
        header.master_addr, None,
        "a master is told no master address"
    );

    let c = client();
    let resp = invoke(&c, &ns.addr, route_request("TopicA")).await;
    assert_eq!(resp.code, response::SUCCESS);
    let v = json(&resp);
    let bd = &v["brokerDatas"][0];
    assert_eq!(bd["enableActingMaster"], serde_json::Value::Bool(false));
    assert_eq!(bd["brokerAddrs"]["0"], BROKER_A);
    assert_eq!(bd["brokerName"], "broker-a");
    assert_eq!(bd["cluster"], "DefaultCluster");
    assert_eq!(v["brokerDatas"].as_array().unwrap().len(), 1);
    assert_eq!(v["filterServerTable"], serde_json::json!({}));
    let qd = &v["queueDatas"][0];
    assert_eq!(qd["brokerName"], "broker-a");
    assert_eq!(qd["readQueueNums"], 4);
    assert_eq!(qd["writeQueueNums"], 4);
    assert_eq!(qd["perm"], 6);
    assert_eq!(qd["topicSysFlag"], 0);

    let v = json(&invoke(&c, &ns.addr, route_request("TopicB")).await);
    let qd = &v["queueDatas"][0];
    assert_eq!(
        (qd["readQueueNums"].as_i64(), qd["writeQueueNums"].as_i64()),
        (Some(8), Some(2))
    );
    assert_eq!(qd["perm"], 4);

    let resp = invoke(
        &c,
        &ns.addr,
        RemotingCommand::new_request(request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER, ext(&[])),
    )
    .await;
    assert_eq!(
        json(&resp)["topicList"],
        serde_json::json!(["TopicA", "TopicB"])
    );
    ns.stop().await;
}

#[tokio::test]
async fn unknown_topic_is_17_with_javas_remark() {
    let ns = TestNamesrv::start().await;
    let resp = invoke(&client(), &ns.addr, route_request("Nope")).await;
    assert_eq!(resp.code, response::TOPIC_NOT_EXIST);
    assert!(resp.body.is_empty());
    assert_eq!(
        resp.remark.as_deref(),
        Some("No topic route info in name server for the topic: Nope\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
    );
    ns.stop().await;
}

#[tokio::test]
async fn slave_is_listed_but_only_master_queues_count() {
    let ns = TestNamesrv::start().await;
    let (master, slave, c) = (client(), client(), client());
    invoke(
        &master,
        &ns.addr,
        register_request("C", "b", "127.0.0.1:1000", 0, &[topic("T", 4, 4, 6)]),
    )
    .await;
    let resp = invoke(
        &slave,
        &ns.addr,
        register_request(
            "C",
            "b",
            "127.0.0.1:1001",
            1,
            &[topic("T", 16, 16, 6), topic("SlaveOnly", 1, 1, 6)],
        ),
    )
    .await;
    let header = RegisterBrokerResponse::from_ext(&resp.ext_fields).unwrap();
    assert_eq!(header.master_addr.as_deref(), Some("127.0.0.1:1000"));
    assert_eq!(header.ha_server_addr.as_deref(), Some("127.0.0.1:1000-ha"));

    let v = json(&invoke(&c, &ns.addr, route_request("T")).await);
    assert_eq!(v["queueDatas"].as_array().unwrap().len(), 1);
    assert_eq!(v["queueDatas"][0]["readQueueNums"], 4);
    assert_eq!(v["brokerDatas"][0]["brokerAddrs"]["0"], "127.0.0.1:1000");
    assert_eq!(v["brokerDatas"][0]["brokerAddrs"]["1"], "127.0.0.1:1001");
    let resp = invoke(&c, &ns.addr, route_request("SlaveOnly")).await;
    assert_eq!(resp.code, response::TOPIC_NOT_EXIST);

    let info = invoke(
        &c,
        &ns.addr,
        RemotingCommand::new_request(request::GET_BROKER_CLUSTER_INFO, ext(&[])),
    )
    .await;
    let v = json(&info);
    assert_eq!(v["clusterAddrTable"]["C"], serde_json::json!(["b"]));
    assert_eq!(
        v["brokerAddrTable"]["b"]["brokerAddrs"]["1"],
        "127.0.0.1:1001"
    );
    assert_eq!(v["brokerAddrTable"]["b"]["enableActingMaster"], false);
    ns.stop().await;
}

#[tokio::test]
async fn compressed_body_and_crc_check() {
    let ns = TestNamesrv::start().await;
    let c = client();
    let z = register_body(&[topic("Zipped", 2, 2, 6)], 1)
        .encode_compressed()
        .unwrap();
    let reg = register_request_with_body("C", "z", "127.0.0.1:2000", 0, Bytes::from(z), true);
    assert_eq!(invoke(&c, &ns.addr, reg).await.code, response::SUCCESS);
    let v = json(&invoke(&c, &ns.addr, route_request("Zipped")).await);
    assert_eq!(v["queueDatas"][0]["writeQueueNums"], 2);

    let mut bad = register_request("C", "x", "127.0.0.1:2001", 0, &[topic("Bad", 1, 1, 6)]);
    bad.ext_fields.insert("bodyCrc32", "12345");
    let resp = invoke(&c, &ns.addr, bad).await;
    assert_eq!(resp.code, response::SYSTEM_ERROR);
    assert_eq!(resp.remark.as_deref(), Some("crc32 not match"));
    assert_eq!(
        invoke(&c, &ns.addr, route_request("Bad")).await.code,
        response::TOPIC_NOT_EXIST
    );
    ns.stop().await;
}

#[tokio::test]
async fn query_data_version_reports_changes() {
    let ns = TestNamesrv::start().await;
    let c = client();
    let addr = "127.0.0.1:3000";
    let query = |counter: i64| {
        let v = DataVersion {
            counter,
            state_version: 0,
            timestamp: 1_700_000_000_000,
        };
        RemotingCommand::new_request(
            request::QUERY_DATA_VERSION,
            ext(&[
                ("brokerName", "q"),
                ("brokerAddr", addr),
                ("clusterName", "C"),
                ("brokerId", "0"),
            ]),
        )
        .with_body(body::encode_bytes(&v))
    };
    let resp = invoke(&c, &ns.addr, query(1)).await;
    assert_eq!(
        resp.ext_fields.get("changed"),
        Some("true"),
        "unknown broker must register"
    );

    invoke(
        &c,
        &ns.addr,
        register_request("C", "q", addr, 0, &[topic("T", 1, 1, 6)]),
    )
    .await;
    let resp = invoke(&c, &ns.addr, query(1)).await;
    assert_eq!(resp.ext_fields.get("changed"), Some("false"));
    let known: DataVersion = body::decode(&resp.body).unwrap();
    assert_eq!(known.counter, 1);
    let resp = invoke(&c, &ns.addr, query(2)).await;
    assert_eq!(resp.ext_fields.get("changed"), Some("true"));
    ns.stop().await;
}

#[tokio::test]
async fn topic_admin_requests() {
    let ns = TestNamesrv::start().await;
    let c = client();
    invoke(
        &c,
        &ns.addr,
        register_request(
            "C1",
            "a",
            "127.0.0.1:4000",
            0,
            &[topic("T", 4, 4, 6), topic("U", 4, 4, 6)],
        ),
    )
    .await;
    invoke(
        &c,
        &ns.addr,
        register_request("C2", "b", "127.0.0.1:4001", 0, &[topic("V", 4, 4, 6)]),
    )
    .await;

    let by_cluster = |cluster: &str| {
        RemotingCommand::new_request(request::GET_TOPICS_BY_CLUSTER, ext(&[("cluster", cluster)]))
    };
    assert_eq!(
        json(&invoke(&c, &ns.addr, by_cluster("C1")).await)["topicList"],
        serde_json::json!(["T", "U"])
    );
    assert_eq!(
        json(&invoke(&c, &ns.addr, by_cluster("C2")).await)["topicList"],
        serde_json::json!(["V"])
    );
    assert_eq!(
        json(&invoke(&c, &ns.addr, by_cluster("C3")).await)["topicList"],
        serde_json::json!([])
    );

    let wipe = RemotingCommand::new_request(
        request::WIPE_WRITE_PERM_OF_BROKER,
        ext(&[("brokerName", "a")]),
    );
    let resp = invoke(&c, &ns.addr, wipe).await;
    assert_eq!(resp.ext_fields.get("wipeTopicCount"), Some("2"));
    assert_eq!(
        json(&invoke(&c, &ns.addr, route_request("T")).await)["queueDatas"][0]["perm"],
        4
    );

    let delete =
        RemotingCommand::new_request(request::DELETE_TOPIC_IN_NAMESRV, ext(&[("topic", "T")]));
    assert_eq!(invoke(&c, &ns.addr, delete).await.code, response::SUCCESS);
    assert_eq!(
        invoke(&c, &ns.addr, route_request("T")).await.code,
        response::TOPIC_NOT_EXIST
    );

    let mut route = saturn_protocol::body::TopicRouteData::default();
    route.queue_datas.push(saturn_protocol::body::QueueData {
        broker_name: "b".into(),
        perm: 6,
        read_queue_nums: 3,
        write_queue_nums: 3,
        topic_sys_flag: 0,
    });
    let register = RemotingCommand::new_request(
        request::REGISTER_TOPIC_IN_NAMESRV,
        ext(&[("topic", "Admin")]),
    )
    .with_body(body::encode_bytes(&route));
    assert_eq!(invoke(&c, &ns.addr, register).await.code, response::SUCCESS);
    let v = json(&invoke(&c, &ns.addr, route_request("Admin")).await);
    assert_eq!(v["queueDatas"][0]["readQueueNums"], 3);
    assert_eq!(v["brokerDatas"][0]["brokerAddrs"]["0"], "127.0.0.1:4001");
    ns.stop().await;
}

#[tokio::test]
async fn kv_config_in_memory() {
    let ns = TestNamesrv::start().await;
    let c = client();
    let key = [("namespace", "ORDER_TOPIC_CONFIG"), ("key", "OrderT")];
    let get = || RemotingCommand::new_request(request::GET_KV_CONFIG, ext(&key));
    let resp = invoke(&c, &ns.addr, get()).await;
    assert_eq!(resp.code, response::QUERY_NOT_FOUND);
    assert_eq!(
        resp.remark.as_deref(),
        Some("No config item, Namespace: ORDER_TOPIC_CONFIG Key: OrderT")
    );

    let put = RemotingCommand::new_request(
        request::PUT_KV_CONFIG,
        ext(&[key[0], key[1], ("value", "b:4")]),
    );
    assert_eq!(invoke(&c, &ns.addr, put).await.code, response::SUCCESS);
    let resp = invoke(&c, &ns.addr, get()).await;
    assert_eq!(resp.code, response::SUCCESS);
    assert_eq!(resp.ext_fields.get("value"), Some("b:4"));

    // Registering brokers are sent the order-topic namespace.
    let resp = invoke(
        &c,
        &ns.addr,
        register_request("C", "b", "127.0.0.1:5000", 0, &[]),
    )
    .await;
    assert_eq!(json(&resp)["table"]["OrderT"], "b:4");

    let del = RemotingCommand::new_request(request::DELETE_KV_CONFIG, ext(&key));
    assert_eq!(invoke(&c, &ns.addr, del).await.code, response::SUCCESS);
    assert_eq!(
        invoke(&c, &ns.addr, get()).await.code,
        response::QUERY_NOT_FOUND
    );
    ns.stop().await;
}

#[tokio::test]
async fn unknown_code_and_bad_headers() {
    let ns = TestNamesrv::start().await;
    let c = client();
    let resp = invoke(&c, &ns.addr, RemotingCommand::new_request(9999, ext(&[]))).await;
    assert_eq!(resp.code, response::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 9999 not supported")
    );

    let resp = invoke(
        &c,
        &ns.addr,
        RemotingCommand::new_request(request::GET_ROUTEINFO_BY_TOPIC, ext(&[])),
    )
    .await;
    assert_eq!(resp.code, response::SYSTEM_ERROR);
    assert!(
        resp.remark.as_deref().unwrap().contains("topic"),
        "{:?}",
        resp.remark
    );

    let mut reg = register_request("C", "b", "127.0.0.1:6000", 0, &[]);
    reg.ext_fields.remove("brokerAddr");
    let resp = invoke(&c, &ns.addr, reg).await;
    assert_eq!(resp.code, response::SYSTEM_ERROR);
    assert!(
        resp.remark.as_deref().unwrap().contains("brokerAddr"),
        "{:?}",
        resp.remark
    );

    let mut reg = register_request("C", "b", "127.0.0.1:6000", 0, &[]);
    reg.ext_fields.insert("brokerId", "zero");
    let resp = invoke(&c, &ns.addr, reg).await;
    assert_eq!(resp.code, response::SYSTEM_ERROR);
    assert!(
        resp.remark.as_deref().unwrap().contains("brokerId"),
        "{:?}",
        resp.remark
    );

    let bad_body = register_request_with_body(
        "C",
        "b",
        "127.0.0.1:6000",
        0,
        Bytes::from_static(b"{not json"),
        false,
    );
    assert_eq!(
        invoke(&c, &ns.addr, bad_body).await.code,
        response::SYSTEM_ERROR
    );
    ns.stop().await;
}
