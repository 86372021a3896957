//! The one error type of the transport.

use std::io;
use std::net::SocketAddr;

use saturn_protocol::frame::FrameError;

/// Why a transport operation failed.
///
/// Callers usually branch on [`RemotingError::Timeout`] (retry elsewhere) versus
/// [`RemotingError::ConnectionClosed`] / [`RemotingError::ConnectFailed`] (the peer is gone).
#[derive(Debug, thiserror::Error)]
pub enum RemotingError {
    /// No response (or no room in the write queue) before the deadline.
    #[error("request timed out")]
    Timeout,
    /// A TCP connect failed or did not finish within the connect timeout.
    #[error("connect to {addr} failed: {source}")]
    ConnectFailed {
        /// The address as the caller gave it.
        addr: String,
        /// What the OS (or the timer) said.
        #[source]
        source: io::Error,
    },
    /// Binding the listening socket failed.
    #[error("bind {addr} failed: {source}")]
    Bind {
        /// The address we tried to listen on.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The connection closed (or was closed) before the operation completed.
    #[error("connection closed")]
    ConnectionClosed,
    /// The write queue of the connection is full (only from non-waiting sends).
    #[error("connection write queue is full")]
    Busy,
    /// The peer sent bytes that are not a valid frame, or a command could not be encoded.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    /// An outgoing frame would exceed the configured maximum frame length.
    #[error("outgoing frame of {len} bytes exceeds the {max} byte limit")]
    FrameTooLarge {
        /// Encoded size including the 4-byte length prefix.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The peer closed its side in the middle of a frame.
    #[error("connection ended inside a frame ({buffered} bytes buffered)")]
    TruncatedFrame {
        /// Bytes of the incomplete frame that had arrived.
        buffered: usize,
    },
    /// A socket read or write failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl RemotingError {
    /// True for errors caused by the bytes of one frame (bad input or an unencodable command), as
    /// opposed to the socket itself failing.
    pub fn is_frame_error(&self) -> bool {
        matches!(
            self,
            Self::Frame(_) | Self::FrameTooLarge { .. } | Self::TruncatedFrame { .. }
        )
    }
}
