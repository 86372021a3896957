//! Consumer groups: membership from heartbeats, NOTIFY_CONSUMER_IDS_CHANGED on join, unregister
//! and connection close; plus the broker's answers to unknown codes and bad headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use saturn_protocol::body::{
    self, ConsumerConnection, ConsumerData, ConsumerListBody, HeartbeatData, SubscriptionData,
    TopicConfigSerializeWrapper,
};
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::ext::ExtFields;
use saturn_protocol::header::{
    CommandHeader, GetConsumerConnectionListRequest, GetConsumerListByGroupRequest,
    NotifyConsumerIdsChangedRequest, UnregisterClientRequest,
};
use saturn_remoting::RemotingClient;
use tokio::sync::mpsc::UnboundedReceiver;

const GROUP: &str = "members-cg";

fn heartbeat(client_id: &str) -> RemotingCommand {
    let hb = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            group_name: GROUP.into(),
            subscription_data_set: vec![SubscriptionData {
                topic: "MemberTopic".into(),
                sub_string: "*".into(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    RemotingCommand::new_request(request::HEART_BEAT, ExtFields::new())
        .with_body(body::encode_bytes(&hb))
}

async fn consumer_ids(c: &RemotingClient, addr: &str) -> RemotingCommand {
    let h = GetConsumerListByGroupRequest {
        consumer_group: GROUP.into(),
    };
    call(
        c,
        addr,
        RemotingCommand::new_request(request::GET_CONSUMER_LIST_BY_GROUP, h.to_ext()),
    )
    .await
}

async fn expect_notify(inbox: &mut UnboundedReceiver<RemotingCommand>, why: &str) {
    let cmd = tokio::time::timeout(SOON, inbox.recv())
        .await
        .unwrap_or_else(|_| panic!("no NOTIFY_CONSUMER_IDS_CHANGED after {why}"))
        .unwrap();
    assert_eq!(cmd.code, request::NOTIFY_CONSUMER_IDS_CHANGED, "{why}");
    assert!(cmd.is_oneway(), "{why}: notification must be oneway");
    let h = NotifyConsumerIdsChangedRequest::from_ext(&cmd.ext_fields).unwrap();
    assert_eq!(h.consumer_group, GROUP);
}

#[tokio::test]
async fn membership_changes_notify_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let (first, mut first_inbox) = client_with_inbox();
    let (second, _second_inbox) = client_with_inbox();

    // Empty group: Java answers SYSTEM_ERROR, not an empty list.
    let resp = consumer_ids(&first, &b.addr).await;
    assert_eq!(resp.code, 1);
    assert!(resp.remark.unwrap().contains("no consumer for this group"));

    assert_eq!(
        call(&first, &b.addr, heartbeat("10.0.0.1@first"))
            .await
            .code,
        0
    );
    expect_notify(&mut first_inbox, "own join").await;
    // A repeated heartbeat is not a change.
    assert_eq!(
        call(&first, &b.addr, heartbeat("10.0.0.1@first"))
            .await
            .code,
        0
    );

    assert_eq!(
        call(&second, &b.addr, heartbeat("10.0.0.2@second"))
            .await
            .code,
        0
    );
    expect_notify(&mut first_inbox, "second joined").await;
    let resp = consumer_ids(&first, &b.addr).await;
    assert_eq!(resp.code, 0);
    let list: ConsumerListBody = body::decode(&resp.body).unwrap();
    assert_eq!(list.consumer_id_list, ["10.0.0.1@first", "10.0.0.2@second"]);

    // Admin view of the group.
    let h = GetConsumerConnectionListRequest {
        consumer_group: GROUP.into(),
    };
    let resp = call(
        &first,
        &b.addr,
        RemotingCommand::new_request(request::GET_CONSUMER_CONNECTION_LIST, h.to_ext()),
    )
    .await;
    assert_eq!(resp.code, 0);
    let conn: ConsumerConnection = body::decode(&resp.body).unwrap();
    assert_eq!(conn.connection_set.len(), 2);
    assert!(conn.subscription_table.contains_key("MemberTopic"));

    // The heartbeat created the group's retry topic.
    let resp = call(
        &first,
        &b.addr,
        RemotingCommand::new_request(request::GET_ALL_TOPIC_CONFIG, ExtFields::new()),
    )
    .await;
    let topics: TopicConfigSerializeWrapper = body::decode(&resp.body).unwrap();
    let retry = &topics.topic_config_table[&format!("%RETRY%{GROUP}")];
    assert_eq!((retry.read_queue_nums, retry.perm), (1, 6));

    // UNREGISTER_CLIENT of the second: the first is told.
    let h = UnregisterClientRequest {
        client_id: "10.0.0.2@second".into(),
        producer_group: None,
        consumer_group: Some(GROUP.into()),
    };
    let resp = call(
        &second,
        &b.addr,
        RemotingCommand::new_request(request::UNREGISTER_CLIENT, h.to_ext()),
    )
    .await;
    assert_eq!(resp.code, 0);
    expect_notify(&mut first_inbox, "second unregistered").await;
    let list: ConsumerListBody = body::decode(&consumer_ids(&first, &b.addr).await.body).unwrap();
    assert_eq!(list.consumer_id_list, ["10.0.0.1@first"]);

    // Back again, then its connection closes: the first is told again.
    assert_eq!(
        call(&second, &b.addr, heartbeat("10.0.0.2@second"))
            .await
            .code,
        0
    );
    expect_notify(&mut first_inbox, "second rejoined").await;
    second.shutdown();
    expect_notify(&mut first_inbox, "second's connection closed").await;
    let list: ConsumerListBody = body::decode(&consumer_ids(&first, &b.addr).await.body).unwrap();
    assert_eq!(list.consumer_id_list, ["10.0.0.1@first"]);
    b.stop().await;
}

#[tokio::test]
async fn unknown_codes_and_bad_headers() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();

    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(4242, ExtFields::new()),
    )
    .await;
    assert_eq!(resp.code, 3);
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 4242 not supported")
    );

    // Missing required field.
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::PULL_MESSAGE, ExtFields::new()),
    )
    .await;
    assert_eq!(resp.code, 1);
    assert_eq!(
        resp.remark.as_deref(),
        Some("the custom field consumerGroup is null")
    );
    // Malformed number.
    let mut ext = pull_header("cg", "T", 0, 0).to_ext();
    ext.insert("queueOffset", "zero");
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::PULL_MESSAGE, ext),
    )
    .await;
    assert_eq!(resp.code, 1);
    assert!(resp.remark.unwrap().contains("queueOffset"));
    // A garbage heartbeat body and a garbage batch body.
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::HEART_BEAT, ExtFields::new())
            .with_body(bytes::Bytes::from_static(b"{not json")),
    )
    .await;
    assert_eq!(resp.code, 1);
    let mut send = send_v2("BatchTopic", 0, None, None, "\u{0}\u{0}\u{0}\u{9}garbage");
    send.code = request::SEND_BATCH_MESSAGE;
    let resp = call(&c, &b.addr, send).await;
    assert_eq!(resp.code, 13, "{:?}", resp.remark);

    // A oneway request with a bad header gets no answer; the connection keeps working.
    let mut oneway =
        RemotingCommand::new_request(request::UPDATE_CONSUMER_OFFSET, ExtFields::new());
    oneway.mark_oneway();
    c.invoke_oneway(&b.addr, oneway).await.unwrap();
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(4243, ExtFields::new()),
    )
    .await;
    assert_eq!(resp.code, 3);

    // Runtime info is a KVTable with the counters.
    send_ok(&c, &b.addr, "InfoTopic", 0, None, "x").await;
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::GET_BROKER_RUNTIME_INFO, ExtFields::new()),
    )
    .await;
    let kv: body::KvTable = body::decode(&resp.body).unwrap();
    assert_eq!(
        kv.table.get("msgPutTotalTodayNow").map(String::as_str),
        Some("1")
    );
    assert!(
        kv.table
            .get("commitLogMaxOffset")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    b.stop().await;
}
