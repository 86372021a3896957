//! Property tests: every body type survives `encode → decode`; fastjson variants decode to the
//! same values as standard JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use saturn_protocol::body::*;

fn name() -> impl Strategy<Value = String> {
    // Topic/group/broker names follow Java's rule; free text elsewhere.
    "[%|a-zA-Z0-9_-]{1,16}"
}

fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn mq() -> impl Strategy<Value = MessageQueue> {
    (name(), any::<i32>(), name()).prop_map(|(broker_name, queue_id, topic)| MessageQueue {
        broker_name,
        queue_id,
        topic,
    })
}

fn broker_data() -> impl Strategy<Value = BrokerData> {
    broker_data_with(text().boxed())
}

fn broker_data_with(addr: BoxedStrategy<String>) -> impl Strategy<Value = BrokerData> {
    (
        btree_map(any::<i64>(), addr.clone(), 0..4),
        name(),
        name(),
        any::<bool>(),
        proptest::option::of(addr),
    )
        .prop_map(
            |(broker_addrs, broker_name, cluster, enable_acting_master, zone_name)| BrokerData {
                broker_addrs,
                broker_name,
                cluster,
                enable_acting_master,
                zone_name,
            },
        )
}

fn queue_data() -> impl Strategy<Value = QueueData> {
    (
        name(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
    )
        .prop_map(
            |(broker_name, perm, read_queue_nums, topic_sys_flag, write_queue_nums)| QueueData {
                broker_name,
                perm,
                read_queue_nums,
                topic_sys_flag,
                write_queue_nums,
            },
        )
}

/// `safe` keeps free text free of braces so the test can rewrite `brokerAddrs` textually.
fn route(safe: bool) -> impl Strategy<Value = TopicRouteData> {
    let t = if safe {
        "[a-z0-9.:;@ ]{0,12}".boxed()
    } else {
        text().boxed()
    };
    (
        vec(broker_data_with(t.clone()), 0..3),
        btree_map(t.clone(), vec(t.clone(), 0..2), 0..2),
        proptest::option::of(t),
        vec(queue_data(), 0..3),
    )
        .prop_map(
            |(broker_datas, filter_server_table, order_topic_conf, queue_datas)| TopicRouteData {
                broker_datas,
                filter_server_table,
                order_topic_conf,
                queue_datas,
                topic_queue_mapping_by_broker: None,
            },
        )
}

fn subscription() -> impl Strategy<Value = SubscriptionData> {
    (
        any::<bool>(),
        vec(any::<i32>(), 0..3),
        proptest::option::of(prop_oneof![
            Just("TAG".to_owned()),
            Just("SQL92".to_owned())
        ]),
        text(),
        any::<i64>(),
        vec(text(), 0..3),
        name(),
    )
        .prop_map(
            |(
                class_filter_mode,
                code_set,
                expression_type,
                sub_string,
                sub_version,
                tags_set,
                topic,
            )| {
                SubscriptionData {
                    class_filter_mode,
                    code_set,
                    expression_type,
                    sub_string,
                    sub_version,
                    tags_set,
                    topic,
                }
            },
        )
}

fn consumer_data() -> impl Strategy<Value = ConsumerData> {
    (
        (0i64..6).prop_map(|o| <ConsumeFromWhere as lenient::JavaEnum>::from_ordinal(o).unwrap()),
        (0i64..3).prop_map(|o| <ConsumeType as lenient::JavaEnum>::from_ordinal(o).unwrap()),
        name(),
        (0i64..2).prop_map(|o| <MessageModel as lenient::JavaEnum>::from_ordinal(o).unwrap()),
        vec(subscription(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(
                consume_from_where,
                consume_type,
                group_name,
                message_model,
                subscription_data_set,
                unit_mode,
            )| {
                ConsumerData {
                    consume_from_where,
                    consume_type,
                    group_name,
                    message_model,
                    subscription_data_set,
                    unit_mode,
                }
            },
        )
}

fn heartbeat() -> impl Strategy<Value = HeartbeatData> {
    (
        text(),
        vec(consumer_data(), 0..3),
        proptest::option::of(any::<i64>()),
        vec(
            name().prop_map(|group_name| ProducerData { group_name }),
            0..3,
        ),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(
                client_id,
                consumer_data_set,
                heartbeat_fingerprint,
                producer_data_set,
                without_sub,
            )| {
                HeartbeatData {
                    client_id,
                    consumer_data_set,
                    heartbeat_fingerprint,
                    producer_data_set,
                    without_sub,
                }
            },
        )
}

fn data_version() -> impl Strategy<Value = DataVersion> {
    (any::<i64>(), any::<i64>(), any::<i64>()).prop_map(|(counter, state_version, timestamp)| {
        DataVersion {
            counter,
            state_version,
            timestamp,
        }
    })
}

/// `full` = also vary the fields the compressed form does not carry.
fn topic_config(full: bool) -> impl Strategy<Value = TopicConfig> {
    (
        btree_map(name(), text(), 0..3),
        any::<bool>(),
        any::<i32>(),
        any::<i32>(),
        any::<bool>(),
        name(),
        any::<i32>(),
        any::<i32>(),
    )
        .prop_map(
            move |(attributes, order, perm, read, multi, topic_name, sys, write)| TopicConfig {
                attributes,
                order: order && full,
                perm,
                read_queue_nums: read,
                topic_filter_type: if multi {
                    TopicFilterType::MultiTag
                } else {
                    TopicFilterType::SingleTag
                },
                topic_name,
                topic_sys_flag: if full { sys } else { 0 },
                write_queue_nums: write,
            },
        )
}

fn register_body(full: bool) -> impl Strategy<Value = RegisterBrokerBody> {
    (
        vec(text(), 0..3),
        data_version(),
        vec(topic_config(full), 0..5),
    )
        .prop_map(
            |(filter_server_list, data_version, tcs)| RegisterBrokerBody {
                filter_server_list,
                topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                    data_version,
                    topic_config_table: tcs
                        .into_iter()
                        .map(|t| (t.topic_name.clone(), t))
                        .collect(),
                    ..Default::default()
                },
            },
        )
}

fn round_trip<T>(v: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    decode(&encode(v)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn topic_route(r in route(false)) {
        prop_assert_eq!(round_trip(&r), r);
    }

    #[test]
    fn topic_route_fastjson_keys(r in route(true)) {
        // fastjson's unquoted integer keys decode to the same route.
        let text = String::from_utf8(encode(&r)).unwrap();
        let unquoted = regex_lite_unquote(&text);
        prop_assert_eq!(decode::<TopicRouteData>(unquoted.as_bytes()).unwrap(), r);
    }

    #[test]
    fn cluster_info(b in vec(broker_data(), 0..3), c in btree_map(name(), btree_set(name(), 0..3), 0..3)) {
        let ci = ClusterInfo {
            broker_addr_table: b.into_iter().map(|d| (d.broker_name.clone(), d)).collect(),
            cluster_addr_table: c,
        };
        prop_assert_eq!(round_trip(&ci), ci);
    }

    #[test]
    fn heartbeat_data(h in heartbeat()) {
        prop_assert_eq!(round_trip(&h), h);
    }

    #[test]
    fn register_broker_json(b in register_body(true)) {
        prop_assert_eq!(round_trip(&b), b.clone());
        prop_assert_eq!(RegisterBrokerBody::decode(&encode(&b), false).unwrap(), b);
    }

    #[test]
    fn register_broker_compressed(b in register_body(false)) {
        let z = b.encode_compressed().unwrap();
        prop_assert_eq!(RegisterBrokerBody::decode(&z, true).unwrap(), b);
    }

    #[test]
    fn lock_bodies(client_id in text(), consumer_group in name(), mq_set in vec(mq(), 0..4), only in any::<bool>()) {
        let req = LockBatchRequestBody { client_id, consumer_group, mq_set: mq_set.clone(), only_this_broker: only };
        prop_assert_eq!(round_trip(&req), req);
        let resp = LockBatchResponseBody { lock_ok_mq_set: mq_set };
        prop_assert_eq!(round_trip(&resp), resp);
    }

    #[test]
    fn small_bodies(topics in vec(text(), 0..4), addr in proptest::option::of(text()), table in btree_map(text(), text(), 0..4)) {
        let tl = TopicList { broker_addr: addr, topic_list: topics.clone() };
        prop_assert_eq!(round_trip(&tl), tl);
        let kv = KvTable { table };
        prop_assert_eq!(round_trip(&kv), kv);
        let cl = ConsumerListBody { consumer_id_list: topics };
        prop_assert_eq!(round_trip(&cl), cl);
    }

    #[test]
    fn stats_tables(rows in vec((mq(), any::<i64>(), any::<i64>(), any::<i64>()), 0..4), tps in (-4_000_000i32..4_000_000).prop_map(|v| f64::from(v) / 4.0)) {
        let ts = TopicStatsTable {
            offset_table: rows.iter().map(|(q, a, b, c)| (q.clone(), TopicOffset { last_update_timestamp: *a, max_offset: *b, min_offset: *c })).collect(),
        };
        prop_assert_eq!(round_trip(&ts), ts.clone());
        prop_assert_eq!(decode::<TopicStatsTable>(&ts.to_fastjson()).unwrap(), ts);
        let cs = ConsumeStats {
            consume_tps: tps,
            offset_table: rows.iter().map(|(q, a, b, c)| (q.clone(), OffsetWrapper { broker_offset: *a, consumer_offset: *b, last_timestamp: *c, pull_offset: *a })).collect(),
        };
        prop_assert_eq!(round_trip(&cs), cs.clone());
        prop_assert_eq!(decode::<ConsumeStats>(&cs.to_fastjson()).unwrap(), cs);
    }

    #[test]
    fn consumer_connection(subs in vec(subscription(), 0..3), cd in consumer_data(), conns in vec((text(), text(), name(), any::<i32>()), 0..3)) {
        let cc = ConsumerConnection {
            connection_set: conns.into_iter().map(|(client_addr, client_id, language, version)| Connection { client_addr, client_id, language, version }).collect(),
            consume_from_where: cd.consume_from_where,
            consume_type: cd.consume_type,
            message_model: cd.message_model,
            subscription_table: subs.into_iter().map(|s| (s.topic.clone(), s)).collect::<BTreeMap<_, _>>(),
        };
        prop_assert_eq!(round_trip(&cc), cc);
    }

    #[test]
    fn subscription_group(group_name in name(), retry in any::<i32>(), orderly in any::<bool>()) {
        let g = SubscriptionGroupConfig { group_name, retry_max_times: retry, consume_message_orderly: orderly, ..Default::default() };
        prop_assert_eq!(round_trip(&g), g);
    }
}

/// Turns `"brokerAddrs":{"0":"x","-5":"y"}` into fastjson's `{0:"x",-5:"y"}` form.
fn regex_lite_unquote(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(pos) = rest.find("\"brokerAddrs\":{") {
        let (head, tail) = rest.split_at(pos + "\"brokerAddrs\":{".len());
        out.push_str(head);
        let end = tail.find('}').unwrap();
        let (map, after) = tail.split_at(end);
        let v: BTreeMap<i64, String> = serde_json::from_str(&format!("{{{map}}}")).unwrap();
        let parts: Vec<String> = v
            .iter()
            .map(|(k, val)| format!("{k}:{}", serde_json::to_string(val).unwrap()))
            .collect();
        out.push_str(&parts.join(","));
        rest = after;
    }
    out.push_str(rest);
    out
}
