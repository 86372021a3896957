//! In-process name server + broker on 127.0.0.1:0 with a temp store, and wait helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saturn_broker::{Broker, BrokerConfig, BrokerHandle};
use saturn_client::{
    AdminClient, ClientConfig, ConsumeResult, MessageExt, MessageListener, TopicTarget,
};
use saturn_namesrv::{NameServer, NamesrvConfig, NamesrvHandle};
use tokio_util::sync::CancellationToken;

/// Bound for anything that should happen "soon"; only reached when a test fails.
pub const SOON: Duration = Duration::from_secs(30);

/// A name server and one broker registered with it.
pub struct Cluster {
    pub namesrv: String,
    pub broker_addr: String,
    token: CancellationToken,
    ns: NamesrvHandle,
    broker: BrokerHandle,
    _dir: tempfile::TempDir,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

impl Cluster {
    pub async fn start() -> Self {
        init_tracing();
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
                commit_log_segment_size: 4 * 1024 * 1024,
                index_max_hash_slots: 10_000,
                index_max_entries: 40_000,
                ..BrokerConfig::default()
            },
            token.clone(),
        )
        .await
        .unwrap();
        let broker_addr = broker.local_addr().to_string();
        let cluster = Cluster {
            namesrv,
            broker_addr,
            token,
            ns,
            broker,
            _dir: dir,
        };
        // Ready once the name server has the broker's template topic.
        let admin = cluster.admin().await;
        wait_async(SOON, "broker registered", || async {
            admin.route("TBW102").await.is_ok()
        })
        .await;
        admin.shutdown().await;
        cluster
    }

    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::new(&self.namesrv)
    }

    pub async fn admin(&self) -> AdminClient {
        AdminClient::start(self.client_config()).await.unwrap()
    }

    /// Creates `topic` with `queues` read/write queues and waits for its route.
    pub async fn create_topic(&self, topic: &str, queues: i32) {
        let admin = self.admin().await;
        admin
            .create_topic(
                topic,
                queues,
                queues,
                &TopicTarget::Cluster("DefaultCluster".into()),
            )
            .await
            .unwrap();
        wait_async(SOON, "topic route", || async {
            admin
                .route(topic)
                .await
                .is_ok_and(|r| r.queue_datas.iter().any(|q| q.write_queue_nums == queues))
        })
        .await;
        admin.shutdown().await;
    }

    pub async fn stop(self) {
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

/// Polls `cond` every 50 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`wait_until`] with an async condition.
pub async fn wait_async<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A listener that records every message it gets and answers with `result`.
#[derive(Clone)]
pub struct Collector {
    pub seen: Arc<Mutex<Vec<MessageExt>>>,
    result: Arc<dyn Fn(&MessageExt) -> ConsumeResult + Send + Sync>,
}

impl Collector {
    pub fn new() -> Self {
        Self::answering(|_| ConsumeResult::Success)
    }

    pub fn answering(f: impl Fn(&MessageExt) -> ConsumeResult + Send + Sync + 'static) -> Self {
        Self {
            seen: Arc::default(),
            result: Arc::new(f),
        }
    }

    pub fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn messages(&self) -> Vec<MessageExt> {
        self.seen.lock().unwrap().clone()
    }

    /// Times each body was received.
    pub fn body_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for msg in self.seen.lock().unwrap().iter() {
            *m.entry(String::from_utf8_lossy(&msg.body).into_owned())
                .or_default() += 1;
        }
        m
    }
}

impl MessageListener for Collector {
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult {
        let mut result = ConsumeResult::Success;
        for m in msgs {
            if (self.result)(m) == ConsumeResult::RetryLater {
                result = ConsumeResult::RetryLater;
            }
        }
        self.seen.lock().unwrap().extend(msgs.iter().cloned());
        result
    }
}
