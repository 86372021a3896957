//! One connection = a reader task and a writer task joined by a bounded queue.
//!
//! The reader decodes frames: responses complete our pending requests, requests are handed to
//! the [`RequestHandler`] in a task each (at most `max_in_flight` at once), so responses leave in
//! completion order. Everything to be written (responses, our requests) goes through the bounded
//! queue to the writer, which batches what is queued into one flush. When the queue is full the
//! producers wait; when `max_in_flight` is reached the reader stops reading: backpressure reaches
//! the peer through TCP.
//!
//! Closing: any end of the read loop (EOF, bad frame, idle, [`Channel::close`], a write error)
//! cancels the connection's close token; the writer then flushes what is queued (bounded by
//! `send_timeout`) and shuts the socket down. A shutdown signal first stops reading and lets
//! in-flight requests finish up to the grace deadline.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use saturn_protocol::command::{RemotingCommand, FLAG_ONEWAY, FLAG_RESPONSE};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace, warn, Instrument};

use crate::channel::{Channel, ChannelParts, OpaqueSource, Side};
use crate::codec::RemotingCodec;
use crate::config::ConnectionConfig;
use crate::error::RemotingError;
use crate::handler::RequestHandler;

/// Frames written before a flush is forced, so one busy producer cannot delay the flush forever.
const MAX_WRITE_BATCH: usize = 128;

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
    let channel = Channel::new(ChannelParts {
        side: params.side,
        remote_addr,
        local_addr,
        outbound: outbound_tx,
        close: params.close.clone(),
        opaque: params.opaque,
        send_timeout: config.send_timeout,
    });
    let (read_half, write_half) = stream.into_split();
    let codec = RemotingCodec::new(config.max_frame_len);
    let span = tracing::info_span!("connection", id = channel.id(), remote = %remote_addr);

    let writer = Writer {
        sink: FramedWrite::new(write_half, codec),
        outbound: outbound_rx,
        close: params.close.clone(),
        flush_timeout: config.send_timeout,
        channel: channel.clone(),
    };
    let writer_task = tokio::spawn(writer.run().instrument(span.clone()));

    params.handler.on_connected(&channel);
    let reader = Reader {
        frames: FramedRead::new(read_half, codec),
        channel: channel.clone(),
        handler: params.handler,
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
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
    frames: FramedRead<OwnedReadHalf, RemotingCodec>,
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
        loop {
            let item = tokio::select! {
                biased;
                () = self.close.cancelled() => return ReadEnd::Close,
                () = self.shutdown.cancelled() => return ReadEnd::Shutdown,
                () = &mut idle => {
                    debug!(remote = %self.channel.remote_addr(), "idle timeout, closing connection");
                    return ReadEnd::Close;
                }
                item = self.frames.next() => item,
            };
            let cmd = match item {
                Some(Ok(cmd)) => cmd,
                Some(Err(e)) if e.is_frame_error() => {
                    warn!(remote = %self.channel.remote_addr(), reason = %e, "closing connection: malformed frame");
                    return ReadEnd::Close;
                }
                Some(Err(e)) => {
                    debug!(remote = %self.channel.remote_addr(), error = %e, "read failed, closing connection");
                    return ReadEnd::Close;
                }
                None => {
                    debug!("peer closed the connection");
                    return ReadEnd::Close;
                }
            };
            if let Some(deadline) = Instant::now().checked_add(self.idle) {
                idle.as_mut().reset(deadline);
            }
            if cmd.is_response() {
                let (code, opaque) = (cmd.code, cmd.opaque);
                if !self.channel.pending().complete(cmd) {
                    debug!(
                        code,
                        opaque, "response nobody waits for (timed out or unknown), ignored"
                    );
                }
                continue;
            }
            if let Some(end) = self.dispatch(cmd).await {
                return end;
            }
        }
    }

    /// Hands a request to the handler in its own task; returns `Some` if the connection must stop
    /// while waiting for a free slot.
    async fn dispatch(&self, request: RemotingCommand) -> Option<ReadEnd> {
        self.channel.record_peer_form(request.serialize_type);
        let permit = tokio::select! {
            biased;
            () = self.close.cancelled() => return Some(ReadEnd::Close),
            () = self.shutdown.cancelled() => return Some(ReadEnd::Shutdown),
            permit = Arc::clone(&self.in_flight).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return Some(ReadEnd::Close),
            },
        };
        let span = tracing::debug_span!(
            "request",
            code = request.code,
            opaque = request.opaque,
            oneway = request.is_oneway()
        );
        tokio::spawn(
            serve(
                Arc::clone(&self.handler),
                self.channel.clone(),
                request,
                permit,
            )
            .instrument(span),
        );
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

