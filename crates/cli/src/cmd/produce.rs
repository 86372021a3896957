//! `saturn produce`: send messages and print each send result.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use saturn_client::{Message, Producer, ProducerConfig, SendResult, SendStatus};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::output;

/// Options of `saturn produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Name server address(es), `host:port[;host:port...]`.
    #[arg(long, value_name = "ADDR", default_value = super::DEFAULT_NAMESRV)]
    pub namesrv: String,
    /// Topic to send to (created on first send when the broker allows auto-creation).
    #[arg(long, value_name = "TOPIC")]
    pub topic: String,
    /// Tag of every message (consumers filter on it).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Key of every message (indexed: `saturn admin message by-key TOPIC KEY` finds them). With
    /// --count N every message gets exactly this key, nothing appended.
    #[arg(long, value_name = "KEY")]
    pub keys: Option<String>,
    /// Number of messages to send.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: u64,
    /// Body size in bytes when --body is not given; bodies are `msg-<i>-` followed by `x`
    /// padding (cut to SIZE), so each message is distinct.
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    pub size: usize,
    /// Body text of every message (instead of generated bodies of --size bytes).
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
    /// Producer group name.
    #[arg(long, value_name = "GROUP", default_value = "saturn-cli-producer")]
    pub group: String,
    /// Sends in flight at once (1 = one after another, results in send order; more = faster,
    /// results in completion order).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub inflight: u32,
    /// Per-request timeout, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub timeout_ms: u64,
    /// Print one JSON object per message: status, msg_id, offset_msg_id, topic, broker_name,
    /// queue_id, offset.
    #[arg(long)]
    pub json: bool,
    /// Print no per-message lines, only the summary (on stderr).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// One send result as printed with --json.
#[derive(Debug, Serialize)]
pub struct SentLine<'a> {
    /// Index of the message in this run, from 0.
    pub i: u64,
    /// SEND_OK, FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE.
    pub status: &'a str,
    /// Client-generated unique id (UNIQ_KEY).
    pub msg_id: &'a str,
    /// Broker-assigned id encoding store host and commit-log offset.
    pub offset_msg_id: &'a str,
    /// Topic.
    pub topic: &'a str,
    /// Broker group that stored it.
    pub broker_name: &'a str,
    /// Queue id.
    pub queue_id: i32,
    /// Offset within the queue.
    pub offset: i64,
}

/// The body of message `i`: the --body text or `msg-<i>-xxxx…` of `size` bytes.
pub fn body_of(args: &ProduceArgs, i: u64) -> Bytes {
    if let Some(text) = &args.body {
        return Bytes::from(text.clone().into_bytes());
    }
    let mut body = format!("msg-{i}-").into_bytes();
    body.resize(args.size, b'x');
    Bytes::from(body)
}

fn message_of(args: &ProduceArgs, i: u64) -> Message {
    let mut message = Message::new(args.topic.clone(), body_of(args, i));
    message.tags = args.tag.clone();
    if let Some(key) = &args.keys {
        message.keys = vec![key.clone()];
    }
    message
}

/// Name of a send status as RocketMQ prints it.
pub fn status_name(result: &SendResult) -> &'static str {
    match result.status {
        SendStatus::SendOk => "SEND_OK",
        SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
    }
}

fn print_result(args: &ProduceArgs, i: u64, result: &SendResult) -> anyhow::Result<()> {
    if args.quiet {
        return Ok(());
    }
    let status = status_name(result);
    if args.json {
        output::print_json_line(&SentLine {
            i,
            status,
            msg_id: &result.msg_id,
            offset_msg_id: &result.offset_msg_id,
            topic: &result.queue.topic,
            broker_name: &result.queue.broker_name,
            queue_id: result.queue.queue_id,
            offset: result.queue_offset,
        })
    } else {
        output::print_line(&format!(
            "{status} msg_id={} offset_msg_id={} queue={}:{} offset={}",
            result.msg_id,
            result.offset_msg_id,
            result.queue.broker_name,
            result.queue.queue_id,
            result.queue_offset
        ))
    }
}

/// Sends the messages; the first failed send stops the run with an error.
///
/// # Errors
/// When the producer cannot start or a send fails.
pub async fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let mut config = ProducerConfig::new(&args.namesrv, args.group.clone());
    config.client.request_timeout = Duration::from_millis(args.timeout_ms);
    config.send_timeout = Duration::from_millis(args.timeout_ms);
    let producer = Arc::new(
        Producer::start(config)
            .await
            .context("cannot start the producer")?,
    );
    let args = Arc::new(args);
    let started = Instant::now();
    let outcome = send_all(&producer, &args).await;
    let elapsed = started.elapsed();
    if let Ok(producer) = Arc::try_unwrap(producer) {
        producer.shutdown().await;
    }
    let sent = outcome?;
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "sent {sent} messages in {:.3} s ({:.0} msg/s)",
        elapsed.as_secs_f64(),
        sent as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}

async fn send_all(producer: &Arc<Producer>, args: &Arc<ProduceArgs>) -> anyhow::Result<u64> {
    let mut in_flight = JoinSet::new();
    let mut next = 0u64;
    let mut sent = 0u64;
    let limit = usize::try_from(args.inflight).unwrap_or(1);
    while sent < args.count {
        while next < args.count && in_flight.len() < limit {
            let producer = Arc::clone(producer);
            let message = message_of(args, next);
            let i = next;
            in_flight.spawn(async move { (i, producer.send(message).await) });
            next += 1;
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (i, result) = joined.context("send task failed")?;
        let result = result.with_context(|| format!("send of message {i} failed"))?;
        print_result(args, i, &result)?;
        sent += 1;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ProduceArgs,
    }

    #[test]
    fn generated_bodies_have_the_requested_size_and_differ() {
        let w = Wrapper::try_parse_from(["t", "--topic", "T", "--size", "16"]).unwrap();
        let a = body_of(&w.args, 1);
        let b = body_of(&w.args, 2);
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(a.starts_with(b"msg-1-"));
        let w = Wrapper::try_parse_from(["t", "--topic", "T", "--size", "3"]).unwrap();
        assert_eq!(body_of(&w.args, 12345).len(), 3);
    }

    #[test]
    fn body_text_wins_over_size() {
        let w = Wrapper::try_parse_from(["t", "--topic", "T", "--body", "hello"]).unwrap();
        assert_eq!(&body_of(&w.args, 7)[..], b"hello");
    }
}
