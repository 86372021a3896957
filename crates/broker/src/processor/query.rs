//! QUERY_MESSAGE (12, by key or unique key through the store's index) and VIEW_MESSAGE_BY_ID
//! (33, by commit-log offset). Both answer with stored records as the body.

use std::sync::Arc;

use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, QueryMessageRequest, QueryMessageResponse, ViewMessageRequest,
};
use saturn_store::MessageStore;

use super::{concat, with_header, Reply};
use crate::error::RequestError;

/// Java's `defaultQueryMaxNum`: cap of a unique-key query.
const UNIQUE_QUERY_MAX: usize = 32;
/// Java's `maxMsgsNumBatch`: cap of any query.
const QUERY_MAX: usize = 64;

/// Serves the query codes.
pub struct QueryProcessor {
    store: Arc<MessageStore>,
}

impl QueryProcessor {
    /// Builds the processor.
    pub fn new(store: Arc<MessageStore>) -> Self {
        QueryProcessor { store }
    }

    /// QUERY_MESSAGE.
    ///
    /// # Errors
    /// Bad header; [`RequestError::QueryNotFound`] when nothing matches.
    pub async fn query_message(&self, req: &RemotingCommand) -> Reply {
        let h = QueryMessageRequest::from_ext(&req.ext_fields)?;
        let cap = if h.is_unique_key_query() {
            UNIQUE_QUERY_MAX
        } else {
            QUERY_MAX
        };
        let max = usize::try_from(h.max_num).unwrap_or(0).clamp(1, cap);
        let store = Arc::clone(&self.store);
        // Index walk plus record reads: may touch cold pages.
        let found = tokio::task::spawn_blocking(move || {
            store.query_by_key(&h.topic, &h.key, max, h.begin_timestamp, h.end_timestamp)
        })
        .await
        .map_err(|e| RequestError::System(format!("query task: {e}")))?;
        if found.messages.is_empty() {
            return Err(RequestError::QueryNotFound(
                "can not find message, maybe time range not correct".into(),
            ));
        }
        let header = QueryMessageResponse {
            index_last_update_timestamp: found.index_last_update_timestamp,
            index_last_update_phyoffset: found.index_last_update_phys,
        };
        Ok(with_header(req, response::SUCCESS, &header).with_body(concat(&found.messages)))
    }

    /// VIEW_MESSAGE_BY_ID.
    ///
    /// # Errors
    /// Bad header; [`RequestError::System`] when no record starts at the offset.
    pub fn view_message(&self, req: &RemotingCommand) -> Reply {
        let h = ViewMessageRequest::from_ext(&req.ext_fields)?;
        let record = u64::try_from(h.offset)
            .ok()
            .and_then(|phys| self.store.message_at(phys))
            .ok_or_else(|| {
                RequestError::System(format!("can not find message by the offset, {}", h.offset))
            })?;
        Ok(req.response_to(response::SUCCESS, None).with_body(record))
    }
}
