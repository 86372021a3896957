//! NameServer headers: GET_ROUTEINFO_BY_TOPIC (105), REGISTER_BROKER (103), UNREGISTER_BROKER
//! (104), QUERY_DATA_VERSION (322), KV config (100–102), GET_BROKER_CLUSTER_INFO (106),
//! GET_TOPICS_BY_CLUSTER (224), DELETE_TOPIC_IN_NAMESRV (216).

use super::command_header;

/// Ext key carrying the broker's zone on REGISTER_BROKER.
pub const ZONE_NAME: &str = "__ZONE_NAME";

command_header! {
    /// `GetRouteInfoRequestHeader`.
    pub struct GetRouteInfoRequest {
        /// Topic.
        topic: String => "topic",
        /// 5.x: ask for standard JSON (quoted map keys).
        accept_standard_json_only: Option<bool> => "acceptStandardJsonOnly",
    }
}

command_header! {
    /// `RegisterBrokerRequestHeader`.
    pub struct RegisterBrokerRequest {
        /// Broker name.
        broker_name: String => "brokerName",
        /// `ip:port`.
        broker_addr: String => "brokerAddr",
        /// Cluster name.
        cluster_name: String => "clusterName",
        /// `ip:haPort`.
        ha_server_addr: String => "haServerAddr",
        /// 0 = master.
        broker_id: i64 => "brokerId",
        /// 5.x heartbeat timeout.
        heartbeat_timeout_millis: Option<i64> => "heartbeatTimeoutMillis",
        /// 5.x acting master.
        enable_acting_master: Option<bool> => "enableActingMaster",
        /// True when the body is the zlib form.
        compressed: Option<bool> => "compressed",
        /// Masked CRC32 of the body (0 = unchecked).
        body_crc32: Option<i32> => "bodyCrc32",
        /// Zone name.
        zone_name: Option<String> => "__ZONE_NAME",
    }
}

impl RegisterBrokerRequest {
    /// True when the body is the compressed form.
    pub fn is_compressed(&self) -> bool {
        self.compressed.unwrap_or(false)
    }
}

command_header! {
    /// `RegisterBrokerResponseHeader`.
    pub struct RegisterBrokerResponse {
        /// HA address of the master.
        ha_server_addr: Option<String> => "haServerAddr",
        /// Master address (for a slave).
        master_addr: Option<String> => "masterAddr",
    }
}

command_header! {
    /// `UnRegisterBrokerRequestHeader`.
    pub struct UnregisterBrokerRequest {
        /// Broker name.
        broker_name: String => "brokerName",
        /// `ip:port`.
        broker_addr: String => "brokerAddr",
        /// Cluster name.
        cluster_name: String => "clusterName",
        /// Broker id.
        broker_id: i64 => "brokerId",
    }
}

command_header! {
    /// `QueryDataVersionRequestHeader` (body: DataVersion).
    pub struct QueryDataVersionRequest {
        /// Broker name.
        broker_name: String => "brokerName",
        /// `ip:port`.
        broker_addr: String => "brokerAddr",
        /// Cluster name.
        cluster_name: String => "clusterName",
        /// Broker id.
        broker_id: i64 => "brokerId",
    }
}

command_header! {
    /// `QueryDataVersionResponseHeader`.
    pub struct QueryDataVersionResponse {
        /// True when the broker must re-register.
        changed: bool => "changed",
    }
}

command_header! {
    /// GET_BROKER_CLUSTER_INFO has no header keys.
    pub struct GetBrokerClusterInfoRequest {}
}

command_header! {
    /// `GetTopicsByClusterRequestHeader`.
    pub struct GetTopicsByClusterRequest {
        /// Cluster name.
        cluster: String => "cluster",
    }
}

command_header! {
    /// `DeleteTopicFromNamesrvRequestHeader`.
    pub struct DeleteTopicInNamesrvRequest {
        /// Topic.
        topic: String => "topic",
        /// Cluster (5.x; absent = every cluster).
        cluster_name: Option<String> => "clusterName",
    }
}

command_header! {
    /// `PutKVConfigRequestHeader`.
    pub struct PutKvConfigRequest {
        /// Namespace.
        namespace: String => "namespace",
        /// Key.
        key: String => "key",
        /// Value.
        value: String => "value",
    }
}

command_header! {
    /// `GetKVConfigRequestHeader` / `DeleteKVConfigRequestHeader`.
    pub struct KvConfigKeyRequest {
        /// Namespace.
        namespace: String => "namespace",
        /// Key.
        key: String => "key",
    }
}

command_header! {
    /// `GetKVConfigResponseHeader`.
    pub struct GetKvConfigResponse {
        /// Value, if any.
        value: Option<String> => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::ExtFields;
    use crate::header::CommandHeader;

    #[test]
    fn register_broker_java_form() {
        let ext: ExtFields = [
            ("brokerName", "broker-a"),
            ("brokerAddr", "10.0.0.1:10911"),
            ("clusterName", "DefaultCluster"),
            ("haServerAddr", "10.0.0.1:10912"),
            ("brokerId", "0"),
            ("compressed", "false"),
            ("bodyCrc32", "-12"),
            (ZONE_NAME, "z1"),
        ]
        .into_iter()
        .collect();
        let h = RegisterBrokerRequest::from_ext(&ext).unwrap();
        assert!(!h.is_compressed());
        assert_eq!(h.body_crc32, Some(-12));
        assert_eq!(h.zone_name.as_deref(), Some("z1"));
        assert_eq!(h.to_ext(), ext);
    }
}
