//! CONSUMER_SEND_MSG_BACK and dead-lettering, orderly-consumption locks, and the admin views
//! (topic stats, consume stats, topic deletion).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use saturn_protocol::body::{
    self, ConsumeStats, LockBatchRequestBody, LockBatchResponseBody, MessageQueue, TopicStatsTable,
};
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::ext::ExtFields;
use saturn_protocol::header::{
    CommandHeader, ConsumerSendMsgBackRequest, DeleteTopicRequest, GetConsumeStatsRequest,
    GetTopicStatsInfoRequest, SendMessageRequestV2, UpdateConsumerOffsetRequest,
};
use saturn_protocol::message::{properties, StoredMessage};
use saturn_remoting::RemotingClient;

fn send_back(offset: i64, delay_level: i32, max: Option<i32>) -> RemotingCommand {
    let h = ConsumerSendMsgBackRequest {
        offset,
        group: "rg".into(),
        delay_level,
        origin_msg_id: None,
        origin_topic: None,
        unit_mode: Some(false),
        max_reconsume_times: max,
    };
    RemotingCommand::new_request(request::CONSUMER_SEND_MSG_BACK, h.to_ext())
}

async fn pull_all(c: &RemotingClient, addr: &str, topic: &str) -> Vec<StoredMessage> {
    let resp = call(c, addr, pull_cmd(&pull_header("rg", topic, 0, 0))).await;
    records(&resp)
}

#[tokio::test]
async fn send_back_retries_then_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    let sent = send_ok(&c, &b.addr, "RetryTopic", 0, Some("T1"), "fail-me").await;
    let original = &pull_all(&c, &b.addr, "RetryTopic").await[0];

    let resp = call(&c, &b.addr, send_back(original.physical_offset, 0, None)).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let retried = pull_all(&c, &b.addr, "%RETRY%rg").await;
    assert_eq!(retried.len(), 1);
    let r = &retried[0];
    assert_eq!(&r.body[..], b"fail-me");
    assert_eq!(r.reconsume_times, 1);
    assert_eq!(r.property(properties::RETRY_TOPIC), Some("RetryTopic"));
    assert_eq!(
        r.property(properties::ORIGIN_MESSAGE_ID),
        Some(sent.msg_id.as_str())
    );
    assert_eq!(r.uniq_key(), original.uniq_key());
    assert_eq!(r.tags(), Some("T1"));

    // Retries used up (max 1, the retry has been consumed once): dead letter.
    let resp = call(&c, &b.addr, send_back(r.physical_offset, 0, Some(1))).await;
    assert_eq!(resp.code, 0);
    // delayLevel −1: straight to the dead-letter queue.
    let resp = call(&c, &b.addr, send_back(original.physical_offset, -1, None)).await;
    assert_eq!(resp.code, 0);
    let dlq = pull_all(&c, &b.addr, "%DLQ%rg").await;
    assert_eq!(dlq.len(), 2);
    assert_eq!(dlq[0].reconsume_times, 2);
    assert_eq!(dlq[0].property(properties::RETRY_TOPIC), Some("RetryTopic"));
    assert_eq!(
        dlq[0].property(properties::ORIGIN_MESSAGE_ID),
        Some(sent.msg_id.as_str()),
        "the first origin is kept"
    );

    // A client re-sending to the retry topic with its retries used up lands in the DLQ too.
    let mut h: SendMessageRequestV2 = send_header("%RETRY%rg", 0, props(None, None)).into();
    h.reconsume_times = Some(16);
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::SEND_MESSAGE_V2, h.to_ext())
            .with_body(bytes::Bytes::from_static(b"resent")),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let dlq = pull_all(&c, &b.addr, "%DLQ%rg").await;
    assert_eq!(dlq.len(), 3);
    assert_eq!(&dlq[2].body[..], b"resent");

    let resp = call(&c, &b.addr, send_back(5, 0, None)).await;
    assert_eq!(resp.code, 1, "no message at that offset");
    b.stop().await;
}

