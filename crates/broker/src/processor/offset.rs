//! Consumer offsets — QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15, oneway or not) —
//! and queue offsets — SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30), GET_MIN_OFFSET (31),
//! GET_EARLIEST_MSG_STORETIME (32).
//!
//! A group with no committed offset (Java `queryOffset` returning −1): SUCCESS with offset 0
//! while the queue still starts at offset 0 (a young queue: Java's "min offset ≤ 0 and offset 0
//! still in memory" — we take min offset == 0 as that), else QUERY_NOT_FOUND (22); with
//! `setZeroIfNotFound=false` always 22. The client then applies its `consumeFromWhere`.

use std::sync::Arc;

use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, GetEarliestMsgStoretimeRequest, GetEarliestMsgStoretimeResponse,
    GetMaxOffsetRequest, GetMinOffsetRequest, OffsetResponse, QueryConsumerOffsetRequest,
    SearchOffsetRequest, UpdateConsumerOffsetRequest,
};
use saturn_store::MessageStore;

use super::{success, with_header, Reply};
use crate::consumer_offsets::ConsumerOffsets;
use crate::error::RequestError;

/// Serves the offset codes.
pub struct OffsetProcessor {
    store: Arc<MessageStore>,
    offsets: Arc<ConsumerOffsets>,
}

impl OffsetProcessor {
    /// Builds the processor.
    pub fn new(store: Arc<MessageStore>, offsets: Arc<ConsumerOffsets>) -> Self {
        OffsetProcessor { store, offsets }
    }

    /// QUERY_CONSUMER_OFFSET.
    ///
    /// # Errors
    /// Bad header; [`RequestError::QueryNotFound`] as described in the module docs.
    pub fn query_consumer_offset(&self, req: &RemotingCommand) -> Reply {
        let h = QueryConsumerOffsetRequest::from_ext(&req.ext_fields)?;
        if let Some(offset) = self.offsets.query(&h.consumer_group, &h.topic, h.queue_id) {
            return Ok(with_header(
                req,
                response::SUCCESS,
                &OffsetResponse { offset },
            ));
        }
        let young = self.store.min_offset(&h.topic, h.queue_id) == 0;
        if young && h.set_zero_if_not_found != Some(false) {
            return Ok(with_header(
                req,
                response::SUCCESS,
                &OffsetResponse { offset: 0 },
            ));
        }
        Err(RequestError::QueryNotFound(
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".into(),
        ))
    }

    /// UPDATE_CONSUMER_OFFSET.
    ///
    /// # Errors
    /// Bad header.
    pub fn update_consumer_offset(&self, req: &RemotingCommand) -> Reply {
        let h = UpdateConsumerOffsetRequest::from_ext(&req.ext_fields)?;
        self.offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
        Ok(success(req))
    }

    /// GET_MAX_OFFSET: the next offset to be written.
    ///
    /// # Errors
    /// Bad header.
    pub fn max_offset(&self, req: &RemotingCommand) -> Reply {
        let h = GetMaxOffsetRequest::from_ext(&req.ext_fields)?;
        let offset = self.store.max_offset(&h.topic, h.queue_id);
        Ok(with_header(
            req,
            response::SUCCESS,
            &OffsetResponse { offset },
        ))
    }

    /// GET_MIN_OFFSET.
    ///
    /// # Errors
    /// Bad header.
    pub fn min_offset(&self, req: &RemotingCommand) -> Reply {
        let h = GetMinOffsetRequest::from_ext(&req.ext_fields)?;
        let offset = self.store.min_offset(&h.topic, h.queue_id);
        Ok(with_header(
            req,
            response::SUCCESS,
            &OffsetResponse { offset },
        ))
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP: the first offset stored at or after the time.
    ///
    /// # Errors
    /// Bad header.
    pub async fn search_by_timestamp(&self, req: &RemotingCommand) -> Reply {
        let h = SearchOffsetRequest::from_ext(&req.ext_fields)?;
        let store = Arc::clone(&self.store);
        // A binary search reading record headers: may touch cold pages.
        let offset = tokio::task::spawn_blocking(move || {
            store.offset_for_timestamp(&h.topic, h.queue_id, h.timestamp)
        })
        .await
        .map_err(|e| RequestError::System(format!("search task: {e}")))?;
        Ok(with_header(
            req,
            response::SUCCESS,
            &OffsetResponse { offset },
        ))
    }

    /// GET_EARLIEST_MSG_STORETIME: store time of the queue's first available message (−1 if
    /// none).
    ///
    /// # Errors
    /// Bad header.
    pub fn earliest_store_time(&self, req: &RemotingCommand) -> Reply {
        let h = GetEarliestMsgStoretimeRequest::from_ext(&req.ext_fields)?;
        let min = self.store.min_offset(&h.topic, h.queue_id);
        let timestamp = self
            .store
            .store_time_at(&h.topic, h.queue_id, min)
            .unwrap_or(-1);
        Ok(with_header(
            req,
            response::SUCCESS,
            &GetEarliestMsgStoretimeResponse { timestamp },
        ))
    }
}
