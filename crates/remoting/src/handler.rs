//! What the transport calls for every incoming request: the [`RequestHandler`] trait.

use futures_util::future::BoxFuture;
use saturn_protocol::code::response;
use saturn_protocol::command::RemotingCommand;

use crate::channel::Channel;

/// Serves the requests arriving on connections (on a [`crate::Server`], and the server-initiated
/// requests a [`crate::RemotingClient`] receives).
///
/// The returned future is polled once by the connection's reader: if it is ready then, the
/// response is queued on the spot (no task, no extra wake-up — most requests); otherwise it
/// continues in a task of its own, so `handle` may await freely and a slow request never holds up
/// the others. Keep the work before the first await short: it runs on the reader. Responses go
/// out in completion order, matched by `opaque`. The transport copies the request's `opaque` and header form onto the
/// response and never writes a response to a oneway request. Unknown codes are the handler's
/// business (answer `REQUEST_CODE_NOT_SUPPORTED`).
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles one request; `None` means "no response" (required for oneway requests, allowed
    /// for others, in which case the peer times out).
    fn handle(
        &self,
        channel: &Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>>;

    /// Called once when a connection is established, before its first request is read.
    fn on_connected(&self, _channel: &Channel) {}

    /// Called once after a connection closed and its pending requests were failed.
    fn on_closed(&self, _channel: &Channel) {}
}

/// Answers every request with `REQUEST_CODE_NOT_SUPPORTED`: the default for clients that do not
/// expect server-initiated requests.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnsupportedHandler;

impl RequestHandler for UnsupportedHandler {
    fn handle(
        &self,
        _channel: &Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        // Same text as Java so tools that grep remarks keep working; rare path, a `format!` is fine.
        let remark = format!(" request type {} not supported", request.code);
        let reply = request.response_to(response::REQUEST_CODE_NOT_SUPPORTED, Some(remark));
        Box::pin(async move { Some(reply) })
    }
}
