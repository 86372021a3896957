//! Messages sent in every form (V1 with C++-style numeric JSON, V2, batch) come back from a pull
//! intact, and their ids resolve through VIEW_MESSAGE_BY_ID and QUERY_MESSAGE.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use common::*;
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, PullMessageResponse, QueryMessageRequest, SendMessageRequestV2,
    SendMessageResponse, ViewMessageRequest,
};
use saturn_protocol::message::{decode_offset_msg_id, encode_batch, BatchEntry};

#[tokio::test]
async fn every_send_form_pulls_back_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    let topic = "SendPullTopic";

    // 1. SEND_MESSAGE (10) as the C++ client writes it: numbers as JSON numbers, ACL keys.
    let header = format!(
        concat!(
            r#"{{"code":10,"language":"CPP","version":63,"opaque":7,"flag":0,"remark":"","#,
            r#""extFields":{{"AccessKey":"","OnsChannel":"ALIYUN","Signature":"","#,
            r#""producerGroup":"pg","topic":"{}","defaultTopic":"TBW102","#,
            r#""defaultTopicQueueNums":4,"queueId":0,"sysFlag":0,"bornTimestamp":"1700000000000","#,
            r#""flag":0,"properties":"KEYS\u0001key-v1\u0002TAGS\u0001TagA\u0002UNIQ_KEY\u0001CPPUNIQ0001\u0002WAIT\u0001true\u0002","#,
            r#""reconsumeTimes":0,"unitMode":false,"batch":"0"}}}}"#
        ),
        topic
    );
    let (resp, cpp_local) = raw_call(&b.addr, &header, b"body-v1").await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    assert_eq!(resp.opaque, 7);
    let v1 = SendMessageResponse::from_ext(&resp.ext_fields).unwrap();
    assert_eq!((v1.queue_id, v1.queue_offset), (0, 0));
    assert_eq!(v1.transaction_id.as_deref(), Some("CPPUNIQ0001"));
    assert_eq!(resp.ext_fields.get("MSG_REGION"), Some("DefaultRegion"));
    assert_eq!(resp.ext_fields.get("TRACE_ON"), Some("true"));

    // 2. SEND_MESSAGE_V2 (310), no UNIQ_KEY: the broker adds one.
    let resp = call(
        &c,
        &b.addr,
        send_v2(topic, 0, Some("TagB"), Some("key-v2 other"), "body-v2"),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let v2 = SendMessageResponse::from_ext(&resp.ext_fields).unwrap();
    assert_eq!(v2.queue_offset, 1);
    assert!(v2.transaction_id.as_deref().is_some_and(|t| t.len() == 32));

    // 3. SEND_BATCH_MESSAGE (320): three entries, consecutive offsets, comma-joined ids.
    let entries: Vec<BatchEntry> = (0..3)
        .map(|i| BatchEntry {
            flag: i,
            body: Bytes::from(format!("batch-{i}")),
            properties: props(Some("TagC"), Some(&format!("key-b{i}"))),
        })
        .collect();
    let mut h: SendMessageRequestV2 = send_header(topic, 0, props(None, None)).into();
    h.batch = Some(true);
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::SEND_BATCH_MESSAGE, h.to_ext())
            .with_body(encode_batch(&entries).unwrap()),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let batch = SendMessageResponse::from_ext(&resp.ext_fields).unwrap();
    assert_eq!(batch.queue_offset, 2);
    let batch_ids: Vec<&str> = batch.msg_id.split(',').collect();
    assert_eq!(batch_ids.len(), 3);

    // Pull everything back.
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", topic, 0, 0))).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    assert_eq!(resp.remark.as_deref(), Some("FOUND"));
    let ph = PullMessageResponse::from_ext(&resp.ext_fields).unwrap();
    assert_eq!(
        (ph.next_begin_offset, ph.min_offset, ph.max_offset),
        (5, 0, 5)
    );
    let msgs = records(&resp);
    assert_eq!(msgs.len(), 5);
    let bodies: Vec<&[u8]> = msgs.iter().map(|m| &m.body[..]).collect();
    assert_eq!(
        bodies,
        [
            &b"body-v1"[..],
            b"body-v2",
            b"batch-0",
            b"batch-1",
            b"batch-2"
        ]
    );
    let tags: Vec<_> = msgs.iter().map(|m| m.tags().unwrap()).collect();
    assert_eq!(tags, ["TagA", "TagB", "TagC", "TagC", "TagC"]);
    assert_eq!(msgs[0].keys(), Some("key-v1"));
    assert_eq!(msgs[1].keys(), Some("key-v2 other"));
    assert_eq!(msgs[3].flag, 1);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(m.topic, topic);
        assert_eq!(m.store_host, b.store_host());
        assert_eq!(m.property("CLUSTER"), Some("DefaultCluster"));
        assert!(m.uniq_key().is_some());
        assert!(m.verify_crc());
    }
    assert_eq!(msgs[0].born_host, cpp_local, "born host is the TCP peer");
    assert_eq!(msgs[0].uniq_key(), Some("CPPUNIQ0001"));
    assert_eq!(msgs[1].uniq_key(), v2.transaction_id.as_deref());

    // Offset msg ids from the send responses are the records' ids and resolve by VIEW.
    let sent_ids: Vec<String> = [v1.msg_id.as_str(), v2.msg_id.as_str()]
        .into_iter()
        .chain(batch_ids.iter().copied())
        .map(str::to_owned)
        .collect();
    for (id, m) in sent_ids.iter().zip(&msgs) {
        assert_eq!(*id, m.offset_msg_id());
        let (host, phys) = decode_offset_msg_id(id).unwrap();
        assert_eq!(host, b.store_host());
        let view = ViewMessageRequest {
            offset: phys,
            topic: None,
        };
        let resp = call(
            &c,
            &b.addr,
            RemotingCommand::new_request(request::VIEW_MESSAGE_BY_ID, view.to_ext()),
        )
        .await;
        assert_eq!(resp.code, 0, "{:?}", resp.remark);
        let viewed = records(&resp);
        assert_eq!(viewed.len(), 1);
        assert_eq!(viewed[0].body, m.body);
    }
    let bad_view = ViewMessageRequest {
        offset: 3,
        topic: None,
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::VIEW_MESSAGE_BY_ID, bad_view.to_ext()),
    )
    .await;
    assert_eq!(resp.code, 1);

    // QUERY_MESSAGE by key (a KEYS entry and a second key of the same message) and by UNIQ_KEY.
    for (key, expected) in [
        ("key-v1", "body-v1"),
        ("other", "body-v2"),
        ("key-b2", "batch-2"),
    ] {
        let resp = call(&c, &b.addr, query(topic, key, false)).await;
        assert_eq!(resp.code, 0, "{key}: {:?}", resp.remark);
        let found = records(&resp);
        assert_eq!(found.len(), 1, "{key}");
        assert_eq!(&found[0].body[..], expected.as_bytes());
        assert!(resp.ext_fields.get("indexLastUpdatePhyoffset").is_some());
    }
    let resp = call(&c, &b.addr, query(topic, "CPPUNIQ0001", true)).await;
    assert_eq!(resp.code, 0);
    assert_eq!(&records(&resp)[0].body[..], b"body-v1");
    let resp = call(&c, &b.addr, query(topic, "no-such-key", false)).await;
    assert_eq!(resp.code, 22);

    b.stop().await;
}

