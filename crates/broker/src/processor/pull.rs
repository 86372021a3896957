//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361).
//!
//! Subscription: the request's `subscription` when the subscription bit (0x4) is set and the
//! text is non-empty, otherwise the group's heartbeat subscription (rocketmq-client-rust sends
//! `subscription:""` with sysFlag 2). A group without a heartbeat subscription gets everything
//! (clients re-check tags themselves). SQL92 filtering is not implemented: such pulls answer
//! SUBSCRIPTION_PARSE_FAILED (23) rather than deliver unfiltered messages.
//!
//! Status → code (Java `PullMessageProcessor`): FOUND 0; NO_MATCHED_MESSAGE and
//! MESSAGE_WAS_REMOVING 20 (next offset advanced past the filtered units); OFFSET_OVERFLOW_ONE
//! and OFFSET_FOUND_NULL 19; NO_MESSAGE_IN_QUEUE / NO_MATCHED_LOGIC_QUEUE 19 at offset 0 else 21;
//! OFFSET_TOO_SMALL 21 (next = min) and OFFSET_OVERFLOW_BADLY 21 (next = the store's correction: min
//! when the queue still starts at 0, else max — re-reading beats skipping). The remark is the
//! status name and every answer carries PullMessageResponseHeader.
//!
//! Long polling: with the suspend bit (0x2) a 19 is not sent at once; the pull waits (see
//! [`crate::long_poll`]) until a message arrives on its queue, its hold time passes, or the
//! broker stops, then reads again and answers whatever it finds.

use std::sync::Arc;
use std::time::Duration;

use saturn_protocol::body::EXPRESSION_TAG;
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, PullMessageRequest, PullMessageResponse};
use saturn_protocol::message::sysflag::pull as pull_flag;
use saturn_protocol::message::TagFilter;
use saturn_store::{GetMessageResult, GetMessageStatus, MessageStore};

use super::Reply;
use crate::client_manager::ClientManager;
use crate::consumer_offsets::ConsumerOffsets;
use crate::error::RequestError;
use crate::long_poll::{hold_time, LongPoll, Woken};
use crate::state::Stats;
use crate::topic_config::{perm, TopicConfigs};

/// A pull this close (in messages) to the end of its queue reads the store without leaving the
/// runtime thread: the records were just written and are in memory.
const INLINE_READ_WINDOW: i64 = 256;

/// Pull-path settings taken from the config.
#[derive(Debug, Clone, Copy)]
pub struct PullSettings {
    /// Long polling on.
    pub long_polling: bool,
    /// Longest hold.
    pub max_suspend: Duration,
    /// Hold without long polling.
    pub short_polling: Duration,
    /// Byte cap of a response body.
    pub max_bytes: usize,
    /// Message cap of a response.
    pub max_msgs: usize,
}

/// Serves pulls.
pub struct PullProcessor {
    store: Arc<MessageStore>,
    topics: Arc<TopicConfigs>,
    clients: Arc<ClientManager>,
    offsets: Arc<ConsumerOffsets>,
    long_poll: Arc<LongPoll>,
    stats: Arc<Stats>,
    settings: PullSettings,
}

/// One read's answer before it becomes a command.
struct Outcome {
    code: i32,
    status: GetMessageStatus,
    header: PullMessageResponse,
    records: Vec<bytes::Bytes>,
}

impl PullProcessor {
    /// Builds the processor.
    pub fn new(
        store: Arc<MessageStore>,
        topics: Arc<TopicConfigs>,
        clients: Arc<ClientManager>,
        offsets: Arc<ConsumerOffsets>,
        long_poll: Arc<LongPoll>,
        stats: Arc<Stats>,
        settings: PullSettings,
    ) -> Self {
        PullProcessor {
            store,
            topics,
            clients,
            offsets,
            long_poll,
            stats,
            settings,
        }
    }

