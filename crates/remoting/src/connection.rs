//! One connection = a reader task and a writer task joined by a bounded queue.
//!
//! The reader reads as much as the socket has and decodes every complete frame in it: responses
//! complete our pending requests, requests go to the [`RequestHandler`] (at most `max_in_flight`
//! at once), so responses leave in completion order. A request whose handler finishes without
//! waiting (a send in async-flush mode, most admin calls) is answered on the spot; one that has
//! to wait (a long poll, a sync flush, a disk read) continues in a task of its own. Everything to
//! be written (responses, our requests) goes through the bounded queue to the writer
//! (`writer`), which writes all that is queued with one vectored write. When the queue
//! is full the producers wait; when `max_in_flight` is reached the reader stops reading:
//! backpressure reaches the peer through TCP.
//!
//! Closing: any end of the read loop (EOF, bad frame, idle, [`Channel::close`], a write error)
//! cancels the connection's close token; the writer then flushes what is queued (bounded by
//! `send_timeout`) and shuts the socket down. A shutdown signal first stops reading and lets
//! in-flight requests finish up to the grace deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::frame::decode_frame;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

use crate::channel::{Channel, ChannelParts, OpaqueSource, Side};
use crate::config::ConnectionConfig;
use crate::deferred::Origin;
use crate::error::RemotingError;
use crate::gate::WriteGate;
use crate::handler::RequestHandler;
use crate::writer::Writer;

/// Room made in the read buffer of a new connection (request bodies share its allocation).
const READ_ROOM_MIN: usize = 8 * 1024;

/// Room a busy connection grows to, so a burst of pipelined requests arrives with one `read`.
const READ_ROOM_MAX: usize = 128 * 1024;

/// Below this much free room the read buffer gets a fresh allocation before the next read.
const READ_ROOM_LOW: usize = 2 * 1024;

/// Longest idle timeout we arm; the tokio timer cannot express much more (about 2 years).
const MAX_IDLE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Everything a connection needs besides its socket.
pub(crate) struct ConnectionParams {
    pub(crate) config: ConnectionConfig,
    pub(crate) side: Side,
    pub(crate) handler: Arc<dyn RequestHandler>,
    pub(crate) opaque: Arc<OpaqueSource>,
    /// Graceful stop: stop reading, let in-flight requests finish up to `grace`, then close.
    pub(crate) shutdown: CancellationToken,
    pub(crate) grace: Duration,
    /// Hard stop; usually a child of the owner's token so the owner can close everything.
    pub(crate) close: CancellationToken,
    /// Held until the connection is fully gone (server connection limit).
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// Starts the tasks of a freshly connected socket and returns its handle.
///
/// `on_connected` runs before the first frame is read.
pub(crate) fn spawn(stream: TcpStream, params: ConnectionParams) -> Result<Channel, RemotingError> {
    let remote_addr = stream.peer_addr()?;
    let local_addr = stream.local_addr()?;
    // Requests are small and latency-bound; Nagle would hold them back.
    stream.set_nodelay(true)?;
    let config = params.config;
    let (outbound_tx, outbound_rx) = mpsc::channel(config.write_queue.max(1));
    let (read_half, write_half) = stream.into_split();
    let write_half = Arc::new(write_half);
    let gate = Arc::new(WriteGate::new(Arc::clone(&write_half), outbound_tx.clone()));
    let channel = Channel::new(ChannelParts {
        side: params.side,
        remote_addr,
        local_addr,
        outbound: outbound_tx,
        close: params.close.clone(),
        opaque: params.opaque,
        send_timeout: config.send_timeout,
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        gate: Arc::clone(&gate),
        max_frame_len: config.max_frame_len,
    });
    // A debug span: an enabled span is entered and left on every poll of both tasks, which at
    // the default INFO level cost about 2% of a busy broker's CPU for a prefix on the few log
    // lines written from inside a connection (those that matter name the peer themselves).
    let span = tracing::debug_span!("connection", id = channel.id(), remote = %remote_addr);

    let writer = Writer::new(
        write_half,
        gate,
        outbound_rx,
        params.close.clone(),
        config.send_timeout,
        channel.clone(),
        config.max_frame_len,
    );
    let writer_task = tokio::spawn(writer.run().instrument(span.clone()));

    params.handler.on_connected(&channel);
    let reader = Reader {
        io: read_half,
        buf: BytesMut::with_capacity(READ_ROOM_MIN),
        read_room: READ_ROOM_MIN,
        max_frame_len: config.max_frame_len,
        channel: channel.clone(),
        handler: params.handler,
        in_flight: Arc::clone(channel.in_flight()),
        in_flight_max: config.max_in_flight.max(1),
        idle: config.idle_timeout.map_or(MAX_IDLE, |d| d.min(MAX_IDLE)),
        shutdown: params.shutdown,
        grace: params.grace,
        close: params.close,
    };
    let permit = params.permit;
    tokio::spawn(
        async move {
            reader.run(writer_task).await;
            drop(permit);
        }
        .instrument(span),
    );
    Ok(channel)
}

/// How the read loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    /// Peer closed, bad input, idle, or a close was requested: close now.
    Close,
    /// Shutdown signal: drain in-flight requests first.
    Shutdown,
}

