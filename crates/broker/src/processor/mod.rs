//! Request processors, one file per request family. Each processor is a small struct holding
//! only the handles it needs (built once in [`crate::dispatch`]); a handler reads its typed
//! header first and never looks up `extFields` strings after that.
//!
//! - [`send`]: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320)
//! - [`pull`]: PULL_MESSAGE (11), LITE_PULL_MESSAGE (361), with long polling
//! - [`offset`]: consumer offsets (14, 15) and queue offsets (29, 30, 31, 32)
//! - [`client`]: HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38),
//!   CHECK_CLIENT_CONFIG (46)
//! - [`query`]: QUERY_MESSAGE (12), VIEW_MESSAGE_BY_ID (33)
//! - [`admin`]: topics and groups (17, 21, 200, 201, 215, 43)
//! - [`stats`]: GET_BROKER_RUNTIME_INFO (28), GET_TOPIC_STATS_INFO (202),
//!   GET_CONSUMER_CONNECTION_LIST (203), GET_CONSUME_STATS (208)
//! - [`transaction`], END_TRANSACTION (37)
//! - [`lock`]: LOCK_BATCH_MQ (41), UNLOCK_BATCH_MQ (42)
//! - [`send_back`], CONSUMER_SEND_MSG_BACK (36)

pub mod admin;
pub mod client;
pub mod lock;
pub mod offset;
pub mod pull;
pub mod query;
pub mod send;
pub mod send_back;
pub mod stats;
pub mod transaction;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::CommandHeader;
use saturn_protocol::message::MessageToStore;
use saturn_remoting::DeferredResponse;
use saturn_store::{AppendResult, Durability, MessageStore, StoreError};

use crate::error::RequestError;
use crate::long_poll::LongPoll;
use crate::state::Stats;

/// What a processor returns: the response, or an error that [`crate::dispatch`] turns into one.
pub type Reply = Result<RemotingCommand, RequestError>;

/// A SUCCESS response without header.
pub fn success(req: &RemotingCommand) -> RemotingCommand {
    req.response_to(response::SUCCESS, None)
}

/// A response with `code` and a typed header.
pub fn with_header<H: CommandHeader>(
    req: &RemotingCommand,
    code: i32,
    header: &H,
) -> RemotingCommand {
    req.response_to(code, None).with_ext(header.to_ext())
}

/// Concatenates stored records into one response body. Records come as zero-copy slices of the
/// commit log; one copy here keeps the transport simple (writev of the slices belongs to the
/// performance work).
pub fn concat(records: &[Bytes]) -> Bytes {
    match records {
        [] => Bytes::new(),
        [one] => one.clone(),
        many => {
            let total = many.iter().map(Bytes::len).sum();
            let mut out = BytesMut::with_capacity(total);
            for r in many {
                out.extend_from_slice(r);
            }
            out.freeze()
        }
    }
}

/// The error for an append that was written but whose flush failed (store poisoned or closed).
fn not_durable(e: &StoreError) -> RequestError {
    RequestError::ServiceNotAvailable(format!("message written but not made durable: {e}"))
}

/// The write path shared by send, send-back and end-transaction: append, then wake the long
/// polls of every queue written. The caller decides whether to wait for the durability.
pub struct Appender {
    /// The store.
    pub store: Arc<MessageStore>,
    /// Long-poll signals.
    pub long_poll: Arc<LongPoll>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Sync flush: how long to wait for durability; `None` in async-flush mode.
    pub sync_flush_timeout: Option<Duration>,
}

impl Appender {
    /// Appends `msgs` (consecutive records) and wakes the pulls waiting on their queues.
    ///
    /// # Errors
    /// The store's error.
    pub fn append(
        &self,
        msgs: &[MessageToStore],
    ) -> Result<(Vec<AppendResult>, Durability), RequestError> {
        let (out, durability) = self.store.append_batch_deferred(msgs)?;
        self.stats.add_put(out.len());
        let mut last: Option<(&str, i32)> = None;
        for m in msgs {
            let q = (m.topic.as_str(), m.queue_id);
            if last != Some(q) {
                self.long_poll.notify(q.0, q.1);
                last = Some(q);
            }
        }
        Ok((out, durability))
    }

    /// Waits (without blocking the runtime) until an append is durable. `Ok(true)` when durable
    /// (or async-flush mode), `Ok(false)` when the sync-flush timeout passed first (the message
    /// is stored; Java reports FLUSH_DISK_TIMEOUT).
    ///
    /// # Errors
    /// [`RequestError::ServiceNotAvailable`] when the flush failed (store poisoned or closed).
    pub async fn wait_durable(&self, d: Durability) -> Result<bool, RequestError> {
        let Some(timeout) = self.sync_flush_timeout else {
            return Ok(true);
        };
        if d.is_ready() {
            return Ok(true);
        }
        match tokio::time::timeout(timeout, d.wait_async()).await {
            Ok(Ok(())) => Ok(true),
            Ok(Err(StoreError::FlushTimeout { .. })) | Err(_) => {
                tracing::warn!("sync flush timed out");
                Ok(false)
            }
            Ok(Err(e)) => Err(not_durable(&e)),
        }
    }

    /// Sync flush without a waiting task: `reply` (a SUCCESS response) goes out through
    /// `deferred` right after the flush round that makes the append durable, on the store's
    /// flusher thread. FLUSH_DISK_TIMEOUT when the sync-flush timeout passes first (the message
    /// is stored), SERVICE_NOT_AVAILABLE when the flush failed or the store closed.
    pub fn answer_when_durable(
        &self,
        d: Durability,
        mut reply: RemotingCommand,
        deferred: DeferredResponse,
    ) {
        d.on_durable(move |outcome| {
            match outcome {
                Ok(()) => {}
                Err(StoreError::FlushTimeout { .. }) => reply.code = response::FLUSH_DISK_TIMEOUT,
                Err(e) => {
                    let e = not_durable(&e);
                    tracing::warn!(error = %e, "send failed");
                    reply = reply.response_to(e.response_code(), Some(e.to_string()));
                }
            }
            deferred.send(reply);
        });
    }

    /// [`Appender::append`] then [`Appender::wait_durable`], treating a flush timeout as success
    /// (as Java does for send-back and end-transaction).
    ///
    /// # Errors
    /// As both.
    pub async fn append_durable(
        &self,
        msgs: &[MessageToStore],
    ) -> Result<Vec<AppendResult>, RequestError> {
        let (out, d) = self.append(msgs)?;
        self.wait_durable(d).await?;
        Ok(out)
    }
}
