//! Topic and group administration: UPDATE_AND_CREATE_TOPIC (17), GET_ALL_TOPIC_CONFIG (21),
//! DELETE_TOPIC_IN_BROKER (215), UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), GET_ALL_CONSUMER_OFFSET (43). Topic changes re-register
//! with the name servers at once (through [`TopicConfigs`]).

use std::sync::Arc;

use saturn_protocol::body::{self, SubscriptionGroupConfig, TopicConfig, TopicFilterType};
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{CommandHeader, CreateTopicRequest, DeleteTopicRequest};
use saturn_store::MessageStore;

use super::{success, Reply};
use crate::consumer_offsets::ConsumerOffsets;
use crate::error::RequestError;
use crate::state::Identity;
use crate::subscription_groups::SubscriptionGroups;
use crate::topic_config::{validate_topic, TopicConfigs, AUTO_CREATE_TOPIC_KEY};

/// Largest queue count accepted for a topic.
const MAX_QUEUE_NUMS: i32 = 1024;

/// Serves the admin codes.
pub struct AdminProcessor {
    store: Arc<MessageStore>,
    topics: Arc<TopicConfigs>,
    groups: Arc<SubscriptionGroups>,
    offsets: Arc<ConsumerOffsets>,
    identity: Arc<Identity>,
    max_topic_length: usize,
}

impl AdminProcessor {
    /// Builds the processor.
    pub fn new(
        store: Arc<MessageStore>,
        topics: Arc<TopicConfigs>,
        groups: Arc<SubscriptionGroups>,
        offsets: Arc<ConsumerOffsets>,
        identity: Arc<Identity>,
        max_topic_length: usize,
    ) -> Self {
        AdminProcessor {
            store,
            topics,
            groups,
            offsets,
            identity,
            max_topic_length,
        }
    }

    /// UPDATE_AND_CREATE_TOPIC.
    ///
    /// # Errors
    /// Bad header, bad topic name or queue counts, the config file could not be written.
    pub async fn create_topic(&self, req: &RemotingCommand) -> Reply {
        let h = CreateTopicRequest::from_ext(&req.ext_fields)?;
        validate_topic(&h.topic, self.max_topic_length)
            .map_err(|e| RequestError::System(e.to_string()))?;
        if h.topic == self.identity.cluster || h.topic == AUTO_CREATE_TOPIC_KEY {
            return Err(RequestError::System(format!(
                "The specified topic[{}] is conflict with system topic.",
                h.topic
            )));
        }
        let valid = 1..=MAX_QUEUE_NUMS;
        if !valid.contains(&h.read_queue_nums) || !valid.contains(&h.write_queue_nums) {
            return Err(RequestError::System(format!(
                "queue nums must be within 1..={MAX_QUEUE_NUMS}"
            )));
        }
        let filter = <TopicFilterType as body::lenient::JavaEnum>::from_name(&h.topic_filter_type)
            .unwrap_or_default();
        let config = TopicConfig {
            topic_name: h.topic,
            read_queue_nums: h.read_queue_nums,
            write_queue_nums: h.write_queue_nums,
            perm: h.perm,
            topic_filter_type: filter,
            topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
            order: h.order,
            ..TopicConfig::default()
        };
        tracing::info!(topic = %config.topic_name, queues = config.write_queue_nums, "topic created or updated by admin");
        self.topics.upsert(config).await?;
        Ok(success(req))
    }

    /// DELETE_TOPIC_IN_BROKER: the topic config, its consume queues and committed offsets.
    ///
    /// # Errors
    /// Bad header, store or file failure.
    pub async fn delete_topic(&self, req: &RemotingCommand) -> Reply {
        let h = DeleteTopicRequest::from_ext(&req.ext_fields)?;
        validate_topic(&h.topic, 255).map_err(|e| RequestError::System(e.to_string()))?;
        self.topics.remove(&h.topic).await?;
        self.offsets.remove_topic(&h.topic);
        let store = Arc::clone(&self.store);
        let topic = h.topic.clone();
        tokio::task::spawn_blocking(move || store.delete_topic(&topic))
            .await
            .map_err(|e| RequestError::System(format!("delete task: {e}")))??;
        tracing::info!(topic = %h.topic, "topic deleted");
        Ok(success(req))
    }

    /// GET_ALL_TOPIC_CONFIG: the topic table with its data version.
    pub fn all_topic_config(&self, req: &RemotingCommand) -> Reply {
        let body = body::encode_bytes(&self.topics.snapshot());
        Ok(req.response_to(response::SUCCESS, None).with_body(body))
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: body = SubscriptionGroupConfig JSON.
    ///
    /// # Errors
    /// A body that is not a group config with a name.
    pub async fn create_group(&self, req: &RemotingCommand) -> Reply {
        let config: SubscriptionGroupConfig =
            body::decode(&req.body).map_err(|e| RequestError::BadBody(e.to_string()))?;
        if config.group_name.is_empty() {
            return Err(RequestError::BadBody("groupName is empty".into()));
        }
        self.groups.upsert(config);
        let groups = Arc::clone(&self.groups);
        tokio::task::spawn_blocking(move || groups.save_now())
            .await
            .map_err(|e| RequestError::System(format!("save task: {e}")))?
            .map_err(|e| RequestError::System(e.to_string()))?;
        Ok(success(req))
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG.
    pub fn all_groups(&self, req: &RemotingCommand) -> Reply {
        let body = body::encode_bytes(&self.groups.snapshot());
        Ok(req.response_to(response::SUCCESS, None).with_body(body))
    }

    /// GET_ALL_CONSUMER_OFFSET: `{"offsetTable":{"topic@group":{"0":5}}}`.
    pub fn all_consumer_offsets(&self, req: &RemotingCommand) -> Reply {
        let body = body::encode_bytes(&self.offsets.snapshot());
        Ok(req.response_to(response::SUCCESS, None).with_body(body))
    }
}
