//! Dividing a topic's queues among a group's members, and applying the result to a push
//! consumer (start pull loops for new queues, stop and commit dropped ones).

use std::collections::BTreeSet;
use std::sync::Arc;

use tracing::{debug, info, warn};

use super::process_queue::ProcessQueue;
use super::pull_loop;
use super::push::PushShared;
use crate::broker_api;
use crate::config::MessageModel;
use crate::message::MessageQueue;
use crate::route::lock;

/// The queues `me` takes under Java's `AllocateMessageQueueAveragely`: queues and client ids
/// are sorted; with `q` queues and `c` clients each client gets `q / c` consecutive queues and
/// the first `q % c` clients one more. A client not in `clients` gets nothing.
///
/// ```
/// use saturn_client::consumer::rebalance::allocate_average;
/// use saturn_client::MessageQueue;
/// let qs: Vec<MessageQueue> = (0..8)
///     .map(|i| MessageQueue { topic: "T".into(), broker_name: "b".into(), queue_id: i })
///     .collect();
/// let ids = ["c1".to_string(), "c2".into(), "c3".into()];
/// let sizes: Vec<usize> = ids.iter().map(|me| allocate_average(&qs, &ids, me).len()).collect();
/// assert_eq!(sizes, [3, 3, 2]);
/// ```
pub fn allocate_average(
    queues: &[MessageQueue],
    clients: &[String],
    me: &str,
) -> Vec<MessageQueue> {
    let mut queues: Vec<&MessageQueue> = queues.iter().collect();
    // Java's MessageQueue order: topic, broker name, queue id.
    queues.sort_by(|a, b| {
        (&a.topic, &a.broker_name, a.queue_id).cmp(&(&b.topic, &b.broker_name, b.queue_id))
    });
    let mut clients: Vec<&String> = clients.iter().collect();
    clients.sort();
    clients.dedup();
    let Some(index) = clients.iter().position(|c| c.as_str() == me) else {
        return Vec::new();
    };
    let (q, c) = (queues.len(), clients.len());
    if q == 0 {
        return Vec::new();
    }
    let rem = q % c;
    let average = if q <= c {
        1
    } else if rem > 0 && index < rem {
        q / c + 1
    } else {
        q / c
    };
    let start = if rem > 0 && index < rem {
        index * average
    } else {
        index * average + rem
    };
    let range = average.min(q.saturating_sub(start));
    (0..range)
        .filter_map(|i| queues.get((start + i) % q).map(|mq| (*mq).clone()))
        .collect()
}

/// One rebalance round over every subscribed topic (and the retry topic). Returns whether every
/// topic got an assignment; `false` when a route or the member list was not available yet.
pub(crate) async fn rebalance(shared: &Arc<PushShared>) -> bool {
    let topics: Vec<String> = shared
        .subscriptions
        .iter()
        .map(|s| s.topic.clone())
        .collect();
    let mut settled = true;
    for topic in topics {
        if shared.shutdown.is_cancelled() {
            return settled;
        }
        match assignment(shared, &topic).await {
            Some(assigned) => apply(shared, &topic, assigned).await,
            None => settled = false,
        }
    }
    settled
}

/// The queues of `topic` this consumer should own now; `None` to leave things as they are.
async fn assignment(shared: &Arc<PushShared>, topic: &str) -> Option<BTreeSet<MessageQueue>> {
    let instance = &shared.instance;
    let route = match instance.routes.subscribe_route(topic).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            debug!(topic, "no route yet");
            return None;
        }
        Err(e) => {
            warn!(topic, error = %e, "route lookup failed");
            return None;
        }
    };
    let all = route.read_queues.clone();
    match shared.config.model {
        MessageModel::Broadcasting => Some(all.into_iter().collect()),
        MessageModel::Clustering => {
            // Any broker of the topic knows the group's members (all get our heartbeats).
            let mut ids = None;
            for addr in route.master_addrs() {
                match broker_api::consumer_ids(instance, &addr, &shared.config.group).await {
                    Ok(list) => {
                        ids = Some(list);
                        break;
                    }
                    Err(e) => debug!(topic, %addr, error = %e, "consumer list failed"),
                }
            }
            let ids = ids?;
            if !ids.contains(&instance.client_id) {
                // The broker has not (or no longer) registered us: heartbeat, decide next round.
                instance.heartbeat_all().await;
                return None;
            }
            Some(
                allocate_average(&all, &ids, &instance.client_id)
                    .into_iter()
                    .collect(),
            )
        }
    }
}

