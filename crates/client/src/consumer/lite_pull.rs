//! [`LitePullConsumer`]: the caller picks the queues ([`LitePullConsumer::assign`]), moves
//! positions ([`LitePullConsumer::seek`]) and asks for messages
//! ([`LitePullConsumer::poll`]); offsets are committed to the broker only on
//! [`LitePullConsumer::commit`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saturn_protocol::body::{
    ConsumeType, ConsumerData, MessageModel as WireModel, EXPRESSION_TAG, SUB_ALL,
};
use saturn_protocol::header::PullMessageRequest;
use saturn_protocol::message::{sysflag, TagFilter};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::debug;

use super::offset_store::OffsetStore;
use super::{consume_from_where, start_offset};
use crate::broker_api::{self, PullOutcome, PullStatus};
use crate::config::LitePullConsumerConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::{MessageExt, MessageQueue};
use crate::route::lock;

/// Longest hold asked of a broker per pull (its own cap is 15 s too).
const MAX_SUSPEND: Duration = Duration::from_secs(15);
/// Extra time a pull request may take beyond its hold time.
const PULL_MARGIN: Duration = Duration::from_secs(5);
/// Pause between rounds when every pull of a round failed.
const ERROR_PAUSE: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Assignment {
    queues: Vec<MessageQueue>,
    /// Next offset to read per queue; absent until sought or first polled.
    positions: HashMap<MessageQueue, i64>,
}

/// A pull consumer with explicit queues and offsets.
pub struct LitePullConsumer {
    instance: Arc<ClientInstance>,
    config: LitePullConsumerConfig,
    committed: OffsetStore,
    state: Mutex<Assignment>,
    closed: AtomicBool,
}

impl LitePullConsumer {
    /// Starts the consumer (no queue assigned yet).
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad configuration.
    pub async fn start(config: LitePullConsumerConfig) -> Result<Self, ClientError> {
        if config.group.is_empty() {
            return Err(ClientError::Config("consumer group is empty".into()));
        }
        if config.pull_batch_size <= 0 {
            return Err(ClientError::Config(
                "pull_batch_size must be positive".into(),
            ));
        }
        let instance = ClientInstance::start(config.client.clone()).await?;
        instance.register_consumer(ConsumerData {
            consume_from_where: consume_from_where(config.consume_from),
            consume_type: ConsumeType::Actively,
            group_name: config.group.clone(),
            message_model: WireModel::Clustering,
            subscription_data_set: Vec::new(),
            unit_mode: false,
        });
        Ok(Self {
            committed: OffsetStore::remote(Arc::clone(&instance), &config.group),
            instance,
            config,
            state: Mutex::new(Assignment::default()),
            closed: AtomicBool::new(false),
        })
    }

