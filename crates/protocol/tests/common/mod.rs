//! Shared helpers for the protocol integration tests.
#![allow(dead_code)]

use proptest::prelude::*;
use saturn_protocol::header::{CommandHeader, FieldKind};
use saturn_protocol::ExtFields;

/// Calls `$m!(Type)` for every typed header in the crate.
#[macro_export]
macro_rules! for_each_header {
    ($m:ident) => {
        $m!(SendMessageRequest);
        $m!(SendMessageRequestV2);
        $m!(SendMessageResponse);
        $m!(PullMessageRequest);
        $m!(PullMessageResponse);
        $m!(QueryConsumerOffsetRequest);
        $m!(OffsetResponse);
        $m!(UpdateConsumerOffsetRequest);
        $m!(GetMaxOffsetRequest);
        $m!(GetMinOffsetRequest);
        $m!(SearchOffsetRequest);
        $m!(GetEarliestMsgStoretimeRequest);
        $m!(GetEarliestMsgStoretimeResponse);
        $m!(HeartbeatRequest);
        $m!(UnregisterClientRequest);
        $m!(GetConsumerListByGroupRequest);
        $m!(NotifyConsumerIdsChangedRequest);
        $m!(ConsumerSendMsgBackRequest);
        $m!(LockBatchMqRequest);
        $m!(UnlockBatchMqRequest);
        $m!(EndTransactionRequest);
        $m!(CheckTransactionStateRequest);
        $m!(QueryMessageRequest);
        $m!(QueryMessageResponse);
        $m!(ViewMessageRequest);
        $m!(GetRouteInfoRequest);
        $m!(RegisterBrokerRequest);
        $m!(RegisterBrokerResponse);
        $m!(UnregisterBrokerRequest);
        $m!(QueryDataVersionRequest);
        $m!(QueryDataVersionResponse);
        $m!(GetBrokerClusterInfoRequest);
        $m!(GetTopicsByClusterRequest);
        $m!(DeleteTopicInNamesrvRequest);
        $m!(PutKvConfigRequest);
        $m!(KvConfigKeyRequest);
        $m!(GetKvConfigResponse);
        $m!(CreateTopicRequest);
        $m!(GetTopicStatsInfoRequest);
        $m!(GetConsumeStatsRequest);
        $m!(GetConsumerConnectionListRequest);
        $m!(DeleteTopicRequest);
    };
}

/// A valid text value for a header key of `kind`; strings are non-empty when `non_empty`
/// (the binary header form cannot carry empty values).
pub fn value_for(kind: FieldKind, non_empty: bool) -> BoxedStrategy<String> {
    match kind {
        FieldKind::Str if non_empty => "\\PC{1,12}".boxed(),
        FieldKind::Str => any::<String>().boxed(),
        FieldKind::Int => any::<i32>().prop_map(|v| v.to_string()).boxed(),
        FieldKind::Long => any::<i64>().prop_map(|v| v.to_string()).boxed(),
        FieldKind::Bool => any::<bool>().prop_map(|v| v.to_string()).boxed(),
    }
}

/// Valid `extFields` for header `H`: every required key, each optional key present or not.
pub fn ext_for<H: CommandHeader>(non_empty: bool) -> BoxedStrategy<ExtFields> {
    let per_field: Vec<BoxedStrategy<Option<(String, String)>>> = H::FIELDS
        .iter()
        .map(|f| {
            let key = f.key.to_owned();
            let v = value_for(f.kind, non_empty).prop_map(move |v| Some((key.clone(), v)));
            if f.required {
                v.boxed()
            } else {
                prop_oneof![Just(None), v].boxed()
            }
        })
        .collect();
    per_field
        .prop_map(|pairs| pairs.into_iter().flatten().collect::<ExtFields>())
        .boxed()
}

/// Arbitrary `extFields` that mix the header's keys with junk keys and junk values.
pub fn junk_ext_for<H: CommandHeader>() -> BoxedStrategy<ExtFields> {
    let keys: Vec<String> = H::FIELDS.iter().map(|f| f.key.to_owned()).collect();
    let key = if keys.is_empty() {
        any::<String>().boxed()
    } else {
        prop_oneof![proptest::sample::select(keys), any::<String>()].boxed()
    };
    let value = prop_oneof![
        any::<String>(),
        any::<i64>().prop_map(|v| v.to_string()),
        Just("true".to_owned()),
        Just(String::new()),
        Just(" 12 ".to_owned()),
        Just("99999999999999999999".to_owned()),
    ];
    proptest::collection::vec((key, value), 0..16)
        .prop_map(|v| v.into_iter().collect::<ExtFields>())
        .boxed()
}

/// Compares two ext maps ignoring order.
pub fn same_entries(a: &ExtFields, b: &ExtFields) -> bool {
    let mut x: Vec<_> = a.iter().collect();
    let mut y: Vec<_> = b.iter().collect();
    x.sort();
    y.sort();
    x == y
}
