//! Two push consumers of one group share the queues, and one takes over when the other leaves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_until, Cluster, Collector, SOON};
use saturn_client::{
    ConsumeFrom, Message, MessageQueue, Producer, ProducerConfig, PushConsumer, PushConsumerConfig,
};

fn config(c: &Cluster, topic: &str) -> PushConsumerConfig {
    PushConsumerConfig {
        consume_from: ConsumeFrom::First,
        rebalance_interval: Duration::from_secs(1),
        persist_interval: Duration::from_millis(300),
        ..PushConsumerConfig::new(&c.namesrv, "cg-shared", topic, "*")
    }
}

async fn send_all(p: &Producer, topic: &str, prefix: &str, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let p = p.clone();
        let chunk = chunk.to_vec();
        let topic = topic.to_owned();
        let prefix = prefix.to_owned();
        tasks.spawn(async move {
            for i in chunk {
                p.send(Message::new(topic.as_str(), format!("{prefix}-{i}")))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

fn merged(cs: &[&Collector]) -> BTreeMap<String, usize> {
    let mut all = BTreeMap::new();
    for c in cs {
        for (k, v) in c.body_counts() {
            *all.entry(k).or_default() += v;
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_split_queues_and_take_over() {
    let c = Cluster::start().await;
    let topic = "Shared";
    c.create_topic(topic, 8).await;
    let a = Collector::new();
    let b = Collector::new();
    let ca = PushConsumer::start(config(&c, topic), Arc::new(a.clone()))
        .await
        .unwrap();
    let cb = PushConsumer::start(config(&c, topic), Arc::new(b.clone()))
        .await
        .unwrap();
    let topic_queues = |q: Vec<MessageQueue>| -> BTreeSet<MessageQueue> {
        q.into_iter().filter(|q| q.topic == topic).collect()
    };
    wait_until(SOON, "4 + 4 queues", || {
        let qa = topic_queues(ca.assigned_queues());
        let qb = topic_queues(cb.assigned_queues());
        qa.len() == 4 && qb.len() == 4 && qa.is_disjoint(&qb)
    })
    .await;

    let p = Producer::start(ProducerConfig::new(&c.namesrv, "split-producer"))
        .await
        .unwrap();
    send_all(&p, topic, "m", 2000).await;
    wait_until(SOON, "2000 messages", || a.len() + b.len() >= 2000).await;
    let all = merged(&[&a, &b]);
    assert_eq!(all.len(), 2000);
    assert!(
        all.values().all(|n| *n == 1),
        "a message was delivered twice"
    );
    assert!(a.len() > 0 && b.len() > 0, "both members consume");
    // Each consumer only saw its own queues.
    let qa = topic_queues(ca.assigned_queues());
    assert!(a.messages().iter().all(|m| qa.contains(&m.queue())));

    // b leaves: it commits and unregisters, the broker tells a, a takes all 8 queues.
    cb.shutdown().await;
    wait_until(SOON, "a owns all queues", || {
        topic_queues(ca.assigned_queues()).len() == 8
    })
    .await;
    send_all(&p, topic, "after", 200).await;
    wait_until(SOON, "200 more", || {
        a.body_counts()
            .keys()
            .filter(|k| k.starts_with("after-"))
            .count()
            >= 200
    })
    .await;
    let counts = a.body_counts();
    assert!(counts
        .iter()
        .filter(|(k, _)| k.starts_with("after-"))
        .all(|(_, n)| *n == 1));
    // Nothing b had consumed comes back to a (b committed before leaving).
    let b_bodies: BTreeSet<String> = b.body_counts().into_keys().collect();
    assert!(
        a.body_counts().keys().all(|k| !b_bodies.contains(k)),
        "messages consumed by b were redelivered to a"
    );
    ca.shutdown().await;
    p.shutdown().await;
    c.stop().await;
}
