//! `saturn admin`: topics, clusters, consumer progress and message lookup, printed as tables
//! (or JSON with --json).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use saturn_client::{AdminClient, ClientConfig, MessageExt, QueueProgress, TopicTarget};
use serde::Serialize;

use crate::output::{self, Table};

/// Options of `saturn admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Name server address(es), `host:port[;host:port...]`.
    #[arg(long, global = true, value_name = "ADDR", default_value = super::DEFAULT_NAMESRV)]
    pub namesrv: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Per-request timeout, milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 5000)]
    pub timeout_ms: u64,
    /// What to administer.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Areas of `saturn admin`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Topics: create, list, route, stats.
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Clusters and their brokers.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Consumer groups.
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Look up stored messages.
    #[command(subcommand)]
    Message(MessageCommand),
}

/// `saturn admin topic …`.
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create (or update) a topic on every broker of a cluster, or on one broker.
    Create {
        /// Topic name.
        #[arg(long, value_name = "TOPIC")]
        topic: String,
        /// Read and write queues per broker.
        #[arg(long, value_name = "N", default_value_t = 8)]
        queues: i32,
        /// Create on every master of this cluster (default DefaultCluster unless --broker).
        #[arg(long, value_name = "CLUSTER", conflicts_with = "broker")]
        cluster: Option<String>,
        /// Create on this broker only (`host:port`).
        #[arg(long, value_name = "ADDR")]
        broker: Option<String>,
    },
    /// List every topic known to the name server.
    List,
    /// Show which brokers serve a topic and with how many queues.
    Route {
        /// Topic name.
        #[arg(long, value_name = "TOPIC")]
        topic: String,
    },
    /// Show min/max offsets of every queue of a topic.
    Stats {
        /// Topic name.
        #[arg(long, value_name = "TOPIC")]
        topic: String,
    },
}

/// `saturn admin cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// List clusters, broker groups and broker addresses.
    List,
}

/// `saturn admin consumer …`.
#[derive(Debug, Subcommand)]
pub enum ConsumerCommand {
    /// Show a group's committed offset and lag on every queue it consumes.
    Progress {
        /// Consumer group.
        #[arg(long, value_name = "GROUP")]
        group: String,
    },
}

/// `saturn admin message …`.
#[derive(Debug, Subcommand)]
pub enum MessageCommand {
    /// Show a message by id: an offset message id (`offset_msg_id` of a send result), or — with
    /// `--topic` — the client message id (`msg_id`, the UNIQ_KEY every RocketMQ client prints).
    ById {
        /// Offset message id, or a client message id when --topic is given.
        id: String,
        /// Topic of the message; needed to look up a client message id (UNIQ_KEY).
        #[arg(long, value_name = "TOPIC")]
        topic: Option<String>,
    },
    /// Show the messages of a topic carrying this key (from the broker's index).
    ByKey {
        /// Topic name.
        topic: String,
        /// Message key.
        key: String,
    },
}

/// Cluster of `topic create` without --cluster or --broker.
const DEFAULT_CLUSTER: &str = "DefaultCluster";

/// Runs one admin command.
///
/// # Errors
/// When the name server or a broker cannot be reached or answers with an error.
pub async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    let mut client = ClientConfig::new(&args.namesrv);
    client.request_timeout = Duration::from_millis(args.timeout_ms);
    let admin = AdminClient::start(client)
        .await
        .context("cannot start the admin client")?;
    let result = dispatch(&admin, &args).await;
    admin.shutdown().await;
    result
}

async fn dispatch(admin: &AdminClient, args: &AdminArgs) -> anyhow::Result<ExitCode> {
    let json = args.json;
    match &args.command {
        AdminCommand::Topic(TopicCommand::Create {
            topic,
            queues,
            cluster,
            broker,
        }) => {
            topic_create(
                admin,
                json,
                topic,
                *queues,
                cluster.as_deref(),
                broker.as_deref(),
            )
            .await
        }
        AdminCommand::Topic(TopicCommand::List) => topic_list(admin, json).await,
        AdminCommand::Topic(TopicCommand::Route { topic }) => topic_route(admin, json, topic).await,
        AdminCommand::Topic(TopicCommand::Stats { topic }) => topic_stats(admin, json, topic).await,
        AdminCommand::Cluster(ClusterCommand::List) => cluster_list(admin, json).await,
        AdminCommand::Consumer(ConsumerCommand::Progress { group }) => {
            consumer_progress(admin, json, group).await
        }
        AdminCommand::Message(MessageCommand::ById { id, topic }) => {
            message_by_id(admin, json, id, topic.as_deref()).await
        }
        AdminCommand::Message(MessageCommand::ByKey { topic, key }) => {
            message_by_key(admin, json, topic, key).await
        }
    }
}

