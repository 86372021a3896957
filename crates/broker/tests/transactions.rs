//! Transactional messages: a half message is invisible until committed, a commit delivers it
//! exactly once, a rollback never.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use saturn_protocol::code::request;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::header::{
    CommandHeader, EndTransactionRequest, SendMessageRequestV2, SendMessageResponse,
};
use saturn_protocol::message::{decode_offset_msg_id, properties, sysflag, Properties};
use saturn_remoting::RemotingClient;

const TOPIC: &str = "TxTopic";

async fn send_half(c: &RemotingClient, addr: &str, body: &str) -> SendMessageResponse {
    let mut p = Properties::new();
    p.insert("TRAN_MSG", "true");
    p.insert("PGROUP", "tx-pg");
    p.insert("UNIQ_KEY", format!("UNIQ-{body}"));
    let mut h: SendMessageRequestV2 = send_header(TOPIC, 0, p.encode()).into();
    h.producer_group = "tx-pg".into();
    h.sys_flag = sysflag::TRANSACTION_PREPARED_TYPE;
    let resp = call(
        c,
        addr,
        RemotingCommand::new_request(request::SEND_MESSAGE_V2, h.to_ext())
            .with_body(bytes::Bytes::copy_from_slice(body.as_bytes())),
    )
    .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    SendMessageResponse::from_ext(&resp.ext_fields).unwrap()
}

fn end(half: &SendMessageResponse, decision: i32, group: &str) -> RemotingCommand {
    let (_, phys) = decode_offset_msg_id(&half.msg_id).unwrap();
    let h = EndTransactionRequest {
        producer_group: group.into(),
        tran_state_table_offset: 0,
        commit_log_offset: phys,
        commit_or_rollback: decision,
        from_transaction_check: Some(false),
        msg_id: half.transaction_id.clone().unwrap_or_default(),
        transaction_id: half.transaction_id.clone(),
        topic: None,
    };
    RemotingCommand::new_request(request::END_TRANSACTION, h.to_ext())
}

async fn max_offset(c: &RemotingClient, addr: &str, topic: &str) -> i64 {
    let resp = call(c, addr, pull_cmd(&pull_header("probe", topic, 0, 0))).await;
    resp.ext_fields.get("maxOffset").unwrap().parse().unwrap()
}

#[tokio::test]
async fn commit_delivers_once_rollback_never() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(dir.path()).await;
    let c = client();

    let half = send_half(&c, &b.addr, "tx-commit").await;
    assert_eq!(half.transaction_id.as_deref(), Some("UNIQ-tx-commit"));
    // Invisible: the real topic exists (auto-created) but holds nothing.
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", TOPIC, 0, 0))).await;
    assert_eq!(resp.code, 19, "{:?}", resp.remark);

    // Commit, oneway as the producers send it.
    let mut commit = end(&half, 8, "tx-pg");
    commit.mark_oneway();
    c.invoke_oneway(&b.addr, commit).await.unwrap();
    let deadline = tokio::time::Instant::now() + SOON;
    while max_offset(&c, &b.addr, TOPIC).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "commit never delivered"
        );
        tokio::task::yield_now().await;
    }
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", TOPIC, 0, 0))).await;
    let msgs = records(&resp);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(&m.body[..], b"tx-commit");
    assert_eq!(m.property(properties::REAL_TOPIC), None);
    assert_eq!(m.property(properties::REAL_QID), None);
    assert_eq!(m.uniq_key(), Some("UNIQ-tx-commit"));
    assert_eq!(
        sysflag::transaction_value(m.sys_flag),
        sysflag::TRANSACTION_COMMIT_TYPE
    );
    assert_eq!(
        m.prepared_transaction_offset,
        decode_offset_msg_id(&half.msg_id).unwrap().1
    );

    // A repeated commit (e.g. a late check answer) does not deliver again.
    let resp = call(&c, &b.addr, end(&half, 8, "tx-pg")).await;
    assert_eq!(resp.code, 0);
    assert_eq!(max_offset(&c, &b.addr, TOPIC).await, 1);

    // Rollback: never delivered. A wrong producer group is refused first.
    let half2 = send_half(&c, &b.addr, "tx-rollback").await;
    let resp = call(&c, &b.addr, end(&half2, 12, "someone-else")).await;
    assert_eq!(resp.code, 1);
    let resp = call(&c, &b.addr, end(&half2, 12, "tx-pg")).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    // Unknown (0): nothing happens.
    let half3 = send_half(&c, &b.addr, "tx-unknown").await;
    assert_eq!(call(&c, &b.addr, end(&half3, 0, "tx-pg")).await.code, 0);
    assert_eq!(max_offset(&c, &b.addr, TOPIC).await, 1);
    let resp = call(&c, &b.addr, pull_cmd(&pull_header("cg", TOPIC, 0, 0))).await;
    let bodies: Vec<_> = records(&resp).iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, [bytes::Bytes::from_static(b"tx-commit")]);

    // One op record per decision (commit + rollback), each naming its half's queue offset.
    let resp = call(
        &c,
        &b.addr,
        pull_cmd(&pull_header("cg", "RMQ_SYS_TRANS_OP_HALF_TOPIC", 0, 0)),
    )
    .await;
    let ops = records(&resp);
    assert_eq!(ops.len(), 2);
    assert_eq!(&ops[0].body[..], half.queue_offset.to_string().as_bytes());
    assert_eq!(&ops[1].body[..], half2.queue_offset.to_string().as_bytes());
    assert!(ops.iter().all(|o| o.tags() == Some("d")));

    // An offset that is not a half message.
    let mut bogus = end(&half, 8, "tx-pg");
    bogus
        .ext_fields
        .insert("commitLogOffset", m.physical_offset.to_string());
    assert_eq!(call(&c, &b.addr, bogus).await.code, 1);
    b.stop().await;
}