    /// Handles one pull, holding it when allowed and nothing is there yet.
    ///
    /// # Errors
    /// Bad header, unknown topic, unreadable topic, bad queue id, SQL92 subscription.
    pub async fn handle(&self, req: &RemotingCommand) -> Reply {
        let h = PullMessageRequest::from_ext(&req.ext_fields)?;
        let topic = self.topics.get(&h.topic).ok_or_else(|| {
            RequestError::TopicNotExist(format!(
                "topic[{}] not exist, apply first please!",
                h.topic
            ))
        })?;
        if topic.perm & perm::READ == 0 {
            return Err(RequestError::NoPermission(format!(
                "the topic[{}] pulling message is forbidden",
                h.topic
            )));
        }
        if h.queue_id < 0 || h.queue_id >= topic.read_queue_nums {
            return Err(RequestError::System(format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id, h.topic, topic.read_queue_nums, h.consumer_group
            )));
        }
        let filter = Arc::new(self.filter(&h)?);
        if pull_flag::has_commit_offset(h.sys_flag) && h.commit_offset >= 0 {
            self.offsets
                .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
        }
        let max_msgs = usize::try_from(h.max_msg_nums)
            .unwrap_or(1)
            .clamp(1, self.settings.max_msgs);
        let max_bytes = h
            .max_msg_bytes
            .and_then(|b| usize::try_from(b).ok())
            .filter(|b| *b > 0)
            .map_or(self.settings.max_bytes, |b| b.min(self.settings.max_bytes));
        let read = ReadArgs {
            topic: h.topic.clone(),
            queue_id: h.queue_id,
            offset: h.queue_offset,
            max_msgs,
            max_bytes,
            filter,
        };

        let suspend = pull_flag::has_suspend(h.sys_flag);
        if !suspend {
            return Ok(self.respond(req, self.read(&read).await?));
        }
        let hold = hold_time(
            h.suspend_timeout_millis,
            self.settings.long_polling,
            self.settings.max_suspend,
            self.settings.short_polling,
        );
        let deadline = tokio::time::Instant::now() + hold;
        // Subscribe before reading: an arrival after the read still wakes the wait below.
        let mut waiter = self.long_poll.subscribe(&h.topic, h.queue_id);
        loop {
            let outcome = self.read(&read).await?;
            if outcome.code != response::PULL_NOT_FOUND {
                return Ok(self.respond(req, outcome));
            }
            match waiter.wait_until(deadline).await {
                Woken::Arrived => continue,
                Woken::TimedOut | Woken::Shutdown => {
                    return Ok(self.respond(req, self.read(&read).await?));
                }
            }
        }
    }

    /// The filter of this pull (see the module docs for where it comes from).
    fn filter(&self, h: &PullMessageRequest) -> Result<TagFilter, RequestError> {
        let from_request = pull_flag::has_subscription(h.sys_flag)
            && h.subscription
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty());
        if from_request {
            let ty = h.expression_type.as_deref().unwrap_or(EXPRESSION_TAG);
            if !ty.eq_ignore_ascii_case(EXPRESSION_TAG) {
                return Err(sql92_unsupported());
            }
            return Ok(TagFilter::parse(
                h.subscription.as_deref().unwrap_or_default().trim(),
            ));
        }
        match self.clients.subscription(&h.consumer_group, &h.topic) {
            Some(sub) => sub.tag_filter.clone().ok_or_else(sql92_unsupported),
            None => Ok(TagFilter::all()),
        }
    }

    /// Reads from the store. The common idle case (offset at the end) is answered from the
    /// queue's max offset without touching records. A consumer that is caught up (within
    /// [`INLINE_READ_WINDOW`] messages of the end) reads what was just written, which is in
    /// memory, so that read runs right here; older records run on a blocking thread, since
    /// their mapped pages may have to come from disk. (The hand-off to a blocking thread costs
    /// more than a tail read: two thread wake-ups per pull.)
    async fn read(&self, a: &ReadArgs) -> Result<Outcome, RequestError> {
        let max = self.store.max_offset(&a.topic, a.queue_id);
        if a.offset == max && max > 0 {
            let min = self.store.min_offset(&a.topic, a.queue_id);
            return Ok(outcome(
                GetMessageResult {
                    status: GetMessageStatus::OffsetOverflowOne,
                    next_begin_offset: a.offset,
                    min_offset: min,
                    max_offset: max,
                    messages: Vec::new(),
                    queue_offsets: Vec::new(),
                    total_bytes: 0,
                },
                a.offset,
            ));
        }
        if max >= a.offset && max - a.offset <= INLINE_READ_WINDOW {
            let result = self.store.get_messages(
                &a.topic,
                a.queue_id,
                a.offset,
                a.max_msgs,
                a.max_bytes,
                &*a.filter,
            );
            return Ok(outcome(result, a.offset));
        }
        let store = Arc::clone(&self.store);
        let args = a.clone();
        let result = tokio::task::spawn_blocking(move || {
            store.get_messages(
                &args.topic,
                args.queue_id,
                args.offset,
                args.max_msgs,
                args.max_bytes,
                &*args.filter,
            )
        })
        .await
        .map_err(|e| RequestError::System(format!("pull read task: {e}")))?;
        Ok(outcome(result, a.offset))
    }

    fn respond(&self, req: &RemotingCommand, o: Outcome) -> RemotingCommand {
        self.stats.add_got(o.records.len());
        // The records stay the store's zero-copy slices: the connection writer sends them with
        // vectored writes instead of copying them into one body.
        req.response_to(o.code, Some(status_name(o.status).to_owned()))
            .with_ext(o.header.to_ext())
            .with_body_chunks(o.records)
    }
}

