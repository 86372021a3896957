use super::*;

const EXPIRY: Duration = Duration::from_secs(120);

fn topic(name: &str, read: i32, write: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_owned(),
        read_queue_nums: read,
        write_queue_nums: write,
        perm: 6,
        ..TopicConfig::default()
    }
}

fn reg(name: &str, addr: &str, id: i64, topics: &[TopicConfig]) -> BrokerRegistration {
    BrokerRegistration {
        cluster: "DefaultCluster".to_owned(),
        broker_name: name.to_owned(),
        broker_addr: addr.to_owned(),
        broker_id: id,
        ha_server_addr: format!("{addr}-ha"),
        zone_name: None,
        enable_acting_master: false,
        data_version: DataVersion {
            counter: 1,
            state_version: 0,
            timestamp: 1000,
        },
        topics: topics
            .iter()
            .map(|t| (t.topic_name.clone(), t.clone()))
            .collect(),
        conn: None,
    }
}

#[test]
fn register_master_creates_routes() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    let out = table.register(
        reg(
            "a",
            "10.0.0.1:10911",
            0,
            &[topic("T1", 4, 4), topic("T2", 8, 2)],
        ),
        now,
    );
    assert!(out.topics_applied);
    assert_eq!(out.master_addr, None);

    let r = table.route("T2").unwrap();
    assert_eq!(r.queue_datas.len(), 1);
    assert_eq!(r.queue_datas[0].broker_name, "a");
    assert_eq!(
        (
            r.queue_datas[0].read_queue_nums,
            r.queue_datas[0].write_queue_nums
        ),
        (8, 2)
    );
    assert_eq!(r.broker_datas.len(), 1);
    assert_eq!(r.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    assert_eq!(r.broker_datas[0].cluster, "DefaultCluster");
    assert!(table.route("T3").is_none());
    assert_eq!(table.topic_names(), vec!["T1", "T2"]);
}

#[test]
fn slave_topics_are_ignored_but_slave_is_listed() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    table.register(reg("a", "m:1", 0, &[topic("T1", 4, 4)]), now);
    let out = table.register(
        reg(
            "a",
            "s:1",
            1,
            &[topic("T1", 4, 4), topic("SlaveOnly", 2, 2)],
        ),
        now,
    );
    assert!(!out.topics_applied);
    assert_eq!(out.master_addr.as_deref(), Some("m:1"));
    assert_eq!(out.master_ha_addr.as_deref(), Some("m:1-ha"));

    assert!(
        table.route("SlaveOnly").is_none(),
        "queue data only from masters"
    );
    let r = table.route("T1").unwrap();
    assert_eq!(r.queue_datas.len(), 1);
    let addrs = &r.broker_datas[0].broker_addrs;
    assert_eq!(addrs.get(&0).map(String::as_str), Some("m:1"));
    assert_eq!(addrs.get(&1).map(String::as_str), Some("s:1"));
}

#[test]
fn slave_without_live_master_gets_no_master_addr() {
    let mut table = RouteTable::new();
    let out = table.register(reg("a", "s:1", 1, &[]), Instant::now());
    assert_eq!(out, RegisterOutcome::default());
}

#[test]
fn same_version_does_not_reapply_topics() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    table.register(reg("a", "m:1", 0, &[topic("T1", 4, 4)]), now);
    table.set_write_perm("a", false);
    let out = table.register(reg("a", "m:1", 0, &[topic("T1", 4, 4)]), now);
    assert!(!out.topics_applied);
    assert_eq!(table.route("T1").unwrap().queue_datas[0].perm, 4);

    let mut newer = reg("a", "m:1", 0, &[topic("T1", 4, 4)]);
    newer.data_version.counter = 2;
    assert!(table.data_version_changed("m:1", &newer.data_version));
    assert!(table.register(newer, now).topics_applied);
    assert_eq!(table.route("T1").unwrap().queue_datas[0].perm, 6);
    assert!(!table.data_version_changed("m:1", table.data_version("m:1").unwrap()));
}

#[test]
fn expiry_uses_the_injected_clock() {
    let mut table = RouteTable::new();
    let t0 = Instant::now();
    table.register(reg("a", "a:1", 0, &[topic("T", 4, 4)]), t0);
    table.register(
        reg("b", "b:1", 0, &[topic("T", 4, 4)]),
        t0 + Duration::from_secs(60),
    );

    assert!(
        table.expire(t0 + EXPIRY, EXPIRY).is_empty(),
        "not older than the limit yet"
    );
    let dropped = table.expire(t0 + EXPIRY + Duration::from_secs(1), EXPIRY);
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].broker_addr, "a:1");
    assert_eq!(dropped[0].broker_name.as_deref(), Some("a"));

    let r = table.route("T").unwrap();
    assert_eq!(r.queue_datas.len(), 1);
    assert_eq!(r.queue_datas[0].broker_name, "b");
    assert!(!table.is_live("a:1"));

    // A refresh keeps b alive past its original deadline.
    assert!(table.refresh("b:1", t0 + Duration::from_secs(170)));
    assert!(table
        .expire(t0 + Duration::from_secs(200), EXPIRY)
        .is_empty());
    assert_eq!(table.expire(t0 + Duration::from_secs(400), EXPIRY).len(), 1);
    assert!(
        table.route("T").is_none(),
        "topic without queues disappears"
    );
    assert_eq!(table.cluster_info(), ClusterInfo::default());
}

