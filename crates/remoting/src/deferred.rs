//! Responses sent after their handler returned: [`DeferredResponse`], and [`Origin`], what the
//! transport copies from a request onto its response.
//!
//! A handler that would otherwise wait for an event outside the runtime (a sync-flush round on
//! the store's flusher thread) takes a [`DeferredResponse`] with
//! [`Channel::defer_response`](crate::Channel::defer_response), returns `None`, and hands it to
//! whoever completes the event. [`DeferredResponse::send`] then writes the response straight to
//! the socket from that thread when the connection's writer task is idle (see `gate`), and
//! queues it for the writer otherwise.

use saturn_protocol::command::{RemotingCommand, SerializeType, FLAG_ONEWAY, FLAG_RESPONSE};
use tokio::runtime::Handle;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, trace, warn};

use crate::channel::Channel;
use crate::error::RemotingError;
use crate::gate::DirectWrite;

/// What the transport copies from a request onto its response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    opaque: i32,
    oneway: bool,
    form: SerializeType,
}

impl Origin {
    pub(crate) fn of(request: &RemotingCommand) -> Self {
        Origin {
            opaque: request.opaque,
            oneway: request.is_oneway(),
            form: request.serialize_type,
        }
    }

    /// The response to send, if any (never one to a oneway request). The transport owns
    /// matching: whatever the handler built, the peer gets its opaque back, a response flag, and
    /// the header form it spoke.
    pub(crate) fn finish(self, reply: Option<RemotingCommand>) -> Option<RemotingCommand> {
        match reply {
            Some(_) if self.oneway => {
                trace!("response to a oneway request discarded");
                None
            }
            Some(mut reply) => {
                reply.opaque = self.opaque;
                reply.flag = (reply.flag | FLAG_RESPONSE) & !FLAG_ONEWAY;
                reply.serialize_type = self.form;
                Some(reply)
            }
            None => None,
        }
    }
}

/// The right and the duty to answer one request later, from any thread. Holds one of the
/// connection's in-flight slots until the response is written or queued; dropped unsent, the
/// slot is freed and the peer gets no answer (it times out), as when a handler returns `None`.
#[must_use = "the peer waits for this response"]
pub struct DeferredResponse {
    channel: Channel,
    origin: Origin,
    permit: OwnedSemaphorePermit,
    runtime: Handle,
}

impl std::fmt::Debug for DeferredResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredResponse")
            .field("channel", &self.channel.id())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl DeferredResponse {
    pub(crate) fn new(
        channel: Channel,
        origin: Origin,
        permit: OwnedSemaphorePermit,
        runtime: Handle,
    ) -> Self {
        DeferredResponse {
            channel,
            origin,
            permit,
            runtime,
        }
    }

    /// Sends `reply` as the response (the request's opaque and header form are set here). Never
    /// blocks: the response is written at once if the connection's writer is idle, queued for it
    /// otherwise, and handed to a task on the connection's runtime when its queue is full.
    pub fn send(self, reply: RemotingCommand) {
        let Some(reply) = self.origin.finish(Some(reply)) else {
            return;
        };
        let channel = self.channel;
        let reply = match channel.gate().write_now(reply, channel.max_frame_len()) {
            Ok(DirectWrite::Done) => return,
            Ok(DirectWrite::Declined(reply)) => reply,
            Err(RemotingError::Io(e)) => {
                debug!(remote = %channel.remote_addr(), error = %e, "write failed, closing connection");
                channel.close();
                return;
            }
            Err(e) => {
                warn!(remote = %channel.remote_addr(), reason = %e, "dropping a response that cannot be encoded");
                return;
            }
        };
        match channel.try_send_response(reply) {
            Ok(()) => {}
            Err(None) => {
                debug!("connection closed before the response could be queued");
            }
            Err(Some(reply)) => {
                let permit = self.permit;
                self.runtime.spawn(async move {
                    if channel.send_response(reply).await.is_err() {
                        debug!("connection closed before the response could be queued");
                    }
                    drop(permit);
                });
            }
        }
    }
}
