//! Golden bytes from the wire reference (section 1) and real client captures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use saturn_protocol::code::request;
use saturn_protocol::command::LanguageCode;
use saturn_protocol::header::{
    CommandHeader, GetRouteInfoRequest, PullMessageRequest, SendMessageRequest,
};
use saturn_protocol::{
    decode_frame, encode_frame, ExtFields, RemotingCommand, SerializeType, DEFAULT_MAX_FRAME_LEN,
};

/// Reference section 1: GET_ROUTEINFO_BY_TOPIC, opaque 7, version 479, ROCKETMQ binary header.
const ROUTE_REQUEST_BINARY: [u8; 49] = [
    0x00, 0x00, 0x00, 0x2d, // totalLength 45
    0x01, 0x00, 0x00, 0x29, // type 1, headerLength 41
    0x00, 0x69, // code 105
    0x00, // JAVA
    0x01, 0xdf, // version 479
    0x00, 0x00, 0x00, 0x07, // opaque
    0x00, 0x00, 0x00, 0x00, // flag
    0x00, 0x00, 0x00, 0x00, // remark length
    0x00, 0x00, 0x00, 0x14, // ext length 20
    0x00, 0x05, b't', b'o', b'p', b'i', b'c', //
    0x00, 0x00, 0x00, 0x09, b'T', b'o', b'p', b'i', b'c', b'T', b'e', b's', b't',
];

const ROUTE_REQUEST_JSON_HEADER: &str = r#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}"#;

fn route_request(st: SerializeType) -> RemotingCommand {
    let h = GetRouteInfoRequest {
        topic: "TopicTest".into(),
        accept_standard_json_only: None,
    };
    RemotingCommand::new_request(request::GET_ROUTEINFO_BY_TOPIC, h.to_ext())
        .with_opaque(7)
        .with_serialize_type(st)
}

#[test]
fn binary_worked_example_decodes() {
    let mut buf = BytesMut::from(&ROUTE_REQUEST_BINARY[..]);
    let cmd = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .unwrap()
        .unwrap();
    assert!(buf.is_empty());
    assert_eq!(cmd.code, 105);
    assert_eq!(cmd.language, LanguageCode::Java);
    assert_eq!(cmd.version, 479);
    assert_eq!(cmd.opaque, 7);
    assert_eq!(cmd.flag, 0);
    assert_eq!(cmd.remark, None);
    assert_eq!(cmd.serialize_type, SerializeType::RocketMq);
    assert!(cmd.body.is_empty());
    let h = GetRouteInfoRequest::from_ext(&cmd.ext_fields).unwrap();
    assert_eq!(h.topic, "TopicTest");
}

#[test]
fn binary_worked_example_encodes_byte_for_byte() {
    let mut buf = BytesMut::new();
    encode_frame(&route_request(SerializeType::RocketMq), &mut buf).unwrap();
    assert_eq!(&buf[..], &ROUTE_REQUEST_BINARY[..]);
}

#[test]
fn json_worked_example_both_ways() {
    let mut buf = BytesMut::new();
    encode_frame(&route_request(SerializeType::Json), &mut buf).unwrap();
    assert_eq!(buf.len(), 139);
    assert_eq!(&buf[..8], &[0, 0, 0, 0x87, 0, 0, 0, 0x83]);
    assert_eq!(&buf[8..], ROUTE_REQUEST_JSON_HEADER.as_bytes());
    let cmd = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .unwrap()
        .unwrap();
    assert_eq!(cmd, route_request(SerializeType::Json));
}

fn json_frame(header: &str, body: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&((4 + header.len() + body.len()) as i32).to_be_bytes());
    buf.extend_from_slice(&(header.len() as i32).to_be_bytes());
    buf.extend_from_slice(header.as_bytes());
    buf.extend_from_slice(body);
    buf
}

