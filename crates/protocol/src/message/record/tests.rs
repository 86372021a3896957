use std::net::SocketAddr;

use bytes::Bytes;

use super::*;
use crate::message::MessageError;

fn sample(topic: &str, body: &'static [u8], props: &str) -> MessageToStore {
    MessageToStore {
        topic: topic.to_owned(),
        queue_id: 3,
        flag: 0x55,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_123,
        born_host: "10.0.0.7:53412".parse().unwrap(),
        store_host: "192.168.1.10:10911".parse().unwrap(),
        reconsume_times: 2,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(body),
        properties: props.to_owned(),
    }
}

fn be_i32(b: &[u8], pos: usize) -> i32 {
    i32::from_be_bytes(b[pos..pos + 4].try_into().unwrap())
}

fn be_i64(b: &[u8], pos: usize) -> i64 {
    i64::from_be_bytes(b[pos..pos + 8].try_into().unwrap())
}

#[test]
fn v1_ipv4_layout_byte_by_byte() {
    let msg = sample("TopicTest", b"Hello", "TAGS\u{1}TagA\u{2}");
    let rec = encode_to_vec(&msg, 42, 4096, 1_700_000_000_456).unwrap();
    let (n, t, p) = (5, 9, 10);
    assert_eq!(rec.len(), 91 + n + t + p);
    assert_eq!(be_i32(&rec, TOTAL_SIZE_POS), (91 + n + t + p) as i32);
    assert_eq!(be_i32(&rec, MAGIC_POS), -626_843_481);
    assert_eq!(
        be_i32(&rec, BODY_CRC_POS) as u32,
        crc32fast::hash(b"Hello") & 0x7FFF_FFFF
    );
    assert_eq!(be_i32(&rec, QUEUE_ID_POS), 3);
    assert_eq!(be_i32(&rec, FLAG_POS), 0x55);
    assert_eq!(be_i64(&rec, QUEUE_OFFSET_POS), 42);
    assert_eq!(be_i64(&rec, PHYSICAL_OFFSET_POS), 4096);
    assert_eq!(be_i32(&rec, SYS_FLAG_POS), 0);
    assert_eq!(be_i64(&rec, BORN_TIMESTAMP_POS), 1_700_000_000_123);
    assert_eq!(&rec[48..52], &[10, 0, 0, 7]);
    assert_eq!(be_i32(&rec, 52), 53412);
    assert_eq!(be_i64(&rec, STORE_TIMESTAMP_POS_V4), 1_700_000_000_456);
    assert_eq!(&rec[64..72], &[192, 168, 1, 10, 0, 0, 0x2A, 0x9F]);
    assert_eq!(be_i32(&rec, 72), 2);
    assert_eq!(be_i64(&rec, 76), 0);
    assert_eq!(body_len_pos(0), 84);
    assert_eq!(be_i32(&rec, 84), 5);
    assert_eq!(&rec[88..93], b"Hello");
    assert_eq!(rec[93], 9);
    assert_eq!(&rec[94..103], b"TopicTest");
    assert_eq!(&rec[103..105], &10i16.to_be_bytes());
    assert_eq!(&rec[105..], b"TAGS\x01TagA\x02");
}

#[test]
fn ipv6_hosts_set_flags_and_shift_fields() {
    let mut msg = sample("T", b"b", "");
    msg.born_host = "[2001:db8::1]:1234".parse().unwrap();
    msg.sys_flag = sysflag::STORE_HOST_V6 | sysflag::COMPRESSED; // stale bit must be cleared
    let rec = encode_to_vec(&msg, 0, 0, 9).unwrap();
    assert_eq!(rec.len(), 91 + 1 + 1 + 12);
    let flag = be_i32(&rec, SYS_FLAG_POS);
    assert_eq!(flag, sysflag::BORN_HOST_V6 | sysflag::COMPRESSED);
    assert_eq!(store_timestamp_pos(flag), 68);
    assert_eq!(be_i64(&rec, 68), 9);
    let (back, used) = decode(&Bytes::from(rec)).unwrap();
    assert_eq!(used, 105);
    assert_eq!(back.born_host, msg.born_host);
    assert_eq!(back.sys_flag, flag);

    msg.store_host = "[::1]:10911".parse().unwrap();
    let rec = encode_to_vec(&msg, 0, 0, 9).unwrap();
    assert_eq!(rec.len(), 91 + 2 + 24);
    let flag = be_i32(&rec, SYS_FLAG_POS);
    assert!(sysflag::is_store_host_v6(flag) && sysflag::is_born_host_v6(flag));
    assert_eq!(body_len_pos(flag), 84 + 24);
}

