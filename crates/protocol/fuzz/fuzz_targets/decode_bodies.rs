//! Arbitrary bytes into the JSON body decoders (fastjson normalisation included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use saturn_protocol::body::{self, *};

fuzz_target!(|data: &[u8]| {
    let _ = body::decode::<TopicRouteData>(data);
    let _ = body::decode::<HeartbeatData>(data);
    let _ = body::decode::<RegisterBrokerBody>(data);
    let _ = RegisterBrokerBody::decode(data, true);
    let _ = body::decode::<TopicStatsTable>(data);
    let _ = body::decode::<ConsumeStats>(data);
    let _ = body::decode::<LockBatchRequestBody>(data);
});