#[derive(Clone)]
struct ReadArgs {
    topic: String,
    queue_id: i32,
    offset: i64,
    max_msgs: usize,
    max_bytes: usize,
    filter: Arc<TagFilter>,
}

fn sql92_unsupported() -> RequestError {
    RequestError::SubscriptionParseFailed(
        "The broker does not support consumer to filter message by SQL92".into(),
    )
}

/// Maps a store result to the pull answer (codes and offsets as in the module docs).
fn outcome(r: GetMessageResult, requested: i64) -> Outcome {
    use GetMessageStatus as S;
    let (code, next) = match r.status {
        S::Found => (response::SUCCESS, r.next_begin_offset),
        S::NoMatchedMessage | S::MessageWasRemoving => {
            (response::PULL_RETRY_IMMEDIATELY, r.next_begin_offset)
        }
        S::OffsetOverflowOne | S::OffsetFoundNull => {
            (response::PULL_NOT_FOUND, r.next_begin_offset)
        }
        S::NoMessageInQueue | S::NoMatchedLogicQueue if requested == 0 => {
            (response::PULL_NOT_FOUND, 0)
        }
        S::NoMessageInQueue | S::NoMatchedLogicQueue => (response::PULL_OFFSET_MOVED, 0),
        S::OffsetTooSmall => (response::PULL_OFFSET_MOVED, r.min_offset),
        S::OffsetOverflowBadly => (response::PULL_OFFSET_MOVED, r.next_begin_offset),
    };
    Outcome {
        code,
        status: r.status,
        header: PullMessageResponse {
            suggest_which_broker_id: 0,
            next_begin_offset: next,
            min_offset: r.min_offset,
            max_offset: r.max_offset,
            ..Default::default()
        },
        records: r.messages,
    }
}

/// Java's `GetMessageStatus` names, used as the pull remark.
fn status_name(s: GetMessageStatus) -> &'static str {
    use GetMessageStatus as S;
    match s {
        S::Found => "FOUND",
        S::NoMatchedMessage => "NO_MATCHED_MESSAGE",
        S::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
        S::OffsetFoundNull => "OFFSET_FOUND_NULL",
        S::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
        S::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
        S::OffsetTooSmall => "OFFSET_TOO_SMALL",
        S::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
        S::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: GetMessageStatus, next: i64, min: i64, max: i64) -> GetMessageResult {
        GetMessageResult {
            status,
            next_begin_offset: next,
            min_offset: min,
            max_offset: max,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            total_bytes: 0,
        }
    }

    #[test]
    fn status_to_code_table() {
        use GetMessageStatus as S;
        let cases = [
            (result(S::OffsetOverflowOne, 5, 0, 5), 5, 19, 5),
            (result(S::OffsetOverflowBadly, 0, 0, 5), 9, 21, 0),
            (result(S::OffsetOverflowBadly, 5, 2, 5), 9, 21, 5),
            (result(S::OffsetTooSmall, 3, 3, 5), 1, 21, 3),
            (result(S::NoMatchedMessage, 4, 0, 5), 2, 20, 4),
            (result(S::NoMatchedLogicQueue, 0, 0, 0), 0, 19, 0),
            (result(S::NoMessageInQueue, 0, 0, 0), 3, 21, 0),
        ];
        for (r, requested, code, next) in cases {
            let o = outcome(r, requested);
            assert_eq!(
                (o.code, o.header.next_begin_offset),
                (code, next),
                "{:?}",
                o.status
            );
        }
    }
}
