//! Raw frames the way the C++ client (jsoncpp) writes them: numeric extFields values, extra ACL
//! keys, a trailing newline after the JSON header; oneway requests get no answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::BytesMut;
use common::*;
use saturn_protocol::body;
use saturn_protocol::code::response;
use tokio::net::TcpStream;

fn cpp_header(code: i32, opaque: i32, flag: i32, ext_json: &str) -> String {
    format!(
        "{{\"code\":{code},\"extFields\":{ext_json},\"flag\":{flag},\"language\":\"CPP\",\"opaque\":{opaque},\"remark\":\"\",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":63}}\n"
    )
}

#[tokio::test]
async fn numeric_ext_fields_are_accepted() {
    let ns = TestNamesrv::start().await;
    let mut s = TcpStream::connect(&ns.addr).await.unwrap();
    let mut buf = BytesMut::new();

    let reg_body = body::encode(&register_body(&[topic("CppTopic", 4, 4, 6)], 1));
    let ext = r#"{"brokerName":"cpp-b","brokerAddr":"127.0.0.1:7000","clusterName":"C","haServerAddr":"127.0.0.1:7001","brokerId":0,"compressed":false,"bodyCrc32":0,"AccessKey":"","OnsChannel":"ALIYUN","Signature":""}"#;
    write_raw_json_frame(&mut s, &cpp_header(103, 1, 0, ext), &reg_body).await;
    let resp = read_frame(&mut s, &mut buf).await;
    assert_eq!(
        (resp.opaque, resp.code),
        (1, response::SUCCESS),
        "{:?}",
        resp.remark
    );
    assert!(resp.is_response());

    let ext = r#"{"topic":"CppTopic","AccessKey":"","OnsChannel":"ALIYUN","Signature":""}"#;
    write_raw_json_frame(&mut s, &cpp_header(105, 2, 0, ext), b"").await;
    let resp = read_frame(&mut s, &mut buf).await;
    assert_eq!((resp.opaque, resp.code), (2, response::SUCCESS));
    let v = json(&resp);
    // The C++ client reads brokerAddrs keys with atoi and the queue counts as ints.
    assert_eq!(v["brokerDatas"][0]["brokerAddrs"]["0"], "127.0.0.1:7000");
    assert_eq!(v["queueDatas"][0]["writeQueueNums"], 4);
    ns.stop().await;
}

#[tokio::test]
async fn oneway_requests_get_no_response() {
    let ns = TestNamesrv::start().await;
    let mut s = TcpStream::connect(&ns.addr).await.unwrap();
    let mut buf = BytesMut::new();

    // Oneway unknown code and oneway PUT_KV_CONFIG (flag 2): neither may be answered.
    write_raw_json_frame(&mut s, &cpp_header(9999, 100, 2, "{}"), b"").await;
    let put = r#"{"namespace":"ns","key":"k","value":"v"}"#;
    write_raw_json_frame(&mut s, &cpp_header(100, 101, 2, put), b"").await;

    // Requests run concurrently, so poll GET until the put is visible; every frame that
    // arrives must be the answer to the GET just sent.
    let get = r#"{"namespace":"ns","key":"k"}"#;
    let mut opaque = 200;
    wait_until_value(&mut s, &mut buf, get, &mut opaque).await;
    // One more round trip flushes out any late stray response.
    write_raw_json_frame(&mut s, &cpp_header(105, 999, 0, r#"{"topic":"x"}"#), b"").await;
    let last = read_frame(&mut s, &mut buf).await;
    assert_eq!(last.opaque, 999);
    assert_eq!(last.code, response::TOPIC_NOT_EXIST);
    ns.stop().await;
}

async fn wait_until_value(s: &mut TcpStream, buf: &mut BytesMut, get: &str, opaque: &mut i32) {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        *opaque += 1;
        write_raw_json_frame(s, &cpp_header(101, *opaque, 0, get), b"").await;
        let resp = read_frame(s, buf).await;
        assert_eq!(resp.opaque, *opaque, "unexpected frame: {resp:?}");
        if resp.code == response::SUCCESS {
            assert_eq!(resp.ext_fields.get("value"), Some("v"));
            return;
        }
        assert_eq!(resp.code, response::QUERY_NOT_FOUND);
        assert!(
            tokio::time::Instant::now() < deadline,
            "oneway PUT never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
