//! A clean restart keeps everything: stop `saturn standalone` with SIGTERM after a group
//! consumed part of a topic, start it again on the same data directory, and check that the
//! stored messages are still there and the group resumes exactly after its committed offsets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, Standalone};
use saturn_client::{
    AdminClient, ClientConfig, ConsumeFrom, ConsumeResult, Message, MessageExt, MessageListener,
    Producer, ProducerConfig, PushConsumer, PushConsumerConfig, SendResult, TopicTarget,
};

const TOTAL: usize = 400;
const QUEUES: i32 = 4;

/// Every message a consumer acknowledged: (queue id, queue offset, key).
#[derive(Default)]
struct Acked(Mutex<Vec<(i32, i64, String)>>);

impl Acked {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn all(&self) -> Vec<(i32, i64, String)> {
        self.0.lock().unwrap().clone()
    }
}

impl MessageListener for Acked {
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult {
        let mut acked = self.0.lock().unwrap();
        for m in msgs {
            acked.push((
                m.queue_id,
                m.queue_offset,
                m.keys.clone().unwrap_or_default(),
            ));
        }
        ConsumeResult::Success
    }
}

fn consumer_config(ns: &str) -> PushConsumerConfig {
    let mut config = PushConsumerConfig::new(ns, "resume-group", "Durable", "*");
    config.consume_from = ConsumeFrom::First;
    config.persist_interval = Duration::from_millis(200);
    config
}

/// The group's committed offset per queue id.
async fn committed(admin: &AdminClient) -> BTreeMap<i32, i64> {
    admin
        .consumer_progress("resume-group")
        .await
        .unwrap()
        .into_iter()
        .filter(|q| q.queue.topic == "Durable")
        .map(|q| (q.queue.queue_id, q.consumer_offset))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_messages_and_the_group_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Standalone::start(dir.path());
    let ns = first.namesrv_arg();
    let (namesrv_addr, broker_addr) = (first.namesrv.to_string(), first.broker.to_string());

    let admin = AdminClient::start(ClientConfig::new(&ns)).await.unwrap();
    let target = TopicTarget::Cluster("DefaultCluster".to_owned());
    admin
        .create_topic("Durable", QUEUES, QUEUES, &target)
        .await
        .unwrap();
    let producer = Producer::start(ProducerConfig::new(&ns, "durable-producer"))
        .await
        .unwrap();
    let mut sent: Vec<SendResult> = Vec::with_capacity(TOTAL);
    let send_range = |range: std::ops::Range<usize>| {
        let producer = &producer;
        async move {
            let mut results = Vec::new();
            for i in range {
                let key = format!("d-{i}");
                let msg = Message::new("Durable", format!("body-{i}").into_bytes()).with_key(key);
                results.push(producer.send(msg).await.unwrap());
            }
            results
        }
    };

    // First half, consumed completely by the group before the second half is sent.
    sent.extend(send_range(0..TOTAL / 2).await);
    let run1 = Arc::new(Acked::default());
    let consumer = PushConsumer::start(consumer_config(&ns), run1.clone())
        .await
        .unwrap();
    let caught_up = eventually(Duration::from_secs(60), || async {
        let progress = admin.consumer_progress("resume-group").await;
        run1.len() >= TOTAL / 2
            && progress.is_ok_and(|p| {
                let queues: Vec<_> = p.iter().filter(|q| q.queue.topic == "Durable").collect();
                queues.len() == QUEUES as usize && queues.iter().all(|q| q.lag == 0)
            })
    })
    .await;
    assert!(
        caught_up,
        "first run got {} messages and never committed them all",
        run1.len()
    );
    // Stopping the consumer commits its offsets.
    consumer.shutdown().await;
    let offsets = committed(&admin).await;
    sent.extend(send_range(TOTAL / 2..TOTAL).await);
    producer.shutdown().await;
    admin.shutdown().await;

    // (queue, offset) → key of every stored message.
    let stored: BTreeMap<(i32, i64), String> = sent
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.queue.queue_id, r.queue_offset), format!("d-{i}")))
        .collect();
    assert_eq!(stored.len(), TOTAL, "distinct (queue, offset) per message");
    let committed_keys: BTreeSet<String> = stored
        .iter()
        .filter(|((q, o), _)| offsets.get(q).is_some_and(|c| o < c))
        .map(|(_, k)| k.clone())
        .collect();
    let first_half: BTreeSet<String> = (0..TOTAL / 2).map(|i| format!("d-{i}")).collect();
    assert_eq!(
        committed_keys, first_half,
        "the group committed exactly the first half"
    );
    let run1_keys: Vec<String> = run1.all().into_iter().map(|(_, _, k)| k).collect();
    assert_eq!(run1_keys.len(), TOTAL / 2, "first run: no duplicates");
    assert_eq!(run1_keys.into_iter().collect::<BTreeSet<_>>(), first_half);

    // Clean stop: SIGTERM, exit code 0.
    let status = first.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "standalone exited with {status:?} after SIGTERM"
    );

    // Second run on the same data directory and ports.
    let _second = Standalone::start_on(dir.path(), &namesrv_addr, &broker_addr);
    let admin = AdminClient::start(ClientConfig::new(&ns)).await.unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            admin.route("Durable").await.is_ok()
        })
        .await,
        "topic Durable has no route after the restart"
    );

    // Stored messages survived: every queue's max offset, and messages looked up by id.
    let stats = admin.topic_stats("Durable").await.unwrap();
    let total: i64 = stats.iter().map(|q| q.max_offset - q.min_offset).sum();
    assert_eq!(total, TOTAL as i64, "stats after restart: {stats:?}");
    for (i, r) in sent.iter().enumerate().step_by(37) {
        let m = admin.view_message(&r.offset_msg_id).await.unwrap();
        assert_eq!(&m.body[..], format!("body-{i}").as_bytes());
        assert_eq!(m.keys.as_deref(), Some(format!("d-{i}").as_str()));
    }
    // Committed offsets survived too.
    assert_eq!(committed(&admin).await, offsets);

    // The group resumes: exactly the messages after the committed offsets, nothing again.
    let expected: BTreeSet<String> = stored
        .values()
        .filter(|k| !committed_keys.contains(*k))
        .cloned()
        .collect();
    let run2 = Arc::new(Acked::default());
    let consumer = PushConsumer::start(consumer_config(&ns), run2.clone())
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(60), || async {
            run2.len() >= expected.len()
        })
        .await,
        "second run got {} of {} remaining messages",
        run2.len(),
        expected.len()
    );
    consumer.shutdown().await;
    let run2_keys: Vec<String> = run2.all().into_iter().map(|(_, _, k)| k).collect();
    let repeats: Vec<&String> = run2_keys
        .iter()
        .filter(|k| committed_keys.contains(*k))
        .collect();
    assert!(
        repeats.is_empty(),
        "committed messages delivered again: {repeats:?}"
    );
    let run2_set: BTreeSet<String> = run2_keys.iter().cloned().collect();
    assert_eq!(
        run2_set.len(),
        run2_keys.len(),
        "duplicates in the second run"
    );
    assert_eq!(run2_set, expected, "the second run got exactly the rest");
    eprintln!(
        "first run committed {} messages, second run got the other {}",
        committed_keys.len(),
        run2_set.len()
    );
    admin.shutdown().await;
}
