//! AdminClient against the in-process name server and broker.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{wait_async, wait_until, Cluster, Collector, SOON};
use saturn_client::{
    ConsumeFrom, Message, Producer, ProducerConfig, PushConsumer, PushConsumerConfig, TopicTarget,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sees_topics_stats_progress_and_messages() {
    let c = Cluster::start().await;
    let admin = c.admin().await;
    let created = admin
        .create_topic(
            "AdminTopic",
            3,
            3,
            &TopicTarget::Broker(c.broker_addr.clone()),
        )
        .await
        .unwrap();
    assert_eq!(created, std::slice::from_ref(&c.broker_addr));
    wait_async(SOON, "route", || async {
        admin.route("AdminTopic").await.is_ok()
    })
    .await;
    let route = admin.route("AdminTopic").await.unwrap();
    assert_eq!(route.queue_datas[0].write_queue_nums, 3);
    assert!(admin
        .topic_list()
        .await
        .unwrap()
        .contains(&"AdminTopic".to_owned()));
    let info = admin.cluster_info().await.unwrap();
    assert!(info.cluster_addr_table.contains_key("DefaultCluster"));
    assert!(info
        .broker_addr_table
        .values()
        .any(|b| b.master_addr() == Some(c.broker_addr.as_str())));

    let p = Producer::start(ProducerConfig::new(&c.namesrv, "admin-producer"))
        .await
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..9 {
        let m = Message::new("AdminTopic", format!("body-{i}")).with_key(format!("key-{i} shared"));
        sent.push(p.send(m).await.unwrap());
    }
    let stats = admin.topic_stats("AdminTopic").await.unwrap();
    assert_eq!(stats.len(), 3);
    assert_eq!(stats.iter().map(|s| s.max_offset).sum::<i64>(), 9);

    let viewed = admin.view_message(&sent[4].offset_msg_id).await.unwrap();
    assert_eq!(viewed.body.as_ref(), b"body-4");
    assert_eq!(viewed.msg_id, sent[4].msg_id);
    let err = admin.view_message("not-an-id").await;
    assert!(err.is_err());

    let by_key = admin.query_by_key("AdminTopic", "key-7").await.unwrap();
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key[0].body.as_ref(), b"body-7");
    let shared = admin.query_by_key("AdminTopic", "shared").await.unwrap();
    assert_eq!(shared.len(), 9);
    let by_id = admin
        .query_by_key("AdminTopic", &sent[2].msg_id)
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert!(admin
        .query_by_key("AdminTopic", "nope")
        .await
        .unwrap()
        .is_empty());

    // Progress of a group that consumed everything: lag 0 everywhere once committed.
    let seen = Collector::new();
    let consumer = PushConsumer::start(
        PushConsumerConfig {
            consume_from: ConsumeFrom::First,
            persist_interval: Duration::from_millis(200),
            ..PushConsumerConfig::new(&c.namesrv, "cg-admin", "AdminTopic", "*")
        },
        Arc::new(seen.clone()),
    )
    .await
    .unwrap();
    wait_until(SOON, "consumed", || seen.len() >= 9).await;
    wait_async(SOON, "lag 0", || async {
        admin
            .topic_progress("cg-admin", "AdminTopic")
            .await
            .is_ok_and(|v| v.len() == 3 && v.iter().all(|q| q.lag == 0))
    })
    .await;
    let progress = admin.consumer_progress("cg-admin").await.unwrap();
    let on_topic: Vec<_> = progress
        .iter()
        .filter(|q| q.queue.topic == "AdminTopic")
        .collect();
    assert_eq!(on_topic.len(), 3, "{progress:?}");
    assert_eq!(on_topic.iter().map(|q| q.broker_offset).sum::<i64>(), 9);
    assert!(on_topic.iter().all(|q| q.lag == 0));
    consumer.shutdown().await;
    p.shutdown().await;
    admin.shutdown().await;
    c.stop().await;
}
