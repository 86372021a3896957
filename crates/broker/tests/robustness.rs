//! Whatever arrives, every request gets an answer and the broker keeps serving: each served
//! code with no header, a garbage body and hostile values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use common::*;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::ext::ExtFields;

const SERVED: &[i32] = &[
    10, 11, 12, 14, 15, 17, 21, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 41, 42, 43, 46, 200,
    201, 202, 203, 208, 215, 310, 320, 361,
];

const KEYS: &[&str] = &[
    "topic",
    "b",
    "queueId",
    "e",
    "consumerGroup",
    "group",
    "offset",
    "commitLogOffset",
    "queueOffset",
    "maxMsgNums",
    "sysFlag",
    "f",
    "key",
    "maxNum",
    "clientID",
    "readQueueNums",
    "writeQueueNums",
    "commitOrRollback",
    "delayLevel",
    "d",
    "a",
    "c",
    "g",
    "h",
    "timestamp",
    "producerGroup",
    "msgId",
    "tranStateTableOffset",
    "perm",
    "order",
    "topicFilterType",
    "defaultTopic",
    "beginTimestamp",
    "endTimestamp",
    "commitOffset",
    "subVersion",
];

const VALUES: &[&str] = &[
    "-1",
    "0",
    "2147483647",
    "-2147483648",
    "9223372036854775807",
    "",
    "x",
    "../../etc",
    "%RETRY%",
    "TBW102",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "true",
    "12",
    "8",
];

#[tokio::test]
async fn hostile_requests_get_answers() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();
    send_ok(&c, &b.addr, "Victim", 0, None, "x").await;
    let bodies: [&[u8]; 3] = [b"", b"{\"x\":[1,2", &[0xff, 0, 0, 0, 7, 1, 2, 3]];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for &code in SERVED {
        for body in bodies {
            let resp = call(
                &c,
                &b.addr,
                RemotingCommand::new_request(code, ExtFields::new())
                    .with_body(Bytes::from_static(body)),
            )
            .await;
            assert!(resp.is_response(), "code {code}");
        }
        for _ in 0..20 {
            let mut ext = ExtFields::new();
            for _ in 0..12 {
                ext.insert(KEYS[next(KEYS.len())], VALUES[next(VALUES.len())]);
            }
            let body = bodies[next(bodies.len())];
            let resp = call(
                &c,
                &b.addr,
                RemotingCommand::new_request(code, ext).with_body(Bytes::from_static(body)),
            )
            .await;
            assert!(resp.is_response(), "code {code}");
        }
    }
    // Still healthy.
    let r = send_ok(&c, &b.addr, "Victim", 0, None, "y").await;
    assert!(r.queue_offset >= 1);
    b.stop().await;
}
