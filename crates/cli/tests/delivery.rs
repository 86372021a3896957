//! Message delivery through a real `saturn standalone`: a clustering group splits the messages
//! between its members, broadcasting gives every member everything, tag expressions filter,
//! and long polling hands a new message to a waiting consumer at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{eventually, json_lines, saturn_ok, Standalone};
use saturn_client::{
    AdminClient, ClientConfig, ConsumeFrom, ConsumeResult, Message, MessageExt, MessageListener,
    Producer, ProducerConfig, PushConsumer, PushConsumerConfig, TopicTarget,
};
use tokio::sync::mpsc;

/// Records every message a consumer accepted, by key.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, String)>>,
}

impl Recorder {
    fn keys(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }
    fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
    fn tags(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl MessageListener for Recorder {
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult {
        let mut seen = self.seen.lock().unwrap();
        for m in msgs {
            seen.push((
                m.keys.clone().unwrap_or_default(),
                m.tags.clone().unwrap_or_default(),
            ));
        }
        ConsumeResult::Success
    }
}

/// A consumer config tuned for tests: quick offset commits and rebalances.
fn consumer_config(ns: &str, group: &str, topic: &str, expr: &str) -> PushConsumerConfig {
    let mut config = PushConsumerConfig::new(ns, group, topic, expr);
    config.consume_from = ConsumeFrom::First;
    config.persist_interval = Duration::from_millis(200);
    config.rebalance_interval = Duration::from_secs(1);
    config
}

async fn create_topic(admin: &AdminClient, topic: &str, queues: i32) {
    let target = TopicTarget::Cluster("DefaultCluster".to_owned());
    admin
        .create_topic(topic, queues, queues, &target)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            admin
                .route(topic)
                .await
                .is_ok_and(|r| r.queue_datas.iter().any(|q| q.write_queue_nums == queues))
        })
        .await,
        "route of {topic} never showed {queues} queues"
    );
}

