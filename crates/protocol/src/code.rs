//! Request and response codes (Java `RequestCode`, `ResponseCode`, `RemotingSysResponseCode`).

/// Request codes. Values ≥ 32768 only fit JSON headers (the binary header code is an int16).
pub mod request {
    /// Client → broker: send one message (long field names).
    pub const SEND_MESSAGE: i32 = 10;
    /// Client → broker: pull messages from one queue.
    pub const PULL_MESSAGE: i32 = 11;
    /// Client → broker: find messages by key or unique key.
    pub const QUERY_MESSAGE: i32 = 12;
    /// Legacy, unused.
    pub const QUERY_BROKER_OFFSET: i32 = 13;
    /// Client → broker: a group's committed offset of one queue.
    pub const QUERY_CONSUMER_OFFSET: i32 = 14;
    /// Client → broker: commit a group's offset (usually oneway).
    pub const UPDATE_CONSUMER_OFFSET: i32 = 15;
    /// Admin → broker: create or update a topic.
    pub const UPDATE_AND_CREATE_TOPIC: i32 = 17;
    /// Admin → broker: create several topics (5.x).
    pub const UPDATE_AND_CREATE_TOPIC_LIST: i32 = 18;
    /// Admin/slave → broker: every topic config.
    pub const GET_ALL_TOPIC_CONFIG: i32 = 21;
    /// Topic config list.
    pub const GET_TOPIC_CONFIG_LIST: i32 = 22;
    /// Topic name list.
    pub const GET_TOPIC_NAME_LIST: i32 = 23;
    /// Admin → broker: change broker config.
    pub const UPDATE_BROKER_CONFIG: i32 = 25;
    /// Admin → broker: read broker config.
    pub const GET_BROKER_CONFIG: i32 = 26;
    /// Admin → broker: delete expired files now.
    pub const TRIGGER_DELETE_FILES: i32 = 27;
    /// Admin → broker: runtime statistics (KVTable).
    pub const GET_BROKER_RUNTIME_INFO: i32 = 28;
    /// Client → broker: queue offset at a timestamp.
    pub const SEARCH_OFFSET_BY_TIMESTAMP: i32 = 29;
    /// Client → broker: queue max offset.
    pub const GET_MAX_OFFSET: i32 = 30;
    /// Client → broker: queue min offset.
    pub const GET_MIN_OFFSET: i32 = 31;
    /// Client → broker: store time of a queue's first message.
    pub const GET_EARLIEST_MSG_STORETIME: i32 = 32;
    /// Client → broker: one message by commit-log offset.
    pub const VIEW_MESSAGE_BY_ID: i32 = 33;
    /// Client → broker: client liveness and subscriptions.
    pub const HEART_BEAT: i32 = 34;
    /// Client → broker: client shutting down.
    pub const UNREGISTER_CLIENT: i32 = 35;
    /// Client → broker: consumption failed, retry later.
    pub const CONSUMER_SEND_MSG_BACK: i32 = 36;
    /// Producer → broker: commit/rollback a half message (oneway).
    pub const END_TRANSACTION: i32 = 37;
    /// Client → broker: live consumer ids of a group.
    pub const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
    /// Broker → producer: ask for a transaction's state (oneway).
    pub const CHECK_TRANSACTION_STATE: i32 = 39;
    /// Broker → consumer: the group's members changed (oneway).
    pub const NOTIFY_CONSUMER_IDS_CHANGED: i32 = 40;
    /// Client → broker: lock queues for orderly consumption.
    pub const LOCK_BATCH_MQ: i32 = 41;
    /// Client → broker: unlock queues.
    pub const UNLOCK_BATCH_MQ: i32 = 42;
    /// Slave → broker: every consumer offset.
    pub const GET_ALL_CONSUMER_OFFSET: i32 = 43;
    /// Slave → broker: delay offsets.
    pub const GET_ALL_DELAY_OFFSET: i32 = 45;
    /// Client → broker: check a filter expression.
    pub const CHECK_CLIENT_CONFIG: i32 = 46;
    /// Client config.
    pub const GET_CLIENT_CONFIG: i32 = 47;
    /// 4.x ACL 1.0 only.
    pub const UPDATE_AND_CREATE_ACL_CONFIG: i32 = 50;
    /// 4.x ACL 1.0 only.
    pub const DELETE_ACL_CONFIG: i32 = 51;
    /// 4.x ACL 1.0 only.
    pub const GET_BROKER_CLUSTER_ACL_INFO: i32 = 52;
    /// 4.x ACL 1.0 only.
    pub const UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: i32 = 53;
    /// Timer checkpoint (5.x).
    pub const GET_TIMER_CHECK_POINT: i32 = 60;
    /// Timer metrics (5.x).
    pub const GET_TIMER_METRICS: i32 = 61;
    /// Admin → namesrv: put a KV config.
    pub const PUT_KV_CONFIG: i32 = 100;
    /// Client/admin → namesrv: read a KV config.
    pub const GET_KV_CONFIG: i32 = 101;
    /// Admin → namesrv: delete a KV config.
    pub const DELETE_KV_CONFIG: i32 = 102;
    /// Broker → namesrv: register (and refresh) a broker and its topics.
    pub const REGISTER_BROKER: i32 = 103;
    /// Broker → namesrv: unregister.
    pub const UNREGISTER_BROKER: i32 = 104;
    /// Client/broker → namesrv: route of a topic.
    pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
    /// Admin → namesrv: cluster and broker tables.
    pub const GET_BROKER_CLUSTER_INFO: i32 = 106;
    /// Admin → broker: create/update a subscription group.
    pub const UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: i32 = 200;
    /// Admin/slave → broker: every subscription group.
    pub const GET_ALL_SUBSCRIPTIONGROUP_CONFIG: i32 = 201;
    /// Admin → broker: per-queue offsets of a topic.
    pub const GET_TOPIC_STATS_INFO: i32 = 202;
    /// Admin → broker: connections of a consumer group.
    pub const GET_CONSUMER_CONNECTION_LIST: i32 = 203;
    /// Admin → broker: connections of a producer group.
    pub const GET_PRODUCER_CONNECTION_LIST: i32 = 204;
    /// Admin → namesrv: make a broker read-only.
    pub const WIPE_WRITE_PERM_OF_BROKER: i32 = 205;
    /// Admin → namesrv: every topic.
    pub const GET_ALL_TOPIC_LIST_FROM_NAMESERVER: i32 = 206;
    /// Admin → broker: delete a subscription group.
    pub const DELETE_SUBSCRIPTIONGROUP: i32 = 207;
    /// Admin → broker: consumption progress of a group.
    pub const GET_CONSUME_STATS: i32 = 208;
    /// Admin → broker: suspend a consumer.
    pub const SUSPEND_CONSUMER: i32 = 209;
    /// Admin → broker: resume a consumer.
    pub const RESUME_CONSUMER: i32 = 210;
    /// Reset offsets in the consumer.
    pub const RESET_CONSUMER_OFFSET_IN_CONSUMER: i32 = 211;
    /// Reset offsets in the broker.
    pub const RESET_CONSUMER_OFFSET_IN_BROKER: i32 = 212;
    /// Adjust a consumer's thread pool.
    pub const ADJUST_CONSUMER_THREAD_POOL: i32 = 213;
    /// Who consumed a message.
    pub const WHO_CONSUME_THE_MESSAGE: i32 = 214;
    /// Admin → broker: delete a topic.
    pub const DELETE_TOPIC_IN_BROKER: i32 = 215;
    /// Admin → namesrv: delete a topic.
    pub const DELETE_TOPIC_IN_NAMESRV: i32 = 216;
    /// Admin → namesrv: register a topic.
    pub const REGISTER_TOPIC_IN_NAMESRV: i32 = 217;
    /// Admin → namesrv: a KV namespace.
    pub const GET_KVLIST_BY_NAMESPACE: i32 = 219;
    /// Broker → client: reset consumer offsets.
    pub const RESET_CONSUMER_CLIENT_OFFSET: i32 = 220;
    /// Broker → client: consumer status.
    pub const GET_CONSUMER_STATUS_FROM_CLIENT: i32 = 221;
    /// Admin → broker: reset offsets.
    pub const INVOKE_BROKER_TO_RESET_OFFSET: i32 = 222;
    /// Admin → broker: consumer status.
    pub const INVOKE_BROKER_TO_GET_CONSUMER_STATUS: i32 = 223;
    /// Admin → namesrv: topics of a cluster.
    pub const GET_TOPICS_BY_CLUSTER: i32 = 224;
    /// Create several subscription groups.
    pub const UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST: i32 = 225;
    /// Admin → broker: groups consuming a topic.
    pub const QUERY_TOPIC_CONSUME_BY_WHO: i32 = 300;
    /// Obsolete filter server.
    pub const REGISTER_FILTER_SERVER: i32 = 301;
    /// Obsolete class filter.
    pub const REGISTER_MESSAGE_FILTER_CLASS: i32 = 302;
    /// Consume time span.
    pub const QUERY_CONSUME_TIME_SPAN: i32 = 303;
    /// Admin → namesrv: system topics.
    pub const GET_SYSTEM_TOPIC_LIST_FROM_NS: i32 = 304;
    /// Admin → broker: system topics.
    pub const GET_SYSTEM_TOPIC_LIST_FROM_BROKER: i32 = 305;
    /// Clean expired consume queues.
    pub const CLEAN_EXPIRED_CONSUMEQUEUE: i32 = 306;
    /// Admin → broker → client: consumer running info.
    pub const GET_CONSUMER_RUNNING_INFO: i32 = 307;
    /// Query correction offset.
    pub const QUERY_CORRECTION_OFFSET: i32 = 308;
    /// Admin → broker → client: consume one message directly.
    pub const CONSUME_MESSAGE_DIRECTLY: i32 = 309;
    /// Client → broker: send one message (one-letter field names).
    pub const SEND_MESSAGE_V2: i32 = 310;
    /// Unit topics.
    pub const GET_UNIT_TOPIC_LIST: i32 = 311;
    /// Unit-sub topics.
    pub const GET_HAS_UNIT_SUB_TOPIC_LIST: i32 = 312;
    /// Unit-sub non-unit topics.
    pub const GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: i32 = 313;
    /// Clone a group's offsets.
    pub const CLONE_GROUP_OFFSET: i32 = 314;
    /// Broker stats.
    pub const VIEW_BROKER_STATS_DATA: i32 = 315;
    /// Clean unused topics.
    pub const CLEAN_UNUSED_TOPIC: i32 = 316;
    /// Broker consume stats.
    pub const GET_BROKER_CONSUME_STATS: i32 = 317;
    /// Admin → namesrv: update config.
    pub const UPDATE_NAMESRV_CONFIG: i32 = 318;
    /// Admin → namesrv: read config.
    pub const GET_NAMESRV_CONFIG: i32 = 319;
    /// Client → broker: send a batch (V2 header with `m=true`).
    pub const SEND_BATCH_MESSAGE: i32 = 320;
    /// Query a consume queue.
    pub const QUERY_CONSUME_QUEUE: i32 = 321;
    /// Broker → namesrv: has my registration changed?
    pub const QUERY_DATA_VERSION: i32 = 322;
    /// Resume checking a half message.
    pub const RESUME_CHECK_HALF_MESSAGE: i32 = 323;
    /// Request-reply send (long names).
    pub const SEND_REPLY_MESSAGE: i32 = 324;
    /// Request-reply send (one-letter names).
    pub const SEND_REPLY_MESSAGE_V2: i32 = 325;
    /// Broker → client: deliver a reply.
    pub const PUSH_REPLY_MESSAGE_TO_CLIENT: i32 = 326;
    /// Admin → namesrv: make a broker writable again.
    pub const ADD_WRITE_PERM_OF_BROKER: i32 = 327;
    /// All producer info.
    pub const GET_ALL_PRODUCER_INFO: i32 = 328;
    /// Delete expired commit log.
    pub const DELETE_EXPIRED_COMMITLOG: i32 = 329;
    /// Topics a consumer group consumes.
    pub const QUERY_TOPICS_BY_CONSUMER: i32 = 343;
    /// Subscription of a consumer group.
    pub const QUERY_SUBSCRIPTION_BY_CONSUMER: i32 = 345;
    /// One topic config.
    pub const GET_TOPIC_CONFIG: i32 = 351;
    /// One subscription group config.
    pub const GET_SUBSCRIPTIONGROUP_CONFIG: i32 = 352;
    /// Group forbidden flags.
    pub const UPDATE_AND_GET_GROUP_FORBIDDEN: i32 = 353;
    /// RocksDB CQ progress.
    pub const CHECK_ROCKSDB_CQ_WRITE_PROGRESS: i32 = 354;
    /// RocksDB config export.
    pub const EXPORT_ROCKSDB_CONFIG_TO_JSON: i32 = 355;
    /// Client → broker: lite pull consumer pull.
    pub const LITE_PULL_MESSAGE: i32 = 361;
    /// Recall a message (5.x).
    pub const RECALL_MESSAGE: i32 = 370;
    /// Client → broker: queue assignment (5.x).
    pub const QUERY_ASSIGNMENT: i32 = 400;
    /// Message request mode (5.x).
    pub const SET_MESSAGE_REQUEST_MODE: i32 = 401;
    /// All message request modes (5.x).
    pub const GET_ALL_MESSAGE_REQUEST_MODE: i32 = 402;
    /// Static topic creation.
    pub const UPDATE_AND_CREATE_STATIC_TOPIC: i32 = 513;
    /// Broker member group.
    pub const GET_BROKER_MEMBER_GROUP: i32 = 901;
    /// Add broker (controller mode).
    pub const ADD_BROKER: i32 = 902;
    /// Remove broker (controller mode).
    pub const REMOVE_BROKER: i32 = 903;
    /// Broker → namesrv heartbeat (5.x controller mode).
    pub const BROKER_HEARTBEAT: i32 = 904;
    /// Min broker id changed.
    pub const NOTIFY_MIN_BROKER_ID_CHANGE: i32 = 905;
    /// HA info exchange.
    pub const EXCHANGE_BROKER_HA_INFO: i32 = 906;
    /// HA status.
    pub const GET_BROKER_HA_STATUS: i32 = 907;
    /// Reset master flush offset.
    pub const RESET_MASTER_FLUSH_OFFSET: i32 = 908;
    /// 5.x Pop consumption (JSON headers only).
    pub const POP_MESSAGE: i32 = 200_050;
    /// 5.x Pop ack.
    pub const ACK_MESSAGE: i32 = 200_051;
    /// 5.x Pop peek.
    pub const PEEK_MESSAGE: i32 = 200_052;
    /// 5.x Pop invisible time change.
    pub const CHANGE_MESSAGE_INVISIBLETIME: i32 = 200_053;
    /// 5.x Pop notification.
    pub const NOTIFICATION: i32 = 200_054;
    /// 5.x Pop polling info.
    pub const POLLING_INFO: i32 = 200_055;
    /// 5.x Pop rollback.
    pub const POP_ROLLBACK: i32 = 200_056;
    /// 5.x Pop batch ack.
    pub const BATCH_ACK_MESSAGE: i32 = 200_151;
}

