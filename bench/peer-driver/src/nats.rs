//! NATS JetStream: stream = topic (file storage, subject = topic), publishes await the
//! JetStream acknowledgement (the message is in the stream), consumer group = a durable pull
//! consumer without acknowledgements (like a RocketMQ group whose offset is committed now
//! and then, not per message).

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_nats::Subject;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use crate::args::Opts;
use crate::error::DriverError;
use crate::system::{Ack, Delivery, PeerSystem, Publisher, Receiver, StartAt};

/// How long one `receive` waits for the first message.
const RECEIVE_WAIT: Duration = Duration::from_millis(200);

/// The NATS JetStream peer.
pub struct Nats {
    url: String,
}

impl Nats {
    /// A peer at the URL of `opts`.
    pub fn new(opts: &Opts) -> Self {
        Self { url: opts.url() }
    }

    async fn context(&self) -> Result<jetstream::Context, DriverError> {
        let client = async_nats::connect(&self.url)
            .await
            .map_err(|e| DriverError::peer(format!("connect {}", self.url), e))?;
        Ok(jetstream::new(client))
    }
}

/// Publishes on its own connection.
pub struct NatsPublisher {
    js: jetstream::Context,
    subject: Subject,
}

impl Publisher for NatsPublisher {
    async fn submit(&mut self, body: Bytes) -> Result<Ack, DriverError> {
        let ack = self
            .js
            .publish(self.subject.clone(), body)
            .await
            .map_err(|e| DriverError::peer("publish", e))?;
        Ok(Box::pin(async move {
            ack.await
                .map(drop)
                .map_err(|e| DriverError::peer("publish ack", e))
        }))
    }
}

/// Pulls from a durable consumer on its own connection.
pub struct NatsReceiver {
    messages: consumer::pull::Stream,
    fetch: usize,
}

impl NatsReceiver {
    fn delivery(m: &jetstream::Message) -> Delivery {
        // The ack subject carries the time the server stored the message; a message without
        // one (should not happen) gets 0, i.e. an absurd latency rather than a failure.
        let stored_us = m
            .info()
            .ok()
            .and_then(|i| u64::try_from(i.published.unix_timestamp_nanos() / 1_000).ok())
            .unwrap_or(0);
        Delivery {
            body: m.payload.clone(),
            stored_us,
        }
    }
}

impl Receiver for NatsReceiver {
    async fn receive(&mut self, out: &mut Vec<Delivery>) -> Result<(), DriverError> {
        let first = match tokio::time::timeout(RECEIVE_WAIT, self.messages.next()).await {
            Err(_) => return Ok(()),
            Ok(None) => return Err(DriverError::peer("pull", "message stream ended")),
            Ok(Some(m)) => m.map_err(|e| DriverError::peer("pull", e))?,
        };
        out.push(Self::delivery(&first));
        // Take what is already buffered without waiting again.
        while out.len() < self.fetch {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(m))) => out.push(Self::delivery(&m)),
                Some(Some(Err(e))) => return Err(DriverError::peer("pull", e)),
                Some(None) | None => break,
            }
        }
        Ok(())
    }
}

impl PeerSystem for Nats {
    type Pub = NatsPublisher;
    type Recv = NatsReceiver;

    fn name(&self) -> &'static str {
        "nats"
    }

    async fn ensure_stream(&self, topic: &str) -> Result<(), DriverError> {
        let js = self.context().await?;
        js.get_or_create_stream(stream::Config {
            name: topic.to_owned(),
            subjects: vec![topic.to_owned()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| DriverError::peer(format!("create stream {topic}"), e))?;
        Ok(())
    }

    async fn ensure_group(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> Result<(), DriverError> {
        let js = self.context().await?;
        let stream = js
            .get_stream(topic)
            .await
            .map_err(|e| DriverError::peer(format!("stream {topic}"), e))?;
        stream
            .get_or_create_consumer(
                group,
                consumer::pull::Config {
                    durable_name: Some(group.to_owned()),
                    deliver_policy: match start {
                        StartAt::First => consumer::DeliverPolicy::All,
                        StartAt::New => consumer::DeliverPolicy::New,
                    },
                    ack_policy: consumer::AckPolicy::None,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| DriverError::peer(format!("consumer {group}"), e))?;
        Ok(())
    }

    async fn publisher(&self, topic: &str) -> Result<NatsPublisher, DriverError> {
        Ok(NatsPublisher {
            js: self.context().await?,
            subject: Subject::from(topic),
        })
    }

    async fn receiver(
        &self,
        topic: &str,
        group: &str,
        _index: usize,
        fetch: usize,
    ) -> Result<NatsReceiver, DriverError> {
        let js = self.context().await?;
        let stream = js
            .get_stream(topic)
            .await
            .map_err(|e| DriverError::peer(format!("stream {topic}"), e))?;
        let consumer: consumer::PullConsumer = stream
            .get_consumer(group)
            .await
            .map_err(|e| DriverError::peer(format!("consumer {group}"), e))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(fetch)
            .messages()
            .await
            .map_err(|e| DriverError::peer("pull", e))?;
        Ok(NatsReceiver { messages, fetch })
    }
}
