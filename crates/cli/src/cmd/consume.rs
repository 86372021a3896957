//! `saturn consume`: a push consumer that prints the messages it receives.
//!
//! The client library calls the listener on its own tasks; the listener hands messages to this
//! command's main task over a channel, and the main task prints them, counts them and watches
//! the idle timeout.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use saturn_client::{
    ConsumeFrom, ConsumeResult, MessageExt, MessageListener, MessageModel, PushConsumer,
    PushConsumerConfig,
};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::output;

/// Where a group without a committed offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartFrom {
    /// The oldest message still stored.
    First,
    /// Only messages sent from now on.
    Last,
}

/// Options of `saturn consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Name server address(es), `host:port[;host:port...]`.
    #[arg(long, value_name = "ADDR", default_value = super::DEFAULT_NAMESRV)]
    pub namesrv: String,
    /// Topic to subscribe to.
    #[arg(long, value_name = "TOPIC")]
    pub topic: String,
    /// Consumer group (members of a group share the queues, unless --broadcast).
    #[arg(long, value_name = "GROUP")]
    pub group: String,
    /// Tag filter: `*` (all), `TagA`, or `TagA || TagB`.
    #[arg(long, value_name = "EXPR", default_value = "*")]
    pub tag_expr: String,
    /// Exit after this many messages (exit code 0); without it, run until the timeout. A
    /// message reaching the consumer just as the count is reached is not printed and is handed
    /// back to the broker for redelivery (clustering).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit after this many seconds without a new message (an idle timeout, reset by every
    /// message). Exit code 1 if it hits before --count messages arrived.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Where a group without committed offsets starts: `first` (oldest stored message) or
    /// `last` (only new messages). A group with committed offsets resumes from them.
    #[arg(long, value_enum, value_name = "WHERE", default_value = "last")]
    pub from: StartFrom,
    /// Broadcasting: every consumer of the group receives every message (offsets are kept per
    /// consumer, not per group).
    #[arg(long)]
    pub broadcast: bool,
    /// With --broadcast: directory of the local offset file `<group>.json` (default
    /// ~/.saturn/offsets). Give each broadcasting consumer on one machine its own.
    #[arg(long, value_name = "DIR", requires = "broadcast")]
    pub offset_dir: Option<std::path::PathBuf>,
    /// Print one JSON object per message: msg_id, offset_msg_id, topic, tag, keys, body
    /// (UTF-8, invalid bytes replaced), broker_name, queue_id, offset, reconsume_times.
    #[arg(long)]
    pub json: bool,
}

/// One received message as printed with --json.
#[derive(Debug, Serialize)]
pub struct ReceivedLine<'a> {
    /// Client unique id (UNIQ_KEY), or the offset id when the producer set none.
    pub msg_id: &'a str,
    /// Broker-assigned offset id.
    pub offset_msg_id: &'a str,
    /// Topic.
    pub topic: &'a str,
    /// Tag, if any.
    pub tag: Option<&'a str>,
    /// Keys (space-separated), if any.
    pub keys: Option<&'a str>,
    /// Body as UTF-8 (invalid bytes replaced by U+FFFD).
    pub body: String,
    /// Broker group that stored it.
    pub broker_name: &'a str,
    /// Queue id.
    pub queue_id: i32,
    /// Offset within the queue.
    pub offset: i64,
    /// How many times it was redelivered.
    pub reconsume_times: i32,
}

impl<'a> From<&'a MessageExt> for ReceivedLine<'a> {
    fn from(m: &'a MessageExt) -> Self {
        ReceivedLine {
            msg_id: &m.msg_id,
            offset_msg_id: &m.offset_msg_id,
            topic: &m.topic,
            tag: m.tags.as_deref(),
            keys: m.keys.as_deref(),
            body: String::from_utf8_lossy(&m.body).into_owned(),
            broker_name: &m.broker_name,
            queue_id: m.queue_id,
            offset: m.queue_offset,
            reconsume_times: m.reconsume_times,
        }
    }
}

