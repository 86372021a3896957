//! What brokers send: REGISTER_BROKER (103), UNREGISTER_BROKER (104), QUERY_DATA_VERSION (322),
//! BROKER_HEARTBEAT (904).

use std::time::Instant;

use saturn_protocol::body::{self, DataVersion, RegisterBrokerBody, TopicConfigSerializeWrapper};
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, QueryDataVersionRequest, QueryDataVersionResponse, RegisterBrokerRequest,
    RegisterBrokerResponse, UnregisterBrokerRequest,
};
use saturn_protocol::message::record::body_crc;
use saturn_remoting::Channel;
use tracing::{debug, info};

use super::{success, NamesrvState, Reply};
use crate::error::RequestError;
use crate::kv_config::ORDER_TOPIC_CONFIG;
use crate::route_table::BrokerRegistration;

/// `MQVersion.V3_0_11` ordinal: older brokers send a bare topic-config wrapper as the body.
const FIRST_VERSION_WITH_REGISTER_BODY: i32 = 37;

/// REGISTER_BROKER: records the broker and (for a master) its topics; answers the master's
/// address to a slave and the order-topic KV table to everyone.
pub fn register(state: &NamesrvState, channel: &Channel, request: &RemotingCommand) -> Reply {
    let header = RegisterBrokerRequest::from_ext(&request.ext_fields)?;
    check_crc(&header, request)?;
    let wrapper = decode_topics(&header, request)?;

    let registration = BrokerRegistration {
        cluster: header.cluster_name,
        broker_name: header.broker_name,
        broker_addr: header.broker_addr,
        broker_id: header.broker_id,
        ha_server_addr: header.ha_server_addr,
        zone_name: header.zone_name,
        enable_acting_master: header.enable_acting_master.unwrap_or(false),
        data_version: wrapper.data_version,
        topics: wrapper.topic_config_table,
        conn: Some(channel.id()),
    };
    let (name, addr, id) = (
        registration.broker_name.clone(),
        registration.broker_addr.clone(),
        registration.broker_id,
    );
    let topic_count = registration.topics.len();
    let outcome = state.routes_mut().register(registration, Instant::now());
    state.conns().insert(channel.id(), channel.clone());
    if outcome.topics_applied {
        info!(%name, %addr, id, topics = topic_count, remote = %channel.remote_addr(), "broker registered");
    } else {
        debug!(%name, %addr, id, "broker registration refreshed");
    }

    let reply_header = RegisterBrokerResponse {
        ha_server_addr: outcome.master_ha_addr,
        master_addr: outcome.master_addr,
    };
    let mut reply = success(request).with_ext(reply_header.to_ext());
    if let Some(table) = state.kv().namespace(ORDER_TOPIC_CONFIG) {
        reply = reply.with_body(body::encode_bytes(&table));
    }
    Ok(reply)
}

/// `bodyCrc32` ≠ 0 must equal the masked CRC32 of the body (Java `UtilAll.crc32`).
fn check_crc(
    header: &RegisterBrokerRequest,
    request: &RemotingCommand,
) -> Result<(), RequestError> {
    let expected = header.body_crc32.unwrap_or(0);
    if expected == 0 {
        return Ok(());
    }
    // Masked to 31 bits, so it always fits an i32.
    let actual = i32::try_from(body_crc(&request.body)).unwrap_or(i32::MAX);
    if actual == expected {
        Ok(())
    } else {
        Err(RequestError::CrcMismatch { expected, actual })
    }
}

/// The topic table of a registration in whichever form the broker's version sends.
fn decode_topics(
    header: &RegisterBrokerRequest,
    request: &RemotingCommand,
) -> Result<TopicConfigSerializeWrapper, RequestError> {
    if request.body.is_empty() {
        return Ok(TopicConfigSerializeWrapper::default());
    }
    if request.version < FIRST_VERSION_WITH_REGISTER_BODY && !header.is_compressed() {
        return Ok(body::decode(&request.body)?);
    }
    let decoded = RegisterBrokerBody::decode(&request.body, header.is_compressed())?;
    Ok(decoded.topic_config_serialize_wrapper)
}

/// UNREGISTER_BROKER: the broker is shutting down.
pub fn unregister(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let header = UnregisterBrokerRequest::from_ext(&request.ext_fields)?;
    let dropped = state.routes_mut().unregister(&header.broker_addr);
    info!(
        name = %header.broker_name,
        addr = %header.broker_addr,
        id = header.broker_id,
        known = dropped.is_some(),
        "broker unregistered"
    );
    Ok(success(request))
}

/// QUERY_DATA_VERSION: tells the broker whether its topic table changed since it last
/// registered; an unchanged answer counts as a heartbeat.
pub fn query_data_version(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let header = QueryDataVersionRequest::from_ext(&request.ext_fields)?;
    let version: DataVersion = body::decode(&request.body)?;
    let mut routes = state.routes_mut();
    let changed = routes.data_version_changed(&header.broker_addr, &version);
    if !changed {
        routes.refresh(&header.broker_addr, Instant::now());
    }
    let known = routes
        .data_version(&header.broker_addr)
        .map(body::encode_bytes);
    drop(routes);

    let mut reply = success(request).with_ext(QueryDataVersionResponse { changed }.to_ext());
    if let Some(known) = known {
        reply = reply.with_body(known);
    }
    Ok(reply)
}

/// BROKER_HEARTBEAT (5.x, usually oneway): keeps a registered broker alive.
pub fn heartbeat(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let addr = request.ext_fields.required_str("brokerAddr")?;
    if !state.routes_mut().refresh(addr, Instant::now()) {
        debug!(%addr, "heartbeat from an unregistered broker");
    }
    Ok(success(request))
}
