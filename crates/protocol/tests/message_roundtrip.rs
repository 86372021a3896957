//! Property tests for the message codecs: every encoder round-trips through its decoder, and no
//! decoder panics on arbitrary or corrupted input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;
use proptest::prelude::*;
use saturn_protocol::message::record::{self, MessageToStore};
use saturn_protocol::message::{
    batch, id, properties, sysflag, tag::TagFilter, BatchEntry, Properties,
};

fn host() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
        // IPv4-mapped IPv6, which the encoder stores as IPv4.
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| {
            SocketAddr::new(IpAddr::V6(Ipv4Addr::from(ip).to_ipv6_mapped()), port)
        }),
    ]
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

fn topic() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_%-]{0,40}",
        // Long topics, some past 127 bytes (V2), some with multi-byte chars.
        "[A-Za-z0-9]{100,300}",
        "\\PC{0,100}",
    ]
}

fn props() -> impl Strategy<Value = Properties> {
    prop::collection::vec(("[A-Za-z_][A-Za-z0-9_#.]{0,15}", "\\PC{1,30}"), 0..8)
        .prop_map(|pairs| pairs.into_iter().collect())
}

prop_compose! {
    fn message()(
        topic in topic(),
        queue_id in any::<i32>(),
        flag in any::<i32>(),
        sys_flag in any::<i32>(),
        born_timestamp in any::<i64>(),
        born_host in host(),
        store_host in host(),
        reconsume_times in any::<i32>(),
        prepared_transaction_offset in any::<i64>(),
        body in prop::collection::vec(any::<u8>(), 0..600),
        props in props(),
    ) -> MessageToStore {
        MessageToStore {
            topic, queue_id, flag, sys_flag, born_timestamp, born_host, store_host,
            reconsume_times, prepared_transaction_offset,
            body: Bytes::from(body),
            properties: props.encode(),
        }
    }
}

proptest! {
    #[test]
    fn record_round_trip(msg in message(), qo in any::<i64>(), po in any::<i64>(), ts in any::<i64>()) {
        let len = record::encoded_len(&msg).unwrap();
        let mut buf = vec![0u8; len];
        record::encode_into(&msg, qo, po, ts, &mut buf).unwrap();

        let born_v6 = canonical(msg.born_host).is_ipv6();
        let store_v6 = canonical(msg.store_host).is_ipv6();
        let expected_len = 91 + msg.body.len() + msg.topic.len() + msg.properties.len()
            + if born_v6 { 12 } else { 0 }
            + if store_v6 { 12 } else { 0 }
            + usize::from(msg.topic.len() > 127);
        prop_assert_eq!(len, expected_len);
        let magic = record::peek_magic(&buf).unwrap();
        prop_assert_eq!(
            magic,
            if msg.topic.len() > 127 { record::MESSAGE_MAGIC_V2 } else { record::MESSAGE_MAGIC_V1 }
        );

        let buf = Bytes::from(buf);
        let (m, used) = record::decode(&buf).unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(&m.topic, &msg.topic);
        prop_assert_eq!(m.queue_id, msg.queue_id);
        prop_assert_eq!(m.flag, msg.flag);
        prop_assert_eq!((m.queue_offset, m.physical_offset, m.store_timestamp), (qo, po, ts));
        prop_assert_eq!(m.sys_flag, sysflag::with_host_families(msg.sys_flag, born_v6, store_v6));
        prop_assert_eq!(m.born_timestamp, msg.born_timestamp);
        prop_assert_eq!(m.born_host, canonical(msg.born_host));
        prop_assert_eq!(m.store_host, canonical(msg.store_host));
        prop_assert_eq!(m.reconsume_times, msg.reconsume_times);
        prop_assert_eq!(m.prepared_transaction_offset, msg.prepared_transaction_offset);
        prop_assert_eq!(&m.body, &msg.body);
        prop_assert_eq!(&m.properties, &msg.properties);
        prop_assert!(m.verify_crc());

        let v = record::decode_view(&buf).unwrap();
        prop_assert_eq!(v.topic, msg.topic.as_str());
        prop_assert_eq!(v.total_size, len);
        prop_assert_eq!(v.properties, msg.properties.as_str());
    }

    #[test]
    fn concatenated_records_decode_in_order(msgs in prop::collection::vec(message(), 0..5)) {
        let mut buf = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let pos = buf.len();
            buf.resize(pos + record::encoded_len(m).unwrap(), 0);
            record::encode_into(m, i as i64, pos as i64, 0, &mut buf[pos..]).unwrap();
        }
        let all = record::decode_all(&Bytes::from(buf));
        prop_assert_eq!(all.len(), msgs.len());
        for (i, (got, want)) in all.iter().zip(&msgs).enumerate() {
            prop_assert_eq!(got.queue_offset, i as i64);
            prop_assert_eq!(&got.body, &want.body);
        }
    }

    #[test]
    fn batch_round_trip(entries in prop::collection::vec(
        (any::<i32>(), prop::collection::vec(any::<u8>(), 0..200), props()), 0..6)
    ) {
        let entries: Vec<BatchEntry> = entries.into_iter().map(|(flag, body, p)| BatchEntry {
            flag, body: Bytes::from(body), properties: p.encode(),
        }).collect();
        let bytes = batch::encode_batch(&entries).unwrap();
        prop_assert_eq!(bytes.len(), entries.iter().map(|e| 22 + e.body.len() + e.properties.len()).sum::<usize>());
        prop_assert_eq!(batch::decode_batch(&bytes).unwrap(), entries);
    }

    #[test]
    fn properties_round_trip(p in props()) {
        let s = p.encode();
        prop_assert_eq!(&properties::parse(&s), &p);
        for (k, v) in p.iter() {
            prop_assert_eq!(properties::find(&s, k), Some(v));
        }
    }

    #[test]
    fn offset_id_round_trip(h in host(), offset in any::<i64>()) {
        let id = id::offset_msg_id(h, offset);
        prop_assert_eq!(id.len(), if canonical(h).is_ipv4() { 32 } else { 56 });
        prop_assert!(id.bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)));
        prop_assert_eq!(id::decode_offset_msg_id(&id).unwrap(), (canonical(h), offset));
        prop_assert_eq!(id::decode_offset_msg_id(&id.to_lowercase()).unwrap(), (canonical(h), offset));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let buf = Bytes::from(data);
        let _ = record::decode(&buf);
        let _ = record::decode_view(&buf);
        let _ = record::decode_all(&buf);
        let _ = record::records(&buf).count();
        let _ = record::peek_total_size(&buf);
        let _ = batch::decode_batch(&buf);
        let text = String::from_utf8_lossy(&buf);
        let _ = properties::parse(&text);
        let _ = properties::find(&text, "TAGS");
        let _ = id::decode_offset_msg_id(&text);
        let _ = id::parse_uniq_id(&text);
        let _ = TagFilter::parse(&text);
    }

    #[test]
    fn corrupted_records_never_panic(
        msg in message(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = record::encode_to_vec(&msg, 1, 2, 3).unwrap();
        for (idx, val) in flips {
            let i = idx.index(buf.len());
            buf[i] = val;
        }
        let whole = Bytes::from(buf);
        let cut = whole.slice(..cut.index(whole.len() + 1));
        for b in [&whole, &cut] {
            if let Ok((m, used)) = record::decode(b) {
                prop_assert!(used <= b.len());
                prop_assert!(m.body.len() <= used);
            }
            let _ = record::decode_all(b);
            let _ = batch::decode_batch(b);
        }
    }
}
