//! END_TRANSACTION (37), oneway or not: the producer's decision about a half message.
//!
//! - commit (8): read the half record at `commitLogOffset`, store it again in its `REAL_TOPIC` /
//!   `REAL_QID` (those two properties removed, transaction type "commit", prepared-transaction
//!   offset = the half record's commit-log offset), then write an op record;
//! - rollback (12): op record only;
//! - unknown (0): nothing (the check-back will ask again).
//!
//! The op record goes to `RMQ_SYS_TRANS_OP_HALF_TOPIC` queue 0 with tag `d` and, as body, the half
//! message's queue offset in the half topic (Java's layout), so a check-back scan can tell
//! resolved halves from pending ones. A decision repeated for the same half (e.g. a late answer to
//! a check) is ignored while it is remembered (the last [`RESOLVED_MEMORY`] decisions), so a
//! commit delivers once.
//!
//! TODO (transaction check-back issue): scan the half topic for records older than the
//! transaction timeout without an op record, send CHECK_TRANSACTION_STATE (39) to a live
//! producer of their `PGROUP` ([`crate::client_manager::ClientManager::producer_channel`]), give
//! up after `transactionCheckMax`, and rebuild the resolved set from the op topic at start.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, EndTransactionRequest, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
    TRANSACTION_ROLLBACK_TYPE,
};
use saturn_protocol::message::record::decode;
use saturn_protocol::message::{properties, sysflag, MessageToStore, StoredMessage};
use saturn_store::MessageStore;

use super::{success, Appender, Reply};
use crate::error::RequestError;
use crate::state::{now_ms, Identity};
use crate::topic_config::{TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};

/// Number of resolved half messages remembered to ignore repeated decisions.
pub const RESOLVED_MEMORY: usize = 100_000;

/// Tag of op records (Java `TransactionalMessageUtil.REMOVETAG`).
const OP_TAG: &str = "d";

/// Serves END_TRANSACTION.
pub struct TransactionProcessor {
    appender: Appender,
    store: Arc<MessageStore>,
    identity: Arc<Identity>,
    resolved: Mutex<Resolved>,
}

#[derive(Default)]
struct Resolved {
    set: HashSet<i64>,
    order: VecDeque<i64>,
}

impl Resolved {
    /// Records `offset`; false if it was already resolved.
    fn insert(&mut self, offset: i64) -> bool {
        if !self.set.insert(offset) {
            return false;
        }
        self.order.push_back(offset);
        if self.order.len() > RESOLVED_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    fn forget(&mut self, offset: i64) {
        if self.set.remove(&offset) {
            self.order.retain(|o| *o != offset);
        }
    }
}

impl TransactionProcessor {
    /// Builds the processor.
    pub fn new(appender: Appender, store: Arc<MessageStore>, identity: Arc<Identity>) -> Self {
        TransactionProcessor {
            appender,
            store,
            identity,
            resolved: Mutex::new(Resolved::default()),
        }
    }

    /// Handles END_TRANSACTION.
    ///
    /// # Errors
    /// Bad header; the half message cannot be found or belongs to another producer group;
    /// store failures.
    pub async fn end_transaction(&self, req: &RemotingCommand) -> Reply {
        let h = EndTransactionRequest::from_ext(&req.ext_fields)?;
        let decision = h.commit_or_rollback;
        if decision == TRANSACTION_NOT_TYPE {
            return Ok(success(req));
        }
        if decision != TRANSACTION_COMMIT_TYPE && decision != TRANSACTION_ROLLBACK_TYPE {
            return Err(RequestError::System(format!(
                "illegal commitOrRollback value {decision}"
            )));
        }
        let half = self.half_message(&h)?;
        if !self.lock_resolved().insert(half.physical_offset) {
            tracing::debug!(
                offset = half.physical_offset,
                "transaction already resolved"
            );
            return Ok(success(req));
        }
        let outcome = self.apply(decision, &half).await;
        if outcome.is_err() {
            self.lock_resolved().forget(half.physical_offset);
        }
        outcome.map(|()| success(req))
    }

    fn lock_resolved(&self) -> std::sync::MutexGuard<'_, Resolved> {
        self.resolved.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn half_message(&self, h: &EndTransactionRequest) -> Result<StoredMessage, RequestError> {
        let not_found = || {
            RequestError::System(format!(
                "Find prepared transaction message failed, offset {}",
                h.commit_log_offset
            ))
        };
        let record = u64::try_from(h.commit_log_offset)
            .ok()
            .and_then(|phys| self.store.message_at(phys))
            .ok_or_else(not_found)?;
        let (half, _) = decode(&record).map_err(|_| not_found())?;
        if half.topic != TRANS_HALF_TOPIC {
            return Err(not_found());
        }
        if let Some(group) = half.property(properties::PGROUP) {
            if group != h.producer_group {
                return Err(RequestError::System("The producer group wrong".into()));
            }
        }
        Ok(half)
    }

    async fn apply(&self, decision: i32, half: &StoredMessage) -> Result<(), RequestError> {
        let mut msgs = Vec::with_capacity(2);
        if decision == TRANSACTION_COMMIT_TYPE {
            msgs.push(self.committed(half)?);
        }
        msgs.push(self.op_record(half));
        // Real message and op record in one append: both or neither.
        self.appender.append_durable(&msgs).await?;
        Ok(())
    }

    /// The half message as it is delivered to its real topic.
    fn committed(&self, half: &StoredMessage) -> Result<MessageToStore, RequestError> {
        let real_topic = half
            .property(properties::REAL_TOPIC)
            .ok_or_else(|| RequestError::System("half message without REAL_TOPIC".into()))?
            .to_owned();
        let real_qid = half
            .property(properties::REAL_QID)
            .and_then(|q| q.parse::<i32>().ok())
            .ok_or_else(|| RequestError::System("half message without REAL_QID".into()))?;
        let mut props = properties::parse(&half.properties);
        props.remove(properties::REAL_TOPIC);
        props.remove(properties::REAL_QID);
        let mut msg = half.to_message_to_store();
        msg.topic = real_topic;
        msg.queue_id = real_qid;
        msg.properties = props.encode();
        msg.sys_flag =
            sysflag::reset_transaction_value(half.sys_flag, sysflag::TRANSACTION_COMMIT_TYPE);
        msg.prepared_transaction_offset = half.physical_offset;
        msg.store_host = self.identity.store_host;
        Ok(msg)
    }

    /// The op record marking `half` as resolved.
    fn op_record(&self, half: &StoredMessage) -> MessageToStore {
        let mut props = String::new();
        properties::push(&mut props, properties::TAGS, OP_TAG);
        MessageToStore {
            topic: TRANS_OP_HALF_TOPIC.to_owned(),
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: now_ms(),
            born_host: self.identity.store_host,
            store_host: self.identity.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(half.queue_offset.to_string()),
            properties: props,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_memory_is_bounded() {
        let mut r = Resolved::default();
        assert!(r.insert(1));
        assert!(!r.insert(1));
        r.forget(1);
        assert!(r.insert(1));
        for i in 2..(RESOLVED_MEMORY as i64 + 10) {
            r.insert(i);
        }
        assert!(r.set.len() <= RESOLVED_MEMORY);
        assert!(r.insert(1), "the oldest entries are forgotten");
    }
}
