//! `saturn bench` keeps working: a few seconds of produce and end-to-end load through the real
//! binary against a real standalone, checked on the JSON summary scripts rely on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{json_lines, saturn_ok, Standalone};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

/// The last stdout line is the summary; it carries the fields the issue names.
fn summary(stdout: &str) -> Value {
    let lines = json_lines(stdout);
    let last = lines.last().cloned().expect("a JSON summary line");
    for key in [
        "kind",
        "messages",
        "errors",
        "seconds",
        "msgs_per_sec",
        "mb_per_sec",
    ] {
        assert!(last.get(key).is_some(), "summary lacks {key}: {last}");
    }
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            last["latency_us"].get(p).is_some_and(Value::is_u64),
            "latency_us lacks {p}: {last}"
        );
    }
    last
}

#[test]
fn bench_produce_and_e2e_report_their_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(dir.path());
    let ns = server.namesrv_arg();

    let produce = summary(&saturn_ok(
        &[
            "bench",
            "produce",
            "--namesrv",
            &ns,
            "--topic",
            "BenchSmoke",
            "--size",
            "256",
            "--producers",
            "2",
            "--count",
            "400",
            "--json",
            "-q",
        ],
        DEADLINE,
    ));
    assert_eq!(produce["kind"], "produce");
    assert_eq!(produce["messages"], 400, "{produce}");
    assert_eq!(produce["errors"], 0, "{produce}");
    assert!(produce["msgs_per_sec"].as_f64().unwrap() > 0.0);

    let e2e = summary(&saturn_ok(
        &[
            "bench",
            "e2e",
            "--namesrv",
            &ns,
            "--topic",
            "BenchSmokeE2e",
            "--size",
            "128",
            "--producers",
            "1",
            "--consumers",
            "1",
            "--rate",
            "200",
            "--duration",
            "2",
            "--json",
            "-q",
        ],
        DEADLINE,
    ));
    assert_eq!(e2e["kind"], "e2e");
    assert_eq!(e2e["errors"], 0, "{e2e}");
    assert!(e2e["messages"].as_u64().unwrap() >= 200, "{e2e}");
}
