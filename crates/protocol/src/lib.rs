//! RocketMQ remoting wire codec — pure functions over bytes, no I/O, no async.
//!
//! Map of the crate (the order a request travels):
//! - [`frame`]: `int32 total | int32 (type<<24 | headerLen) | header | body` — split and join frames.
//! - [`command`]: [`command::RemotingCommand`], the decoded frame; [`header_json`] and
//!   [`header_binary`] are the two header encodings (JSON and the compact ROCKETMQ form).
//! - [`code`]: request and response codes as named constants.
//! - [`ext`]: the `extFields` string map with typed, checked getters.
//! - [`header`]: typed custom headers per request code.
//! - [`body`]: JSON bodies (routes, heartbeats, registrations, …).
//! - [`message`]: the stored message record (also the pull response body), properties, ids, batches.

pub mod body;
pub mod code;
pub mod command;
pub mod ext;
pub mod frame;
pub mod header;
pub mod header_binary;
pub mod header_json;
pub mod message;

pub use command::{LanguageCode, RemotingCommand, SerializeType};
pub use ext::{ExtFields, HeaderError};
pub use frame::{decode_frame, encode_frame, FrameError, DEFAULT_MAX_FRAME_LEN};