/// Forwards messages to the main task, accepting no more than the --count budget.
struct Forwarder {
    /// Unbounded because the listener is synchronous and must not block the client's tasks;
    /// the push consumer's own flow control (messages cached per queue) bounds what is queued.
    tx: mpsc::UnboundedSender<MessageExt>,
    /// Messages still wanted; `u64::MAX` without --count.
    budget: AtomicU64,
}

impl MessageListener for Forwarder {
    fn consume(&self, msgs: &[MessageExt]) -> ConsumeResult {
        let wanted = u64::try_from(msgs.len()).unwrap_or(u64::MAX);
        // Take the whole batch or none of it. A batch past the budget (one that reached the
        // listener in the moment between the last wanted message and the consumer's stop) is
        // handed back for redelivery, so no acknowledged message goes unprinted.
        let taken = self
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(wanted)
            })
            .is_ok();
        if !taken {
            return ConsumeResult::RetryLater;
        }
        for m in msgs {
            if self.tx.send(m.clone()).is_err() {
                // The command is shutting down; the message was not printed.
                return ConsumeResult::RetryLater;
            }
        }
        ConsumeResult::Success
    }
}

fn print_message(json: bool, m: &MessageExt) -> anyhow::Result<()> {
    if json {
        return output::print_json_line(&ReceivedLine::from(m));
    }
    output::print_line(&format!(
        "msg_id={} queue={}:{} offset={} tag={} keys={} reconsume_times={} body={}",
        m.msg_id,
        m.broker_name,
        m.queue_id,
        m.queue_offset,
        m.tags.as_deref().unwrap_or("-"),
        m.keys.as_deref().unwrap_or("-"),
        m.reconsume_times,
        output::display_body(&m.body),
    ))
}

/// Why the receive loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    CountReached,
    IdleTimeout,
    Signal,
    OutputClosed,
}

/// Consumes until --count messages arrived, the idle timeout passed, or SIGINT/SIGTERM.
///
/// # Errors
/// When the consumer cannot start (bad name server, bad tag expression) or stdout is closed.
pub async fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = Arc::new(Forwarder {
        tx,
        budget: AtomicU64::new(args.count.unwrap_or(u64::MAX)),
    });
    let mut config = PushConsumerConfig::new(
        &args.namesrv,
        args.group.clone(),
        &args.topic,
        &args.tag_expr,
    );
    config.offset_dir = args.offset_dir.clone();
    // One message per listener call, one call at a time: messages print in queue order, and
    // at most one message can arrive past --count before the consumer stops.
    config.batch_size = 1;
    config.consume_concurrency = 1;
    config.model = if args.broadcast {
        MessageModel::Broadcasting
    } else {
        MessageModel::Clustering
    };
    config.consume_from = match args.from {
        StartFrom::First => ConsumeFrom::First,
        StartFrom::Last => ConsumeFrom::Last,
    };
    let consumer = PushConsumer::start(config, listener)
        .await
        .context("cannot start the consumer")?;

    let idle = Duration::from_secs(args.timeout);
    let mut received = 0u64;
    let mut printing = Ok(());
    let signal = super::termination_signal();
    tokio::pin!(signal);
    let stop = loop {
        if args.count.is_some_and(|n| received >= n) {
            break Stop::CountReached;
        }
        tokio::select! {
            next = tokio::time::timeout(idle, rx.recv()) => match next {
                Ok(Some(m)) => {
                    received += 1;
                    if let Err(e) = print_message(args.json, &m) {
                        printing = Err(e);
                        break Stop::OutputClosed;
                    }
                }
                Ok(None) | Err(_) => break Stop::IdleTimeout,
            },
            _ = &mut signal => break Stop::Signal,
        }
    };
    // Commits offsets of everything acknowledged, then unregisters from the brokers.
    consumer.shutdown().await;
    // Messages acknowledged while stopping are still printed: they are committed now.
    rx.close();
    while let Ok(m) = rx.try_recv() {
        received += 1;
        print_message(args.json, &m)?;
    }
    printing?;
    tracing::info!(received, ?stop, "consumer stopped");
    let short = args.count.is_some_and(|n| received < n);
    if stop == Stop::IdleTimeout && short {
        eprintln!(
            "timeout: {received} of {} messages received ({}s without a new message)",
            args.count.unwrap_or(0),
            args.timeout
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
