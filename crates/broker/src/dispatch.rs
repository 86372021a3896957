//! Request code → processor: the one `match` in [`Processors::dispatch`] answers "who handles
//! code N". Unknown codes get REQUEST_CODE_NOT_SUPPORTED (3); a processor error becomes its
//! response code with the error text as remark ([`crate::error::RequestError::response_code`]);
//! oneway requests never get a response.

use std::sync::Arc;
use std::time::Duration;

use saturn_protocol::code::{request, response};
use saturn_protocol::command::RemotingCommand;
use saturn_remoting::{BoxFuture, Channel, RequestHandler};

use crate::client_manager::ClientManager;
use crate::config::FlushDiskType;
use crate::error::RequestError;
use crate::processor::admin::AdminProcessor;
use crate::processor::client::ClientProcessor;
use crate::processor::lock::LockProcessor;
use crate::processor::offset::OffsetProcessor;
use crate::processor::pull::{PullProcessor, PullSettings};
use crate::processor::query::QueryProcessor;
use crate::processor::send::{SendProcessor, SendSettings};
use crate::processor::send_back::SendBackProcessor;
use crate::processor::stats::StatsProcessor;
use crate::processor::transaction::TransactionProcessor;
use crate::processor::{Appender, Reply};
use crate::state::Shared;

/// Every processor, built once from the shared handles.
pub struct Processors {
    send: SendProcessor,
    pull: PullProcessor,
    offset: OffsetProcessor,
    client: ClientProcessor,
    query: QueryProcessor,
    admin: AdminProcessor,
    stats: StatsProcessor,
    transaction: TransactionProcessor,
    lock: LockProcessor,
    send_back: SendBackProcessor,
}

impl Processors {
    /// Wires each processor with the handles it needs.
    pub fn new(s: &Shared) -> Self {
        let c = &s.config;
        let appender = || Appender {
            store: Arc::clone(&s.store),
            long_poll: Arc::clone(&s.long_poll),
            stats: Arc::clone(&s.stats),
            sync_flush_timeout: (c.flush_disk_type == FlushDiskType::SyncFlush)
                .then(|| Duration::from_millis(c.sync_flush_timeout_ms)),
        };
        let send_settings = SendSettings {
            max_message_size: c.max_message_size,
            max_topic_length: c.max_topic_length,
            region_id: c.region_id.clone(),
            trace_on: c.trace_on,
        };
        let pull_settings = PullSettings {
            long_polling: c.long_polling_enable,
            max_suspend: Duration::from_millis(c.max_suspend_ms),
            short_polling: Duration::from_millis(c.short_polling_ms),
            max_bytes: c.pull_max_bytes,
            max_msgs: c.pull_max_msgs,
        };
        Processors {
            send: SendProcessor::new(
                appender(),
                Arc::clone(&s.topics),
                Arc::clone(&s.groups),
                Arc::clone(&s.identity),
                send_settings,
            ),
            pull: PullProcessor::new(
                Arc::clone(&s.store),
                Arc::clone(&s.topics),
                Arc::clone(&s.clients),
                Arc::clone(&s.offsets),
                Arc::clone(&s.long_poll),
                Arc::clone(&s.stats),
                pull_settings,
            ),
            offset: OffsetProcessor::new(Arc::clone(&s.store), Arc::clone(&s.offsets)),
            client: ClientProcessor::new(
                Arc::clone(&s.clients),
                Arc::clone(&s.groups),
                Arc::clone(&s.topics),
            ),
            query: QueryProcessor::new(Arc::clone(&s.store)),
            admin: AdminProcessor::new(
                Arc::clone(&s.store),
                Arc::clone(&s.topics),
                Arc::clone(&s.groups),
                Arc::clone(&s.offsets),
                Arc::clone(&s.identity),
                c.max_topic_length,
            ),
            stats: StatsProcessor::new(
                Arc::clone(&s.store),
                Arc::clone(&s.topics),
                Arc::clone(&s.clients),
                Arc::clone(&s.offsets),
                Arc::clone(&s.stats),
                Arc::clone(&s.identity),
            ),
            transaction: TransactionProcessor::new(
                appender(),
                Arc::clone(&s.store),
                Arc::clone(&s.identity),
            ),
            lock: LockProcessor::new(Duration::from_millis(c.lock_max_live_ms)),
            send_back: SendBackProcessor::new(
                appender(),
                Arc::clone(&s.store),
                Arc::clone(&s.topics),
                Arc::clone(&s.groups),
                Arc::clone(&s.identity),
            ),
        }
    }

