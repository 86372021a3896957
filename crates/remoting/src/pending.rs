//! The table of requests we sent and still wait for, keyed by `opaque`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use saturn_protocol::command::RemotingCommand;
use tokio::sync::oneshot;

use crate::error::RemotingError;

/// What a waiting requester receives: the response, or why it will never come.
pub(crate) type Outcome = Result<RemotingCommand, RemotingError>;

/// Outstanding requests of one connection: `opaque` → where to deliver the response.
///
/// Failing a request is done by dropping its sender: the waiter sees a closed oneshot and reports
/// [`RemotingError::ConnectionClosed`]. Once [`PendingTable::close`] ran, no new entry is accepted,
/// so a request racing with the connection's end cannot wait forever.
#[derive(Debug, Default)]
pub(crate) struct PendingTable {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    waiting: HashMap<i32, oneshot::Sender<Outcome>>,
    closed: bool,
}

impl PendingTable {
    // A poisoned lock only means another thread panicked between two map operations; the map is
    // still consistent, so keep going rather than cascading the panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `opaque`; the receiver yields the matching response.
    pub(crate) fn register(
        &self,
        opaque: i32,
    ) -> Result<oneshot::Receiver<Outcome>, RemotingError> {
        let (tx, rx) = oneshot::channel();
        let mut state = self.lock();
        if state.closed {
            return Err(RemotingError::ConnectionClosed);
        }
        // A wrapped-around opaque still in use would be a request outstanding for 2^32 requests;
        // replacing it fails the old waiter, which is the lesser evil.
        state.waiting.insert(opaque, tx);
        Ok(rx)
    }

    /// Delivers a response; false when nobody waits for that opaque any more (timed out,
    /// cancelled, or never sent by us).
    pub(crate) fn complete(&self, response: RemotingCommand) -> bool {
        let waiter = self.lock().waiting.remove(&response.opaque);
        waiter.is_some_and(|tx| tx.send(Ok(response)).is_ok())
    }

    /// Fails one request with `error` (e.g. it could not be encoded).
    pub(crate) fn fail(&self, opaque: i32, error: RemotingError) {
        let waiter = self.lock().waiting.remove(&opaque);
        if let Some(tx) = waiter {
            // The requester may have given up in the meantime; nothing to do then.
            let _ = tx.send(Err(error));
        }
    }

    /// Forgets `opaque` (the waiter gave up).
    pub(crate) fn remove(&self, opaque: i32) {
        self.lock().waiting.remove(&opaque);
    }

    /// Fails every outstanding request and refuses new ones.
    pub(crate) fn close(&self) {
        let drained = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.waiting)
        };
        // Dropped outside the lock: waking waiters must not contend with it.
        drop(drained);
    }

    /// Number of requests still waiting (for tests and metrics).
    pub(crate) fn len(&self) -> usize {
        self.lock().waiting.len()
    }
}

/// Removes the entry when the waiting future ends for any reason (timeout, caller dropped it).
pub(crate) struct PendingGuard<'a> {
    pub(crate) table: &'a PendingTable,
    pub(crate) opaque: i32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.table.remove(self.opaque);
    }
}

#[cfg(test)]
mod tests {
    use saturn_protocol::command::RemotingCommand;
    use saturn_protocol::ext::ExtFields;

    use super::*;

    fn response(opaque: i32) -> RemotingCommand {
        RemotingCommand::new_request(1, ExtFields::new())
            .with_opaque(opaque)
            .response_to(0, None)
    }

    #[tokio::test]
    async fn response_reaches_the_waiter_with_that_opaque_only() {
        let table = PendingTable::default();
        let a = table.register(-7).unwrap();
        let b = table.register(8).unwrap();
        assert!(table.complete(response(8)));
        assert!(
            !table.complete(response(8)),
            "a second response for 8 has no waiter"
        );
        assert!(!table.complete(response(99)), "unknown opaque");
        assert_eq!(b.await.unwrap().unwrap().opaque, 8);
        assert_eq!(table.len(), 1);
        table.fail(-7, RemotingError::Timeout);
        assert!(matches!(a.await.unwrap(), Err(RemotingError::Timeout)));
    }

    #[tokio::test]
    async fn close_fails_waiters_and_refuses_new_ones() {
        let table = PendingTable::default();
        let a = table.register(1).unwrap();
        table.close();
        assert!(a.await.is_err(), "sender dropped = connection closed");
        assert!(matches!(
            table.register(2),
            Err(RemotingError::ConnectionClosed)
        ));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn guard_forgets_the_entry() {
        let table = PendingTable::default();
        let _rx = table.register(3).unwrap();
        drop(PendingGuard {
            table: &table,
            opaque: 3,
        });
        assert_eq!(table.len(), 0);
    }
}
