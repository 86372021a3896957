//! The broker's errors: [`BrokerError`] (starting and stopping) and [`RequestError`] (one request
//! failed). [`RequestError::response_code`] is the one place that maps failures to RocketMQ
//! response codes.

use std::io;
use std::path::PathBuf;

use saturn_protocol::code::response;
use saturn_protocol::ext::HeaderError;
use saturn_store::StoreError;

use crate::config::ConfigError;

/// Why the broker could not start (or stop cleanly).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The message store could not be opened or closed.
    #[error("message store: {0}")]
    Store(#[from] StoreError),
    /// The listening socket could not be bound.
    #[error("remoting: {0}")]
    Remoting(#[from] saturn_remoting::RemotingError),
    /// A config file (topics, offsets, subscription groups) could not be read or written.
    #[error("{op} {path}: {source}")]
    File {
        /// What the broker was doing.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A config file exists but is not valid JSON of the expected shape.
    #[error("corrupt config file {path}: {reason}")]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// A background task panicked or was cancelled abnormally.
    #[error("broker task failed: {0}")]
    Task(String),
}

/// Why one request failed; becomes the response code and remark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A custom header is missing a required field or has a malformed value.
    #[error("{0}")]
    BadHeader(#[from] HeaderError),
    /// The request body is not what the code calls for.
    #[error("bad request body: {0}")]
    BadBody(String),
    /// The message is not acceptable (topic name, size, properties).
    #[error("{0}")]
    MessageIllegal(String),
    /// The topic or the broker forbids the operation.
    #[error("{0}")]
    NoPermission(String),
    /// The topic is unknown and may not be created.
    #[error("{0}")]
    TopicNotExist(String),
    /// The subscription expression cannot be used.
    #[error("{0}")]
    SubscriptionParseFailed(String),
    /// Nothing found (query by key, consumer offset).
    #[error("{0}")]
    QueryNotFound(String),
    /// The broker cannot serve now (disk full, store poisoned, shutting down).
    #[error("{0}")]
    ServiceNotAvailable(String),
    /// The store refused or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Anything else.
    #[error("{0}")]
    System(String),
}

impl RequestError {
    /// The response code a RocketMQ client expects for this failure.
    pub fn response_code(&self) -> i32 {
        match self {
            RequestError::BadHeader(_) | RequestError::BadBody(_) | RequestError::System(_) => {
                response::SYSTEM_ERROR
            }
            RequestError::MessageIllegal(_) => response::MESSAGE_ILLEGAL,
            RequestError::NoPermission(_) => response::NO_PERMISSION,
            RequestError::TopicNotExist(_) => response::TOPIC_NOT_EXIST,
            RequestError::SubscriptionParseFailed(_) => response::SUBSCRIPTION_PARSE_FAILED,
            RequestError::QueryNotFound(_) => response::QUERY_NOT_FOUND,
            RequestError::ServiceNotAvailable(_) => response::SERVICE_NOT_AVAILABLE,
            RequestError::Store(e) => store_error_code(e),
        }
    }
}

/// Store failures: full disk, a poisoned or closed store → SERVICE_NOT_AVAILABLE (clients retry
/// another broker); a message the store refuses → MESSAGE_ILLEGAL; a sync flush that timed out →
/// FLUSH_DISK_TIMEOUT; the rest → SYSTEM_ERROR.
fn store_error_code(e: &StoreError) -> i32 {
    match e {
        StoreError::DiskFull { .. } | StoreError::Poisoned { .. } | StoreError::Closed => {
            response::SERVICE_NOT_AVAILABLE
        }
        StoreError::MessageTooLarge { .. } | StoreError::InvalidMessage(_) => {
            response::MESSAGE_ILLEGAL
        }
        StoreError::FlushTimeout { .. } => response::FLUSH_DISK_TIMEOUT,
        _ => response::SYSTEM_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_table() {
        let cases: Vec<(RequestError, i32)> = vec![
            (
                HeaderError::MissingField { field: "topic" }.into(),
                response::SYSTEM_ERROR,
            ),
            (RequestError::MessageIllegal("x".into()), 13),
            (RequestError::NoPermission("x".into()), 16),
            (RequestError::TopicNotExist("x".into()), 17),
            (RequestError::QueryNotFound("x".into()), 22),
            (RequestError::SubscriptionParseFailed("x".into()), 23),
            (
                StoreError::DiskFull {
                    reason: "full".into(),
                }
                .into(),
                14,
            ),
            (StoreError::Closed.into(), 14),
            (StoreError::FlushTimeout { target: 1 }.into(), 10),
            (StoreError::MessageTooLarge { size: 2, limit: 1 }.into(), 13),
        ];
        for (e, code) in cases {
            assert_eq!(e.response_code(), code, "{e}");
        }
        let e: RequestError = HeaderError::MissingField { field: "topic" }.into();
        assert_eq!(e.to_string(), "the custom field topic is null");
    }
}