async fn topic_create(
    admin: &AdminClient,
    json: bool,
    topic: &str,
    queues: i32,
    cluster: Option<&str>,
    broker: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let target = match (broker, cluster) {
        (Some(addr), _) => TopicTarget::Broker(addr.to_owned()),
        (None, cluster) => TopicTarget::Cluster(cluster.unwrap_or(DEFAULT_CLUSTER).to_owned()),
    };
    let brokers = admin
        .create_topic(topic, queues, queues, &target)
        .await
        .with_context(|| format!("cannot create topic {topic} on {target:?}"))?;
    // Brokers re-register a new topic with the name servers right away, but asynchronously;
    // report success once clients can actually find the route.
    if !routable(admin, topic, queues).await {
        tracing::warn!(
            topic,
            "created, but the name server does not list the route yet"
        );
    }
    if json {
        output::print_json_line(&serde_json::json!({
            "topic": topic, "queues": queues, "brokers": brokers,
        }))?;
    } else {
        output::print_line(&format!(
            "topic {topic} created with {queues} queues on {}",
            brokers.join(", ")
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How long `topic create` waits for the new route to appear on the name server.
const ROUTE_DEADLINE: Duration = Duration::from_secs(10);

/// Polls the route of `topic` until it shows `queues` write queues, or [`ROUTE_DEADLINE`].
async fn routable(admin: &AdminClient, topic: &str, queues: i32) -> bool {
    let end = tokio::time::Instant::now() + ROUTE_DEADLINE;
    loop {
        let listed = admin
            .route(topic)
            .await
            .is_ok_and(|r| r.queue_datas.iter().any(|q| q.write_queue_nums == queues));
        if listed {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn topic_list(admin: &AdminClient, json: bool) -> anyhow::Result<ExitCode> {
    let mut topics = admin.topic_list().await.context("cannot list topics")?;
    topics.sort();
    if json {
        output::print_json_pretty(&topics)?;
    } else {
        let mut table = Table::new(&["TOPIC"]);
        for topic in topics {
            table.row(vec![topic]);
        }
        table.print()?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn topic_route(admin: &AdminClient, json: bool, topic: &str) -> anyhow::Result<ExitCode> {
    let route = admin
        .route(topic)
        .await
        .with_context(|| format!("cannot get the route of topic {topic}"))?;
    if json {
        output::print_json_pretty(&route)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "BROKER",
        "CLUSTER",
        "ADDRESS",
        "READ_QUEUES",
        "WRITE_QUEUES",
        "PERM",
    ]);
    for queue in &route.queue_datas {
        let broker = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == queue.broker_name);
        table.row(vec![
            queue.broker_name.clone(),
            broker.map(|b| b.cluster.clone()).unwrap_or_default(),
            broker
                .and_then(|b| b.master_addr())
                .unwrap_or("-")
                .to_owned(),
            queue.read_queue_nums.to_string(),
            queue.write_queue_nums.to_string(),
            perm_text(queue.perm),
        ]);
    }
    table.print()?;
    Ok(ExitCode::SUCCESS)
}

/// `rw-`-style text of permission bits (read 4, write 2, inherit 1).
pub fn perm_text(perm: i32) -> String {
    let bit = |mask: i32, c: char| if perm & mask != 0 { c } else { '-' };
    [bit(4, 'r'), bit(2, 'w'), bit(1, 'x')].iter().collect()
}

async fn topic_stats(admin: &AdminClient, json: bool, topic: &str) -> anyhow::Result<ExitCode> {
    let stats = admin
        .topic_stats(topic)
        .await
        .with_context(|| format!("cannot get stats of topic {topic}"))?;
    if json {
        let rows: Vec<_> = stats
            .iter()
            .map(|q| {
                serde_json::json!({
                    "broker_name": q.queue.broker_name, "queue_id": q.queue.queue_id,
                    "min_offset": q.min_offset, "max_offset": q.max_offset,
                    "last_update_timestamp": q.last_update_timestamp,
                })
            })
            .collect();
        output::print_json_pretty(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "BROKER",
        "QUEUE",
        "MIN_OFFSET",
        "MAX_OFFSET",
        "LAST_UPDATE_MS",
    ]);
    let mut total = 0i64;
    for q in &stats {
        total = total.saturating_add(q.max_offset.saturating_sub(q.min_offset));
        table.row(vec![
            q.queue.broker_name.clone(),
            q.queue.queue_id.to_string(),
            q.min_offset.to_string(),
            q.max_offset.to_string(),
            q.last_update_timestamp.to_string(),
        ]);
    }
    table.print()?;
    output::print_line(&format!("total messages: {total}"))?;
    Ok(ExitCode::SUCCESS)
}

async fn cluster_list(admin: &AdminClient, json: bool) -> anyhow::Result<ExitCode> {
    let info = admin
        .cluster_info()
        .await
        .context("cannot get cluster info")?;
    if json {
        output::print_json_pretty(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["CLUSTER", "BROKER", "ID", "ADDRESS"]);
    for (cluster, names) in &info.cluster_addr_table {
        for name in names {
            let Some(broker) = info.broker_addr_table.get(name) else {
                table.row(vec![cluster.clone(), name.clone(), "-".into(), "-".into()]);
                continue;
            };
            for (id, addr) in &broker.broker_addrs {
                table.row(vec![
                    cluster.clone(),
                    name.clone(),
                    id.to_string(),
                    addr.clone(),
                ]);
            }
        }
    }
    table.print()?;
    Ok(ExitCode::SUCCESS)
}

async fn consumer_progress(
    admin: &AdminClient,
    json: bool,
    group: &str,
) -> anyhow::Result<ExitCode> {
    let progress: Vec<QueueProgress> = admin
        .consumer_progress(group)
        .await
        .with_context(|| format!("cannot get progress of group {group}"))?;
    let total: i64 = progress.iter().map(|q| q.lag.max(0)).sum();
    if json {
        let rows: Vec<_> = progress
            .iter()
            .map(|q| {
                serde_json::json!({
                    "topic": q.queue.topic, "broker_name": q.queue.broker_name,
                    "queue_id": q.queue.queue_id, "broker_offset": q.broker_offset,
                    "consumer_offset": q.consumer_offset, "lag": q.lag,
                    "last_timestamp": q.last_timestamp,
                })
            })
            .collect();
        output::print_json_pretty(
            &serde_json::json!({ "group": group, "queues": rows, "total_lag": total }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "TOPIC",
        "BROKER",
        "QUEUE",
        "BROKER_OFFSET",
        "CONSUMER_OFFSET",
        "LAG",
    ]);
    for q in &progress {
        table.row(vec![
            q.queue.topic.clone(),
            q.queue.broker_name.clone(),
            q.queue.queue_id.to_string(),
            q.broker_offset.to_string(),
            q.consumer_offset.to_string(),
            q.lag.to_string(),
        ]);
    }
    table.print()?;
    output::print_line(&format!("total lag: {total}"))?;
    Ok(ExitCode::SUCCESS)
}

/// A looked-up message as printed with --json.
#[derive(Debug, Serialize)]
struct FoundMessage<'a> {
    msg_id: &'a str,
    offset_msg_id: &'a str,
    topic: &'a str,
    tag: Option<&'a str>,
    keys: Option<&'a str>,
    queue_id: i32,
    offset: i64,
    born_timestamp: i64,
    store_timestamp: i64,
    reconsume_times: i32,
    body: String,
}

impl<'a> From<&'a MessageExt> for FoundMessage<'a> {
    fn from(m: &'a MessageExt) -> Self {
        FoundMessage {
            msg_id: &m.msg_id,
            offset_msg_id: &m.offset_msg_id,
            topic: &m.topic,
            tag: m.tags.as_deref(),
            keys: m.keys.as_deref(),
            queue_id: m.queue_id,
            offset: m.queue_offset,
            born_timestamp: m.born_timestamp,
            store_timestamp: m.store_timestamp,
            reconsume_times: m.reconsume_times,
            body: String::from_utf8_lossy(&m.body).into_owned(),
        }
    }
}

fn print_messages(json: bool, messages: &[MessageExt]) -> anyhow::Result<()> {
    if json {
        for m in messages {
            output::print_json_line(&FoundMessage::from(m))?;
        }
        return Ok(());
    }
    for m in messages {
        output::print_line(&format!(
            "msg_id={} offset_msg_id={} topic={} queue={} offset={} tag={} keys={} store_time_ms={} reconsume_times={} body={}",
            m.msg_id,
            m.offset_msg_id,
            m.topic,
            m.queue_id,
            m.queue_offset,
            m.tags.as_deref().unwrap_or("-"),
            m.keys.as_deref().unwrap_or("-"),
            m.store_timestamp,
            m.reconsume_times,
            output::display_body(&m.body),
        ))?;
    }
    Ok(())
}

async fn message_by_id(
    admin: &AdminClient,
    json: bool,
    id: &str,
    topic: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let messages = admin
        .find_message(id, topic)
        .await
        .with_context(|| format!("cannot find message {id}"))?;
    if messages.is_empty() {
        eprintln!("no message with id {id}");
        return Ok(ExitCode::FAILURE);
    }
    print_messages(json, &messages)?;
    Ok(ExitCode::SUCCESS)
}

async fn message_by_key(
    admin: &AdminClient,
    json: bool,
    topic: &str,
    key: &str,
) -> anyhow::Result<ExitCode> {
    let messages = admin
        .query_by_key(topic, key)
        .await
        .with_context(|| format!("cannot query topic {topic} by key {key}"))?;
    if messages.is_empty() {
        eprintln!("no message of topic {topic} has key {key}");
        return Ok(ExitCode::FAILURE);
    }
    print_messages(json, &messages)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_print_like_ls() {
        assert_eq!(perm_text(6), "rw-");
        assert_eq!(perm_text(4), "r--");
        assert_eq!(perm_text(7), "rwx");
    }
}
