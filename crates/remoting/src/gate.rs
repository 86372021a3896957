//! The write gate of a connection: lets a thread other than the writer task put a whole frame
//! straight onto the socket while the writer task is idle.
//!
//! Why: a response that becomes ready outside the runtime (on the store's flusher thread, after
//! the sync-flush round that made a send durable) would otherwise wake a tokio worker, which
//! queues it and wakes the writer task, before it leaves. Writing it from the thread where it
//! became ready saves both wake-ups and leaves the workers free to read the next requests.
//!
//! What keeps frames whole on the wire:
//! - the writer task marks itself busy (under the lock) before it writes a batch, and idle once
//!   the batch is completely written;
//! - a direct write happens only under the lock and only while the writer is idle, so the two
//!   never write at the same time;
//! - when the socket takes only part of a direct write (or none of it), the rest goes to the
//!   stash, the writer is marked busy and woken, and it sends the stash before anything else.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use saturn_protocol::command::RemotingCommand;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use crate::error::RemotingError;
use crate::writer::{encode_head_checked, Outbound};

/// The socket's write side, shared by the writer task and direct writers.
pub(crate) struct WriteGate {
    state: Mutex<GateState>,
    /// The writer task's queue: an [`Outbound::Stash`] wakes it when a direct write left bytes
    /// in the stash (a full queue wakes it anyway, and every flush takes the stash first).
    wake: mpsc::Sender<Outbound>,
}

struct GateState {
    /// `None` once the writer finished: nothing may be written any more.
    socket: Option<Arc<OwnedWriteHalf>>,
    /// The writer task is writing a batch (or owes the stash a write).
    writer_busy: bool,
    /// The unwritten rest of a direct write; the writer sends it first.
    stash: Option<Bytes>,
}

/// What a direct write did with a command.
pub(crate) enum DirectWrite {
    /// Written, or its unwritten rest handed to the writer task.
    Done,
    /// Not touched: the writer task is busy or gone; queue the command instead.
    Declined(RemotingCommand),
}

impl WriteGate {
    /// A gate over `socket`, writer idle.
    pub(crate) fn new(socket: Arc<OwnedWriteHalf>, wake: mpsc::Sender<Outbound>) -> Self {
        WriteGate {
            state: Mutex::new(GateState {
                socket: Some(socket),
                writer_busy: false,
                stash: None,
            }),
            wake,
        }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `cmd` now if the writer task is idle; never blocks on the socket.
    ///
    /// # Errors
    /// The command cannot be encoded, or the socket failed; either way it is dropped.
    pub(crate) fn write_now(
        &self,
        cmd: RemotingCommand,
        max_frame_len: usize,
    ) -> Result<DirectWrite, RemotingError> {
        let mut st = self.lock();
        if st.writer_busy {
            return Ok(DirectWrite::Declined(cmd));
        }
        let Some(socket) = st.socket.clone() else {
            return Ok(DirectWrite::Declined(cmd));
        };
        let frame = encode_whole(&cmd, max_frame_len)?;
        let written = match socket.try_write(&frame) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e.into()),
        };
        if written < frame.len() {
            st.stash = Some(frame.slice(written..));
            st.writer_busy = true;
            drop(st);
            // Full: the writer has frames to write and takes the stash first. Closed: its final
            // flush takes it.
            let _ = self.wake.try_send(Outbound::Stash);
        }
        Ok(DirectWrite::Done)
    }

    /// The writer task starts a batch: direct writes stop until [`WriteGate::end_batch`]. Returns
    /// the stash, which must be written before the batch.
    pub(crate) fn begin_batch(&self) -> Option<Bytes> {
        let mut st = self.lock();
        st.writer_busy = true;
        st.stash.take()
    }

    /// The batch is completely written: direct writes may go again.
    pub(crate) fn end_batch(&self) {
        self.lock().writer_busy = false;
    }

    /// No more direct writes; drops the gate's handle of the socket so the writer's is the last
    /// one (dropping it shuts the write side down). The stash stays for the writer's final flush.
    pub(crate) fn close(&self) {
        self.lock().socket = None;
    }
}

/// One frame in one buffer (direct writes are single responses, mostly a header alone).
fn encode_whole(cmd: &RemotingCommand, max_frame_len: usize) -> Result<Bytes, RemotingError> {
    let mut buf = BytesMut::with_capacity(256 + cmd.body_len());
    encode_head_checked(cmd, &mut buf, max_frame_len)?;
    for part in cmd.body_parts() {
        buf.extend_from_slice(part);
    }
    Ok(buf.freeze())
}