#[test]
fn mapped_ipv4_is_written_as_ipv4() {
    let mut msg = sample("T", b"", "");
    msg.born_host = "[::ffff:10.1.2.3]:5000".parse().unwrap();
    let rec = encode_to_vec(&msg, 0, 0, 0).unwrap();
    assert_eq!(rec.len(), 92);
    let (back, _) = decode(&Bytes::from(rec)).unwrap();
    assert_eq!(
        back.born_host,
        "10.1.2.3:5000".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn long_topic_switches_to_v2() {
    let topic127 = "a".repeat(127);
    let rec = encode_to_vec(&sample(&topic127, b"", ""), 0, 0, 0).unwrap();
    assert_eq!(peek_magic(&rec), Some(MESSAGE_MAGIC_V1));
    assert_eq!(rec.len(), 91 + 127);

    let topic128 = "b".repeat(128);
    let rec = encode_to_vec(&sample(&topic128, b"xy", "A\u{1}B\u{2}"), 0, 0, 0).unwrap();
    assert_eq!(peek_magic(&rec), Some(MESSAGE_MAGIC_V2));
    assert_eq!(rec.len(), 92 + 2 + 128 + 4);
    assert_eq!(&rec[88..92], &[b'x', b'y', 0, 128]);
    let (back, _) = decode(&Bytes::from(rec)).unwrap();
    assert_eq!(back.topic, topic128);
}

#[test]
fn decode_round_trip_is_zero_copy() {
    let msg = sample(
        "TopicTest",
        b"payload",
        "UNIQ_KEY\u{1}ABC\u{2}KEYS\u{1}k1 k2\u{2}",
    );
    let buf = Bytes::from(encode_to_vec(&msg, 7, 1234, 99).unwrap());
    let (back, used) = decode(&buf).unwrap();
    assert_eq!(used, buf.len());
    assert!(buf.as_ptr_range().contains(&back.body.as_ptr()));
    assert_eq!(back.to_message_to_store(), msg);
    assert_eq!(
        (
            back.queue_offset,
            back.physical_offset,
            back.store_timestamp
        ),
        (7, 1234, 99)
    );
    assert!(back.verify_crc());
    assert_eq!(back.uniq_key(), Some("ABC"));
    assert_eq!(back.keys(), Some("k1 k2"));
    assert_eq!(back.tags(), None);
    assert_eq!(back.offset_msg_id(), "C0A8010A00002A9F00000000000004D2");
}

#[test]
fn header_view_reads_dispatch_fields() {
    let msg = sample("TopicTest", b"body", "TAGS\u{1}TagA\u{2}");
    let rec = encode_to_vec(&msg, 5, 777, 1_234).unwrap();
    let v = decode_view(&rec).unwrap();
    assert_eq!(v.topic, "TopicTest");
    assert_eq!((v.queue_id, v.queue_offset, v.physical_offset), (3, 5, 777));
    assert_eq!(
        (v.total_size, v.store_timestamp, v.sys_flag),
        (rec.len(), 1_234, 0)
    );
    assert_eq!(v.property("TAGS"), Some("TagA"));
    assert_eq!(v.body, b"body");
    assert_eq!(v.body_offset, 88);
    assert!(v.verify_crc());
}

#[test]
fn corrupted_body_fails_crc() {
    let mut rec = encode_to_vec(&sample("T", b"body", ""), 0, 0, 0).unwrap();
    rec[88] ^= 0xFF;
    let (m, _) = decode(&Bytes::from(rec)).unwrap();
    assert!(!verify_crc(&m));
}

#[test]
fn encode_into_checks_destination() {
    let msg = sample("T", b"abc", "");
    let len = encoded_len(&msg).unwrap();
    let mut small = vec![0u8; len - 1];
    assert_eq!(
        encode_into(&msg, 0, 0, 0, &mut small),
        Err(MessageError::BufferTooSmall {
            need: len,
            have: len - 1
        })
    );
    // A larger destination keeps its tail untouched.
    let mut big = vec![0xEEu8; len + 3];
    encode_into(&msg, 0, 0, 0, &mut big).unwrap();
    assert_eq!(&big[len..], &[0xEE; 3]);
    let mut props = sample("T", b"", "");
    props.properties = "x".repeat(MAX_PROPERTIES_LEN + 1);
    assert!(matches!(
        encoded_len(&props),
        Err(MessageError::TooLarge {
            field: "properties",
            ..
        })
    ));
    props.properties.clear();
    props.topic = "t".repeat(MAX_TOPIC_LEN + 1);
    assert!(matches!(
        encoded_len(&props),
        Err(MessageError::TooLarge { field: "topic", .. })
    ));
}

#[test]
fn patch_helpers_rewrite_fields() {
    let mut msg = sample("T", b"", "");
    msg.born_host = "[::2]:1".parse().unwrap();
    let mut rec = encode_to_vec(&msg, 0, 0, 0).unwrap();
    patch_queue_offset(&mut rec, 11).unwrap();
    patch_physical_offset(&mut rec, 22).unwrap();
    patch_store_timestamp(&mut rec, 33).unwrap();
    let v = decode_view(&rec).unwrap();
    assert_eq!(
        (v.queue_offset, v.physical_offset, v.store_timestamp),
        (11, 22, 33)
    );
    assert!(patch_store_timestamp(&mut [0u8; 10], 1).is_err());
}

#[test]
fn blank_marker_is_recognised() {
    let mut seg = vec![0u8; 64];
    write_blank_marker(&mut seg, 64).unwrap();
    assert_eq!(peek_total_size(&seg), Some(64));
    assert_eq!(peek_magic(&seg), Some(BLANK_MAGIC_CODE));
    assert_eq!(
        decode_view(&seg),
        Err(MessageError::BlankMarker { size: 64 })
    );
    assert_eq!(
        decode(&Bytes::from(seg)).unwrap_err(),
        MessageError::BlankMarker { size: 64 }
    );
    assert!(write_blank_marker(&mut [0u8; 7], 7).is_err());
}

#[test]
fn rejects_bad_prefixes() {
    assert_eq!(
        decode_view(&[0, 0, 0]),
        Err(MessageError::Truncated { need: 4, have: 3 })
    );
    let rec = encode_to_vec(&sample("T", b"abc", ""), 0, 0, 0).unwrap();
    let mut bad = rec.clone();
    bad[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    assert_eq!(decode_view(&bad), Err(MessageError::BadMagic(0x1234_5678)));
    // Torn tail: the record is cut short.
    assert_eq!(
        decode_view(&rec[..rec.len() - 1]),
        Err(MessageError::Truncated {
            need: rec.len(),
            have: rec.len() - 1
        })
    );
    // TOTALSIZE below the minimum, or disagreeing with the fields.
    let mut small = rec.clone();
    small[..4].copy_from_slice(&10i32.to_be_bytes());
    assert!(matches!(
        decode_view(&small),
        Err(MessageError::BadTotalSize { declared: 10, .. })
    ));
    let mut longer = rec.clone();
    longer.push(0);
    longer[..4].copy_from_slice(&(rec.len() as i32 + 1).to_be_bytes());
    assert_eq!(
        decode_view(&longer),
        Err(MessageError::BadTotalSize {
            declared: rec.len() as i32 + 1,
            actual: rec.len()
        })
    );
    let mut shorter = rec.clone();
    shorter[..4].copy_from_slice(&(rec.len() as i32 - 1).to_be_bytes());
    assert!(matches!(
        decode_view(&shorter),
        Err(MessageError::BadTotalSize { .. })
    ));
}

#[test]
fn rejects_bad_fields() {
    let rec = encode_to_vec(&sample("T", b"abc", ""), 0, 0, 0).unwrap();
    let mut neg_body = rec.clone();
    neg_body[84..88].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(
        decode_view(&neg_body),
        Err(MessageError::BadLength {
            field: "body",
            len: -1
        })
    );
    let mut bad_port = rec.clone();
    bad_port[52..56].copy_from_slice(&70_000i32.to_be_bytes());
    assert_eq!(decode_view(&bad_port), Err(MessageError::BadPort(70_000)));
    let mut bad_topic = rec.clone();
    bad_topic[92] = 0xFF;
    assert_eq!(
        decode_view(&bad_topic),
        Err(MessageError::InvalidUtf8 { field: "topic" })
    );
    let mut neg_topic = rec.clone();
    neg_topic[91] = 0x80;
    assert!(matches!(
        decode_view(&neg_topic),
        Err(MessageError::BadLength { field: "topic", .. })
    ));
}

#[test]
fn decode_all_stops_at_first_bad_record() {
    let a = encode_to_vec(&sample("A", b"1", ""), 0, 0, 0).unwrap();
    let b = encode_to_vec(&sample("B", b"22", ""), 1, a.len() as i64, 0).unwrap();
    let mut buf = [a.clone(), b.clone(), a.clone()].concat();
    let all = decode_all(&Bytes::from(buf.clone()));
    assert_eq!(
        all.iter().map(|m| m.topic.as_str()).collect::<Vec<_>>(),
        ["A", "B", "A"]
    );
    assert_eq!(all[1].physical_offset, a.len() as i64);

    // Corrupt the second record's magic: only the first survives, the third is never reached.
    buf[a.len() + 4] ^= 0xFF;
    let buf = Bytes::from(buf);
    assert_eq!(decode_all(&buf).len(), 1);
    let mut it = records(&buf);
    assert!(it.next().unwrap().is_ok());
    assert_eq!(it.position(), a.len());
    assert!(matches!(it.next(), Some(Err(MessageError::BadMagic(_)))));
    assert!(it.next().is_none());
    assert!(decode_all(&Bytes::new()).is_empty());
}
