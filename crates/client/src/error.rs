//! [`ClientError`]: everything a client call can fail with.

use std::io;
use std::path::PathBuf;

use saturn_protocol::body::{BodyError, MessageQueue};
use saturn_protocol::code::response;
use saturn_protocol::message::MessageError;
use saturn_protocol::HeaderError;
use saturn_remoting::RemotingError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A configuration value is missing or out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The message cannot be sent as it is (empty body, bad topic, too large, …).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The transport failed while talking to `addr` (connect, timeout, connection lost).
    #[error("transport error with {addr}: {source}")]
    Remoting {
        /// The peer (`host:port`).
        addr: String,
        /// What the transport reported.
        #[source]
        source: RemotingError,
    },
    /// No configured name server answered.
    #[error("no name server reachable (tried {tried}): {last}")]
    NameServerUnavailable {
        /// The addresses tried, `;`-joined.
        tried: String,
        /// The last transport error.
        last: String,
    },
    /// The name servers know no route for the topic (and no usable default route).
    #[error("no route for topic {0}")]
    TopicNotFound(String),
    /// The topic's route has no queue usable for the operation.
    #[error("topic {0} has no usable queue")]
    NoQueue(String),
    /// No address is known for a broker name (or the broker has no master).
    #[error("no address known for broker {0}")]
    BrokerNotFound(String),
    /// A broker or name server answered with an error code.
    #[error("server answered code {code}: {remark}")]
    Broker {
        /// The response code.
        code: i32,
        /// The response remark (empty when none).
        remark: String,
    },
    /// A response header is missing a field or has a malformed one.
    #[error("bad response header: {0}")]
    Header(#[from] HeaderError),
    /// A JSON response body could not be read.
    #[error("bad response body: {0}")]
    Body(#[from] BodyError),
    /// A message record, batch or id could not be decoded or encoded.
    #[error("bad message data: {0}")]
    Message(#[from] MessageError),
    /// The local offset file could not be read or written.
    #[error("offset file {path}: {source}")]
    OffsetFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The local offset file is not valid JSON of the expected shape.
    #[error("offset file {path} is malformed: {source}")]
    OffsetFileFormat {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The queue is not assigned to this consumer.
    #[error("queue {0:?} is not assigned")]
    NotAssigned(MessageQueue),
    /// The client was shut down.
    #[error("client is shut down")]
    Shutdown,
}

/// Response codes after which the producer tries another broker (Java's `retryResponseCodes`):
/// TOPIC_NOT_EXIST, SERVICE_NOT_AVAILABLE, SYSTEM_ERROR, SYSTEM_BUSY, NO_PERMISSION,
/// NO_BUYER_ID, NOT_IN_CURRENT_UNIT.
pub const RETRYABLE_SEND_CODES: [i32; 7] = [
    response::TOPIC_NOT_EXIST,
    response::SERVICE_NOT_AVAILABLE,
    response::SYSTEM_ERROR,
    response::SYSTEM_BUSY,
    response::NO_PERMISSION,
    response::NO_BUYER_ID,
    response::NOT_IN_CURRENT_UNIT,
];

impl ClientError {
    /// Whether a send that failed this way may be retried on another queue or broker: transport
    /// failures (other than an unencodable frame) and the codes in [`RETRYABLE_SEND_CODES`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Remoting { source, .. } => !source.is_frame_error(),
            Self::Broker { code, .. } => RETRYABLE_SEND_CODES.contains(code),
            Self::BrokerNotFound(_) | Self::NameServerUnavailable { .. } => true,
            _ => false,
        }
    }

    /// The server's response code, if this is a server-side error.
    pub fn response_code(&self) -> Option<i32> {
        match self {
            Self::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn remoting(addr: &str, source: RemotingError) -> Self {
        Self::Remoting {
            addr: addr.to_owned(),
            source,
        }
    }

    pub(crate) fn from_response(cmd: &saturn_protocol::RemotingCommand) -> Self {
        Self::Broker {
            code: cmd.code,
            remark: cmd.remark.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_codes_follow_java() {
        let broker = |code| ClientError::Broker {
            code,
            remark: String::new(),
        };
        for code in [17, 14, 1, 2, 16, 204, 205] {
            assert!(broker(code).is_retryable(), "code {code}");
        }
        for code in [13, 3, 15, 22, 26] {
            assert!(!broker(code).is_retryable(), "code {code}");
        }
        assert!(ClientError::remoting("a:1", RemotingError::Timeout).is_retryable());
        let too_big = RemotingError::FrameTooLarge { len: 9, max: 1 };
        assert!(!ClientError::remoting("a:1", too_big).is_retryable());
        assert!(!ClientError::InvalidMessage("x".into()).is_retryable());
    }
}
