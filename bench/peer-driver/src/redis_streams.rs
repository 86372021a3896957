//! Redis Streams: stream = key `topic`, one entry per message (`XADD topic * d BODY`, answered
//! once the entry is in memory and queued for the AOF), consumer group = `XGROUP` read with
//! `XREADGROUP … NOACK` (no pending-entry list, like a RocketMQ group whose offset is
//! committed now and then, not per message).

use std::time::Duration;

use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Value};

use crate::args::Opts;
use crate::error::DriverError;
use crate::system::{Ack, Delivery, PeerSystem, Publisher, Receiver, StartAt};

/// How long one XREADGROUP blocks for the first entry (ms).
const BLOCK_MS: u64 = 200;
/// Reply timeout of a connection: well above BLOCK_MS and a loaded server's stalls (the crate's
/// default of 500 ms would turn an AOF rewrite pause into errors).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Redis Streams peer.
pub struct RedisStreams {
    client: Client,
}

impl RedisStreams {
    /// A peer at the URL of `opts`.
    pub fn new(opts: &Opts) -> Result<Self, DriverError> {
        let url = opts.url();
        let client = Client::open(url.as_str())
            .map_err(|e| DriverError::peer(format!("redis url {url}"), e))?;
        Ok(Self { client })
    }

    async fn connect(&self) -> Result<MultiplexedConnection, DriverError> {
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| DriverError::peer("connect", e))
    }
}

/// Appends on its own connection (requests pipeline on it in async mode).
pub struct RedisPublisher {
    conn: MultiplexedConnection,
    key: Bytes,
}

impl Publisher for RedisPublisher {
    async fn submit(&mut self, body: Bytes) -> Result<Ack, DriverError> {
        let mut conn = self.conn.clone();
        let key = self.key.clone();
        Ok(Box::pin(async move {
            redis::cmd("XADD")
                .arg(key.as_ref())
                .arg("*")
                .arg("d")
                .arg(body.as_ref())
                .query_async::<Value>(&mut conn)
                .await
                .map(drop)
                .map_err(|e| DriverError::peer("XADD", e))
        }))
    }
}

/// Reads its group's new entries on its own connection.
pub struct RedisReceiver {
    conn: MultiplexedConnection,
    key: String,
    group: String,
    name: String,
    fetch: usize,
}

impl Receiver for RedisReceiver {
    async fn receive(&mut self, out: &mut Vec<Delivery>) -> Result<(), DriverError> {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.group)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.fetch)
            .arg("BLOCK")
            .arg(BLOCK_MS)
            .arg("NOACK")
            .arg("STREAMS")
            .arg(&self.key)
            .arg(">")
            .query_async(&mut self.conn)
            .await
            .map_err(|e| DriverError::peer("XREADGROUP", e))?;
        parse_read_reply(reply, out)
    }
}

/// Decodes an XREADGROUP reply — `[[key, [[id, [field, value, …]], …]]]`, or nil on timeout —
/// into deliveries (body = the first value; stored time = the id's milliseconds).
fn parse_read_reply(reply: Value, out: &mut Vec<Delivery>) -> Result<(), DriverError> {
    let bad = |what: &str| DriverError::peer("XREADGROUP reply", what);
    let streams = match reply {
        Value::Nil => return Ok(()),
        Value::Array(a) => a,
        // The connection speaks RESP2 (the default), so no RESP3 map is expected.
        _ => return Err(bad("not an array")),
    };
    for stream in streams {
        let Value::Array(parts) = stream else {
            return Err(bad("stream is not an array"));
        };
        let Some(Value::Array(entries)) = parts.into_iter().nth(1) else {
            return Err(bad("no entries"));
        };
        for entry in entries {
            let Value::Array(mut fields) = entry else {
                return Err(bad("entry is not an array"));
            };
            let (Some(Value::Array(kv)), Some(Value::BulkString(id))) =
                (fields.pop(), fields.pop())
            else {
                return Err(bad("entry is not [id, fields]"));
            };
            let Some(Value::BulkString(body)) = kv.into_iter().nth(1) else {
                return Err(bad("entry has no value"));
            };
            out.push(Delivery {
                body: Bytes::from(body),
                stored_us: id_millis(&id).saturating_mul(1_000),
            });
        }
    }
    Ok(())
}

/// The milliseconds part of a stream id `ms-seq` (0 if malformed).
fn id_millis(id: &[u8]) -> u64 {
    let ms = id.split(|&b| b == b'-').next().unwrap_or_default();
    std::str::from_utf8(ms)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl PeerSystem for RedisStreams {
    type Pub = RedisPublisher;
    type Recv = RedisReceiver;

    fn name(&self) -> &'static str {
        "redis"
    }

    async fn ensure_stream(&self, _topic: &str) -> Result<(), DriverError> {
        // XADD creates the key.
        Ok(())
    }

    async fn ensure_group(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> Result<(), DriverError> {
        let mut conn = self.connect().await?;
        let exists: i64 = redis::cmd("EXISTS")
            .arg(topic)
            .query_async(&mut conn)
            .await
            .map_err(|e| DriverError::peer("EXISTS", e))?;
        if exists == 0 && start == StartAt::First {
            return Err(DriverError::peer(
                format!("stream {topic}"),
                "does not exist (produce a backlog first)",
            ));
        }
        let created: Result<Value, _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(topic)
            .arg(group)
            .arg(match start {
                StartAt::First => "0",
                StartAt::New => "$",
            })
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(_) => Ok(()),
            // The group exists already: reuse it, as a RocketMQ group would.
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(DriverError::peer(
                format!("XGROUP CREATE {topic} {group}"),
                e,
            )),
        }
    }

    async fn publisher(&self, topic: &str) -> Result<RedisPublisher, DriverError> {
        Ok(RedisPublisher {
            conn: self.connect().await?,
            key: Bytes::copy_from_slice(topic.as_bytes()),
        })
    }

    async fn receiver(
        &self,
        topic: &str,
        group: &str,
        index: usize,
        fetch: usize,
    ) -> Result<RedisReceiver, DriverError> {
        Ok(RedisReceiver {
            conn: self.connect().await?,
            key: topic.to_owned(),
            group: group.to_owned(),
            name: format!("c{index}"),
            fetch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &[u8]) -> Value {
        Value::BulkString(s.to_vec())
    }

    #[test]
    fn read_reply_yields_bodies_and_store_times() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk(b"T"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk(b"1700000000123-0"),
                    Value::Array(vec![bulk(b"d"), bulk(b"abc")]),
                ]),
                Value::Array(vec![
                    bulk(b"1700000000124-5"),
                    Value::Array(vec![bulk(b"d"), bulk(b"")]),
                ]),
            ]),
        ])]);
        let mut out = Vec::new();
        parse_read_reply(reply, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(&out[0].body[..], b"abc");
        assert_eq!(out[0].stored_us, 1_700_000_000_123_000);
        assert_eq!(out[1].stored_us, 1_700_000_000_124_000);
        parse_read_reply(Value::Nil, &mut out).unwrap();
        assert_eq!(out.len(), 2, "nil = timeout, nothing added");
        assert!(parse_read_reply(Value::Int(3), &mut out).is_err());
    }
}
