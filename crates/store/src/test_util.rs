//! Helpers shared by the unit tests.

use std::net::SocketAddr;

use bytes::Bytes;
use saturn_protocol::message::record::MessageToStore;

/// A message with the given topic, queue, body and properties.
pub fn msg(topic: &str, queue_id: i32, body: &[u8], props: &str) -> MessageToStore {
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap_or_else(|_| unreachable!());
    MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: host,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body),
        properties: props.to_string(),
    }
}
