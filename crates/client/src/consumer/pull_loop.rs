//! The pull loop of one assigned queue (long polling, flow control, offset bookkeeping) and the
//! dispatch of pulled messages to the listener (with retry through the group's retry topic).

use std::sync::Arc;
use std::time::Duration;

use saturn_protocol::body::EXPRESSION_TAG;
use saturn_protocol::header::PullMessageRequest;
use saturn_protocol::message::{properties, sysflag};
use tracing::{debug, warn};

use super::process_queue::ProcessQueue;
use super::push::PushShared;
use super::{ConsumeResult, Subscription};
use crate::broker_api::{self, PullStatus};
use crate::config::MessageModel;
use crate::message::MessageExt;
use crate::outgoing::Outgoing;

/// Pause after a failed pull (Java's `pullTimeDelayMillsWhenException`).
const PULL_BACKOFF: Duration = Duration::from_secs(3);
/// Pause before consuming again messages that could be neither consumed nor sent back.
const LOCAL_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Margin of the pull request timeout over the long-poll hold time.
const PULL_TIMEOUT_MARGIN: Duration = Duration::from_secs(15);

/// Starts the pull loop of `pq` at `start`.
pub(crate) fn spawn(shared: &Arc<PushShared>, pq: Arc<ProcessQueue>, start: i64) {
    let shared2 = Arc::clone(shared);
    shared.tasks.spawn(run(shared2, pq, start));
}

async fn run(shared: Arc<PushShared>, pq: Arc<ProcessQueue>, mut offset: i64) {
    let Some(sub) = shared.subscription(&pq.mq.topic).cloned() else {
        return;
    };
    let clustering = shared.config.model == MessageModel::Clustering;
    let max_in_flight = shared.config.max_in_flight_per_queue;
    let suspend = shared.config.suspend_timeout;
    let commit = |c: i64| shared.offsets.update(&pq.mq, c, false);
    loop {
        // Flow control: wait for room before pulling more.
        while pq.in_flight() >= max_in_flight {
            let room = pq.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if pq.in_flight() < max_in_flight {
                break;
            }
            tokio::select! {
                () = pq.cancel.cancelled() => return,
                () = room => {}
            }
        }
        if pq.cancel.is_cancelled() {
            return;
        }
        let addr = match broker_api::master_of(&shared.instance, &pq.mq).await {
            Ok(a) => a,
            Err(e) => {
                debug!(mq = ?pq.mq, error = %e, "no broker to pull from");
                if backoff(&pq).await {
                    return;
                }
                continue;
            }
        };
        let committed = if clustering {
            shared.offsets.read(&pq.mq).filter(|o| *o > 0)
        } else {
            None
        };
        let header = pull_header(&shared, &pq, &sub, offset, committed);
        let pulled = tokio::select! {
            () = pq.cancel.cancelled() => return,
            r = broker_api::pull(&shared.instance, &addr, header, suspend + PULL_TIMEOUT_MARGIN) => r,
        };
        let outcome = match pulled {
            Ok(o) => o,
            Err(e) => {
                debug!(mq = ?pq.mq, error = %e, "pull failed");
                if backoff(&pq).await {
                    return;
                }
                continue;
            }
        };
        let next = outcome.next_begin_offset;
        match outcome.status {
            PullStatus::Found => {
                let retry = shared.retry_topic.as_str();
                let msgs = broker_api::received(
                    outcome.messages,
                    &pq.mq,
                    offset,
                    &sub.filter,
                    Some(retry),
                );
                if msgs.is_empty() {
                    pq.update(|t| t.skipped_to(next), commit);
                } else {
                    let offsets: Vec<i64> = msgs.iter().map(|m| m.queue_offset).collect();
                    if pq.update(|t| t.pulled(offsets, next), commit) {
                        dispatch(&shared, &pq, msgs);
                    }
                }
            }
            PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                pq.update(|t| t.skipped_to(next), commit);
            }
            PullStatus::OffsetIllegal => {
                warn!(mq = ?pq.mq, offset, next, min = outcome.min_offset, max = outcome.max_offset,
                    "offset moved by the broker");
                pq.update(
                    |t| t.reset(next),
                    |c| shared.offsets.update(&pq.mq, c, true),
                );
                let _ = shared.offsets.persist(&pq.mq, false).await;
            }
        }
        offset = next;
    }
}