fn query(topic: &str, key: &str, uniq: bool) -> RemotingCommand {
    let h = QueryMessageRequest {
        topic: topic.into(),
        key: key.into(),
        max_num: 32,
        begin_timestamp: 0,
        end_timestamp: i64::MAX,
        unique_key_query: uniq.then_some(true),
    };
    RemotingCommand::new_request(request::QUERY_MESSAGE, h.to_ext())
}

#[tokio::test]
async fn oversized_and_illegal_sends_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.max_message_size = 1024;
    let b = TestBroker::start_with(cfg).await;
    let c = client();
    let big = "x".repeat(2048);
    let resp = call(&c, &b.addr, send_v2("T1", 0, None, None, &big)).await;
    assert_eq!(resp.code, 13, "{:?}", resp.remark);
    let resp = call(&c, &b.addr, send_v2("bad.topic", 0, None, None, "x")).await;
    assert_eq!(resp.code, 13, "{:?}", resp.remark);
    let resp = call(&c, &b.addr, send_v2(&"t".repeat(128), 0, None, None, "x")).await;
    assert_eq!(resp.code, 13, "{:?}", resp.remark);
    let resp = call(
        &c,
        &b.addr,
        send_v2("RMQ_SYS_TRANS_HALF_TOPIC", 0, None, None, "x"),
    )
    .await;
    assert_eq!(resp.code, 16, "{:?}", resp.remark);
    // A queue id past the topic's queues is replaced by a valid one.
    let r = send_ok(&c, &b.addr, "T1", 99, None, "x").await;
    assert!((0..4).contains(&r.queue_id));
    b.stop().await;
}

#[tokio::test]
async fn sync_flush_acknowledges_durable_sends() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.flush_disk_type = saturn_broker::FlushDiskType::SyncFlush;
    let b = TestBroker::start_with(cfg).await;
    let c = client();
    // Concurrent sends share flushes; each is answered SUCCESS once durable.
    let sends: Vec<_> = (0..20)
        .map(|i| {
            let (c, addr) = (c.clone(), b.addr.clone());
            tokio::spawn(async move {
                call(
                    &c,
                    &addr,
                    send_v2("SyncTopic", 0, None, None, &format!("s{i}")),
                )
                .await
            })
        })
        .collect();
    for s in sends {
        let resp = s.await.unwrap();
        assert_eq!(resp.code, 0, "{:?}", resp.remark);
    }
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", "SyncTopic", 0, 0))).await;
    assert_eq!(records(&resp).len(), 20);
    b.stop().await;
}
