//! Saturn broker: serves RocketMQ 4.x remoting clients (Java, C++, rocketmq-client-rust) on top of
//! [`saturn_store::MessageStore`].
//!
//! Map of the crate (the path of a request):
//! - [`Broker::start`] opens the store and the config files, binds the listener and starts the
//!   background tasks; [`BrokerHandle::join`] waits for the shutdown (server drained, name
//!   servers told, offsets and configs saved, store closed).
//! - [`dispatch`]: the one `match` from request code to processor, and the remoting handler.
//! - [`processor`]: one file per request family (send, pull, offset, client, query, admin,
//!   stats, transaction, lock, send_back).
//! - State the processors share, each in its own module: [`topic_config`] (topic table, system
//!   topics, auto-creation), [`client_manager`] (consumer/producer groups, membership
//!   notifications), [`consumer_offsets`], [`subscription_groups`], [`long_poll`] (held pulls),
//!   [`state`] (wiring, identity, counters); [`persist`] writes their JSON files atomically.
//! - [`registration`]: REGISTER_BROKER / UNREGISTER_BROKER with every name server.
//! - [`config`] ([`BrokerConfig`], TOML and `broker.conf`), [`error`].

pub mod client_manager;
pub mod config;
pub mod consumer_offsets;
pub mod dispatch;
pub mod error;
pub mod long_poll;
pub mod persist;
pub mod processor;
pub mod registration;
pub mod state;
pub mod subscription_groups;
pub mod topic_config;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use saturn_remoting::{Server, ServerConfig};
use saturn_store::{FlushMode, MessageStore, StoreConfig, StoreError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{BrokerConfig, ConfigError, FlushDiskType};
pub use error::{BrokerError, RequestError};

use crate::client_manager::ClientManager;
use crate::consumer_offsets::ConsumerOffsets;
use crate::dispatch::{BrokerHandler, Processors};
use crate::long_poll::LongPoll;
use crate::state::{Identity, Shared, Stats, STATS_SAMPLE_PERIOD};
use crate::subscription_groups::SubscriptionGroups;
use crate::topic_config::TopicConfigs;

/// How often expired client channels are looked for.
const CLIENT_SCAN_PERIOD: Duration = Duration::from_secs(10);
/// How often unused long-poll signals are dropped.
const LONG_POLL_SWEEP_PERIOD: Duration = Duration::from_secs(30);
/// How long [`Broker::start`] retries a store directory still locked by a broker that is
/// shutting down.
const STORE_LOCK_WAIT: Duration = Duration::from_secs(5);

/// Entry point: see [`Broker::start`].
#[derive(Debug)]
pub struct Broker;

/// A running broker.
#[derive(Debug)]
pub struct BrokerHandle {
    local_addr: SocketAddr,
    store_host: SocketAddr,
    task: JoinHandle<Result<(), BrokerError>>,
}

impl Broker {
    /// Starts a broker: validates `config`, opens (and if needed recovers) the store, loads the
    /// topic, offset and group files, binds `config.listen` and serves until `shutdown` is
    /// cancelled.
    ///
    /// # Errors
    /// Invalid config, store open failure, unreadable config files, bind failure.
    pub async fn start(
        config: BrokerConfig,
        shutdown: CancellationToken,
    ) -> Result<BrokerHandle, BrokerError> {
        config.validate()?;
        let config = Arc::new(config);
        let store = Arc::new(open_store(&config).await?);
        let (topics, offsets, groups) = {
            let c = Arc::clone(&config);
            tokio::task::spawn_blocking(move || load_tables(&c))
                .await
                .map_err(|e| BrokerError::Task(e.to_string()))??
        };
        let listener = TcpListener::bind(config.listen).await.map_err(|source| {
            BrokerError::Remoting(saturn_remoting::RemotingError::Bind {
                addr: config.listen,
                source,
            })
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BrokerError::Remoting(saturn_remoting::RemotingError::Io(e)))?;
        let identity = Arc::new(Identity {
            cluster: config.cluster.clone(),
            broker_name: config.broker_name.clone(),
            broker_id: config.broker_id,
            store_host: SocketAddr::new(config.advertised_ip(), local_addr.port()),
        });
        let shared = Shared {
            config: Arc::clone(&config),
            identity: Arc::clone(&identity),
            store,
            topics: Arc::new(topics),
            groups: Arc::new(groups),
            clients: Arc::new(ClientManager::new(Duration::from_millis(
                config.channel_expired_ms,
            ))),
            offsets: Arc::new(offsets),
            long_poll: Arc::new(LongPoll::new(shutdown.clone())),
            stats: Arc::new(Stats::default()),
        };
        let handler = BrokerHandler::new(
            Arc::new(Processors::new(&shared)),
            Arc::clone(&shared.clients),
        );
        let server = Server::from_listener(listener, ServerConfig::default(), Arc::new(handler))?;
        tracing::info!(
            listen = %local_addr,
            store_host = %identity.store_host,
            cluster = %identity.cluster,
            broker = %identity.broker_name,
            "broker started"
        );
        let task = tokio::spawn(run(shared, server, shutdown));
        Ok(BrokerHandle {
            local_addr,
            store_host: identity.store_host,
            task,
        })
    }
}

impl BrokerHandle {
    /// The address the broker listens on (the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address written into records and offset message ids, and registered with the name
    /// servers (advertised IP + listen port).
    pub fn store_host(&self) -> SocketAddr {
        self.store_host
    }

    /// Waits until the broker has shut down (after the `shutdown` token given to
    /// [`Broker::start`] is cancelled): connections drained, name servers told, consumer
    /// offsets and configs saved, store flushed and closed.
    ///
    /// # Errors
    /// Saving or closing failed, or a broker task panicked.
    pub async fn join(self) -> Result<(), BrokerError> {
        self.task
            .await
            .map_err(|e| BrokerError::Task(e.to_string()))?
    }
}

fn store_config(c: &BrokerConfig) -> StoreConfig {
    StoreConfig {
        store_path: c.store_root_dir.clone(),
        commit_log_segment_size: c.commit_log_segment_size,
        index_slots: c.index_max_hash_slots,
        index_max_entries: c.index_max_entries,
        flush_mode: match c.flush_disk_type {
            FlushDiskType::AsyncFlush => FlushMode::Async,
            FlushDiskType::SyncFlush => FlushMode::Sync,
        },
        sync_flush_timeout_ms: c.sync_flush_timeout_ms,
        flush_interval_ms: c.flush_interval_ms,
        warm_segments: c
            .warm_mapped_file
            .unwrap_or(c.flush_disk_type == FlushDiskType::SyncFlush),
        file_reserved_hours: c.file_reserved_time_hours,
        disk_max_used_ratio: f64::from(c.disk_max_used_space_ratio) / 100.0,
        max_message_size: c.max_message_size,
        ..StoreConfig::default()
    }
}

/// Opens the store on a blocking thread (recovery reads files); retries for a while when the
/// directory is still locked by a broker that is shutting down.
async fn open_store(config: &BrokerConfig) -> Result<MessageStore, BrokerError> {
    let deadline = tokio::time::Instant::now() + STORE_LOCK_WAIT;
    loop {
        let sc = store_config(config);
        let opened = tokio::task::spawn_blocking(move || MessageStore::open(sc))
            .await
            .map_err(|e| BrokerError::Task(e.to_string()))?;
        match opened {
            Err(StoreError::Locked { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return Ok(other?),
        }
    }
}

fn load_tables(
    c: &BrokerConfig,
) -> Result<(TopicConfigs, ConsumerOffsets, SubscriptionGroups), BrokerError> {
    let dir = c.config_dir();
    let topics = TopicConfigs::load(
        dir.clone(),
        &c.cluster,
        &c.broker_name,
        c.auto_create_topic,
        c.default_topic_queue_nums,
    )?;
    let offsets = ConsumerOffsets::load(dir.clone())?;
    let groups = SubscriptionGroups::load(dir)?;
    Ok((topics, offsets, groups))
}

/// The broker's life after start: serve, maintain, then shut down in order.
async fn run(
    shared: Shared,
    server: Server,
    shutdown: CancellationToken,
) -> Result<(), BrokerError> {
    let server_task = tokio::spawn(server.run(shutdown.clone()));
    let registration = tokio::spawn(registration::run(
        registration::Registration {
            namesrv_addrs: shared.config.namesrv_addrs.clone(),
            identity: Arc::clone(&shared.identity),
            topics: Arc::clone(&shared.topics),
            period: shared.config.register_period(),
            timeout: Duration::from_millis(shared.config.register_timeout_ms),
        },
        shutdown.clone(),
    ));
    let maintenance = tokio::spawn(maintain(shared.clone(), shutdown.clone()));

    let served = server_task.await;
    // Whatever ended the server, everything else stops too.
    shutdown.cancel();
    let _ = registration.await;
    let _ = maintenance.await;
    let served = served
        .map_err(|e| BrokerError::Task(e.to_string()))
        .and_then(|r| r.map_err(BrokerError::from));
    let saved = save_and_close(shared).await;
    tracing::info!("broker stopped");
    served.and(saved)
}

/// Periodic work: offset flush, client expiry, counters, long-poll sweep.
async fn maintain(s: Shared, shutdown: CancellationToken) {
    let mut offsets_tick =
        tokio::time::interval(Duration::from_millis(s.config.offset_flush_interval_ms));
    let mut clients_tick = tokio::time::interval(CLIENT_SCAN_PERIOD);
    let mut stats_tick = tokio::time::interval(STATS_SAMPLE_PERIOD);
    let mut sweep_tick = tokio::time::interval(LONG_POLL_SWEEP_PERIOD);
    for t in [
        &mut offsets_tick,
        &mut clients_tick,
        &mut stats_tick,
        &mut sweep_tick,
    ] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = offsets_tick.tick() => {
                let offsets = Arc::clone(&s.offsets);
                match tokio::task::spawn_blocking(move || offsets.flush()).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "saving consumer offsets failed"),
                    Err(e) => tracing::warn!(error = %e, "consumer offset save task failed"),
                    Ok(Ok(())) => {}
                }
            }
            _ = clients_tick.tick() => {
                let n = s.clients.scan_expired();
                if n > 0 {
                    tracing::info!(dropped = n, "expired client channels dropped");
                }
            }
            _ = stats_tick.tick() => s.stats.sample(),
            _ = sweep_tick.tick() => s.long_poll.sweep(),
        }
    }
}

/// Saves offsets and configs and closes the store, on a blocking thread.
async fn save_and_close(s: Shared) -> Result<(), BrokerError> {
    tokio::task::spawn_blocking(move || {
        let offsets = s.offsets.flush();
        let topics = s.topics.save_now();
        let groups = s.groups.save_now();
        let store = s.store.close().map_err(BrokerError::from);
        for r in [&offsets, &topics, &groups, &store] {
            if let Err(e) = r {
                tracing::error!(error = %e, "shutdown step failed");
            }
        }
        offsets.and(topics).and(groups).and(store)
    })
    .await
    .map_err(|e| BrokerError::Task(e.to_string()))?
}