fn lock_cmd(code: i32, client_id: &str, queues: &[i32]) -> RemotingCommand {
    let body = LockBatchRequestBody {
        client_id: client_id.into(),
        consumer_group: "og".into(),
        mq_set: queues
            .iter()
            .map(|q| MessageQueue {
                broker_name: "broker-a".into(),
                queue_id: *q,
                topic: "OrderTopic".into(),
            })
            .collect(),
        only_this_broker: false,
    };
    RemotingCommand::new_request(code, ExtFields::new()).with_body(body::encode_bytes(&body))
}

async fn locked(c: &RemotingClient, addr: &str, client_id: &str, queues: &[i32]) -> Vec<i32> {
    let resp = call(c, addr, lock_cmd(request::LOCK_BATCH_MQ, client_id, queues)).await;
    assert_eq!(resp.code, 0);
    let b: LockBatchResponseBody = body::decode(&resp.body).unwrap();
    b.lock_ok_mq_set.iter().map(|m| m.queue_id).collect()
}

#[tokio::test]
async fn queue_locks() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    assert_eq!(locked(&c, &b.addr, "c1", &[0, 1]).await, [0, 1]);
    assert_eq!(locked(&c, &b.addr, "c2", &[1, 2]).await, [2]);
    assert_eq!(locked(&c, &b.addr, "c1", &[0, 1]).await, [0, 1], "renewal");
    let resp = call(&c, &b.addr, lock_cmd(request::UNLOCK_BATCH_MQ, "c1", &[1])).await;
    assert_eq!(resp.code, 0);
    assert_eq!(locked(&c, &b.addr, "c2", &[1]).await, [1]);
    b.stop().await;
}

#[tokio::test]
async fn stats_and_topic_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    create_topic(&c, &b.addr, "StatsTopic", 2).await;
    for _ in 0..3 {
        send_ok(&c, &b.addr, "StatsTopic", 1, None, "x").await;
    }
    let h = GetTopicStatsInfoRequest {
        topic: "StatsTopic".into(),
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::GET_TOPIC_STATS_INFO, h.to_ext()),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let stats: TopicStatsTable = body::decode(&resp.body).unwrap();
    let q1 = &stats
        .offset_table
        .iter()
        .find(|(mq, _)| mq.queue_id == 1)
        .unwrap()
        .1;
    assert_eq!((q1.min_offset, q1.max_offset), (0, 3));
    assert!(q1.last_update_timestamp > 0);
    assert_eq!(stats.offset_table.len(), 2);

    let u = UpdateConsumerOffsetRequest {
        consumer_group: "sg".into(),
        topic: "StatsTopic".into(),
        queue_id: 1,
        commit_offset: 1,
    };
    call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::UPDATE_CONSUMER_OFFSET, u.to_ext()),
    )
    .await;
    let h = GetConsumeStatsRequest {
        consumer_group: "sg".into(),
        topic: None,
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::GET_CONSUME_STATS, h.to_ext()),
    )
    .await;
    assert_eq!(resp.code, 0);
    let cs: ConsumeStats = body::decode(&resp.body).unwrap();
    assert_eq!(cs.total_diff(), 2);
    let q1 = &cs
        .offset_table
        .iter()
        .find(|(mq, _)| mq.queue_id == 1)
        .unwrap()
        .1;
    assert_eq!((q1.broker_offset, q1.consumer_offset), (3, 1));

    let d = DeleteTopicRequest {
        topic: "StatsTopic".into(),
    };
    let resp = call(
        &c,
        &b.addr,
        RemotingCommand::new_request(request::DELETE_TOPIC_IN_BROKER, d.to_ext()),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let resp = call(
        &c,
        &b.addr,
        pull_cmd(&pull_header("sg", "StatsTopic", 1, 0)),
    )
    .await;
    assert_eq!(resp.code, 17);
    b.stop().await;
}
