//! Before the load: the topic (`--queues` creates or updates it with UPDATE_AND_CREATE_TOPIC on
//! every master of the cluster; e2e creates a missing topic so consumers have queues before the
//! first send) and the consumers' queue assignment.

use std::collections::BTreeSet;
use std::time::Duration;

use saturn_client::{AdminClient, ClientConfig, ClientError, PushConsumer, TopicTarget};
use saturn_protocol::body::TopicRouteData;
use tokio::time::Instant;
use tracing::warn;

use crate::args::CommonArgs;
use crate::error::BenchError;

/// How long a created topic may take to show up in the name server's route.
const ROUTE_WAIT: Duration = Duration::from_secs(30);
/// How long consumers may take to divide the queues among themselves.
const ASSIGN_WAIT: Duration = Duration::from_secs(30);
/// Poll period of the waits above.
const POLL: Duration = Duration::from_millis(50);

/// What a benchmark needs of its topic when `--queues` is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicNeed {
    /// Nothing: the producers' first send auto-creates it (broker default queue count).
    AutoCreate,
    /// It must exist (there is nothing to consume otherwise).
    MustExist,
    /// Create it with this many queues per broker if missing.
    CreateIfMissing(u32),
}

/// Prepares the topic; returns its readable queues over all brokers, if known.
///
/// # Errors
/// [`BenchError::Client`] when the name server or a broker fails, [`BenchError::Topic`] when
/// the topic is missing (consume) or does not get its queues in time.
pub async fn prepare_topic(
    common: &CommonArgs,
    need: TopicNeed,
) -> Result<Option<u32>, BenchError> {
    if common.queues.is_none() && need == TopicNeed::AutoCreate {
        return Ok(None);
    }
    let admin = AdminClient::start(ClientConfig::new(&common.namesrv))
        .await
        .map_err(|e| BenchError::client("admin client", e))?;
    let result = prepare_with(&admin, common, need).await;
    admin.shutdown().await;
    result.map(Some)
}

async fn prepare_with(
    admin: &AdminClient,
    common: &CommonArgs,
    need: TopicNeed,
) -> Result<u32, BenchError> {
    let topic = common.topic.as_str();
    let queues = match (common.queues, need) {
        (Some(q), _) => q,
        (None, _) => match admin.route(topic).await {
            Ok(route) if read_queues(&route) > 0 => return Ok(read_queues(&route)),
            Ok(_) | Err(ClientError::TopicNotFound(_)) => match need {
                TopicNeed::CreateIfMissing(q) => q,
                _ => {
                    return Err(BenchError::Topic {
                        topic: topic.to_owned(),
                        reason: "does not exist (produce to it first, or pass --queues)".into(),
                    })
                }
            },
            Err(e) => return Err(BenchError::client(format!("route of {topic}"), e)),
        },
    };
    let q = i32::try_from(queues)
        .map_err(|_| BenchError::InvalidArgs(format!("--queues {queues} is too large")))?;
    let clusters: Vec<String> = match &common.cluster {
        Some(c) => vec![c.clone()],
        None => admin
            .cluster_info()
            .await
            .map_err(|e| BenchError::client("cluster info", e))?
            .cluster_addr_table
            .into_keys()
            .collect(),
    };
    if clusters.is_empty() {
        return Err(BenchError::Topic {
            topic: topic.to_owned(),
            reason: "the name server knows no cluster to create it in".into(),
        });
    }
    for cluster in &clusters {
        admin
            .create_topic(topic, q, q, &TopicTarget::Cluster(cluster.clone()))
            .await
            .map_err(|e| BenchError::client(format!("create {topic} in {cluster}"), e))?;
    }
    let deadline = Instant::now() + ROUTE_WAIT;
    loop {
        if let Ok(route) = admin.route(topic).await {
            let ok = !route.queue_datas.is_empty()
                && route
                    .queue_datas
                    .iter()
                    .all(|d| d.read_queue_nums == q && d.write_queue_nums == q);
            if ok {
                return Ok(read_queues(&route));
            }
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Topic {
                topic: topic.to_owned(),
                reason: format!("route did not show {queues} queues within {ROUTE_WAIT:?}"),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Readable queues of a route over all brokers.
fn read_queues(route: &TopicRouteData) -> u32 {
    route
        .queue_datas
        .iter()
        .map(|d| u32::try_from(d.read_queue_nums).unwrap_or(0))
        .sum()
}

/// Waits until the consumers together own each of the `total` queues of `topic` exactly once (the
/// retry topic's queues are not counted), so no
/// message sent afterwards is missed and no queue is read twice. Gives up with a warning after
/// a while (the run then starts anyway; a later rebalance will complete the assignment).
pub async fn wait_for_assignment(consumers: &[PushConsumer], topic: &str, total: u32) {
    let deadline = Instant::now() + ASSIGN_WAIT;
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    loop {
        let mut owned = 0usize;
        let mut distinct = BTreeSet::new();
        for c in consumers {
            for q in c.assigned_queues().into_iter().filter(|q| q.topic == topic) {
                owned += 1;
                distinct.insert(q);
            }
        }
        if owned == total && distinct.len() == total {
            return;
        }
        if Instant::now() >= deadline {
            warn!(
                owned,
                distinct = distinct.len(),
                total,
                "consumers did not divide the queues in time; starting anyway"
            );
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}
