//! JSON bodies, read leniently and written the way every client parses them.
//!
//! Reading accepts what real peers send: unknown keys (ignored), missing keys (defaults), enums
//! as names or ordinals, numbers as strings, fastjson's unquoted map keys (`{0:"a"}`) and
//! fastjson's object map keys (`{{"topic":"t",…}:1}`), trailing whitespace. Writing produces
//! standard JSON with quoted keys and Java's camelCase names in Java's (alphabetical) order.
//!
//! Files: [`route`] (routes, cluster info), [`heartbeat`] (client heartbeats), [`register`]
//! (broker registration, topic configs, data versions), [`queue`] (message queues, lock bodies),
//! [`admin`] (topic lists, KV tables, stats, connections, subscription groups), [`lenient`]
//! (serde helpers), [`normalize`] (fastjson → standard JSON).

pub mod admin;
pub mod heartbeat;
pub mod lenient;
pub mod normalize;
pub mod queue;
pub mod register;
pub mod route;

pub use admin::*;
pub use heartbeat::*;
pub use queue::*;
pub use register::*;
pub use route::*;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a body could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Not JSON of the expected shape (even after fastjson normalisation).
    #[error("bad JSON body: {0}")]
    Json(#[from] serde_json::Error),
    /// A fastjson construct could not be normalised (unbalanced brackets, nesting too deep).
    #[error("bad fastjson body: {0}")]
    Fastjson(&'static str),
    /// The compressed REGISTER_BROKER form is malformed.
    #[error("bad compressed body: {0}")]
    Compressed(String),
}

/// Decodes a JSON body. Standard JSON is parsed directly; on a syntax error the body is
/// normalised from fastjson's dialect and parsed again.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(e) if e.is_syntax() => {
            let fixed = normalize::to_standard_json(bytes)?;
            Ok(serde_json::from_slice(&fixed)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Encodes a body as compact standard JSON.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Our body types serialise to JSON infallibly (string map keys, no non-finite floats are
    // produced by our code); a failure would be a bug, so fall back to an empty object.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// [`encode`] into a `String` (bodies are UTF-8 JSON).
pub fn encode_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// [`encode`] into [`Bytes`], ready for `RemotingCommand::with_body`.
pub fn encode_bytes<T: Serialize + ?Sized>(value: &T) -> Bytes {
    Bytes::from(encode(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn decode_falls_back_to_fastjson() {
        let m: BTreeMap<i64, String> = decode(br#"{0:"a", -1 :"b"}"#).unwrap();
        assert_eq!(m.get(&0).map(String::as_str), Some("a"));
        assert_eq!(m.get(&-1).map(String::as_str), Some("b"));
        assert!(decode::<BTreeMap<i64, String>>(b"{0:").is_err());
    }
}
