//! The writer task of a connection: gathers every queued frame and writes them with as few
//! vectored writes as possible.
//!
//! Frame heads (length words and header) are encoded into one reused buffer; bodies are not
//! copied but referenced as they are (`Bytes`), including the several chunks of a pull response
//! (the store's record slices). A flush hands heads and bodies to `writev` together, up to
//! [`MAX_IOVECS`] at a time, so N queued responses cost one syscall instead of N.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::frame::encode_frame_head;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::channel::Channel;
use crate::error::RemotingError;

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
    io: OwnedWriteHalf,
    outbound: mpsc::Receiver<RemotingCommand>,
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
        io: OwnedWriteHalf,
        outbound: mpsc::Receiver<RemotingCommand>,
        close: CancellationToken,
        flush_timeout: Duration,
        channel: Channel,
        max_frame_len: usize,
    ) -> Self {
        Writer {
            io,
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
            self.encode(cmd);
            let mut batched = 1;
            while batched < MAX_WRITE_BATCH && self.pending < MAX_BATCH_BYTES {
                let Ok(cmd) = self.outbound.try_recv() else {
                    break;
                };
                self.encode(cmd);
                batched += 1;
            }
            self.flush().await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), RemotingError> {
        while let Some(cmd) = self.outbound.recv().await {
            self.encode(cmd);
            if self.pending >= MAX_BATCH_BYTES {
                self.flush().await?;
            }
        }
        self.flush().await?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// Adds one frame to the batch. A command that cannot be encoded (e.g. a code above 32767
    /// in binary form, or a frame over the limit) is dropped alone and the connection stays up;
    /// if it was our request, its requester gets the error at once instead of a timeout.
    fn encode(&mut self, cmd: RemotingCommand) {
        let start = self.head.len();
        let result = encode_frame_head(&cmd, &mut self.head)
            .map_err(RemotingError::from)
            .and_then(|()| {
                let len = (self.head.len() - start).saturating_add(cmd.body_len());
                if len > self.max_frame_len {
                    self.head.truncate(start);
                    return Err(RemotingError::FrameTooLarge {
                        len,
                        max: self.max_frame_len,
                    });
                }
                Ok(())
            });
        if let Err(e) = result {
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

    /// Writes the whole batch.
    async fn flush(&mut self) -> Result<(), RemotingError> {
        if !self.head.is_empty() {
            self.segments.push(self.head.split().freeze());
        }
        let Writer {
            io, segments, head, ..
        } = self;
        let mut first = 0;
        while first < segments.len() {
            // The iovec array lives only inside one poll, not in the task's state.
            let written = poll_fn(|cx| {
                let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
                let mut n = 0;
                for (slot, seg) in iov.iter_mut().zip(segments.iter().skip(first)) {
                    *slot = IoSlice::new(seg);
                    n += 1;
                }
                Pin::new(&mut *io).poll_write_vectored(cx, iov.get(..n).unwrap_or_default())
            })
            .await?;
            if written == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            advance(segments, &mut first, written);
        }
        segments.clear();
        self.pending = 0;
        // Every split of `head` is gone: make its allocation whole again for the next batch.
        head.reserve(HEAD_BUF);
        Ok(())
    }
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
