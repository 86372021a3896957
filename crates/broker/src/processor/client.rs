//! Client management: HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38),
//! CHECK_CLIENT_CONFIG (46).
//!
//! A heartbeat registers the connection under each consumer and producer group it names, creates
//! the consumer group's config and its `%RETRY%<group>` topic when missing (so the retry topic
//! is registered with the name servers and consumers can route to it).

use std::sync::Arc;

use saturn_protocol::body::{
    self, ConsumerListBody, HeartbeatData, SubscriptionData, EXPRESSION_TAG,
};
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, GetConsumerListByGroupRequest, UnregisterClientRequest,
};
use saturn_remoting::Channel;

use super::{success, Reply};
use crate::client_manager::{ClientChannel, ClientManager};
use crate::error::RequestError;
use crate::subscription_groups::SubscriptionGroups;
use crate::topic_config::{retry_topic, validate_topic, TopicConfigs};

/// Serves the client-management codes.
pub struct ClientProcessor {
    clients: Arc<ClientManager>,
    groups: Arc<SubscriptionGroups>,
    topics: Arc<TopicConfigs>,
}

impl ClientProcessor {
    /// Builds the processor.
    pub fn new(
        clients: Arc<ClientManager>,
        groups: Arc<SubscriptionGroups>,
        topics: Arc<TopicConfigs>,
    ) -> Self {
        ClientProcessor {
            clients,
            groups,
            topics,
        }
    }

    /// HEART_BEAT.
    ///
    /// # Errors
    /// [`RequestError::BadBody`] when the body is not HeartbeatData JSON.
    pub async fn heartbeat(&self, channel: &Channel, req: &RemotingCommand) -> Reply {
        let data: HeartbeatData =
            body::decode(&req.body).map_err(|e| RequestError::BadBody(e.to_string()))?;
        let client = ClientChannel::new(
            channel.clone(),
            data.client_id.clone(),
            req.language.name().to_owned(),
            req.version,
        );
        let mut created_group = false;
        for consumer in &data.consumer_data_set {
            if consumer.group_name.is_empty() {
                continue;
            }
            created_group |= self.groups.ensure(&consumer.group_name);
            let retry = retry_topic(&consumer.group_name);
            if validate_topic(&retry, 255).is_ok() {
                self.topics.ensure_group_topic(&retry).await?;
            }
            let keep_subs = data.without_sub == Some(true);
            self.clients.register_consumer(&client, consumer, keep_subs);
        }
        for producer in &data.producer_data_set {
            if !producer.group_name.is_empty() {
                self.clients
                    .register_producer(&client, &producer.group_name);
            }
        }
        if created_group {
            let groups = Arc::clone(&self.groups);
            // Off the request path: losing this write only loses defaults re-created next time.
            tokio::task::spawn_blocking(move || {
                if let Err(e) = groups.save_now() {
                    tracing::warn!(error = %e, "saving subscription groups failed");
                }
            });
        }
        Ok(success(req))
    }

    /// UNREGISTER_CLIENT.
    ///
    /// # Errors
    /// Bad header.
    pub fn unregister(&self, req: &RemotingCommand) -> Reply {
        let h = UnregisterClientRequest::from_ext(&req.ext_fields)?;
        if let Some(g) = h.consumer_group.as_deref().filter(|g| !g.is_empty()) {
            self.clients.unregister_consumer(g, &h.client_id);
        }
        if let Some(g) = h.producer_group.as_deref().filter(|g| !g.is_empty()) {
            self.clients.unregister_producer(g, &h.client_id);
        }
        Ok(success(req))
    }

    /// GET_CONSUMER_LIST_BY_GROUP: SYSTEM_ERROR when the group has no live consumer, as in Java.
    ///
    /// # Errors
    /// Bad header; [`RequestError::System`] for an empty group.
    pub fn consumer_list(&self, req: &RemotingCommand) -> Reply {
        let h = GetConsumerListByGroupRequest::from_ext(&req.ext_fields)?;
        let ids = self.clients.consumer_ids(&h.consumer_group);
        if ids.is_empty() {
            return Err(RequestError::System(format!(
                "no consumer for this group, {}",
                h.consumer_group
            )));
        }
        let body = body::encode_bytes(&ConsumerListBody {
            consumer_id_list: ids,
        });
        Ok(req.response_to(response::SUCCESS, None).with_body(body))
    }

    /// CHECK_CLIENT_CONFIG: TAG subscriptions are fine; SQL92 is not supported yet.
    ///
    /// # Errors
    /// [`RequestError::SubscriptionParseFailed`] for non-TAG expressions.
    pub fn check_client_config(&self, req: &RemotingCommand) -> Reply {
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct CheckClientRequestBody {
            subscription_data: Option<SubscriptionData>,
        }
        let b: CheckClientRequestBody = body::decode(&req.body).unwrap_or_default();
        let sql = b
            .subscription_data
            .is_some_and(|s| !s.expression_type().eq_ignore_ascii_case(EXPRESSION_TAG));
        if sql {
            return Err(RequestError::SubscriptionParseFailed(
                "The broker does not support consumer to filter message by SQL92".into(),
            ));
        }
        Ok(success(req))
    }
}
