//! [`Channel`]: a cloneable handle of one live connection, used to send requests over it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use saturn_protocol::command::{RemotingCommand, SerializeType, FLAG_ONEWAY, FLAG_RESPONSE};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::deferred::{DeferredResponse, Origin};
use crate::error::RemotingError;
use crate::gate::WriteGate;
use crate::pending::{PendingGuard, PendingTable};
use crate::writer::Outbound;

/// Which end opened the connection; decides who picks the header form of outgoing requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Accepted by a [`crate::Server`]: our requests follow the peer's last request form.
    Accepted,
    /// Opened by a [`crate::RemotingClient`]: requests keep the form the caller chose.
    Connected,
}

/// Shared source of request ids for a server or a client (all its connections).
#[derive(Debug, Default)]
pub(crate) struct OpaqueSource(AtomicI32);

impl OpaqueSource {
    /// Next id; non-negative like the C++ client, because some peers mishandle negative ones.
    pub(crate) fn next(&self) -> i32 {
        self.0.fetch_add(1, Ordering::Relaxed) & i32::MAX
    }
}

static NEXT_CHANNEL_ID: AtomicU64 = AtomicU64::new(1);

/// A handle of one connection. Cheap to clone; stays valid (and reports closed) after the
/// connection ended.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    side: Side,
    remote_addr: SocketAddr,
    local_addr: SocketAddr,
    outbound: mpsc::Sender<Outbound>,
    pending: PendingTable,
    close: CancellationToken,
    opaque: Arc<OpaqueSource>,
    peer_form: AtomicU8,
    send_timeout: Duration,
    /// One permit per request being handled or answered later (bounds both per connection).
    in_flight: Arc<Semaphore>,
    gate: Arc<WriteGate>,
    max_frame_len: usize,
}

/// What a new channel needs; built by the connection module.
pub(crate) struct ChannelParts {
    pub(crate) side: Side,
    pub(crate) remote_addr: SocketAddr,
    pub(crate) local_addr: SocketAddr,
    pub(crate) outbound: mpsc::Sender<Outbound>,
    pub(crate) close: CancellationToken,
    pub(crate) opaque: Arc<OpaqueSource>,
    pub(crate) send_timeout: Duration,
    pub(crate) in_flight: Arc<Semaphore>,
    pub(crate) gate: Arc<WriteGate>,
    pub(crate) max_frame_len: usize,
}

impl Channel {
    pub(crate) fn new(parts: ChannelParts) -> Self {
        Channel {
            inner: Arc::new(Inner {
                id: NEXT_CHANNEL_ID.fetch_add(1, Ordering::Relaxed),
                side: parts.side,
                remote_addr: parts.remote_addr,
                local_addr: parts.local_addr,
                outbound: parts.outbound,
                pending: PendingTable::default(),
                close: parts.close,
                opaque: parts.opaque,
                peer_form: AtomicU8::new(SerializeType::Json.to_byte()),
                send_timeout: parts.send_timeout,
                in_flight: parts.in_flight,
                gate: parts.gate,
                max_frame_len: parts.max_frame_len,
            }),
        }
    }

    /// Process-unique id of this connection.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Which end opened the connection.
    pub fn side(&self) -> Side {
        self.inner.side
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner.remote_addr
    }

    /// Our end's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Header form of the last request the peer sent (JSON until it sent one in binary form).
    pub fn peer_serialize_type(&self) -> SerializeType {
        SerializeType::from_byte(self.inner.peer_form.load(Ordering::Relaxed)).unwrap_or_default()
    }

    pub(crate) fn record_peer_form(&self, form: SerializeType) {
        self.inner
            .peer_form
            .store(form.to_byte(), Ordering::Relaxed);
    }

    /// Sends `request` and waits for its response, at most `timeout` (which includes waiting for
    /// room in the write queue).
    ///
    /// The opaque is replaced by a fresh one from this connection's id source (so it cannot
    /// collide with another outstanding request) and the oneway bit is cleared. On an accepted
    /// connection the header form is set to the peer's ([`Channel::peer_serialize_type`]): JSON
    /// unless the peer itself spoke binary, since some clients only read JSON.
    pub async fn request(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        if self.is_closed() {
            return Err(RemotingError::ConnectionClosed);
        }
        let opaque = self.inner.opaque.next();
        self.prepare(&mut request);
        request.opaque = opaque;
        request.flag &= !(FLAG_ONEWAY | FLAG_RESPONSE);
        let response = self.inner.pending.register(opaque)?;
        let _guard = PendingGuard {
            table: &self.inner.pending,
            opaque,
        };
        let exchange = async {
            self.inner
                .outbound
                .send(Outbound::Frame(request))
                .await
                .map_err(|_| RemotingError::ConnectionClosed)?;
            response
                .await
                .map_err(|_| RemotingError::ConnectionClosed)?
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| RemotingError::Timeout)?
    }