struct Reader {
    io: OwnedReadHalf,
    /// Bytes read and not yet decoded; decoded bodies share its allocations.
    buf: BytesMut,
    /// Free room wanted before a read: doubles while reads fill the buffer.
    read_room: usize,
    max_frame_len: usize,
    channel: Channel,
    handler: Arc<dyn RequestHandler>,
    in_flight: Arc<Semaphore>,
    in_flight_max: usize,
    idle: Duration,
    shutdown: CancellationToken,
    grace: Duration,
    close: CancellationToken,
}

impl Reader {
    async fn run(mut self, writer_task: tokio::task::JoinHandle<()>) {
        let end = self.read_loop().await;
        if end == ReadEnd::Shutdown {
            self.drain_in_flight().await;
        }
        self.close.cancel();
        // Fail our outstanding requests now rather than letting them time out.
        self.channel.pending().close();
        if let Err(e) = writer_task.await {
            debug!(error = %e, "writer task ended abnormally");
        }
        self.handler.on_closed(&self.channel);
        debug!("connection closed");
    }

    async fn read_loop(&mut self) -> ReadEnd {
        let idle = tokio::time::sleep(self.idle);
        tokio::pin!(idle);
        let mut last_frame = Instant::now();
        loop {
            // Serve every complete frame already buffered before reading again: pipelined
            // requests are handled back to back and their responses meet in one write.
            let mut decoded = false;
            loop {
                match decode_frame(&mut self.buf, self.max_frame_len) {
                    Ok(Some(cmd)) => {
                        decoded = true;
                        if let Some(end) = self.on_frame(cmd).await {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn!(remote = %self.channel.remote_addr(), reason = %e, "closing connection: malformed frame");
                        return ReadEnd::Close;
                    }
                }
            }
            if decoded {
                last_frame = Instant::now();
            }
            if self.buf.capacity() - self.buf.len() < READ_ROOM_LOW {
                self.buf.reserve(self.read_room);
            }
            let room = self.buf.capacity() - self.buf.len();
            let read = tokio::select! {
                biased;
                () = self.close.cancelled() => return ReadEnd::Close,
                () = self.shutdown.cancelled() => return ReadEnd::Shutdown,
                () = &mut idle => {
                    // Re-armed lazily: resetting the timer on every frame costs more than this.
                    match last_frame.checked_add(self.idle) {
                        Some(deadline) if deadline > Instant::now() => {
                            idle.as_mut().reset(deadline);
                            continue;
                        }
                        _ => {
                            debug!(remote = %self.channel.remote_addr(), "idle timeout, closing connection");
                            return ReadEnd::Close;
                        }
                    }
                }
                read = self.io.read_buf(&mut self.buf) => read,
            };
            match read {
                Ok(0) if self.buf.is_empty() => {
                    debug!("peer closed the connection");
                    return ReadEnd::Close;
                }
                Ok(0) => {
                    let e = RemotingError::TruncatedFrame {
                        buffered: self.buf.len(),
                    };
                    warn!(remote = %self.channel.remote_addr(), reason = %e, "closing connection: malformed frame");
                    return ReadEnd::Close;
                }
                Ok(n) => {
                    if n >= room {
                        self.read_room = (self.read_room * 2).min(READ_ROOM_MAX);
                    }
                }
                Err(e) => {
                    debug!(remote = %self.channel.remote_addr(), error = %e, "read failed, closing connection");
                    return ReadEnd::Close;
                }
            }
        }
    }

    /// Routes one decoded frame; `Some` if the connection must stop.
    async fn on_frame(&self, cmd: RemotingCommand) -> Option<ReadEnd> {
        if cmd.is_response() {
            let (code, opaque) = (cmd.code, cmd.opaque);
            if !self.channel.pending().complete(cmd) {
                debug!(
                    code,
                    opaque, "response nobody waits for (timed out or unknown), ignored"
                );
            }
            return None;
        }
        self.dispatch(cmd).await
    }

    /// Hands a request to the handler: answered on the spot when the handler completes without
    /// waiting, otherwise continued in a task of its own. Returns `Some` if the connection must
    /// stop while waiting for a free slot.
    async fn dispatch(&self, request: RemotingCommand) -> Option<ReadEnd> {
        self.channel.record_peer_form(request.serialize_type);
        let permit = match Arc::clone(&self.in_flight).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Some(ReadEnd::Close),
            Err(TryAcquireError::NoPermits) => tokio::select! {
                biased;
                () = self.close.cancelled() => return Some(ReadEnd::Close),
                () = self.shutdown.cancelled() => return Some(ReadEnd::Shutdown),
                permit = Arc::clone(&self.in_flight).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return Some(ReadEnd::Close),
                },
            },
        };
        let span = tracing::debug_span!(
            "request",
            code = request.code,
            opaque = request.opaque,
            oneway = request.is_oneway()
        );
        let origin = Origin::of(&request);
        let mut reply = self
            .handler
            .handle(&self.channel, request)
            .instrument(span.clone());
        // One poll without a real waker: a future that is not ready registers that waker and
        // forgets it when the task below polls it again with its own (futures must use the
        // waker of their latest poll), so nothing is lost.
        match Pin::new(&mut reply).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(reply) => {
                let _enter = span.enter();
                if let Some(reply) = origin.finish(reply) {
                    queue_response(&self.channel, reply, permit);
                }
            }
            Poll::Pending => {
                let channel = self.channel.clone();
                tokio::spawn(
                    async move {
                        if let Some(reply) = origin.finish(reply.await) {
                            if channel.send_response(reply).await.is_err() {
                                debug!("connection closed before the response could be queued");
                            }
                        }
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
        }
        None
    }

    /// Waits until every in-flight request finished (each holds one permit), at most `grace`.
    async fn drain_in_flight(&self) {
        let all = u32::try_from(self.in_flight_max).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(self.grace, self.in_flight.acquire_many(all)).await;
        if drained.is_err() {
            warn!(remote = %self.channel.remote_addr(), "shutdown grace elapsed with requests still running");
        }
    }
}

/// Queues a response produced on the spot; when the queue is full the wait moves to a task (the
/// request keeps its in-flight slot until then), so the reader never blocks on a slow peer.
fn queue_response(channel: &Channel, reply: RemotingCommand, permit: OwnedSemaphorePermit) {
    match channel.try_send_response(reply) {
        Ok(()) => drop(permit),
        Err(None) => {
            debug!("connection closed before the response could be queued");
        }
        Err(Some(reply)) => {
            let channel = channel.clone();
            tokio::spawn(
                async move {
                    if channel.send_response(reply).await.is_err() {
                        debug!("connection closed before the response could be queued");
                    }
                    drop(permit);
                }
                .in_current_span(),
            );
        }
    }
}
