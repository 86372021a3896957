//! Consumer offsets: query/update semantics, and offsets plus messages surviving a restart on
//! the same directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, GetMaxOffsetRequest, GetMinOffsetRequest, QueryConsumerOffsetRequest,
    SearchOffsetRequest, UpdateConsumerOffsetRequest,
};

fn query(group: &str, topic: &str, queue_id: i32, zero: Option<bool>) -> RemotingCommand {
    let h = QueryConsumerOffsetRequest {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        set_zero_if_not_found: zero,
    };
    RemotingCommand::new_request(request::QUERY_CONSUMER_OFFSET, h.to_ext())
}

fn update(group: &str, topic: &str, queue_id: i32, offset: i64) -> RemotingCommand {
    let h = UpdateConsumerOffsetRequest {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        commit_offset: offset,
    };
    RemotingCommand::new_request(request::UPDATE_CONSUMER_OFFSET, h.to_ext())
}

#[tokio::test]
async fn offsets_and_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let topic = "DurableTopic";
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    // Enough messages to roll over several 8 KiB commit-log segments.
    let body = "p".repeat(500);
    for i in 0..40 {
        send_ok(&c, &b.addr, topic, 0, None, &format!("{i}-{body}")).await;
    }

    // A new group on a young queue starts at 0; with setZeroIfNotFound=false it is "not found".
    let resp = call(&c, &b.addr, query("fresh", topic, 0, None)).await;
    assert_eq!((resp.code, resp.ext_fields.get("offset")), (0, Some("0")));
    let resp = call(&c, &b.addr, query("fresh", topic, 0, Some(false))).await;
    assert_eq!(resp.code, 22);

    // Sync update, then a oneway one (no response; visible to the next query).
    let resp = call(&c, &b.addr, update("g", topic, 0, 17)).await;
    assert_eq!(resp.code, 0);
    let resp = call(&c, &b.addr, query("g", topic, 0, None)).await;
    assert_eq!(resp.ext_fields.get("offset"), Some("17"));
    let mut oneway = update("g", topic, 0, 23);
    oneway.mark_oneway();
    c.invoke_oneway(&b.addr, oneway).await.unwrap();
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let resp = call(&c, &b.addr, query("g", topic, 0, None)).await;
        if resp.ext_fields.get("offset") == Some("23") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "oneway update never applied"
        );
        tokio::task::yield_now().await;
    }

    // Queue offsets.
    let h = GetMaxOffsetRequest {
        topic: topic.into(),
        queue_id: 0,
        committed: None,
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::GET_MAX_OFFSET, h.to_ext()),
    )
    .await;
    assert_eq!(resp.ext_fields.get("offset"), Some("40"));
    let h = GetMinOffsetRequest {
        topic: topic.into(),
        queue_id: 0,
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::GET_MIN_OFFSET, h.to_ext()),
    )
    .await;
    assert_eq!(resp.ext_fields.get("offset"), Some("0"));
    let h = SearchOffsetRequest {
        topic: topic.into(),
        queue_id: 0,
        timestamp: 0,
        boundary_type: None,
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::SEARCH_OFFSET_BY_TIMESTAMP, h.to_ext()),
    )
    .await;
    assert_eq!(resp.ext_fields.get("offset"), Some("0"));

    drop(c);
    b.stop().await;
    let segments = std::fs::read_dir(dir.path().join("commitlog"))
        .unwrap()
        .count();
    assert!(segments >= 3, "expected several segments, found {segments}");

    // Same directory, new broker.
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    let resp = call(&c, &b.addr, query("g", topic, 0, None)).await;
    assert_eq!((resp.code, resp.ext_fields.get("offset")), (0, Some("23")));
    let mut all = Vec::new();
    let mut offset = 0;
    while offset < 40 {
        let resp = call(&c, &b.addr, pull_cmd(&pull_header("g", topic, 0, offset))).await;
        assert_eq!(resp.code, 0, "{:?}", resp.remark);
        let msgs = records(&resp);
        offset = msgs.last().unwrap().queue_offset + 1;
        all.extend(msgs);
    }
    assert_eq!(all.len(), 40);
    for (i, m) in all.iter().enumerate() {
        assert!(m.body.starts_with(format!("{i}-").as_bytes()));
    }
    // The topic itself was persisted (pulls would answer 17 otherwise) and new sends continue
    // the queue.
    let r = send_ok(&c, &b.addr, topic, 0, None, "after-restart").await;
    assert_eq!(r.queue_offset, 40);
    b.stop().await;
}
