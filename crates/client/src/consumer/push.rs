//! [`PushConsumer`]: subscribes a group to topics and calls a [`MessageListener`] for every
//! message, pulling with long polling underneath.
//!
//! Start: routes of the subscribed topics → heartbeat to every broker (group, subscriptions,
//! `%RETRY%<group>` with `*` when clustering) → rebalance → a pull loop per assigned queue.
//! Rebalance runs again every `rebalance_interval` and whenever a broker reports that the
//! group's members changed. Offsets are committed every `persist_interval`, piggy-backed on
//! pulls, when a queue leaves, and on shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saturn_protocol::body::{ConsumeType, ConsumerData, MessageModel as WireModel};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use super::offset_store::OffsetStore;
use super::process_queue::ProcessQueue;
use super::rebalance;
use super::{consume_from_where, retry_topic, MessageListener, Subscription};
use crate::config::{MessageModel, PushConsumerConfig};
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::MessageQueue;
use crate::producer::{now_ms, Producer};
use crate::route::lock;

/// Longest wait on shutdown for listener calls already running.
const SHUTDOWN_CONSUME_WAIT: Duration = Duration::from_secs(30);
/// Group of the internal producer that re-sends messages the broker would not take back.
const INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";

/// State shared by the consumer's tasks.
pub(crate) struct PushShared {
    pub(crate) instance: Arc<ClientInstance>,
    pub(crate) config: PushConsumerConfig,
    pub(crate) listener: Arc<dyn MessageListener>,
    pub(crate) offsets: OffsetStore,
    /// User subscriptions, plus the retry topic's when clustering.
    pub(crate) subscriptions: Vec<Subscription>,
    pub(crate) retry_topic: String,
    /// Assigned queues.
    pub(crate) queues: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    /// Bounds concurrent listener calls.
    pub(crate) permits: Arc<Semaphore>,
    /// Pull loops, consume tasks and the periodic tasks, awaited on shutdown.
    pub(crate) tasks: TaskTracker,
    pub(crate) retry_producer: Producer,
    pub(crate) shutdown: CancellationToken,
}

impl PushShared {
    pub(crate) fn subscription(&self, topic: &str) -> Option<&Subscription> {
        self.subscriptions.iter().find(|s| s.topic == topic)
    }
}

/// A push consumer. Dropping it without [`PushConsumer::shutdown`] stops its tasks but commits
/// nothing and does not tell the brokers.
pub struct PushConsumer {
    shared: Arc<PushShared>,
    closed: AtomicBool,
}

impl Drop for PushConsumer {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl PushConsumer {
    /// Starts consuming: heartbeats, first rebalance, pull loops, periodic tasks.
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad configuration, [`ClientError::OffsetFile`] /
    /// [`ClientError::OffsetFileFormat`] for an unreadable local offset file (broadcasting).
    pub async fn start(
        config: PushConsumerConfig,
        listener: Arc<dyn MessageListener>,
    ) -> Result<Self, ClientError> {
        config.validate()?;
        let offsets = match config.model {
            MessageModel::Broadcasting => {
                let dir = config
                    .offset_dir
                    .clone()
                    .unwrap_or_else(OffsetStore::default_dir);
                Some(OffsetStore::local(&dir, &config.group)?)
            }
            MessageModel::Clustering => None,
        };
        let instance = ClientInstance::start(config.client.clone()).await?;
        let offsets =
            offsets.unwrap_or_else(|| OffsetStore::remote(Arc::clone(&instance), &config.group));
        let version = now_ms();
        let mut subscriptions: Vec<Subscription> = config
            .subscriptions
            .iter()
            .map(|(t, e)| Subscription::new(t, e, version))
            .collect();
        let retry = retry_topic(&config.group);
        if config.model == MessageModel::Clustering {
            subscriptions.push(Subscription::new(&retry, "*", version));
        }
        instance.register_consumer(ConsumerData {
            consume_from_where: consume_from_where(config.consume_from),
            consume_type: ConsumeType::Passively,
            group_name: config.group.clone(),
            message_model: match config.model {
                MessageModel::Clustering => WireModel::Clustering,
                MessageModel::Broadcasting => WireModel::Broadcasting,
            },
            subscription_data_set: subscriptions.iter().map(Subscription::to_data).collect(),
            unit_mode: false,
        });
        let shared = Arc::new(PushShared {
            retry_producer: Producer::internal(Arc::clone(&instance), INNER_PRODUCER_GROUP),
            permits: Arc::new(Semaphore::new(config.consume_concurrency)),
            instance,
            listener,
            offsets,
            subscriptions,
            retry_topic: retry,
            queues: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            config,
        });
        for (topic, _) in &shared.config.subscriptions {
            if let Err(e) = shared.instance.routes.subscribe_route(topic).await {
                warn!(topic, error = %e, "route lookup failed at start");
            }
        }
        shared.instance.heartbeat_all().await;
        let settled = rebalance::rebalance(&shared).await;
        // Tracked with the pull loops so shutdown waits for a rebalance in progress.
        shared
            .tasks
            .spawn(rebalance_task(Arc::clone(&shared), settled));
        shared.tasks.spawn(persist_task(Arc::clone(&shared)));
        Ok(Self {
            shared,
            closed: AtomicBool::new(false),
        })
    }