    /// Routes one request; `None` for oneway requests.
    pub async fn dispatch(
        &self,
        channel: &Channel,
        req: RemotingCommand,
    ) -> Option<RemotingCommand> {
        use request as r;
        let reply: Reply = match req.code {
            r::SEND_MESSAGE | r::SEND_MESSAGE_V2 | r::SEND_BATCH_MESSAGE => {
                match self.send.handle(channel, &req).await.transpose() {
                    Some(reply) => reply,
                    // Answered later, once the message is durable.
                    None => return None,
                }
            }
            r::PULL_MESSAGE | r::LITE_PULL_MESSAGE => self.pull.handle(&req).await,
            r::QUERY_MESSAGE => self.query.query_message(&req).await,
            r::VIEW_MESSAGE_BY_ID => self.query.view_message(&req),
            r::QUERY_CONSUMER_OFFSET => self.offset.query_consumer_offset(&req),
            r::UPDATE_CONSUMER_OFFSET => self.offset.update_consumer_offset(&req),
            r::SEARCH_OFFSET_BY_TIMESTAMP => self.offset.search_by_timestamp(&req).await,
            r::GET_MAX_OFFSET => self.offset.max_offset(&req),
            r::GET_MIN_OFFSET => self.offset.min_offset(&req),
            r::GET_EARLIEST_MSG_STORETIME => self.offset.earliest_store_time(&req),
            r::HEART_BEAT => self.client.heartbeat(channel, &req).await,
            r::UNREGISTER_CLIENT => self.client.unregister(&req),
            r::GET_CONSUMER_LIST_BY_GROUP => self.client.consumer_list(&req),
            r::CHECK_CLIENT_CONFIG => self.client.check_client_config(&req),
            r::CONSUMER_SEND_MSG_BACK => self.send_back.handle(&req).await,
            r::END_TRANSACTION => self.transaction.end_transaction(&req).await,
            r::LOCK_BATCH_MQ => self.lock.lock(&req),
            r::UNLOCK_BATCH_MQ => self.lock.unlock(&req),
            r::UPDATE_AND_CREATE_TOPIC => self.admin.create_topic(&req).await,
            r::DELETE_TOPIC_IN_BROKER => self.admin.delete_topic(&req).await,
            r::GET_ALL_TOPIC_CONFIG => self.admin.all_topic_config(&req),
            r::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => self.admin.create_group(&req).await,
            r::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => self.admin.all_groups(&req),
            r::GET_ALL_CONSUMER_OFFSET => self.admin.all_consumer_offsets(&req),
            r::GET_BROKER_RUNTIME_INFO => self.stats.runtime_info(&req),
            r::GET_TOPIC_STATS_INFO => self.stats.topic_stats(&req),
            r::GET_CONSUMER_CONNECTION_LIST => self.stats.consumer_connections(&req),
            r::GET_CONSUME_STATS => self.stats.consume_stats(&req),
            code => Ok(req.response_to(
                response::REQUEST_CODE_NOT_SUPPORTED,
                Some(format!(" request type {code} not supported")),
            )),
        };
        let resp = reply.unwrap_or_else(|e| error_response(&req, channel, &e));
        (!req.is_oneway()).then_some(resp)
    }
}

/// The response to a failed request: the error's code, its text as remark; logged as a warning
/// when the broker is at fault, at debug level when the request was refused.
fn error_response(req: &RemotingCommand, channel: &Channel, e: &RequestError) -> RemotingCommand {
    let code = e.response_code();
    if code == response::SYSTEM_ERROR || code == response::SERVICE_NOT_AVAILABLE {
        tracing::warn!(request = req.code, remote = %channel.remote_addr(), error = %e, "request failed");
    } else {
        tracing::debug!(request = req.code, remote = %channel.remote_addr(), error = %e, "request refused");
    }
    req.response_to(code, Some(e.to_string()))
}

/// The [`RequestHandler`] given to the remoting server.
pub struct BrokerHandler {
    processors: Arc<Processors>,
    clients: Arc<ClientManager>,
}

impl BrokerHandler {
    /// A handler over `processors`; `clients` learns about closed connections.
    pub fn new(processors: Arc<Processors>, clients: Arc<ClientManager>) -> Self {
        BrokerHandler {
            processors,
            clients,
        }
    }
}

impl RequestHandler for BrokerHandler {
    fn handle(
        &self,
        channel: &Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let processors = Arc::clone(&self.processors);
        let channel = channel.clone();
        Box::pin(async move { processors.dispatch(&channel, request).await })
    }

    fn on_closed(&self, channel: &Channel) {
        self.clients.channel_closed(channel.id());
    }
}