/// Sleeps after a failure; true when the loop was cancelled meanwhile.
async fn backoff(pq: &ProcessQueue) -> bool {
    tokio::select! {
        () = pq.cancel.cancelled() => true,
        () = tokio::time::sleep(PULL_BACKOFF) => false,
    }
}

fn pull_header(
    shared: &PushShared,
    pq: &ProcessQueue,
    sub: &Subscription,
    offset: i64,
    committed: Option<i64>,
) -> PullMessageRequest {
    // The subscription travels with every pull, so a broker that has not yet seen our
    // heartbeat still filters correctly.
    let sys_flag = sysflag::pull::build(committed.is_some(), true, true, false, false);
    PullMessageRequest {
        consumer_group: shared.config.group.clone(),
        topic: pq.mq.topic.clone(),
        queue_id: pq.mq.queue_id,
        queue_offset: offset,
        max_msg_nums: shared.config.pull_batch_size,
        sys_flag,
        commit_offset: committed.unwrap_or(0),
        suspend_timeout_millis: i64::try_from(shared.config.suspend_timeout.as_millis())
            .unwrap_or(15_000),
        subscription: Some(sub.expression.clone()),
        sub_version: sub.version,
        expression_type: Some(EXPRESSION_TAG.to_owned()),
        max_msg_bytes: None,
        broker_name: Some(pq.mq.broker_name.clone()),
    }
}

/// Hands pulled messages to the listener in batches of `batch_size`, each on its own task.
fn dispatch(shared: &Arc<PushShared>, pq: &Arc<ProcessQueue>, msgs: Vec<MessageExt>) {
    let size = shared.config.batch_size.max(1);
    let mut msgs = msgs.into_iter().peekable();
    while msgs.peek().is_some() {
        let chunk: Vec<MessageExt> = msgs.by_ref().take(size).collect();
        shared
            .tasks
            .spawn(consume(Arc::clone(shared), Arc::clone(pq), chunk));
    }
}

/// Runs the listener on one batch until every message is consumed or handed to the retry
/// topic; only then do their offsets count as done.
async fn consume(shared: Arc<PushShared>, pq: Arc<ProcessQueue>, msgs: Vec<MessageExt>) {
    let mut msgs = Arc::new(msgs);
    loop {
        let Ok(permit) = Arc::clone(&shared.permits).acquire_owned().await else {
            return;
        };
        // Not started yet and stopping: leave them unconsumed (the committed offset stays below).
        if shared.shutdown.is_cancelled() || pq.is_dropped() {
            return;
        }
        let result = if shared.config.blocking_listener {
            let listener = Arc::clone(&shared.listener);
            let batch = Arc::clone(&msgs);
            tokio::task::spawn_blocking(move || listener.consume(&batch))
                .await
                .unwrap_or_else(|e| {
                    warn!(error = %e, "listener panicked; retrying the batch later");
                    ConsumeResult::RetryLater
                })
        } else {
            shared.listener.consume(&msgs)
        };
        drop(permit);
        let commit = |c: i64| shared.offsets.update(&pq.mq, c, false);
        if result == ConsumeResult::Success || shared.config.model == MessageModel::Broadcasting {
            if result == ConsumeResult::RetryLater {
                warn!(
                    count = msgs.len(),
                    "broadcasting: RetryLater messages are dropped"
                );
            }
            pq.done(msgs.iter().map(|m| m.queue_offset), commit);
            return;
        }
        let mut failed = Vec::new();
        let mut handed_over = Vec::new();
        for m in msgs.iter() {
            if redeliver(&shared, m).await {
                handed_over.push(m.queue_offset);
            } else {
                failed.push(m.clone());
            }
        }
        pq.done(handed_over, commit);
        if failed.is_empty() {
            return;
        }
        msgs = Arc::new(failed);
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = pq.cancel.cancelled() => return,
            () = tokio::time::sleep(LOCAL_RETRY_DELAY) => {}
        }
    }
}

