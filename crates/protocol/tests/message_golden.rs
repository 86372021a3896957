//! Golden values from the protocol reference (sections 6.1, 7.1, 8.1) that a Java client or
//! broker would produce for the same input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use bytes::Bytes;
use saturn_protocol::message::record::{self, MessageToStore};
use saturn_protocol::message::{decode_offset_msg_id, offset_msg_id, tags_code, TagFilter};

#[test]
fn offset_msg_id_example_from_reference() {
    let host: SocketAddr = "192.168.1.10:10911".parse().unwrap();
    assert_eq!(
        offset_msg_id(host, 0x0A1B2C),
        "C0A8010A00002A9F00000000000A1B2C"
    );
    assert_eq!(
        decode_offset_msg_id("C0A8010A00002A9F00000000000A1B2C").unwrap(),
        (host, 0x0A1B2C)
    );
}

#[test]
fn tag_a_hash_code() {
    assert_eq!(tags_code("TagA"), 2_598_919);
    assert!(TagFilter::parse("TagA || TagB").matches_code(2_598_919));
}

#[test]
fn total_size_is_91_plus_body_topic_properties_for_v1_ipv4() {
    for (n, t, p) in [(0, 0, 0), (1, 9, 12), (4096, 127, 300)] {
        let msg = MessageToStore {
            topic: "t".repeat(t),
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(vec![7u8; n]),
            properties: "p".repeat(p),
        };
        let len = record::encoded_len(&msg).unwrap();
        assert_eq!(len, 91 + n + t + p);
        let rec = record::encode_to_vec(&msg, 0, 0, 0).unwrap();
        assert_eq!(record::peek_total_size(&rec), Some((91 + n + t + p) as i32));
        assert_eq!(record::peek_magic(&rec), Some(0xDAA3_20A7));
    }
}
