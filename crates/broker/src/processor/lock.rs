//! Queue locks for orderly consumption: LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42, oneway or
//! not). A queue is granted when unlocked, already held by the same client, or its holder has not
//! renewed for `lock_max_live_ms` (default 60 s; clients renew every 20 s).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use saturn_protocol::body::{self, LockBatchRequestBody, LockBatchResponseBody, MessageQueue};
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;

use super::{success, Reply};
use crate::error::RequestError;

struct Holder {
    client_id: String,
    renewed: Instant,
}

/// Locks per consumer group and queue.
pub struct LockTable {
    groups: Mutex<HashMap<String, HashMap<MessageQueue, Holder>>>,
    max_live: Duration,
}

impl LockTable {
    /// A table whose locks expire after `max_live` without renewal.
    pub fn new(max_live: Duration) -> Self {
        LockTable {
            groups: Mutex::new(HashMap::new()),
            max_live,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<MessageQueue, Holder>>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks (or renews) what it can of `queues` for `client_id`; returns the queues granted.
    pub fn try_lock(
        &self,
        group: &str,
        client_id: &str,
        queues: &[MessageQueue],
    ) -> Vec<MessageQueue> {
        self.try_lock_at(group, client_id, queues, Instant::now())
    }

    fn try_lock_at(
        &self,
        group: &str,
        client_id: &str,
        queues: &[MessageQueue],
        now: Instant,
    ) -> Vec<MessageQueue> {
        let mut groups = self.lock();
        let table = groups.entry(group.to_owned()).or_default();
        let mut granted = Vec::with_capacity(queues.len());
        for mq in queues {
            let free = match table.get(mq) {
                None => true,
                Some(h) => {
                    h.client_id == client_id
                        || now.saturating_duration_since(h.renewed) > self.max_live
                }
            };
            if free {
                table.insert(
                    mq.clone(),
                    Holder {
                        client_id: client_id.to_owned(),
                        renewed: now,
                    },
                );
                granted.push(mq.clone());
            }
        }
        granted
    }

    /// Releases the queues `client_id` holds among `queues`.
    pub fn unlock(&self, group: &str, client_id: &str, queues: &[MessageQueue]) {
        let mut groups = self.lock();
        if let Some(table) = groups.get_mut(group) {
            for mq in queues {
                if table.get(mq).is_some_and(|h| h.client_id == client_id) {
                    table.remove(mq);
                }
            }
            if table.is_empty() {
                groups.remove(group);
            }
        }
    }
}

/// Serves the lock codes.
pub struct LockProcessor {
    table: LockTable,
}

impl LockProcessor {
    /// Builds the processor.
    pub fn new(max_live: Duration) -> Self {
        LockProcessor {
            table: LockTable::new(max_live),
        }
    }

    /// LOCK_BATCH_MQ: answers the subset locked for the client.
    ///
    /// # Errors
    /// A body that is not LockBatchRequestBody JSON.
    pub fn lock(&self, req: &RemotingCommand) -> Reply {
        let b: LockBatchRequestBody =
            body::decode(&req.body).map_err(|e| RequestError::BadBody(e.to_string()))?;
        let granted = self
            .table
            .try_lock(&b.consumer_group, &b.client_id, &b.mq_set);
        let body = body::encode_bytes(&LockBatchResponseBody {
            lock_ok_mq_set: granted,
        });
        Ok(req.response_to(response::SUCCESS, None).with_body(body))
    }

    /// UNLOCK_BATCH_MQ.
    ///
    /// # Errors
    /// A body that is not UnlockBatchRequestBody JSON.
    pub fn unlock(&self, req: &RemotingCommand) -> Reply {
        let b: LockBatchRequestBody =
            body::decode(&req.body).map_err(|e| RequestError::BadBody(e.to_string()))?;
        self.table
            .unlock(&b.consumer_group, &b.client_id, &b.mq_set);
        Ok(success(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue {
            broker_name: "b".into(),
            queue_id: q,
            topic: "T".into(),
        }
    }

    #[test]
    fn grant_renew_conflict_expire_unlock() {
        let t = LockTable::new(Duration::from_millis(50));
        assert_eq!(t.try_lock("g", "c1", &[mq(0), mq(1)]).len(), 2);
        assert_eq!(t.try_lock("g", "c1", &[mq(0)]).len(), 1, "renewal");
        assert_eq!(t.try_lock("g", "c2", &[mq(0), mq(2)]), vec![mq(2)]);
        assert_eq!(
            t.try_lock("other", "c2", &[mq(0)]).len(),
            1,
            "groups are separate"
        );
        t.unlock("g", "c2", &[mq(0)]);
        assert!(t.try_lock("g", "c2", &[mq(0)]).is_empty(), "not the holder");
        t.unlock("g", "c1", &[mq(0)]);
        assert_eq!(t.try_lock("g", "c2", &[mq(0)]).len(), 1);
        let later = Instant::now() + Duration::from_millis(60);
        assert_eq!(
            t.try_lock_at("g", "c3", &[mq(1)], later).len(),
            1,
            "expired"
        );
    }
}
