//! Smoke run of `saturn bench` against an in-process name server and broker (also the CI
//! smoke run): produce (sync, async, batch), consume everything back, and a short paced e2e.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use clap::Parser;
use saturn_bench::{execute, BenchArgs, BenchError, Summary};
use saturn_broker::{Broker, BrokerConfig, BrokerHandle};
use saturn_client::{AdminClient, ClientConfig};
use saturn_namesrv::{NameServer, NamesrvConfig, NamesrvHandle};
use tokio_util::sync::CancellationToken;

/// Bound for anything that should take a second or two; only reached when the test fails.
const SOON: Duration = Duration::from_secs(30);

struct Cluster {
    namesrv: String,
    token: CancellationToken,
    ns: NamesrvHandle,
    broker: BrokerHandle,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let token = CancellationToken::new();
        let ns = NameServer::start(
            NamesrvConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..NamesrvConfig::default()
            },
            token.clone(),
        )
        .await
        .unwrap();
        let namesrv = ns.local_addr().to_string();
        let broker = Broker::start(
            BrokerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                namesrv_addrs: vec![namesrv.clone()],
                store_root_dir: dir.path().to_owned(),
                commit_log_segment_size: 16 * 1024 * 1024,
                index_max_hash_slots: 10_000,
                index_max_entries: 40_000,
                ..BrokerConfig::default()
            },
            token.clone(),
        )
        .await
        .unwrap();
        // Ready once the name server has the broker's template topic.
        let admin = AdminClient::start(ClientConfig::new(&namesrv))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + SOON;
        while admin.route("TBW102").await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "broker never registered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        admin.shutdown().await;
        Self {
            namesrv,
            token,
            ns,
            broker,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(SOON, self.broker.join())
            .await
            .expect("broker did not stop")
            .unwrap();
        tokio::time::timeout(SOON, self.ns.join())
            .await
            .expect("name server did not stop")
            .unwrap();
    }
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Runs `saturn bench <args> --namesrv <ns> --quiet` through the library.
async fn bench(namesrv: &str, args: &[&str]) -> Result<Summary, BenchError> {
    let mut argv = vec!["bench"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--namesrv", namesrv, "--quiet"]);
    let cli = Cli::try_parse_from(argv).unwrap();
    tokio::time::timeout(SOON, execute(cli.bench.kind))
        .await
        .expect("benchmark did not finish")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_consume_and_e2e() {
    let cluster = Cluster::start().await;
    let ns = cluster.namesrv.clone();

    // Nothing to consume yet: a clear error rather than a silent idle run.
    let err = bench(
        &ns,
        &["consume", "--topic", "BenchSmoke", "--duration", "1"],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BenchError::Topic { .. }), "{err}");

    let sync = bench(
        &ns,
        &[
            "produce",
            "--topic",
            "BenchSmoke",
            "--queues",
            "4",
            "--size",
            "100",
            "--producers",
            "2",
            "--count",
            "300",
        ],
    )
    .await
    .unwrap();
    assert_eq!((sync.messages, sync.errors), (300, 0), "{sync:?}");
    assert_eq!(sync.bytes, 300 * 100);
    assert!(sync.latency_us.p50 > 0 && sync.latency_us.max >= sync.latency_us.p99);

    let batched = bench(
        &ns,
        &[
            "produce",
            "--topic",
            "BenchSmoke",
            "--size",
            "100",
            "--batch",
            "10",
            "--count",
            "200",
        ],
    )
    .await
    .unwrap();
    assert_eq!((batched.messages, batched.errors), (200, 0), "{batched:?}");
    assert_eq!(
        batched.latency_us.samples, 20,
        "one sample per batch request"
    );

    let timed = bench(
        &ns,
        &[
            "produce",
            "--topic",
            "BenchSmoke",
            "--size",
            "100",
            "--producers",
            "2",
            "--mode",
            "async",
            "--inflight",
            "8",
            "--duration",
            "1",
        ],
    )
    .await
    .unwrap();
    assert!(timed.messages > 0 && timed.errors == 0, "{timed:?}");
    assert!((0.9..5.0).contains(&timed.seconds), "{timed:?}");

    // Everything sent comes back to a new group reading from the start.
    let total = sync.messages + batched.messages + timed.messages;
    let total_arg = total.to_string();
    let consumed = bench(
        &ns,
        &[
            "consume",
            "--topic",
            "BenchSmoke",
            "--group",
            "smoke_readers",
            "--consumers",
            "2",
            "--from",
            "first",
            "--count",
            &total_arg,
            "--duration",
            "20",
        ],
    )
    .await
    .unwrap();
    assert!(consumed.messages >= total, "{consumed:?} < {total}");
    assert!(
        consumed.seconds < 20.0,
        "count reached before the time limit: {consumed:?}"
    );
    assert!(consumed.bytes >= total * 100);

    let e2e = bench(
        &ns,
        &[
            "e2e",
            "--topic",
            "BenchE2e",
            "--size",
            "64",
            "--producers",
            "2",
            "--consumers",
            "2",
            "--rate",
            "400",
            "--duration",
            "1",
        ],
    )
    .await
    .unwrap();
    let sent = e2e.sent.unwrap();
    // 400 msg/s for 1 s: the schedule has exactly 400 sends.
    assert_eq!(sent, 400, "{e2e:?}");
    assert_eq!((e2e.errors, e2e.lost), (0, Some(0)), "{e2e:?}");
    assert!(e2e.messages >= sent, "{e2e:?}");
    assert!(e2e.latency_us.p50 > 0 && e2e.send_latency_us.unwrap().p50 > 0);

    cluster.stop().await;
}