/// Response codes.
pub mod response {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// Generic failure; the remark says why.
    pub const SYSTEM_ERROR: i32 = 1;
    /// Overloaded; retry later.
    pub const SYSTEM_BUSY: i32 = 2;
    /// Unknown request code.
    pub const REQUEST_CODE_NOT_SUPPORTED: i32 = 3;
    /// Transaction failed.
    pub const TRANSACTION_FAILED: i32 = 4;
    /// Send: stored but sync flush timed out.
    pub const FLUSH_DISK_TIMEOUT: i32 = 10;
    /// Send: no slave available.
    pub const SLAVE_NOT_AVAILABLE: i32 = 11;
    /// Send: sync replication timed out.
    pub const FLUSH_SLAVE_TIMEOUT: i32 = 12;
    /// Send: bad message.
    pub const MESSAGE_ILLEGAL: i32 = 13;
    /// Broker cannot serve (slave, shutting down, disk full).
    pub const SERVICE_NOT_AVAILABLE: i32 = 14;
    /// Version not supported.
    pub const VERSION_NOT_SUPPORTED: i32 = 15;
    /// Topic or broker permission denies it.
    pub const NO_PERMISSION: i32 = 16;
    /// Topic unknown.
    pub const TOPIC_NOT_EXIST: i32 = 17;
    /// Topic already exists.
    pub const TOPIC_EXIST_ALREADY: i32 = 18;
    /// Pull: no new message.
    pub const PULL_NOT_FOUND: i32 = 19;
    /// Pull: retry immediately.
    pub const PULL_RETRY_IMMEDIATELY: i32 = 20;
    /// Pull: offset illegal, client must reset.
    pub const PULL_OFFSET_MOVED: i32 = 21;
    /// Query / offset not found.
    pub const QUERY_NOT_FOUND: i32 = 22;
    /// Subscription expression did not parse.
    pub const SUBSCRIPTION_PARSE_FAILED: i32 = 23;
    /// Subscription unknown.
    pub const SUBSCRIPTION_NOT_EXIST: i32 = 24;
    /// Subscription outdated.
    pub const SUBSCRIPTION_NOT_LATEST: i32 = 25;
    /// Subscription group unknown.
    pub const SUBSCRIPTION_GROUP_NOT_EXIST: i32 = 26;
    /// Filter data unknown.
    pub const FILTER_DATA_NOT_EXIST: i32 = 27;
    /// Filter data outdated.
    pub const FILTER_DATA_NOT_LATEST: i32 = 28;
    /// Invalid parameter (5.x).
    pub const INVALID_PARAMETER: i32 = 29;
    /// Transaction should commit.
    pub const TRANSACTION_SHOULD_COMMIT: i32 = 200;
    /// Transaction should roll back.
    pub const TRANSACTION_SHOULD_ROLLBACK: i32 = 201;
    /// Transaction state unknown (Java spells it UNKNOW).
    pub const TRANSACTION_STATE_UNKNOW: i32 = 202;
    /// Transaction group wrong.
    pub const TRANSACTION_STATE_GROUP_WRONG: i32 = 203;
    /// No buyer id.
    pub const NO_BUYER_ID: i32 = 204;
    /// Not in current unit.
    pub const NOT_IN_CURRENT_UNIT: i32 = 205;
    /// The consumer is not connected.
    pub const CONSUMER_NOT_ONLINE: i32 = 206;
    /// Consume timed out.
    pub const CONSUME_MSG_TIMEOUT: i32 = 207;
    /// No message.
    pub const NO_MESSAGE: i32 = 208;
    /// 5.x meaning of 209 (4.x: UPDATE_AND_CREATE_ACL_CONFIG_FAILED).
    pub const POLLING_FULL: i32 = 209;
    /// 5.x meaning of 210 (4.x: DELETE_ACL_CONFIG_FAILED).
    pub const POLLING_TIMEOUT: i32 = 210;
    /// 5.x meaning of 211 (4.x: UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED).
    pub const BROKER_NOT_EXIST: i32 = 211;
    /// Broker dispatch not complete.
    pub const BROKER_DISPATCH_NOT_COMPLETE: i32 = 212;
    /// Broadcast consumption.
    pub const BROADCAST_CONSUMPTION: i32 = 213;
    /// Flow control.
    pub const FLOW_CONTROL: i32 = 215;
    /// Static topics: not leader.
    pub const NOT_LEADER_FOR_QUEUE: i32 = 501;
    /// Illegal operation.
    pub const ILLEGAL_OPERATION: i32 = 604;
    /// 5.3.2+: server shutting down; only for requests with version > 475.
    pub const GO_AWAY: i32 = 1500;
    /// ACL 2.0: user unknown.
    pub const USER_NOT_EXIST: i32 = 3001;
    /// ACL 2.0: policy unknown.
    pub const POLICY_NOT_EXIST: i32 = 3002;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_spot_checks() {
        assert_eq!(request::SEND_MESSAGE, 10);
        assert_eq!(request::SEND_MESSAGE_V2, 310);
        assert_eq!(request::SEND_BATCH_MESSAGE, 320);
        assert_eq!(request::GET_ROUTEINFO_BY_TOPIC, 105);
        assert_eq!(request::POP_MESSAGE, 200_050);
        assert_eq!(response::PULL_NOT_FOUND, 19);
        assert_eq!(response::QUERY_NOT_FOUND, 22);
        assert_eq!(response::GO_AWAY, 1500);
    }
}
