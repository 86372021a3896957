//! Producer → broker → consumers, end to end against the in-process name server and broker.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{wait_async, wait_until, Cluster, Collector, SOON};
use saturn_client::{
    ClientError, ConsumeFrom, ConsumeResult, LitePullConsumer, LitePullConsumerConfig, Message,
    MessageModel, Producer, ProducerConfig, PushConsumer, PushConsumerConfig, SendStatus,
};
use saturn_protocol::message::decode_offset_msg_id;

fn consumer_config(c: &Cluster, group: &str, topic: &str, expr: &str) -> PushConsumerConfig {
    PushConsumerConfig {
        consume_from: ConsumeFrom::First,
        rebalance_interval: Duration::from_secs(1),
        persist_interval: Duration::from_millis(300),
        ..PushConsumerConfig::new(&c.namesrv, group, topic, expr)
    }
}

async fn producer(c: &Cluster) -> Producer {
    Producer::start(ProducerConfig::new(&c.namesrv, "test-producer"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_send_mode_reaches_push_consumers() {
    let c = Cluster::start().await;
    let topic = "SendModes";
    c.create_topic(topic, 4).await;
    let all = Collector::new();
    let tag_a = Collector::new();
    let consumer = PushConsumer::start(
        consumer_config(&c, "cg-all", topic, "*"),
        Arc::new(all.clone()),
    )
    .await
    .unwrap();
    let only_a = PushConsumer::start(
        consumer_config(&c, "cg-tag-a", topic, "TagA || NoSuchTag"),
        Arc::new(tag_a.clone()),
    )
    .await
    .unwrap();
    let p = producer(&c).await;

    let mut sync_ids = Vec::new();
    for i in 0..10 {
        let msg = Message::new(topic, format!("sync-{i}"))
            .with_tags("TagA")
            .with_key(format!("k-{i}"))
            .with_property("n", i.to_string());
        let r = p.send(msg).await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        assert_eq!(r.msg_id.len(), 32);
        assert_eq!(r.queue.topic, topic);
        let (host, _) = decode_offset_msg_id(&r.offset_msg_id).unwrap();
        assert_eq!(
            host.port().to_string(),
            c.broker_addr.rsplit(':').next().unwrap()
        );
        sync_ids.push(r.msg_id);
    }
    // Async = spawned futures.
    let mut pending = Vec::new();
    for i in 0..5 {
        let p2 = p.clone();
        let msg = Message::new(topic, format!("async-{i}")).with_tags("TagD");
        pending.push(tokio::spawn(async move { p2.send(msg).await }));
    }
    for t in pending {
        t.await.unwrap().unwrap();
    }
    for i in 0..5 {
        p.send_oneway(Message::new(topic, format!("oneway-{i}")).with_tags("TagB"))
            .await
            .unwrap();
    }
    let batch = (0..10)
        .map(|i| {
            Message::new(topic, format!("batch-{i}"))
                .with_tags("TagC")
                .with_key(format!("bk-{i}"))
        })
        .collect();
    let r = p.send_batch(batch).await.unwrap();
    assert_eq!(r.msg_id.split(',').count(), 10);
    assert_eq!(r.offset_msg_id.split(',').count(), 10);
    let mut order_queues = std::collections::BTreeMap::new();
    for i in 0..12 {
        let key = format!("order-{}", i % 3);
        let msg = Message::new(topic, format!("ordered-{i}")).with_key(key.as_str());
        let r = p.send_ordered(msg, &key).await.unwrap();
        let q = order_queues.entry(key).or_insert_with(|| r.queue.clone());
        assert_eq!(*q, r.queue, "one sharding key, one queue");
    }

    wait_until(SOON, "all 42 messages", || all.len() >= 42).await;
    let counts = all.body_counts();
    assert_eq!(counts.len(), 42, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    for m in all.messages() {
        let body = String::from_utf8(m.body.to_vec()).unwrap();
        let (kind, i) = body.split_once('-').unwrap();
        match kind {
            "sync" => {
                assert_eq!(m.tags.as_deref(), Some("TagA"));
                assert_eq!(m.keys.as_deref(), Some(format!("k-{i}").as_str()));
                assert_eq!(m.property("n"), Some(i));
                assert!(sync_ids.contains(&m.msg_id));
            }
            "async" => assert_eq!(m.tags.as_deref(), Some("TagD")),
            "oneway" => assert_eq!(m.tags.as_deref(), Some("TagB")),
            "batch" => {
                assert_eq!(m.tags.as_deref(), Some("TagC"));
                assert_eq!(m.key_list(), [format!("bk-{i}")]);
            }
            "ordered" => assert_eq!(m.tags, None),
            other => panic!("unexpected body kind {other}"),
        }
        assert_eq!(m.topic, topic);
        assert_eq!(m.reconsume_times, 0);
    }
    // Every message of one sharding key arrived (all from the one queue checked above).
    let ordered: Vec<_> = all
        .messages()
        .into_iter()
        .filter(|m| m.keys.as_deref() == Some("order-0"))
        .map(|m| m.queue_offset)
        .collect();
    assert_eq!(ordered.len(), 4);

    wait_until(SOON, "TagA messages", || tag_a.len() >= 10).await;
    assert!(tag_a
        .messages()
        .iter()
        .all(|m| m.tags.as_deref() == Some("TagA")));

    consumer.shutdown().await;
    only_a.shutdown().await;
    p.shutdown().await;
    assert_eq!(tag_a.len(), 10, "the tag filter let other tags through");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topic_is_auto_created_from_the_template() {
    let c = Cluster::start().await;
    let p = producer(&c).await;
    let r = p.send(Message::new("AutoCreated", "x")).await.unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    let admin = c.admin().await;
    wait_async(SOON, "auto-created route", || async {
        admin.route("AutoCreated").await.is_ok()
    })
    .await;
    let err = p.send(Message::new("AutoCreated", "")).await.unwrap_err();
    assert!(matches!(err, ClientError::InvalidMessage(_)), "{err}");
    p.shutdown().await;
    admin.shutdown().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_name_server_is_skipped() {
    let c = Cluster::start().await;
    c.create_topic("Failover", 2).await;
    // A port nobody listens on: bind, note it, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    // Both orders: whichever name server a client starts with, one list puts the dead one first.
    for list in [
        format!("{dead};{}", c.namesrv),
        format!("{};{dead}", c.namesrv),
    ] {
        let p = Producer::start(ProducerConfig::new(&list, "failover-producer"))
            .await
            .unwrap();
        let r = p.send(Message::new("Failover", "x")).await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        p.shutdown().await;
    }
    let nobody = Producer::start(ProducerConfig::new(&dead, "lost"))
        .await
        .unwrap();
    let err = nobody
        .send(Message::new("Failover", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::NameServerUnavailable { .. }),
        "{err}"
    );
    nobody.shutdown().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_groups_start_first_or_last() {
    let c = Cluster::start().await;
    let topic = "StartPos";
    c.create_topic(topic, 4).await;
    let p = producer(&c).await;
    for i in 0..8 {
        p.send(Message::new(topic, format!("old-{i}")))
            .await
            .unwrap();
    }
    let first = Collector::new();
    let last = Collector::new();
    let c_first = PushConsumer::start(
        consumer_config(&c, "cg-first", topic, "*"),
        Arc::new(first.clone()),
    )
    .await
    .unwrap();
    let c_last = PushConsumer::start(
        PushConsumerConfig {
            consume_from: ConsumeFrom::Last,
            ..consumer_config(&c, "cg-last", topic, "*")
        },
        Arc::new(last.clone()),
    )
    .await
    .unwrap();
    // Both own every queue (and so fixed their start offsets) before the new messages.
    wait_until(SOON, "assignment", || {
        c_first.assigned_queues().len() >= 4 && c_last.assigned_queues().len() >= 4
    })
    .await;
    for i in 0..8 {
        p.send(Message::new(topic, format!("new-{i}")))
            .await
            .unwrap();
    }
    wait_until(SOON, "first: 16 messages", || first.len() >= 16).await;
    wait_until(SOON, "last: 8 messages", || last.len() >= 8).await;
    let got: BTreeSet<String> = last.body_counts().into_keys().collect();
    let expected: BTreeSet<String> = (0..8).map(|i| format!("new-{i}")).collect();
    assert_eq!(got, expected);
    c_first.shutdown().await;
    c_last.shutdown().await;
    p.shutdown().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_later_redelivers_through_the_retry_topic() {
    retry_later_redelivers(true).await;
}

/// The same with the listener run on the async runtime instead of a blocking thread: delivery,
/// results and redelivery do not depend on where the listener runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_blocking_listener_is_served_the_same() {
    retry_later_redelivers(false).await;
}

async fn retry_later_redelivers(blocking_listener: bool) {
    let c = Cluster::start().await;
    let topic = "RetryMe";
    c.create_topic(topic, 2).await;
    // Fail the first delivery, accept the second.
    let seen = Collector::answering(|m| {
        if m.reconsume_times == 0 {
            ConsumeResult::RetryLater
        } else {
            ConsumeResult::Success
        }
    });
    let consumer = PushConsumer::start(
        PushConsumerConfig {
            blocking_listener,
            ..consumer_config(&c, "cg-retry", topic, "*")
        },
        Arc::new(seen.clone()),
    )
    .await
    .unwrap();
    let p = producer(&c).await;
    let sent = p
        .send(Message::new(topic, "try me").with_tags("T1").with_key("rk"))
        .await
        .unwrap();
    wait_until(Duration::from_secs(90), "redelivery", || seen.len() >= 2).await;
    let msgs = seen.messages();
    assert_eq!(msgs[0].reconsume_times, 0);
    let again = &msgs[1];
    assert_eq!(again.reconsume_times, 1);
    assert_eq!(again.body.as_ref(), b"try me");
    assert_eq!(again.topic, topic, "original topic restored");
    assert_eq!(again.tags.as_deref(), Some("T1"));
    assert_eq!(again.msg_id, sent.msg_id, "same client id after redelivery");
    consumer.shutdown().await;
    p.shutdown().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_consumers_each_get_everything_and_keep_local_offsets() {
    let c = Cluster::start().await;
    let topic = "Broadcast";
    c.create_topic(topic, 4).await;
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let config = |dir: &tempfile::TempDir| PushConsumerConfig {
        model: MessageModel::Broadcasting,
        offset_dir: Some(dir.path().to_owned()),
        ..consumer_config(&c, "cg-bcast", topic, "*")
    };
    let a = Collector::new();
    let b = Collector::new();
    let ca = PushConsumer::start(config(&dir_a), Arc::new(a.clone()))
        .await
        .unwrap();
    let cb = PushConsumer::start(config(&dir_b), Arc::new(b.clone()))
        .await
        .unwrap();
    let p = producer(&c).await;
    for i in 0..20 {
        p.send(Message::new(topic, format!("b-{i}"))).await.unwrap();
    }
    wait_until(SOON, "a gets all", || a.len() >= 20).await;
    wait_until(SOON, "b gets all", || b.len() >= 20).await;
    assert_eq!(a.body_counts(), b.body_counts());
    assert_eq!(a.body_counts().len(), 20);
    ca.shutdown().await;
    cb.shutdown().await;

    // The offsets were saved locally: a restarted consumer only gets what is new.
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir_a.path().join("cg-bcast.json")).unwrap())
            .unwrap();
    let total: i64 = file["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["offset"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 20);
    let again = Collector::new();
    let ca = PushConsumer::start(config(&dir_a), Arc::new(again.clone()))
        .await
        .unwrap();
    p.send(Message::new(topic, "fresh")).await.unwrap();
    wait_until(SOON, "fresh message", || again.len() >= 1).await;
    assert_eq!(
        again.body_counts().into_keys().collect::<Vec<_>>(),
        ["fresh"]
    );
    ca.shutdown().await;
    p.shutdown().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_pull_consumer_reads_from_explicit_offsets() {
    let c = Cluster::start().await;
    let topic = "LitePull";
    c.create_topic(topic, 2).await;
    let p = producer(&c).await;
    let queues = p.write_queues(topic).await.unwrap();
    let q0 = queues[0].clone();
    for i in 0..10 {
        p.send_to_queue(Message::new(topic, format!("m-{i}")), &q0)
            .await
            .unwrap();
    }
    let lite = LitePullConsumer::start(LitePullConsumerConfig::new(&c.namesrv, "cg-lite"))
        .await
        .unwrap();
    let read = lite.fetch_queues(topic).await.unwrap();
    assert_eq!(read.len(), 2);
    assert!(matches!(
        lite.seek(&q0, 0),
        Err(ClientError::NotAssigned(_))
    ));
    lite.assign(vec![q0.clone()]);
    lite.seek(&q0, 3).unwrap();
    let mut got = Vec::new();
    while got.len() < 7 {
        let batch = lite.poll(Duration::from_secs(5)).await.unwrap();
        assert!(!batch.is_empty(), "poll timed out with {} of 7", got.len());
        got.extend(batch);
    }
    let offsets: Vec<i64> = got.iter().map(|m| m.queue_offset).collect();
    assert_eq!(offsets, (3..10).collect::<Vec<_>>());
    assert_eq!(got[0].body.as_ref(), b"m-3");
    assert_eq!(lite.position(&q0), Some(10));
    // Nothing more: an empty poll after the timeout.
    let started = tokio::time::Instant::now();
    assert!(lite
        .poll(Duration::from_millis(500))
        .await
        .unwrap()
        .is_empty());
    assert!(started.elapsed() < Duration::from_secs(10));

    lite.commit().await.unwrap();
    assert_eq!(lite.committed(&q0).await.unwrap(), Some(10));
    lite.seek(&q0, 0).unwrap();
    let first = lite.poll(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first[0].queue_offset, 0);
    assert_eq!(first[0].body.as_ref(), b"m-0");
    lite.shutdown().await;

    // A new lite consumer of the group starts at the committed offset.
    let lite2 = LitePullConsumer::start(LitePullConsumerConfig::new(&c.namesrv, "cg-lite"))
        .await
        .unwrap();
    lite2.assign(vec![q0.clone()]);
    p.send_to_queue(Message::new(topic, "m-10"), &q0)
        .await
        .unwrap();
    let next = lite2.poll(Duration::from_secs(5)).await.unwrap();
    assert_eq!(next[0].queue_offset, 10);
    lite2.shutdown().await;
    p.shutdown().await;
    c.stop().await;
}