/// Sends `count` messages keyed `<prefix>-<i>` with `tasks` concurrent senders.
async fn send_keyed(
    producer: &Arc<Producer>,
    topic: &str,
    prefix: &str,
    count: usize,
    tasks: usize,
) {
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let producer = Arc::clone(producer);
        let topic = topic.to_owned();
        let prefix = prefix.to_owned();
        set.spawn(async move {
            for i in (t..count).step_by(tasks) {
                let key = format!("{prefix}-{i}");
                let msg = Message::new(topic.clone(), key.clone().into_bytes()).with_key(key);
                producer.send(msg).await.unwrap();
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustering_group_of_two_gets_every_message_exactly_once() {
    const TOTAL: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();
    let admin = AdminClient::start(ClientConfig::new(&ns)).await.unwrap();
    create_topic(&admin, "Split", 8).await;

    let a = Arc::new(Recorder::default());
    let b = Arc::new(Recorder::default());
    let ca = PushConsumer::start(consumer_config(&ns, "split-group", "Split", "*"), a.clone())
        .await
        .unwrap();
    let cb = PushConsumer::start(consumer_config(&ns, "split-group", "Split", "*"), b.clone())
        .await
        .unwrap();
    // Produce only once the group has divided the queues, so no queue changes hands while
    // messages are in flight (that would be a legitimate at-least-once redelivery).
    assert!(
        eventually(Duration::from_secs(30), || async {
            // Each member also owns queues of the group's retry topic; count the topic's only.
            let split = |queues: Vec<saturn_client::MessageQueue>| -> Vec<_> {
                queues.into_iter().filter(|q| q.topic == "Split").collect()
            };
            let qa = split(ca.assigned_queues());
            let qb = split(cb.assigned_queues());
            !qa.is_empty()
                && !qb.is_empty()
                && qa.len() + qb.len() == 8
                && qa.iter().all(|q| !qb.contains(q))
        })
        .await,
        "the two members never split the 8 queues"
    );

    let producer = Arc::new(
        Producer::start(ProducerConfig::new(&ns, "split-producer"))
            .await
            .unwrap(),
    );
    let started = Instant::now();
    send_keyed(&producer, "Split", "k", TOTAL, 16).await;
    eprintln!("sent {TOTAL} messages in {:?}", started.elapsed());

    assert!(
        eventually(Duration::from_secs(90), || async {
            a.len() + b.len() >= TOTAL
        })
        .await,
        "only {} + {} of {TOTAL} messages arrived",
        a.len(),
        b.len()
    );
    ca.shutdown().await;
    cb.shutdown().await;

    let keys_a = a.keys();
    let keys_b = b.keys();
    let set_a: BTreeSet<&String> = keys_a.iter().collect();
    let set_b: BTreeSet<&String> = keys_b.iter().collect();
    assert_eq!(set_a.len(), keys_a.len(), "member A got duplicates");
    assert_eq!(set_b.len(), keys_b.len(), "member B got duplicates");
    assert!(set_a.is_disjoint(&set_b), "a message went to both members");
    assert!(
        !set_a.is_empty() && !set_b.is_empty(),
        "one member got nothing"
    );
    let all: BTreeSet<String> = (0..TOTAL).map(|i| format!("k-{i}")).collect();
    let got: BTreeSet<String> = set_a.union(&set_b).map(|k| (*k).clone()).collect();
    assert_eq!(got, all, "lost or foreign messages");
    eprintln!(
        "member A got {}, member B got {}",
        keys_a.len(),
        keys_b.len()
    );
    producer.shutdown().await;
    admin.shutdown().await;
}

#[test]
fn broadcasting_consumers_each_get_every_message() {
    const COUNT: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();
    let deadline = Duration::from_secs(60);
    saturn_ok(
        &[
            "admin",
            "topic",
            "create",
            "--namesrv",
            &ns,
            "--topic",
            "Fanout",
            "--queues",
            "4",
        ],
        deadline,
    );
    let produced = json_lines(&saturn_ok(
        &[
            "produce",
            "--namesrv",
            &ns,
            "--topic",
            "Fanout",
            "--count",
            "50",
            "--json",
        ],
        deadline,
    ));
    assert_eq!(produced.len(), COUNT);
    let expected: BTreeSet<String> = produced
        .iter()
        .map(|p| p["msg_id"].as_str().unwrap().to_owned())
        .collect();

    // Two members of ONE group, each with its own local offset store, run at the same time.
    let consumers: Vec<_> = (0..2)
        .map(|member| {
            let ns = ns.clone();
            let offsets = dir.path().join(format!("offsets-{member}"));
            std::thread::spawn(move || {
                let offsets = offsets.to_str().unwrap().to_owned();
                saturn_ok(
                    &[
                        "consume",
                        "--namesrv",
                        &ns,
                        "--topic",
                        "Fanout",
                        "--group",
                        "fanout-group",
                        "--broadcast",
                        "--offset-dir",
                        &offsets,
                        "--from",
                        "first",
                        "--count",
                        "50",
                        "--timeout",
                        "30",
                        "--json",
                    ],
                    Duration::from_secs(90),
                )
            })
        })
        .collect();
    for consumer in consumers {
        let lines = json_lines(&consumer.join().unwrap());
        let got: Vec<String> = lines
            .iter()
            .map(|l| l["msg_id"].as_str().unwrap().to_owned())
            .collect();
        let distinct: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(
            got.len(),
            COUNT,
            "each member prints exactly --count messages"
        );
        assert_eq!(distinct, expected, "each member gets every message");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_expression_selects_exactly_the_named_tags() {
    const PER_TAG: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();
    let admin = AdminClient::start(ClientConfig::new(&ns)).await.unwrap();
    create_topic(&admin, "Tagged", 4).await;
    let producer = Producer::start(ProducerConfig::new(&ns, "tag-producer"))
        .await
        .unwrap();
    for i in 0..PER_TAG {
        for tag in ["TagA", "TagB", "TagC"] {
            let key = format!("{tag}-{i}");
            let msg = Message::new("Tagged", key.clone().into_bytes())
                .with_tags(tag)
                .with_key(key);
            producer.send(msg).await.unwrap();
        }
    }

    let rec = Arc::new(Recorder::default());
    let consumer = PushConsumer::start(
        consumer_config(&ns, "tag-group", "Tagged", "TagA || TagB"),
        rec.clone(),
    )
    .await
    .unwrap();
    // Done when the group's committed offsets reached the end of every queue: every message,
    // TagC included, has been looked at by then.
    let caught_up = eventually(Duration::from_secs(60), || async {
        admin.consumer_progress("tag-group").await.is_ok_and(|p| {
            let queues: Vec<_> = p.iter().filter(|q| q.queue.topic == "Tagged").collect();
            queues.len() == 4 && queues.iter().all(|q| q.lag == 0)
        })
    })
    .await;
    consumer.shutdown().await;
    assert!(
        caught_up,
        "the group never caught up; got {} messages",
        rec.len()
    );

    let got = rec.tags();
    let mut by_tag: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, tag) in &got {
        by_tag.entry(tag.clone()).or_default().insert(key.clone());
    }
    assert_eq!(
        got.len(),
        2 * PER_TAG,
        "no duplicates, nothing extra: {by_tag:?}"
    );
    assert_eq!(
        by_tag.keys().map(String::as_str).collect::<Vec<_>>(),
        ["TagA", "TagB"]
    );
    for tag in ["TagA", "TagB"] {
        let expected: BTreeSet<String> = (0..PER_TAG).map(|i| format!("{tag}-{i}")).collect();
        assert_eq!(by_tag[tag], expected, "{tag} messages");
    }
    producer.shutdown().await;
    admin.shutdown().await;
}

/// Hands each received message's key and arrival time to the test.
struct Arrivals(mpsc::UnboundedSender<(String, Instant)>);

impl MessageListener for Arrivals {
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult {
        let now = Instant::now();
        for m in msgs {
            let _ = self.0.send((m.keys.clone().unwrap_or_default(), now));
        }
        ConsumeResult::Success
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_delivers_a_new_message_at_once() {
    const SAMPLES: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();
    let admin = AdminClient::start(ClientConfig::new(&ns)).await.unwrap();
    create_topic(&admin, "Waiting", 1).await;
    let producer = Producer::start(ProducerConfig::new(&ns, "poll-producer"))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut config = consumer_config(&ns, "poll-group", "Waiting", "*");
    config.consume_from = ConsumeFrom::Last;
    let consumer = PushConsumer::start(config, Arc::new(Arrivals(tx)))
        .await
        .unwrap();

    // Warm up until the consumer owns the queue and a pull is parked on the broker.
    let mut warmed = false;
    for attempt in 0..60 {
        let key = format!("warmup-{attempt}");
        producer
            .send(Message::new("Waiting", "w").with_key(key))
            .await
            .unwrap();
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            warmed = true;
            break;
        }
    }
    assert!(warmed, "the consumer never received a warm-up message");
    while rx.try_recv().is_ok() {}

    let mut latencies = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let key = format!("probe-{i}");
        let sent_at = Instant::now();
        producer
            .send(Message::new("Waiting", "p").with_key(key.clone()))
            .await
            .unwrap();
        let received_at = loop {
            let (got, at) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("{key} not delivered within 5 s"))
                .unwrap();
            if got == key {
                break at;
            }
        };
        let latency = received_at.saturating_duration_since(sent_at);
        assert!(latency < Duration::from_secs(1), "{key} took {latency:?}");
        latencies.push(latency);
    }
    latencies.sort();
    eprintln!(
        "long polling send->receive latency over {SAMPLES} sends: p50 {:?}, max {:?}",
        latencies[SAMPLES / 2],
        latencies[SAMPLES - 1]
    );
    consumer.shutdown().await;
    producer.shutdown().await;
    admin.shutdown().await;
}
