//! Responses answered after their handler returned ([`DeferredResponse`]), from a thread outside
//! the runtime, as the broker does for sync-flush sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{mpsc as std_mpsc, Arc, Mutex};

use bytes::Bytes;
use common::{echo_of, start_server, SOON};
use futures_util::future::{join_all, BoxFuture};
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::ext::ExtFields;
use saturn_remoting::{
    Channel, ClientConfig, ConnectionConfig, DeferredResponse, RemotingClient, RequestHandler,
    ServerConfig,
};
use tokio::sync::mpsc;

/// Answered by the answering thread, after the handler returned.
const DEFER: i32 = 9101;
/// Answered on the spot by the handler (through the writer task).
const NOW: i32 = 9102;
/// Deferred and parked until the test releases it.
const HOLD: i32 = 9103;
/// The code of a HOLD request that could not be deferred.
const NOT_DEFERRED: i32 = 9199;

struct DeferHandler {
    /// To the answering thread, which sends each response as soon as it gets it.
    answer: Mutex<std_mpsc::Sender<(DeferredResponse, RemotingCommand)>>,
    parked: Mutex<Vec<(DeferredResponse, RemotingCommand)>>,
    /// Whether each HOLD request could be deferred.
    held: mpsc::UnboundedSender<bool>,
}

impl RequestHandler for DeferHandler {
    fn handle(
        &self,
        channel: &Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let reply = match request.code {
            DEFER => match channel.defer_response(&request) {
                Some(deferred) => {
                    let answer = self.answer.lock().unwrap();
                    answer.send((deferred, echo_of(&request))).unwrap();
                    None
                }
                None => Some(request.response_to(NOT_DEFERRED, None)),
            },
            HOLD => {
                let deferred = channel.defer_response(&request);
                let _ = self.held.send(deferred.is_some());
                match deferred {
                    Some(deferred) => {
                        let mut parked = self.parked.lock().unwrap();
                        parked.push((deferred, echo_of(&request)));
                        None
                    }
                    None => Some(request.response_to(NOT_DEFERRED, None)),
                }
            }
            _ => Some(echo_of(&request)),
        };
        Box::pin(async move { reply })
    }
}

/// A handler whose DEFER answers come from a plain thread, and the receiver of HOLD outcomes.
fn defer_handler() -> (Arc<DeferHandler>, mpsc::UnboundedReceiver<bool>) {
    let (answer, answers) = std_mpsc::channel::<(DeferredResponse, RemotingCommand)>();
    std::thread::spawn(move || {
        for (deferred, reply) in answers {
            deferred.send(reply);
        }
    });
    let (held, held_rx) = mpsc::unbounded_channel();
    let handler = Arc::new(DeferHandler {
        answer: Mutex::new(answer),
        parked: Mutex::new(Vec::new()),
        held,
    });
    (handler, held_rx)
}

fn request(code: i32, i: usize, len: usize) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("i", i.to_string());
    // A body that differs per request, so a mixed-up or torn frame cannot pass as another.
    let body: Vec<u8> = (0..len).map(|b| (b * 31 + i * 7) as u8).collect();
    RemotingCommand::new_request(code, ext).with_body(Bytes::from(body))
}

#[tokio::test]
async fn answers_from_another_thread_arrive_whole_among_regular_ones() {
    let (handler, _held) = defer_handler();
    let server = start_server(handler, ServerConfig::default()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();
    // Small and large bodies, deferred and not, all at once on one connection: large responses
    // fill the socket, so direct writes meet a busy writer, a full socket and partial writes.
    let sizes = [0usize, 10, 600, 70_000, 1 << 20];
    let requests: Vec<_> = (0..300)
        .map(|i| {
            let code = if i % 2 == 0 { DEFER } else { NOW };
            request(code, i, sizes[i % sizes.len()])
        })
        .collect();
    let calls = requests
        .iter()
        .map(|req| client.invoke(&addr, req.clone(), SOON));
    let replies = join_all(calls).await;
    for (req, reply) in requests.iter().zip(replies) {
        let reply = reply.unwrap();
        assert_eq!(
            reply.code,
            response::SUCCESS,
            "request {:?}",
            req.ext_fields.get("i")
        );
        assert_eq!(reply.ext_fields.get("i"), req.ext_fields.get("i"));
        assert!(
            reply.body == req.body,
            "body of request {:?}",
            req.ext_fields.get("i")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn deferred_answers_count_against_the_in_flight_limit() {
    let (handler, mut held) = defer_handler();
    let config = ServerConfig {
        connection: ConnectionConfig {
            max_in_flight: 3,
            ..ConnectionConfig::default()
        },
        ..ServerConfig::default()
    };
    let server = start_server(handler.clone(), config).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.addr_str();

    // Nothing to answer later for a oneway request.
    let mut oneway = request(HOLD, 0, 1);
    oneway.mark_oneway();
    client.invoke_oneway(&addr, oneway).await.unwrap();
    assert_eq!(held.recv().await, Some(false));

    // Each request holds a slot while its handler runs, and a deferred one keeps a slot until it
    // is answered: with 3 slots, two answers can wait and the third request is refused.
    let calls: Vec<_> = (1..=3)
        .map(|i| {
            let (client, addr) = (client.clone(), addr.clone());
            tokio::spawn(async move { client.invoke(&addr, request(HOLD, i, 8), SOON).await })
        })
        .collect();
    let outcomes = [
        held.recv().await.unwrap(),
        held.recv().await.unwrap(),
        held.recv().await.unwrap(),
    ];
    assert_eq!(outcomes, [true, true, false]);
    assert_eq!(handler.parked.lock().unwrap().len(), 2);

    let parked = std::mem::take(&mut *handler.parked.lock().unwrap());
    for (deferred, reply) in parked {
        deferred.send(reply);
    }
    let mut codes = Vec::new();
    for call in calls {
        codes.push(call.await.unwrap().unwrap().code);
    }
    codes.sort_unstable();
    assert_eq!(codes, [response::SUCCESS, response::SUCCESS, NOT_DEFERRED]);

    // The slots are free again.
    let again = tokio::spawn(async move { client.invoke(&addr, request(HOLD, 4, 8), SOON).await });
    assert_eq!(held.recv().await, Some(true));
    let (deferred, reply) = handler.parked.lock().unwrap().pop().unwrap();
    deferred.send(reply);
    assert_eq!(again.await.unwrap().unwrap().code, response::SUCCESS);
    server.stop().await;
}
