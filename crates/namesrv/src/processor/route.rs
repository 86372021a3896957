//! What clients and admin tools ask about routes: GET_ROUTEINFO_BY_TOPIC (105),
//! GET_BROKER_CLUSTER_INFO (106), GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206), GET_TOPICS_BY_CLUSTER
//! (224), DELETE_TOPIC_IN_NAMESRV (216), REGISTER_TOPIC_IN_NAMESRV (217),
//! WIPE_WRITE_PERM_OF_BROKER (205) / ADD_WRITE_PERM_OF_BROKER (327).

use saturn_protocol::body::{self, TopicList, TopicRouteData};
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::ext::ExtFields;
use saturn_protocol::header::{
    CommandHeader, DeleteTopicInNamesrvRequest, GetRouteInfoRequest, GetTopicsByClusterRequest,
};
use tracing::info;

use super::{success, NamesrvState, Reply};

/// Java's remark for an unknown topic (`FAQUrl.suggestTodo(APPLY_TOPIC_URL)` appended); clients
/// show it to users, and some match on its prefix.
fn topic_not_exist_remark(topic: &str) -> String {
    format!(
        "No topic route info in name server for the topic: {topic}\nSee http://rocketmq.apache.org/docs/faq/ for further details."
    )
}

/// GET_ROUTEINFO_BY_TOPIC. Always standard JSON (quoted `brokerAddrs` keys, `enableActingMaster`
/// present): every 4.x and 5.x client parses that form.
pub fn route_by_topic(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let header = GetRouteInfoRequest::from_ext(&request.ext_fields)?;
    let route = state.routes().route(&header.topic);
    Ok(match route {
        Some(route) => success(request).with_body(body::encode_bytes(&route)),
        None => request.response_to(
            response::TOPIC_NOT_EXIST,
            Some(topic_not_exist_remark(&header.topic)),
        ),
    })
}

/// GET_BROKER_CLUSTER_INFO.
pub fn cluster_info(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let info = state.routes().cluster_info();
    Ok(success(request).with_body(body::encode_bytes(&info)))
}

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
pub fn all_topics(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let list = TopicList {
        topic_list: state.routes().topic_names(),
        broker_addr: None,
    };
    Ok(success(request).with_body(body::encode_bytes(&list)))
}

/// GET_TOPICS_BY_CLUSTER (an unknown cluster has no topics).
pub fn topics_by_cluster(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let header = GetTopicsByClusterRequest::from_ext(&request.ext_fields)?;
    let list = TopicList {
        topic_list: state.routes().topics_of_cluster(&header.cluster),
        broker_addr: None,
    };
    Ok(success(request).with_body(body::encode_bytes(&list)))
}

/// DELETE_TOPIC_IN_NAMESRV: everywhere, or only on one cluster when `clusterName` is given.
pub fn delete_topic(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let header = DeleteTopicInNamesrvRequest::from_ext(&request.ext_fields)?;
    let cluster = header
        .cluster_name
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let removed = state.routes_mut().delete_topic(&header.topic, cluster);
    info!(topic = %header.topic, cluster = ?cluster, removed, "topic deleted");
    Ok(success(request))
}

/// REGISTER_TOPIC_IN_NAMESRV: `topic` header, body a TopicRouteData whose queue datas are added
/// for broker groups the name server knows.
pub fn register_topic(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let topic = request.ext_fields.required_str("topic")?;
    if !request.body.is_empty() {
        let route: TopicRouteData = body::decode(&request.body)?;
        let stored = state.routes_mut().register_topic(topic, route.queue_datas);
        info!(%topic, stored, "topic registered by admin");
    }
    Ok(success(request))
}

/// WIPE_WRITE_PERM_OF_BROKER / ADD_WRITE_PERM_OF_BROKER: answers `wipeTopicCount` /
/// `addTopicCount`, the number of topics the broker group serves.
pub fn write_perm(state: &NamesrvState, request: &RemotingCommand, writable: bool) -> Reply {
    let broker_name = request.ext_fields.required_str("brokerName")?;
    let count = state.routes_mut().set_write_perm(broker_name, writable);
    info!(%broker_name, writable, topics = count, "broker write permission changed");
    let key = if writable {
        "addTopicCount"
    } else {
        "wipeTopicCount"
    };
    let ext: ExtFields = [(key, count.to_string())].into_iter().collect();
    Ok(success(request).with_ext(ext))
}
