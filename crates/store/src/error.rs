//! The store's typed error.

use std::io;
use std::path::PathBuf;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O call failed; `op` names what the store was doing.
    #[error("{op} {path}: {source}")]
    Io {
        /// What the store was doing ("create segment", "msync", …).
        op: &'static str,
        /// File or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No space left for a new file (preallocation failed with ENOSPC), or the disk usage is above
    /// `disk_full_ratio`. Appends are refused; nothing was written.
    #[error("disk full: {reason}")]
    DiskFull {
        /// What detected it.
        reason: String,
    },
    /// An earlier flush failed, so durability can no longer be promised; the store refuses
    /// writes until it is reopened (which re-runs recovery).
    #[error("store poisoned by an earlier flush failure: {reason}")]
    Poisoned {
        /// The first failure.
        reason: String,
    },
    /// A synchronous append was written but not confirmed durable within `sync_flush_timeout_ms`
    /// (RocketMQ's FLUSH_DISK_TIMEOUT). The message is in the log and may still become durable.
    #[error("flush did not reach offset {target} within the timeout")]
    FlushTimeout {
        /// The commit-log offset that was awaited.
        target: u64,
    },
    /// The message is larger than the store accepts.
    #[error("message too large: {size} bytes (limit {limit})")]
    MessageTooLarge {
        /// Offending size (body length or record length).
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The message cannot be encoded as a stored record.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The files on disk are inconsistent in a way recovery cannot repair.
    #[error("corrupt store file {path}: {reason}")]
    Corrupt {
        /// File involved.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The configuration is invalid.
    #[error("invalid store config: {0}")]
    InvalidConfig(String),
    /// Another process (or another open store in this process) uses the directory.
    #[error("store directory {path} is locked by another user")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The store was closed.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// Wraps an I/O error, turning `ENOSPC` into [`StoreError::DiskFull`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if source.raw_os_error() == Some(libc::ENOSPC)
            || source.kind() == io::ErrorKind::StorageFull
        {
            return StoreError::DiskFull {
                reason: format!("{op} {}: {source}", path.display()),
            };
        }
        StoreError::Io { op, path, source }
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_becomes_disk_full() {
        let e = StoreError::io("create", "/x", io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(matches!(e, StoreError::DiskFull { .. }), "{e}");
        let e = StoreError::io("create", "/x", io::Error::from_raw_os_error(libc::EIO));
        assert!(matches!(e, StoreError::Io { .. }), "{e}");
    }
}
