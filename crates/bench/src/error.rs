//! [`BenchError`]: why a benchmark could not run (failures of single sends are counted, not
//! returned).

use saturn_client::ClientError;

/// Why a benchmark run failed as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// An option is out of range or options contradict each other.
    #[error("invalid options: {0}")]
    InvalidArgs(String),
    /// Setting up the run failed: starting a producer or consumer, creating the topic, …
    #[error("{context}: {source}")]
    Client {
        /// What was being done.
        context: String,
        /// The client error.
        #[source]
        source: ClientError,
    },
    /// The topic did not get the requested queues in time.
    #[error("topic {topic}: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// What went wrong.
        reason: String,
    },
    /// Latency histograms could not be created or merged.
    #[error("latency histogram: {0}")]
    Histogram(String),
    /// A worker task ended abnormally (panicked or was cancelled).
    #[error("worker task failed: {0}")]
    Task(String),
    /// The summary could not be written.
    #[error("cannot write the report: {0}")]
    Output(#[from] std::io::Error),
    /// The summary could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}

impl BenchError {
    /// Wraps a client error with what was being done.
    pub(crate) fn client(context: impl Into<String>, source: ClientError) -> Self {
        Self::Client {
            context: context.into(),
            source,
        }
    }
}