/// Starts pull loops for newly assigned queues of `topic` and stops the others.
async fn apply(shared: &Arc<PushShared>, topic: &str, assigned: BTreeSet<MessageQueue>) {
    let (dropped, current): (Vec<Arc<ProcessQueue>>, BTreeSet<MessageQueue>) = {
        let mut table = lock(&shared.queues);
        let gone: Vec<MessageQueue> = table
            .keys()
            .filter(|mq| mq.topic == topic && !assigned.contains(*mq))
            .cloned()
            .collect();
        let dropped = gone.iter().filter_map(|mq| table.remove(mq)).collect();
        let current = table
            .keys()
            .filter(|mq| mq.topic == topic)
            .cloned()
            .collect();
        (dropped, current)
    };
    for pq in dropped {
        info!(mq = ?pq.mq, "queue leaves this consumer");
        release(shared, &pq, false).await;
    }
    for mq in assigned.difference(&current) {
        let from = shared.config.consume_from;
        let start = match super::start_offset(&shared.instance, &shared.offsets, mq, from).await {
            Ok(o) => o,
            Err(e) => {
                warn!(?mq, error = %e, "cannot compute start offset; next round retries");
                continue;
            }
        };
        info!(?mq, start, "queue assigned");
        let pq = Arc::new(ProcessQueue::new(
            mq.clone(),
            start,
            shared.shutdown.child_token(),
        ));
        lock(&shared.queues).insert(mq.clone(), Arc::clone(&pq));
        pull_loop::spawn(shared, pq, start);
    }
}

/// Stops a queue and commits its offset (awaited if `sync`, oneway otherwise).
pub(crate) async fn release(shared: &PushShared, pq: &ProcessQueue, sync: bool) {
    let committed = pq.drop_queue();
    shared.offsets.update(&pq.mq, committed, false);
    if let Err(e) = shared.offsets.persist(&pq.mq, sync).await {
        debug!(mq = ?pq.mq, error = %e, "commit of released queue failed");
    }
    shared.offsets.remove(&pq.mq);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(brokers: &[(&str, i32)]) -> Vec<MessageQueue> {
        brokers
            .iter()
            .flat_map(|(b, n)| {
                (0..*n).map(move |q| MessageQueue {
                    topic: "T".into(),
                    broker_name: (*b).into(),
                    queue_id: q,
                })
            })
            .collect()
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("10.0.0.{i}@{i}")).collect()
    }

    fn qids(qs: &[MessageQueue]) -> Vec<i32> {
        qs.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn java_average_outputs() {
        let qs = queues(&[("b", 8)]);
        let c = ids(3);
        // Java: 8 queues over 3 clients → [0,1,2], [3,4,5], [6,7].
        assert_eq!(qids(&allocate_average(&qs, &c, &c[0])), [0, 1, 2]);
        assert_eq!(qids(&allocate_average(&qs, &c, &c[1])), [3, 4, 5]);
        assert_eq!(qids(&allocate_average(&qs, &c, &c[2])), [6, 7]);
        // 4 queues over 2 → 2 each.
        let qs4 = queues(&[("b", 4)]);
        let c2 = ids(2);
        assert_eq!(qids(&allocate_average(&qs4, &c2, &c2[0])), [0, 1]);
        assert_eq!(qids(&allocate_average(&qs4, &c2, &c2[1])), [2, 3]);
        // More clients than queues: the first ones get one each, the rest nothing.
        let c5 = ids(5);
        let sizes: Vec<usize> = c5
            .iter()
            .map(|me| allocate_average(&qs4, &c5, me).len())
            .collect();
        assert_eq!(sizes, [1, 1, 1, 1, 0]);
        assert_eq!(qids(&allocate_average(&qs4, &c5, &c5[3])), [3]);
        // Not a member, or no queues: nothing.
        assert!(allocate_average(&qs, &c, "stranger").is_empty());
        assert!(allocate_average(&[], &c, &c[0]).is_empty());
    }

    #[test]
    fn order_of_inputs_does_not_matter_and_cover_is_exact() {
        let mut qs = queues(&[("broker-b", 3), ("broker-a", 4)]);
        qs.reverse();
        let mut c = ids(3);
        c.reverse();
        let mut seen = Vec::new();
        for me in &c {
            seen.extend(allocate_average(&qs, &c, me));
        }
        seen.sort();
        let mut all = qs.clone();
        all.sort();
        assert_eq!(seen, all, "every queue to exactly one client");
        // The first client (sorted) takes broker-a 0..=2 (7 queues / 3 → 3, 2, 2).
        let sorted_first = {
            let mut s = c.clone();
            s.sort();
            s.remove(0)
        };
        let mine = allocate_average(&qs, &c, &sorted_first);
        assert_eq!(qids(&mine), [0, 1, 2]);
        assert!(mine.iter().all(|q| q.broker_name == "broker-a"));
    }
}
