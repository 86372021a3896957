//! Errors of the name server: [`NamesrvError`] for starting and running it, [`RequestError`]
//! for one request that cannot be served (mapped to a response code in one place).

use saturn_protocol::body::BodyError;
use saturn_protocol::code::response;
use saturn_protocol::ext::HeaderError;
use saturn_remoting::RemotingError;

/// Why the name server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamesrvError {
    /// A configuration value is invalid.
    #[error("invalid name server config: {0}")]
    Config(String),
    /// Binding or serving the listening socket failed.
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// The server task ended abnormally (panicked or was aborted).
    #[error("name server task failed: {0}")]
    Task(String),
}

/// Why one request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A required header field is missing or malformed; the text names the field.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The body is not the JSON (or compressed form) the request code calls for.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// REGISTER_BROKER's `bodyCrc32` does not match its body.
    #[error("crc32 not match")]
    CrcMismatch {
        /// The value in the header.
        expected: i32,
        /// The masked CRC32 of the body as received.
        actual: i32,
    },
}

impl RequestError {
    /// The response code a Java name server answers for this failure.
    pub fn response_code(&self) -> i32 {
        match self {
            RequestError::Header(_) | RequestError::Body(_) | RequestError::CrcMismatch { .. } => {
                response::SYSTEM_ERROR
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_field_is_system_error_naming_the_field() {
        let e = RequestError::from(HeaderError::MissingField { field: "topic" });
        assert_eq!(e.response_code(), response::SYSTEM_ERROR);
        assert!(e.to_string().contains("topic"));
        let crc = RequestError::CrcMismatch {
            expected: 1,
            actual: 2,
        };
        assert_eq!(crc.to_string(), "crc32 not match");
    }
}
