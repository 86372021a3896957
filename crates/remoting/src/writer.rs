//! The writer task of a connection: gathers every queued frame and writes them with as few
//! vectored writes as possible.
//!
//! Frame heads (length words and header) are encoded into one reused buffer; bodies are not
//! copied but referenced as they are (`Bytes`), including the several chunks of a pull response
//! (the store's record slices). A flush hands heads and bodies to `writev` together, up to
//! [`MAX_IOVECS`] at a time, so N queued responses cost one syscall instead of N.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::frame::encode_frame_head;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::channel::Channel;
use crate::error::RemotingError;
use crate::gate::WriteGate;

/// What the writer task's queue carries.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A frame to write.
    Frame(RemotingCommand),
    /// A direct write left its unwritten rest in the gate's stash: write it.
    Stash,
}

/// Frames gathered before a write is forced, so one busy producer cannot delay the write forever.
const MAX_WRITE_BATCH: usize = 256;

/// Bytes gathered before a write is forced (bounds what one connection holds in flight).
const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Buffers handed to one `writev` (Linux accepts 1024).
const MAX_IOVECS: usize = 256;

/// Bodies up to this size are copied next to their head: one iovec instead of two is worth a
/// copy this small.
const INLINE_BODY: usize = 512;

/// Initial room of the head buffer; it grows to the largest batch and is then reused.
const HEAD_BUF: usize = 16 * 1024;

/// Writes what the connection's queue delivers.
pub(crate) struct Writer {
    /// Shared with the gate; ours is the last handle, and dropping it shuts the write side down.
    io: Arc<OwnedWriteHalf>,
    gate: Arc<WriteGate>,
    outbound: mpsc::Receiver<Outbound>,
    close: CancellationToken,
    flush_timeout: Duration,
    channel: Channel,
    max_frame_len: usize,
    /// Heads and small bodies of frames not yet handed to a segment.
    head: BytesMut,
    /// What the next write sends, in order.
    segments: Vec<Bytes>,
    /// Bytes in `segments` and `head`.
    pending: usize,
}

impl Writer {
    pub(crate) fn new(
        io: Arc<OwnedWriteHalf>,
        gate: Arc<WriteGate>,
        outbound: mpsc::Receiver<Outbound>,
        close: CancellationToken,
        flush_timeout: Duration,
        channel: Channel,
        max_frame_len: usize,
    ) -> Self {
        Writer {
            io,
            gate,
            outbound,
            close,
            flush_timeout,
            channel,
            max_frame_len,
            head: BytesMut::with_capacity(HEAD_BUF),
            segments: Vec::new(),
            pending: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        let close = self.close.clone();
        let pumped = tokio::select! {
            biased;
            () = close.cancelled() => Ok(()),
            res = self.pump() => res,
        };
        self.close.cancel();
        // From here on only this task writes: a direct write's unwritten rest, if any, is still
        // in the stash and goes out first in the final flush.
        self.gate.close();
        if let Err(e) = pumped {
            debug!(remote = %self.channel.remote_addr(), error = %e, "write failed, closing connection");
            return;
        }
        // Whatever was queued before the close (e.g. responses of drained requests) still goes
        // out, but a peer that stopped reading must not hold us forever.
        self.outbound.close();
        let flushed = tokio::time::timeout(self.flush_timeout, self.finish()).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!(error = %e, "final flush failed"),
            Err(_) => debug!("final flush timed out"),
        }
        // Returning drops our handle of the socket, the last one: the write side shuts down.
    }

