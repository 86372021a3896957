//! The `saturn` commands as a user runs them: create a topic and see its route, produce with
//! --json, consume the same messages with --json, find them by id and by key, and read the
//! group's progress.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{json_lines, run_saturn, saturn_ok, Standalone};
use serde_json::Value;

const CMD_DEADLINE: Duration = Duration::from_secs(60);

fn str_field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no string {name} in {v}"))
}

#[test]
fn produce_consume_and_look_up_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();

    // topic create + topic route show the queues.
    saturn_ok(
        &[
            "admin",
            "topic",
            "create",
            "--namesrv",
            &ns,
            "--topic",
            "Smoke",
            "--queues",
            "3",
        ],
        CMD_DEADLINE,
    );
    let route: Value = serde_json::from_str(&saturn_ok(
        &[
            "admin",
            "topic",
            "route",
            "--namesrv",
            &ns,
            "--topic",
            "Smoke",
            "--json",
        ],
        CMD_DEADLINE,
    ))
    .unwrap();
    let queues = &route["queueDatas"][0];
    assert_eq!(queues["writeQueueNums"], 3, "route: {route}");
    assert_eq!(queues["readQueueNums"], 3, "route: {route}");
    let route_text = saturn_ok(
        &[
            "admin",
            "topic",
            "route",
            "--namesrv",
            &ns,
            "--topic",
            "Smoke",
        ],
        CMD_DEADLINE,
    );
    assert!(
        route_text.contains(&server.broker.to_string()),
        "route table names the broker address: {route_text}"
    );

    // produce --json --count 3.
    let produced = json_lines(&saturn_ok(
        &[
            "produce",
            "--namesrv",
            &ns,
            "--topic",
            "Smoke",
            "--tag",
            "Tiny",
            "--keys",
            "smoke-key",
            "--count",
            "3",
            "--json",
        ],
        CMD_DEADLINE,
    ));
    assert_eq!(produced.len(), 3, "{produced:?}");
    for p in &produced {
        assert_eq!(str_field(p, "status"), "SEND_OK");
        assert!(p["queue_id"].as_i64().unwrap() < 3);
        assert!(p["offset"].as_i64().unwrap() >= 0);
    }
    let produced_ids: BTreeSet<&str> = produced.iter().map(|p| str_field(p, "msg_id")).collect();
    assert_eq!(produced_ids.len(), 3, "distinct message ids");

    // consume --json --count 3 --from first gets exactly them, with their bodies.
    let consumed = json_lines(&saturn_ok(
        &[
            "consume",
            "--namesrv",
            &ns,
            "--topic",
            "Smoke",
            "--group",
            "smoke-group",
            "--count",
            "3",
            "--from",
            "first",
            "--timeout",
            "30",
            "--json",
        ],
        CMD_DEADLINE,
    ));
    assert_eq!(consumed.len(), 3, "{consumed:?}");
    let consumed_ids: BTreeSet<&str> = consumed.iter().map(|c| str_field(c, "msg_id")).collect();
    assert_eq!(consumed_ids, produced_ids);
    for c in &consumed {
        let sent = produced
            .iter()
            .find(|p| p["msg_id"] == c["msg_id"])
            .unwrap();
        let i = sent["i"].as_u64().unwrap();
        let body = str_field(c, "body");
        assert_eq!(body.len(), 64, "default body size");
        assert!(
            body.starts_with(&format!("msg-{i}-")),
            "body {body:?} of message {i}"
        );
        assert_eq!(str_field(c, "tag"), "Tiny");
        assert_eq!(str_field(c, "keys"), "smoke-key");
        assert_eq!(str_field(c, "topic"), "Smoke");
        assert_eq!(c["queue_id"], sent["queue_id"]);
        assert_eq!(c["offset"], sent["offset"]);
        assert_eq!(c["reconsume_times"], 0);
    }

    // The group committed its offsets on exit: no lag left.
    let progress: Value = serde_json::from_str(&saturn_ok(
        &[
            "admin",
            "consumer",
            "progress",
            "--namesrv",
            &ns,
            "--group",
            "smoke-group",
            "--json",
        ],
        CMD_DEADLINE,
    ))
    .unwrap();
    assert_eq!(progress["total_lag"], 0, "progress: {progress}");

    // message by-id finds each message by its offset id.
    for p in &produced {
        let found = json_lines(&saturn_ok(
            &[
                "admin",
                "message",
                "by-id",
                str_field(p, "offset_msg_id"),
                "--namesrv",
                &ns,
                "--json",
            ],
            CMD_DEADLINE,
        ));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["msg_id"], p["msg_id"]);
        let i = p["i"].as_u64().unwrap();
        assert!(str_field(&found[0], "body").starts_with(&format!("msg-{i}-")));

        // ... and by its client id (the UNIQ_KEY clients print as msgId), given the topic.
        let by_uniq = json_lines(&saturn_ok(
            &[
                "admin",
                "message",
                "by-id",
                str_field(p, "msg_id"),
                "--topic",
                str_field(p, "topic"),
                "--namesrv",
                &ns,
                "--json",
            ],
            CMD_DEADLINE,
        ));
        assert_eq!(by_uniq.len(), 1);
        assert_eq!(by_uniq[0]["offset_msg_id"], p["offset_msg_id"]);
    }
    // A client id without its topic is refused rather than dialled as an address.
    let no_topic = run_saturn(
        &[
            "admin",
            "message",
            "by-id",
            str_field(&produced[0], "msg_id"),
            "--namesrv",
            &ns,
        ],
        CMD_DEADLINE,
    );
    assert!(
        !no_topic.status.success(),
        "a UNIQ_KEY without --topic must fail"
    );

    // message by-key TOPIC KEY finds all three.
    let by_key = json_lines(&saturn_ok(
        &[
            "admin",
            "message",
            "by-key",
            "Smoke",
            "smoke-key",
            "--namesrv",
            &ns,
            "--json",
        ],
        CMD_DEADLINE,
    ));
    let key_ids: BTreeSet<&str> = by_key.iter().map(|m| str_field(m, "msg_id")).collect();
    assert_eq!(key_ids, produced_ids);

    // topic stats count three messages; cluster list shows the broker.
    let stats = saturn_ok(
        &[
            "admin",
            "topic",
            "stats",
            "--namesrv",
            &ns,
            "--topic",
            "Smoke",
        ],
        CMD_DEADLINE,
    );
    assert!(stats.contains("total messages: 3"), "{stats}");
    let clusters = saturn_ok(
        &["admin", "cluster", "list", "--namesrv", &ns],
        CMD_DEADLINE,
    );
    assert!(clusters.contains(&server.broker.to_string()), "{clusters}");
    let topics = saturn_ok(&["admin", "topic", "list", "--namesrv", &ns], CMD_DEADLINE);
    assert!(topics.lines().any(|l| l.trim() == "Smoke"), "{topics}");
}

#[test]
fn consume_exits_1_when_the_idle_timeout_hits_before_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();
    saturn_ok(
        &[
            "produce",
            "--namesrv",
            &ns,
            "--topic",
            "Short",
            "--count",
            "2",
            "--body",
            "b",
        ],
        CMD_DEADLINE,
    );
    let out = run_saturn(
        &[
            "consume",
            "--namesrv",
            &ns,
            "--topic",
            "Short",
            "--group",
            "short-group",
            "--count",
            "5",
            "--from",
            "first",
            "--timeout",
            "3",
        ],
        CMD_DEADLINE,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        2,
        "both stored messages printed: {stdout}"
    );
    assert!(stdout.lines().all(|l| l.ends_with("body=b")), "{stdout}");
}