    /// This client's id (`ip@instance`), as the brokers list it among the group's members.
    pub fn client_id(&self) -> &str {
        &self.shared.instance.client_id
    }

    /// The queues currently assigned to this consumer, sorted.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<MessageQueue> = lock(&self.shared.queues).keys().cloned().collect();
        v.sort();
        v
    }

    /// Stops pulling, waits for running listener calls (up to 30 s), commits every offset,
    /// unregisters the group from the brokers (which tell the other members) and closes
    /// connections. Idempotent.
    pub async fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = &self.shared;
        shared.shutdown.cancel();
        shared.tasks.close();
        if tokio::time::timeout(SHUTDOWN_CONSUME_WAIT, shared.tasks.wait())
            .await
            .is_err()
        {
            warn!("listener calls still running at shutdown; their offsets are not committed");
        }
        let queues: Vec<Arc<ProcessQueue>> =
            lock(&shared.queues).drain().map(|(_, pq)| pq).collect();
        for pq in queues {
            let committed = pq.drop_queue();
            shared.offsets.update(&pq.mq, committed, false);
        }
        shared.offsets.persist_all(true).await;
        shared
            .instance
            .unregister_consumer(&shared.config.group)
            .await;
        shared.instance.close();
    }
}

/// How soon a rebalance that could not settle every topic (no route yet: a topic that is being
/// auto-created, a broker that has not registered yet) is first tried again; the wait doubles
/// while it stays unsettled, up to `rebalance_interval`.
const UNSETTLED_RETRY: Duration = Duration::from_millis(500);

/// Rebalances every `rebalance_interval`, at once when a broker says the members changed, and
/// sooner (from [`UNSETTLED_RETRY`], backing off) while some subscribed topic has no assignment
/// yet, so a consumer started right after the first send does not wait a whole interval.
async fn rebalance_task(shared: Arc<PushShared>, settled: bool) {
    let notice = shared.instance.rebalance_notice(&shared.config.group);
    let every = shared.config.rebalance_interval;
    let mut wait = if settled {
        every
    } else {
        UNSETTLED_RETRY.min(every)
    };
    loop {
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = notice.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
        wait = if rebalance::rebalance(&shared).await {
            every
        } else {
            (wait * 2).min(every)
        };
    }
}

/// Commits changed offsets every `persist_interval` (oneway, as Java does).
async fn persist_task(shared: Arc<PushShared>) {
    let every = shared.config.persist_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            _ = tick.tick() => shared.offsets.persist_all(false).await,
        }
    }
}