    async fn pump(&mut self) -> Result<(), RemotingError> {
        while let Some(item) = self.outbound.recv().await {
            self.take(item);
            let mut batched = 1;
            while batched < MAX_WRITE_BATCH && self.pending < MAX_BATCH_BYTES {
                let Ok(item) = self.outbound.try_recv() else {
                    break;
                };
                self.take(item);
                batched += 1;
            }
            self.flush().await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), RemotingError> {
        while let Some(item) = self.outbound.recv().await {
            self.take(item);
            if self.pending >= MAX_BATCH_BYTES {
                self.flush().await?;
            }
        }
        self.flush().await
    }

    /// Adds a queued item to the batch (the stash needs nothing: every flush takes it first).
    fn take(&mut self, item: Outbound) {
        if let Outbound::Frame(cmd) = item {
            self.encode(cmd);
        }
    }

    /// Adds one frame to the batch. A command that cannot be encoded (e.g. a code above 32767
    /// in binary form, or a frame over the limit) is dropped alone and the connection stays up;
    /// if it was our request, its requester gets the error at once instead of a timeout.
    fn encode(&mut self, cmd: RemotingCommand) {
        let start = self.head.len();
        if let Err(e) = encode_head_checked(&cmd, &mut self.head, self.max_frame_len) {
            warn!(remote = %self.channel.remote_addr(), code = cmd.code, opaque = cmd.opaque, reason = %e, "dropping a command that cannot be encoded");
            if !cmd.is_response() {
                self.channel.pending().fail(cmd.opaque, e);
            }
            return;
        }
        self.pending += self.head.len() - start;
        let RemotingCommand {
            body, body_chunks, ..
        } = cmd;
        self.push_body(body);
        for chunk in body_chunks {
            self.push_body(chunk);
        }
    }

    fn push_body(&mut self, part: Bytes) {
        self.pending += part.len();
        if part.len() <= INLINE_BODY {
            self.head.extend_from_slice(&part);
            return;
        }
        if !self.head.is_empty() {
            self.segments.push(self.head.split().freeze());
        }
        self.segments.push(part);
    }

    /// Writes the whole batch, after what a direct write left in the gate's stash. Written
    /// segments are removed as it goes, so a flush cancelled halfway (connection closing) can be
    /// resumed by the next one without sending anything twice.
    async fn flush(&mut self) -> Result<(), RemotingError> {
        if let Some(stash) = self.gate.begin_batch() {
            self.segments.insert(0, stash);
        }
        if !self.head.is_empty() {
            self.segments.push(self.head.split().freeze());
        }
        let Writer {
            io, segments, head, ..
        } = self;
        while !segments.is_empty() {
            let written = {
                let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
                let mut n = 0;
                for (slot, seg) in iov.iter_mut().zip(segments.iter()) {
                    *slot = IoSlice::new(seg);
                    n += 1;
                }
                io.try_write_vectored(iov.get(..n).unwrap_or_default())
            };
            match written {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(written) => {
                    let mut first = 0;
                    advance(segments, &mut first, written);
                    segments.drain(..first);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => io.writable().await?,
                Err(e) => return Err(e.into()),
            }
        }
        self.pending = 0;
        // Every split of `head` is gone: make its allocation whole again for the next batch.
        head.reserve(HEAD_BUF);
        self.gate.end_batch();
        Ok(())
    }
}

/// Encodes `cmd`'s frame head (length words and header) onto `buf`, refusing a frame whose
/// whole length would exceed `max_frame_len` (`buf` is then left as it was).
pub(crate) fn encode_head_checked(
    cmd: &RemotingCommand,
    buf: &mut BytesMut,
    max_frame_len: usize,
) -> Result<(), RemotingError> {
    let start = buf.len();
    if let Err(e) = encode_frame_head(cmd, buf) {
        buf.truncate(start);
        return Err(e.into());
    }
    let len = (buf.len() - start).saturating_add(cmd.body_len());
    if len > max_frame_len {
        buf.truncate(start);
        return Err(RemotingError::FrameTooLarge {
            len,
            max: max_frame_len,
        });
    }
    Ok(())
}

/// Consumes `written` bytes from `segments[*first..]`.
fn advance(segments: &mut [Bytes], first: &mut usize, mut written: usize) {
    while written > 0 {
        let Some(seg) = segments.get_mut(*first) else {
            return;
        };
        if written >= seg.len() {
            written -= seg.len();
            *first += 1;
        } else {
            seg.advance(written);
            written = 0;
        }
    }
    // Skip empty segments so the loop ends when everything is written.
    while segments.get(*first).is_some_and(Bytes::is_empty) {
        *first += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_crosses_segment_boundaries() {
        let mut segs = vec![
            Bytes::from_static(b"abc"),
            Bytes::from_static(b"de"),
            Bytes::from_static(b"fghi"),
        ];
        let mut first = 0;
        advance(&mut segs, &mut first, 4);
        assert_eq!(first, 1);
        assert_eq!(&segs[1][..], b"e");
        advance(&mut segs, &mut first, 1);
        assert_eq!(first, 2);
        advance(&mut segs, &mut first, 4);
        assert_eq!(first, 3);
    }
}