    /// The readable queues of `topic` (to pass to [`LitePullConsumer::assign`]).
    ///
    /// # Errors
    /// [`ClientError::TopicNotFound`], or a name server failure.
    pub async fn fetch_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        match self.instance.routes.refresh(topic).await? {
            Some(r) => Ok(r.read_queues.clone()),
            None => Err(ClientError::TopicNotFound(topic.to_owned())),
        }
    }

    /// Replaces the assigned queues; positions of queues that stay are kept.
    pub fn assign(&self, queues: Vec<MessageQueue>) {
        let mut s = lock(&self.state);
        s.positions.retain(|mq, _| queues.contains(mq));
        s.queues = queues;
    }

    /// The assigned queues.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        lock(&self.state).queues.clone()
    }

    /// Sets the next offset to read from `mq`.
    ///
    /// # Errors
    /// [`ClientError::NotAssigned`] if `mq` is not assigned.
    pub fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        let mut s = lock(&self.state);
        if !s.queues.contains(mq) {
            return Err(ClientError::NotAssigned(mq.clone()));
        }
        s.positions.insert(mq.clone(), offset);
        Ok(())
    }

    /// Moves `mq` to its oldest stored message.
    ///
    /// # Errors
    /// As [`LitePullConsumer::seek`], or the broker request failing.
    pub async fn seek_to_begin(&self, mq: &MessageQueue) -> Result<(), ClientError> {
        let o = broker_api::min_offset(&self.instance, mq).await?;
        self.seek(mq, o)
    }

    /// Moves `mq` past its newest message.
    ///
    /// # Errors
    /// As [`LitePullConsumer::seek`], or the broker request failing.
    pub async fn seek_to_end(&self, mq: &MessageQueue) -> Result<(), ClientError> {
        let o = broker_api::max_offset(&self.instance, mq).await?;
        self.seek(mq, o)
    }

    /// The next offset [`LitePullConsumer::poll`] reads from `mq`, once known.
    pub fn position(&self, mq: &MessageQueue) -> Option<i64> {
        lock(&self.state).positions.get(mq).copied()
    }

    /// The group's offset of `mq` as stored on the broker.
    ///
    /// # Errors
    /// A broker request failure.
    pub async fn committed(&self, mq: &MessageQueue) -> Result<Option<i64>, ClientError> {
        broker_api::query_consumer_offset(&self.instance, &self.config.group, mq).await
    }

    /// Commits every known position to the broker (awaited).
    ///
    /// # Errors
    /// The first commit that failed.
    pub async fn commit(&self) -> Result<(), ClientError> {
        let positions: Vec<(MessageQueue, i64)> = lock(&self.state)
            .positions
            .iter()
            .map(|(mq, o)| (mq.clone(), *o))
            .collect();
        for (mq, o) in positions {
            broker_api::update_consumer_offset(&self.instance, &self.config.group, &mq, o, false)
                .await?;
        }
        Ok(())
    }

    /// Returns the next messages of the assigned queues, waiting up to `timeout` for some to
    /// arrive; empty after the timeout (or at once if nothing is assigned). Positions move past
    /// the returned messages. A queue without a position starts at its committed offset, else
    /// by `consume_from`.
    ///
    /// # Errors
    /// [`ClientError::Shutdown`], or a failure to find a queue's start offset. Failed pulls of
    /// single queues are skipped.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>, ClientError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ClientError::Shutdown);
        }
        let deadline = Instant::now() + timeout;
        let queues = self.assignment();
        for mq in &queues {
            if self.position(mq).is_none() {
                let o = start_offset(
                    &self.instance,
                    &self.committed,
                    mq,
                    self.config.consume_from,
                )
                .await?;
                lock(&self.state).positions.entry(mq.clone()).or_insert(o);
            }
        }
        loop {
            let suspend = deadline
                .saturating_duration_since(Instant::now())
                .min(MAX_SUSPEND);
            let mut pulls = JoinSet::new();
            for mq in &queues {
                let Some(offset) = self.position(mq) else {
                    continue;
                };
                let header = self.pull_header(mq, offset, suspend);
                let instance = Arc::clone(&self.instance);
                let mq = mq.clone();
                pulls.spawn(async move {
                    let addr = broker_api::master_of(&instance, &mq).await;
                    let r = match addr {
                        Ok(a) => {
                            broker_api::pull(&instance, &a, header, suspend + PULL_MARGIN).await
                        }
                        Err(e) => Err(e),
                    };
                    (mq, offset, r)
                });
            }
            let mut out = Vec::new();
            let mut answered = false;
            loop {
                let next = tokio::time::timeout_at(deadline + PULL_MARGIN, pulls.join_next());
                let Ok(Some(joined)) = next.await else { break };
                if let Ok((mq, offset, result)) = joined {
                    answered |= result.is_ok();
                    out.extend(self.take(&mq, offset, result));
                }
                if !out.is_empty() {
                    // Keep what else already arrived, drop the pulls still waiting.
                    while let Some(Ok((mq, offset, result))) = pulls.try_join_next() {
                        out.extend(self.take(&mq, offset, result));
                    }
                    break;
                }
            }
            pulls.abort_all();
            if !out.is_empty() || Instant::now() >= deadline || queues.is_empty() {
                return Ok(out);
            }
            if !answered {
                // Every pull failed at once (broker down?): do not spin until the deadline.
                tokio::time::sleep_until(deadline.min(Instant::now() + ERROR_PAUSE)).await;
            }
        }
    }

    /// Applies one pull result: messages out, position forward (unless sought meanwhile).
    fn take(
        &self,
        mq: &MessageQueue,
        requested: i64,
        result: Result<PullOutcome, ClientError>,
    ) -> Vec<MessageExt> {
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                debug!(?mq, error = %e, "pull failed");
                return Vec::new();
            }
        };
        let msgs = if outcome.status == PullStatus::Found {
            broker_api::received(outcome.messages, mq, requested, &TagFilter::all(), None)
        } else {
            Vec::new()
        };
        let mut s = lock(&self.state);
        if let Some(pos) = s.positions.get_mut(mq) {
            if *pos == requested {
                *pos = outcome.next_begin_offset;
            } else {
                // Sought while the pull was out: the caller's position wins.
                return Vec::new();
            }
        }
        msgs
    }

    fn pull_header(&self, mq: &MessageQueue, offset: i64, suspend: Duration) -> PullMessageRequest {
        let suspend_ms = i64::try_from(suspend.as_millis()).unwrap_or(0);
        PullMessageRequest {
            consumer_group: self.config.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: offset,
            max_msg_nums: self.config.pull_batch_size,
            sys_flag: sysflag::pull::build(false, suspend_ms > 0, true, false, false),
            commit_offset: 0,
            suspend_timeout_millis: suspend_ms,
            subscription: Some(SUB_ALL.to_owned()),
            sub_version: 0,
            expression_type: Some(EXPRESSION_TAG.to_owned()),
            max_msg_bytes: None,
            broker_name: Some(mq.broker_name.clone()),
        }
    }

    /// Unregisters the group from the brokers and closes connections (nothing is committed).
    /// Idempotent.
    pub async fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.instance.unregister_consumer(&self.config.group).await;
        self.instance.close();
    }
}
