//! Hostile input: arbitrary bytes or ext maps into every decoder must return `Ok` or `Err`,
//! never panic, hang or over-allocate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use bytes::{BufMut, BytesMut};
use proptest::prelude::*;
use saturn_protocol::body::{self, *};
use saturn_protocol::header::CommandHeader;
use saturn_protocol::{decode_frame, header_binary, header_json};

/// Bytes that look like JSON more often than uniform noise does.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec(
            proptest::sample::select(b"{}[]:,\"\\0123456789-.eE truefalsn{0:\"a\"}".to_vec()),
            0..128
        ),
    ]
}

fn every_body(bytes: &[u8]) {
    let _ = body::decode::<TopicRouteData>(bytes);
    let _ = body::decode::<ClusterInfo>(bytes);
    let _ = body::decode::<HeartbeatData>(bytes);
    let _ = body::decode::<RegisterBrokerBody>(bytes);
    let _ = RegisterBrokerBody::decode(bytes, true);
    let _ = body::decode::<DataVersion>(bytes);
    let _ = body::decode::<TopicConfigSerializeWrapper>(bytes);
    let _ = body::decode::<LockBatchRequestBody>(bytes);
    let _ = body::decode::<LockBatchResponseBody>(bytes);
    let _ = body::decode::<TopicList>(bytes);
    let _ = body::decode::<KvTable>(bytes);
    let _ = body::decode::<ConsumerListBody>(bytes);
    let _ = body::decode::<ConsumerConnection>(bytes);
    let _ = body::decode::<TopicStatsTable>(bytes);
    let _ = body::decode::<ConsumeStats>(bytes);
    let _ = body::decode::<SubscriptionGroupConfig>(bytes);
    let _ = body::normalize::to_standard_json(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        let _ = TopicConfig::from_text(s);
    }
}

macro_rules! junk_header {
    ($ty:ident) => {
        #[allow(non_snake_case)]
        mod $ty {
            use super::*;
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(64))]
                #[test]
                fn junk_ext(ext in common::junk_ext_for::<saturn_protocol::header::$ty>()) {
                    let _ = saturn_protocol::header::$ty::from_ext(&ext);
                }
            }
        }
    };
}

for_each_header!(junk_header);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn frame_from_noise(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..100_000) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = decode_frame(&mut buf, max) {}
    }

    #[test]
    fn frame_with_plausible_prefix(
        header in proptest::collection::vec(any::<u8>(), 0..200),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        binary in any::<bool>(),
        lie in -8i32..8,
    ) {
        // A correct-looking prefix reaches the header decoders with noise headers.
        let mut buf = BytesMut::new();
        let total = 4 + header.len() + body.len();
        buf.put_i32(total as i32);
        let hl = (header.len() as i32 + lie).max(0) as u32;
        buf.put_u32(u32::from(binary) << 24 | hl);
        buf.extend_from_slice(&header);
        buf.extend_from_slice(&body);
        let _ = decode_frame(&mut buf, 1 << 20);
    }

    #[test]
    fn json_header_from_noise(bytes in jsonish()) {
        let _ = header_json::decode(&bytes);
    }

    #[test]
    fn binary_header_from_noise(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = header_binary::decode(&bytes);
    }

    #[test]
    fn binary_header_mutations(flip in 0usize..64, val in any::<u8>()) {
        // Corrupt one byte of a valid header with several ext entries.
        let mut ext = saturn_protocol::ExtFields::new();
        ext.insert("topic", "TopicTest");
        ext.insert("queueId", "3");
        let cmd = saturn_protocol::RemotingCommand::new_request(11, ext)
            .with_remark("r");
        let mut h = BytesMut::new();
        header_binary::encode(&cmd, &mut h).unwrap();
        let i = flip % h.len();
        h[i] = val;
        let _ = header_binary::decode(&h);
    }

    #[test]
    fn bodies_from_noise(bytes in jsonish()) {
        every_body(&bytes);
    }

    #[test]
    fn compressed_register_from_noise_inside_zlib(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        // Valid zlib around noise reaches the section parser.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&bytes).unwrap();
        let _ = RegisterBrokerBody::decode_compressed(&z.finish().unwrap());
    }
}

#[test]
fn huge_section_lengths_do_not_allocate() {
    let mut raw = Vec::new();
    raw.extend_from_slice(&i32::MAX.to_be_bytes());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&raw).unwrap();
    assert!(RegisterBrokerBody::decode_compressed(&z.finish().unwrap()).is_err());
    // A 2 GiB announcement within an (unwise) unlimited max only reserves a bounded amount.
    let mut buf = BytesMut::new();
    buf.put_i32(i32::MAX);
    assert!(decode_frame(&mut buf, usize::MAX).unwrap().is_none());
    assert!(buf.capacity() <= saturn_protocol::frame::MAX_EAGER_RESERVE + 64);
}
