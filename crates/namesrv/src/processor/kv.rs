//! KV config requests: PUT_KV_CONFIG (100), GET_KV_CONFIG (101), DELETE_KV_CONFIG (102),
//! GET_KVLIST_BY_NAMESPACE (219).

use saturn_protocol::body;
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, GetKvConfigResponse, KvConfigKeyRequest, PutKvConfigRequest,
};

use super::{success, NamesrvState, Reply};

/// PUT_KV_CONFIG.
pub fn put(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let h = PutKvConfigRequest::from_ext(&request.ext_fields)?;
    state.kv_mut().put(&h.namespace, &h.key, &h.value);
    Ok(success(request))
}

/// GET_KV_CONFIG: `value` header, or QUERY_NOT_FOUND with Java's remark.
pub fn get(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let h = KvConfigKeyRequest::from_ext(&request.ext_fields)?;
    let value = state.kv().get(&h.namespace, &h.key).map(str::to_owned);
    Ok(match value {
        Some(value) => {
            success(request).with_ext(GetKvConfigResponse { value: Some(value) }.to_ext())
        }
        None => request.response_to(
            response::QUERY_NOT_FOUND,
            Some(format!(
                "No config item, Namespace: {} Key: {}",
                h.namespace, h.key
            )),
        ),
    })
}

/// DELETE_KV_CONFIG (deleting an absent key succeeds, as in Java).
pub fn delete(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let h = KvConfigKeyRequest::from_ext(&request.ext_fields)?;
    state.kv_mut().delete(&h.namespace, &h.key);
    Ok(success(request))
}

/// GET_KVLIST_BY_NAMESPACE: KVTable body, or QUERY_NOT_FOUND for an empty namespace.
pub fn list_namespace(state: &NamesrvState, request: &RemotingCommand) -> Reply {
    let namespace = request.ext_fields.required_str("namespace")?;
    let table = state.kv().namespace(namespace);
    Ok(match table {
        Some(table) => success(request).with_body(body::encode_bytes(&table)),
        None => request.response_to(
            response::QUERY_NOT_FOUND,
            Some(format!("No config item, Namespace: {namespace}")),
        ),
    })
}