/// Sends a failed message back for redelivery: CONSUMER_SEND_MSG_BACK, or if the broker
/// refuses, a re-send to `%RETRY%<group>` ourselves. False if both failed.
async fn redeliver(shared: &PushShared, msg: &MessageExt) -> bool {
    let c = &shared.config;
    let err =
        match broker_api::send_back(&shared.instance, &c.group, msg, c.max_reconsume_times).await {
            Ok(()) => return true,
            Err(e) => e,
        };
    debug!(msg_id = %msg.msg_id, error = %err, "send-back failed; re-sending to the retry topic");
    match shared
        .retry_producer
        .deliver_round_robin(
            retry_message(&shared.retry_topic, shared.config.max_reconsume_times, msg),
            false,
        )
        .await
    {
        Ok(_) => true,
        Err(e) => {
            warn!(msg_id = %msg.msg_id, error = %e, "cannot hand the message to the retry topic");
            false
        }
    }
}

/// The message re-sent to the retry topic (Java's fallback in `sendMessageBack`): original
/// properties (so the same UNIQ_KEY), ORIGIN_MESSAGE_ID, RETRY_TOPIC, delay level
/// `3 + reconsume times`, and the reconsume count in the header.
fn retry_message(retry_topic: &str, max_reconsume_times: i32, msg: &MessageExt) -> Outgoing {
    let mut props = String::new();
    let skip = [
        properties::RECONSUME_TIME,
        properties::MAX_RECONSUME_TIMES,
        properties::DELAY,
        properties::ORIGIN_MESSAGE_ID,
        properties::RETRY_TOPIC,
        properties::TRAN_PREPARED_QUEUE_OFFSET,
    ];
    for (k, v) in msg
        .properties
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
    {
        properties::push(&mut props, k, v);
    }
    let origin = msg
        .property(properties::ORIGIN_MESSAGE_ID)
        .map_or_else(|| msg.msg_id.clone(), str::to_owned);
    properties::push(&mut props, properties::ORIGIN_MESSAGE_ID, &origin);
    let origin_topic = msg.property(properties::RETRY_TOPIC).unwrap_or(&msg.topic);
    properties::push(&mut props, properties::RETRY_TOPIC, origin_topic);
    let delay = msg.reconsume_times.saturating_add(3).to_string();
    properties::push(&mut props, properties::DELAY, &delay);
    Outgoing {
        topic: retry_topic.to_owned(),
        body: msg.body.clone(),
        flag: msg.flag,
        sys_flag: 0,
        properties: props,
        msg_id: msg.msg_id.clone(),
        reconsume_times: Some(msg.reconsume_times.saturating_add(1)),
        max_reconsume_times: Some(max_reconsume_times),
        batch: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use saturn_protocol::message::record::StoredMessage;

    #[test]
    fn fallback_retry_message_keeps_identity_and_counts() {
        let host = "127.0.0.1:10911".parse().unwrap();
        let stored = StoredMessage {
            topic: "Orders".into(),
            queue_id: 1,
            flag: 3,
            queue_offset: 9,
            physical_offset: 500,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 2,
            prepared_transaction_offset: 0,
            body_crc: 0,
            body: Bytes::from_static(b"payload"),
            properties: "TAGS\u{1}A\u{2}UNIQ_KEY\u{1}U1\u{2}DELAY\u{1}1\u{2}".into(),
        };
        let msg = MessageExt::from_stored(stored, "broker-a");
        let out = retry_message("%RETRY%g", 16, &msg);
        assert_eq!(out.topic, "%RETRY%g");
        assert_eq!(out.body.as_ref(), b"payload");
        assert_eq!(out.flag, 3);
        assert_eq!(out.reconsume_times, Some(3));
        assert_eq!(out.max_reconsume_times, Some(16));
        assert_eq!(out.msg_id, "U1");
        let p = &out.properties;
        assert_eq!(properties::find(p, properties::UNIQ_KEY), Some("U1"));
        assert_eq!(properties::find(p, properties::TAGS), Some("A"));
        assert_eq!(properties::find(p, properties::RETRY_TOPIC), Some("Orders"));
        assert_eq!(
            properties::find(p, properties::ORIGIN_MESSAGE_ID),
            Some("U1")
        );
        // Delay level 3 + reconsume times, replacing the old one.
        assert_eq!(
            properties::iter(p).filter(|(k, _)| *k == "DELAY").count(),
            1
        );
        assert_eq!(properties::find(p, properties::DELAY), Some("5"));
    }
}