#[test]
fn cpp_send_message_with_numeric_ext_fields() {
    // What the C++ client (PyPI rocketmq 0.4.4) sends: numbers as JSON numbers, empty remark,
    // ACL keys, jsoncpp's trailing newline.
    let header = concat!(
        r#"{"code":10,"extFields":{"AccessKey":"","OnsChannel":"ALIYUN","Signature":"","#,
        r#""batch":"0","bornTimestamp":"1700000000123","defaultTopic":"TBW102","#,
        r#""defaultTopicQueueNums":4,"flag":0,"producerGroup":"pg","#,
        r#""properties":"KEYS\u0001k1\u0002TAGS\u0001TagA\u0002","queueId":0,"#,
        r#""reconsumeTimes":0,"sysFlag":0,"topic":"TopicTest","unitMode":false},"#,
        r#""flag":0,"language":"CPP","opaque":1,"remark":"","serializeTypeCurrentRPC":"JSON","version":63}"#,
        "\n"
    );
    let mut buf = json_frame(header, b"hello");
    let cmd = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .unwrap()
        .unwrap();
    assert_eq!(cmd.language, LanguageCode::Cpp);
    assert_eq!(cmd.version, 63);
    assert_eq!(cmd.remark, None);
    assert_eq!(cmd.body, Bytes::from_static(b"hello"));
    let h = SendMessageRequest::from_command(&cmd).unwrap();
    assert_eq!(h.producer_group, "pg");
    assert_eq!(h.default_topic_queue_nums, 4);
    assert_eq!(h.queue_id, 0);
    assert_eq!(h.born_timestamp, 1_700_000_000_123);
    assert_eq!(h.unit_mode, Some(false));
    assert!(!h.is_batch());
    assert_eq!(
        h.properties.as_deref(),
        Some("KEYS\u{1}k1\u{2}TAGS\u{1}TagA\u{2}")
    );

    // The response goes back in JSON with string values and an extFields object.
    let mut resp = cmd.response_to(0, None);
    resp.ext_fields = saturn_protocol::header::SendMessageResponse::new(
        "7F00000100002A9F0000000000000000".into(),
        0,
        0,
    )
    .to_ext();
    let mut out = BytesMut::new();
    encode_frame(&resp, &mut out).unwrap();
    let text = std::str::from_utf8(&out[8..]).unwrap();
    assert!(text.contains(r#""queueId":"0""#), "{text}");
    assert!(text.contains(r#""opaque":1"#), "{text}");
    assert!(text.contains(r#""flag":1"#), "{text}");
}

#[test]
fn cpp_pull_message_with_numeric_ext_fields() {
    let header = r#"{"code":11,"extFields":{"commitOffset":"-1","consumerGroup":"cg","maxMsgNums":32,"queueId":0,"queueOffset":"0","subVersion":"0","subscription":"*","suspendTimeoutMillis":"15000","sysFlag":6,"topic":"TopicTest"},"flag":0,"language":"CPP","opaque":9,"remark":"","version":63}"#;
    let mut buf = json_frame(header, b"");
    let cmd = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .unwrap()
        .unwrap();
    let h = PullMessageRequest::from_ext(&cmd.ext_fields).unwrap();
    assert_eq!(h.max_msg_nums, 32);
    assert_eq!(h.sys_flag, 6);
    assert_eq!(h.commit_offset, -1);
    assert_eq!(h.suspend_timeout_millis, 15_000);
}

#[test]
fn java_send_v2_binary_request() {
    // A Java benchmark producer (ROCKETMQ binary headers) sending SEND_MESSAGE_V2; the response
    // must come back in the binary form.
    let ext: ExtFields = [
        ("a", "pg"),
        ("b", "T"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "2"),
        ("f", "0"),
        ("g", "1"),
        ("h", "0"),
        ("m", "false"),
    ]
    .into_iter()
    .collect();
    let req = RemotingCommand::new_request(request::SEND_MESSAGE_V2, ext)
        .with_serialize_type(SerializeType::RocketMq)
        .with_body(Bytes::from_static(b"x"));
    let mut buf = BytesMut::new();
    encode_frame(&req, &mut buf).unwrap();
    assert_eq!(buf[4], 1, "binary serialize type byte");
    let got = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .unwrap()
        .unwrap();
    assert_eq!(SendMessageRequest::from_command(&got).unwrap().queue_id, 2);
    let resp = got.response_to(0, None);
    let mut out = BytesMut::new();
    encode_frame(&resp, &mut out).unwrap();
    assert_eq!(out[4], 1);
}