#[test]
fn unregister_removes_queues_and_empty_topics() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    table.register(
        reg(
            "a",
            "a:1",
            0,
            &[topic("Shared", 4, 4), topic("OnlyA", 1, 1)],
        ),
        now,
    );
    table.register(reg("b", "b:1", 0, &[topic("Shared", 2, 2)]), now);

    let dropped = table.unregister("a:1").unwrap();
    assert_eq!(dropped.broker_name.as_deref(), Some("a"));
    assert!(table.route("OnlyA").is_none());
    let shared = table.route("Shared").unwrap();
    assert_eq!(shared.queue_datas.len(), 1);
    assert_eq!(shared.broker_datas[0].broker_name, "b");
    assert!(!table.cluster_info().broker_addr_table.contains_key("a"));
    assert!(
        table.unregister("a:1").is_none(),
        "second unregister finds nothing"
    );
}

#[test]
fn losing_the_master_keeps_slave_readable_only() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    table.register(reg("a", "m:1", 0, &[topic("T", 4, 4)]), now);
    table.register(reg("a", "s:1", 1, &[]), now);
    table.unregister("m:1");

    let r = table.route("T").unwrap();
    assert_eq!(r.queue_datas[0].perm & PERM_WRITE, 0);
    assert_eq!(r.broker_datas[0].master_addr(), None);
    assert!(r.broker_datas[0].broker_addrs.contains_key(&1));

    // The master coming back restores its topics as registered.
    table.register(reg("a", "m:1", 0, &[topic("T", 4, 4)]), now);
    assert_eq!(table.route("T").unwrap().queue_datas[0].perm, 6);
}

#[test]
fn address_changing_role_keeps_one_entry() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    table.register(reg("a", "x:1", 1, &[]), now);
    table.register(reg("a", "x:1", 0, &[topic("T", 4, 4)]), now);
    let addrs = &table.route("T").unwrap().broker_datas[0].broker_addrs;
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs.get(&0).map(String::as_str), Some("x:1"));
}

#[test]
fn dropping_a_connection_only_drops_its_current_registration() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    let mut first = reg("a", "a:1", 0, &[topic("T", 4, 4)]);
    first.conn = Some(7);
    table.register(first, now);
    let mut again = reg("a", "a:1", 0, &[topic("T", 4, 4)]);
    again.conn = Some(8);
    table.register(again, now);

    assert!(table.drop_connection(7).is_empty(), "stale connection");
    assert!(table.route("T").is_some());
    let dropped = table.drop_connection(8);
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].conn, Some(8));
    assert!(table.route("T").is_none());
}

#[test]
fn delete_topic_everywhere_or_per_cluster() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    table.register(
        reg("a", "a:1", 0, &[topic("T", 4, 4), topic("U", 4, 4)]),
        now,
    );
    let mut other = reg("b", "b:1", 0, &[topic("T", 4, 4)]);
    other.cluster = "Other".to_owned();
    table.register(other, now);

    assert!(table.delete_topic("T", Some("Other")));
    let r = table.route("T").unwrap();
    assert_eq!(r.queue_datas.len(), 1);
    assert_eq!(r.queue_datas[0].broker_name, "a");
    assert!(!table.delete_topic("T", Some("NoSuchCluster")));

    assert!(table.delete_topic("T", None));
    assert!(table.route("T").is_none());
    assert!(!table.delete_topic("T", None));
    assert!(table.route("U").is_some());
}

#[test]
fn cluster_info_and_topics_by_cluster() {
    let mut table = RouteTable::new();
    let now = Instant::now();
    table.register(reg("a", "a:1", 0, &[topic("T", 4, 4)]), now);
    table.register(reg("a", "a:2", 1, &[]), now);
    let mut other = reg("b", "b:1", 0, &[topic("U", 4, 4)]);
    other.cluster = "Other".to_owned();
    other.zone_name = Some("z1".to_owned());
    other.enable_acting_master = true;
    table.register(other, now);

    let info = table.cluster_info();
    assert_eq!(
        info.cluster_addr_table
            .get("DefaultCluster")
            .map(|s| s.len()),
        Some(1)
    );
    assert!(info.cluster_addr_table["Other"].contains("b"));
    assert_eq!(info.broker_addr_table["a"].broker_addrs.len(), 2);
    assert_eq!(info.broker_addr_table["b"].zone_name.as_deref(), Some("z1"));
    assert!(info.broker_addr_table["b"].enable_acting_master);

    assert_eq!(table.topics_of_cluster("DefaultCluster"), vec!["T"]);
    assert_eq!(table.topics_of_cluster("Other"), vec!["U"]);
    assert!(table.topics_of_cluster("Nope").is_empty());
    assert_eq!(table.live_brokers(), 3);
}

#[test]
fn register_topic_and_write_perm() {
    let mut table = RouteTable::new();
    table.register(reg("a", "a:1", 0, &[topic("T", 4, 4)]), Instant::now());
    let qd = |name: &str| QueueData {
        broker_name: name.to_owned(),
        perm: 6,
        read_queue_nums: 2,
        write_queue_nums: 2,
        topic_sys_flag: 0,
    };
    assert_eq!(table.register_topic("New", vec![qd("a"), qd("ghost")]), 1);
    assert_eq!(table.route("New").unwrap().queue_datas.len(), 1);
    assert_eq!(table.register_topic("Ghost", vec![qd("ghost")]), 0);
    assert!(table.route("Ghost").is_none());

    assert_eq!(table.set_write_perm("a", false), 2);
    assert_eq!(table.route("T").unwrap().queue_datas[0].perm, 4);
    assert_eq!(table.set_write_perm("a", true), 2);
    assert_eq!(table.route("New").unwrap().queue_datas[0].perm, 6);
    assert_eq!(table.set_write_perm("ghost", false), 0);
}
