//! Pull semantics: server-side tag filtering, offset edge cases and long polling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use saturn_protocol::body::{ConsumerData, HeartbeatData, SubscriptionData};
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, PullMessageResponse};
use saturn_protocol::message::sysflag::pull as flag;

fn header_of(resp: &RemotingCommand) -> PullMessageResponse {
    PullMessageResponse::from_ext(&resp.ext_fields).expect("pull response header")
}

#[tokio::test]
async fn tag_filter_returns_exactly_the_subscribed_tags() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    let topic = "TagTopic";
    for (i, tag) in ["TagA", "TagB", "TagC", "TagA", "TagD", "TagB"]
        .iter()
        .enumerate()
    {
        send_ok(&c, &b.addr, topic, 0, Some(tag), &format!("m{i}")).await;
    }

    let mut h = pull_header("cg", topic, 0, 0);
    h.subscription = Some("TagA || TagB".into());
    let resp = call(&c, &b.addr, pull_cmd(&h)).await;
    assert_eq!(resp.code, 0);
    let got: Vec<(String, String)> = records(&resp)
        .iter()
        .map(|m| {
            (
                m.tags().unwrap().to_owned(),
                String::from_utf8(m.body.to_vec()).unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("TagA", "m0"),
        ("TagB", "m1"),
        ("TagA", "m3"),
        ("TagB", "m5"),
    ]
    .iter()
    .map(|(t, b)| (t.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(header_of(&resp).next_begin_offset, 6);

    // Nothing matches: 20 with the offset advanced past the scanned messages.
    h.subscription = Some("TagZ".into());
    let resp = call(&c, &b.addr, pull_cmd(&h)).await;
    assert_eq!(resp.code, 20, "{:?}", resp.remark);
    assert_eq!(resp.remark.as_deref(), Some("NO_MATCHED_MESSAGE"));
    let ph = header_of(&resp);
    assert_eq!((ph.next_begin_offset, ph.max_offset), (6, 6));

    // No subscription flag and an empty expression (rocketmq-client-rust): the heartbeat's
    // subscription applies.
    let hb = HeartbeatData {
        client_id: "127.0.0.1@rust".into(),
        consumer_data_set: vec![ConsumerData {
            group_name: "rust-cg".into(),
            subscription_data_set: vec![SubscriptionData {
                topic: topic.into(),
                sub_string: "TagC || TagD".into(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::HEART_BEAT, Default::default())
            .with_body(saturn_protocol::body::encode_bytes(&hb)),
    )
    .await;
    assert_eq!(resp.code, 0);
    let mut h = pull_header("rust-cg", topic, 0, 0);
    h.sys_flag = flag::SUSPEND;
    h.subscription = Some(String::new());
    let resp = call(&c, &b.addr, pull_cmd(&h)).await;
    assert_eq!(resp.code, 0);
    let tags: Vec<String> = records(&resp)
        .iter()
        .map(|m| m.tags().unwrap().to_owned())
        .collect();
    assert_eq!(tags, ["TagC", "TagD"]);

    // The C++ client's heartbeat: enum ordinals, string subVersion, no tagsSet/codeSet, and
    // jsoncpp's trailing newline.
    let cpp = format!(
        "{{\"clientID\":\"127.0.0.1@cpp\",\"consumerDataSet\":[{{\"consumeFromWhere\":0,\"consumeType\":1,\"groupName\":\"cpp-cg\",\"messageModel\":1,\"subscriptionDataSet\":[{{\"subString\":\"TagD\",\"subVersion\":\"1700000000000\",\"topic\":\"{topic}\"}}]}}],\"producerDataSet\":[]}}\n"
    );
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::HEART_BEAT, Default::default())
            .with_body(bytes::Bytes::from(cpp)),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let mut h = pull_header("cpp-cg", topic, 0, 0);
    h.sys_flag = flag::SUSPEND;
    h.subscription = None;
    let resp = call(&c, &b.addr, pull_cmd(&h)).await;
    let tags: Vec<String> = records(&resp)
        .iter()
        .map(|m| m.tags().unwrap().to_owned())
        .collect();
    assert_eq!(tags, ["TagD"]);

    // SQL92 is refused rather than ignored.
    let mut h = pull_header("cg", topic, 0, 0);
    h.expression_type = Some("SQL92".into());
    h.subscription = Some("a > 1".into());
    let resp = call(&c, &b.addr, pull_cmd(&h)).await;
    assert_eq!(resp.code, 23);
    b.stop().await;
}

#[tokio::test]
async fn offset_edges_and_unknown_topics() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    let topic = "EdgeTopic";
    for i in 0..3 {
        send_ok(&c, &b.addr, topic, 1, None, &format!("m{i}")).await;
    }
    // offset == max: nothing new.
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", topic, 1, 3))).await;
    assert_eq!(resp.code, 19, "{:?}", resp.remark);
    assert_eq!(resp.remark.as_deref(), Some("OFFSET_OVERFLOW_ONE"));
    let ph = header_of(&resp);
    assert_eq!(
        (ph.next_begin_offset, ph.min_offset, ph.max_offset),
        (3, 0, 3)
    );
    // offset > max on a queue that still starts at 0: moved back to 0 (Java's correction: the
    // consumer re-reads rather than skipping messages it never saw).
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", topic, 1, 10))).await;
    assert_eq!(resp.code, 21, "{:?}", resp.remark);
    assert_eq!(resp.remark.as_deref(), Some("OFFSET_OVERFLOW_BADLY"));
    assert_eq!(header_of(&resp).next_begin_offset, 0);
    // maxMsgNums caps the batch.
    let mut h = pull_header("cg", topic, 1, 0);
    h.max_msg_nums = 2;
    let resp = call(&c, &b.addr, pull_cmd(&h)).await;
    assert_eq!(records(&resp).len(), 2);
    assert_eq!(header_of(&resp).next_begin_offset, 2);
    // An empty queue of the topic: 19 at offset 0, 21 elsewhere; the header is always there.
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", topic, 2, 0))).await;
    assert_eq!(resp.code, 19);
    header_of(&resp);
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", topic, 2, 5))).await;
    assert_eq!(resp.code, 21);
    assert_eq!(header_of(&resp).next_begin_offset, 0);
    // Unknown topic, illegal queue.
    let resp = call(
        &c,
        &b.addr,
        pull_cmd(&pull_header("cg", "NoSuchTopic", 0, 0)),
    )
    .await;
    assert_eq!(resp.code, 17);
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", topic, 9, 0))).await;
    assert_eq!(resp.code, 1);
    // The commit-offset bit stores the group's offset.
    let mut h = pull_header("cg-commit", topic, 1, 0);
    h.sys_flag |= flag::COMMIT_OFFSET;
    h.commit_offset = 2;
    call(&c, &b.addr, pull_cmd(&h)).await;
    let q = saturn_protocol::header::QueryConsumerOffsetRequest {
        consumer_group: "cg-commit".into(),
        topic: topic.into(),
        queue_id: 1,
        set_zero_if_not_found: None,
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::QUERY_CONSUMER_OFFSET, q.to_ext()),
    )
    .await;
    assert_eq!(resp.ext_fields.get("offset"), Some("2"));
    b.stop().await;
}

#[tokio::test]
async fn long_poll_answers_on_arrival_and_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    let topic = "PollTopic";
    create_topic(&c, &b.addr, topic, 2).await;

    // Nothing arrives: 19 after the (short) suspend timeout, not before.
    let mut h = pull_header("cg", topic, 0, 0);
    h.sys_flag |= flag::SUSPEND;
    h.suspend_timeout_millis = 200;
    let started = Instant::now();
    let resp = call(&c, &b.addr, pull_cmd(&h)).await;
    let waited = started.elapsed();
    println!("empty long poll answered after {waited:?}");
    assert_eq!(resp.code, 19);
    header_of(&resp);
    assert!(
        waited >= Duration::from_millis(190),
        "answered too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(2),
        "answered too late: {waited:?}"
    );

    // A message arrives while the pull is held: answered right after the send.
    h.suspend_timeout_millis = 15_000;
    let pull = {
        let (c, addr, cmd) = (c.clone(), b.addr.clone(), pull_cmd(&h));
        tokio::spawn(async move {
            let r = call(&c, &addr, cmd).await;
            (r, Instant::now())
        })
    };
    // Give the pull time to reach the broker and park (the answer must not come before the send).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !pull.is_finished(),
        "pull answered before any message arrived"
    );
    // A message on another queue does not wake it.
    send_ok(&c, &b.addr, topic, 1, None, "other-queue").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!pull.is_finished(), "woken by another queue");
    let sent_at = Instant::now();
    send_ok(&c, &b.addr, topic, 0, None, "wake-up").await;
    let (resp, answered_at) = tokio::time::timeout(SOON, pull).await.unwrap().unwrap();
    let latency = answered_at.duration_since(sent_at);
    println!("held pull answered {latency:?} after the send");
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    assert_eq!(&records(&resp)[0].body[..], b"wake-up");
    assert!(latency < Duration::from_secs(1), "latency {latency:?}");

    // Shutdown releases a held pull promptly.
    h.queue_offset = 1;
    let pull = {
        let (c, addr, cmd) = (c.clone(), b.addr.clone(), pull_cmd(&h));
        tokio::spawn(async move { c.invoke(&addr, cmd, SOON).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = Instant::now();
    b.stop().await;
    let r = tokio::time::timeout(SOON, pull).await.unwrap().unwrap();
    println!("shutdown with a held pull took {:?}", stopping.elapsed());
    if let Ok(resp) = r {
        assert_eq!(resp.code, 19);
    }
    assert!(stopping.elapsed() < Duration::from_secs(5));
}
