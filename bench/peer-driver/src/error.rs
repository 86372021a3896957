//! The driver's error type.

/// What can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A bad combination of options.
    #[error("invalid options: {0}")]
    Args(String),
    /// The peer (or its client library) refused or failed an operation.
    #[error("{context}: {message}")]
    Peer {
        /// What the driver was doing.
        context: String,
        /// The client library's error text.
        message: String,
    },
    /// The latency histogram could not be created or merged.
    #[error("histogram: {0}")]
    Histogram(String),
    /// A worker task failed.
    #[error("task: {0}")]
    Task(String),
    /// Writing the summary failed.
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
    /// Encoding the summary failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl DriverError {
    /// A peer error with the context it happened in.
    pub fn peer(context: impl Into<String>, error: impl std::fmt::Display) -> Self {
        Self::Peer {
            context: context.into(),
            message: error.to_string(),
        }
    }
}