/// Runs one request and queues its response (never for oneway requests).
async fn serve(
    handler: Arc<dyn RequestHandler>,
    channel: Channel,
    request: RemotingCommand,
    permit: OwnedSemaphorePermit,
) {
    let opaque = request.opaque;
    let oneway = request.is_oneway();
    let form = request.serialize_type;
    let reply = handler.handle(&channel, request).await;
    match reply {
        Some(_) if oneway => trace!("response to a oneway request discarded"),
        Some(mut reply) => {
            // The transport owns matching: whatever the handler built, the peer gets its opaque
            // back, a response flag, and the header form it spoke.
            reply.opaque = opaque;
            reply.flag = (reply.flag | FLAG_RESPONSE) & !FLAG_ONEWAY;
            reply.serialize_type = form;
            if channel.send_response(reply).await.is_err() {
                debug!("connection closed before the response could be queued");
            }
        }
        None => {}
    }
    drop(permit);
}

struct Writer {
    sink: FramedWrite<OwnedWriteHalf, RemotingCodec>,
    outbound: mpsc::Receiver<RemotingCommand>,
    close: CancellationToken,
    flush_timeout: Duration,
    channel: Channel,
}

impl Writer {
    async fn run(mut self) {
        let close = self.close.clone();
        let pumped = tokio::select! {
            biased;
            () = close.cancelled() => Ok(()),
            res = self.pump() => res,
        };
        if let Err(e) = pumped {
            debug!(remote = %self.channel.remote_addr(), error = %e, "write failed, closing connection");
            self.close.cancel();
            return;
        }
        self.close.cancel();
        // Whatever was queued before the close (e.g. responses of drained requests) still goes
        // out, but a peer that stopped reading must not hold us forever.
        self.outbound.close();
        let flushed = tokio::time::timeout(self.flush_timeout, self.finish()).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!(error = %e, "final flush failed"),
            Err(_) => debug!("final flush timed out"),
        }
    }

    async fn pump(&mut self) -> Result<(), RemotingError> {
        while let Some(cmd) = self.outbound.recv().await {
            self.write(cmd).await?;
            let mut batched = 1;
            while batched < MAX_WRITE_BATCH {
                let Ok(cmd) = self.outbound.try_recv() else {
                    break;
                };
                self.write(cmd).await?;
                batched += 1;
            }
            SinkExt::<RemotingCommand>::flush(&mut self.sink).await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), RemotingError> {
        while let Some(cmd) = self.outbound.recv().await {
            self.write(cmd).await?;
        }
        SinkExt::<RemotingCommand>::flush(&mut self.sink).await?;
        self.sink.get_mut().shutdown().await?;
        Ok(())
    }

    /// Buffers one frame. A command that cannot be encoded (e.g. a code above 32767 in binary
    /// form) is dropped alone, the codec leaves the buffer untouched and the connection stays up;
    /// if it was our request, its requester gets the error at once instead of a timeout.
    async fn write(&mut self, cmd: RemotingCommand) -> Result<(), RemotingError> {
        let (code, opaque, is_request) = (cmd.code, cmd.opaque, !cmd.is_response());
        match self.sink.feed(cmd).await {
            Err(e) if e.is_frame_error() => {
                warn!(code, opaque, reason = %e, "dropping a command that cannot be encoded");
                if is_request {
                    self.channel.pending().fail(opaque, e);
                }
                Ok(())
            }
            other => other,
        }
    }
}