    /// Sends `request` as oneway (the peer writes no response). Waits for room in the write queue
    /// at most the connection's `send_timeout`; returns once queued, not once written.
    pub async fn send_oneway(&self, mut request: RemotingCommand) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(RemotingError::ConnectionClosed);
        }
        self.prepare(&mut request);
        request.opaque = self.inner.opaque.next();
        request.flag = (request.flag | FLAG_ONEWAY) & !FLAG_RESPONSE;
        match tokio::time::timeout(
            self.inner.send_timeout,
            self.inner.outbound.send(Outbound::Frame(request)),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(RemotingError::ConnectionClosed),
            Err(_) => Err(RemotingError::Timeout),
        }
    }

    /// Like [`Channel::send_oneway`] but never waits: [`RemotingError::Busy`] when the queue is
    /// full. For notifications sent from code that must not block on a slow peer.
    pub fn try_send_oneway(&self, mut request: RemotingCommand) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(RemotingError::ConnectionClosed);
        }
        self.prepare(&mut request);
        request.opaque = self.inner.opaque.next();
        request.flag = (request.flag | FLAG_ONEWAY) & !FLAG_RESPONSE;
        self.inner
            .outbound
            .try_send(Outbound::Frame(request))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => RemotingError::Busy,
                mpsc::error::TrySendError::Closed(_) => RemotingError::ConnectionClosed,
            })
    }

    fn prepare(&self, request: &mut RemotingCommand) {
        if self.inner.side == Side::Accepted {
            request.serialize_type = self.peer_serialize_type();
        }
    }

    /// Queues a response produced by the handler; waits for room (that is the backpressure).
    pub(crate) async fn send_response(
        &self,
        response: RemotingCommand,
    ) -> Result<(), RemotingError> {
        self.inner
            .outbound
            .send(Outbound::Frame(response))
            .await
            .map_err(|_| RemotingError::ConnectionClosed)
    }

    /// Queues a response without waiting: `Err(Some(response))` hands it back when the queue
    /// is full, `Err(None)` means the connection is closing.
    #[allow(
        clippy::result_large_err,
        reason = "the command is handed back so the caller can still send it; boxing it would cost an allocation per response"
    )]
    pub(crate) fn try_send_response(
        &self,
        response: RemotingCommand,
    ) -> Result<(), Option<RemotingCommand>> {
        match self.inner.outbound.try_send(Outbound::Frame(response)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Outbound::Frame(response))) => Err(Some(response)),
            Err(_) => Err(None),
        }
    }

    /// Takes over answering `request` from outside its handler: the handler returns `None` and
    /// the returned [`DeferredResponse`] sends the response later, from any thread.
    ///
    /// `None` when the request is oneway (nothing to answer), the connection is closing, it
    /// already has `max_in_flight` requests being handled or answered later (the deferred
    /// answer holds one of those slots until sent, so a peer cannot pile up unanswered
    /// requests), or this is not called inside a tokio runtime (the response may need a task
    /// to wait for room in the write queue). The caller then answers the usual way.
    pub fn defer_response(&self, request: &RemotingCommand) -> Option<DeferredResponse> {
        if request.is_oneway() || self.is_closed() {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let permit = Arc::clone(&self.inner.in_flight).try_acquire_owned().ok()?;
        Some(DeferredResponse::new(
            self.clone(),
            Origin::of(request),
            permit,
            runtime,
        ))
    }

    pub(crate) fn in_flight(&self) -> &Arc<Semaphore> {
        &self.inner.in_flight
    }

    pub(crate) fn gate(&self) -> &WriteGate {
        &self.inner.gate
    }

    pub(crate) fn max_frame_len(&self) -> usize {
        self.inner.max_frame_len
    }

    pub(crate) fn pending(&self) -> &PendingTable {
        &self.inner.pending
    }

    /// Number of our requests on this connection still waiting for a response.
    pub fn pending_requests(&self) -> usize {
        self.inner.pending.len()
    }

    /// Closes the connection: queued frames are flushed (bounded by `send_timeout`), pending
    /// requests fail with [`RemotingError::ConnectionClosed`]. Idempotent.
    pub fn close(&self) {
        self.inner.close.cancel();
    }

    /// True once the connection is closing or closed.
    pub fn is_closed(&self) -> bool {
        self.inner.close.is_cancelled()
    }

    /// Resolves when the connection starts closing (for any reason).
    pub async fn closed(&self) {
        self.inner.close.cancelled().await;
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.inner.id)
            .field("side", &self.inner.side)
            .field("remote_addr", &self.inner.remote_addr)
            .field("local_addr", &self.inner.local_addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}
