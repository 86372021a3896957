//! Consumes a topic with a push consumer until Ctrl-C.
//!
//! `cargo run -p saturn-client --example push_consumer -- [namesrv] [topic] [group] [expression]`
//! (defaults: `127.0.0.1:9876`, `TopicTest`, `example-consumer`, `*`).

use std::sync::Arc;

use saturn_client::{ConsumeFrom, ConsumeResult, MessageExt, PushConsumer, PushConsumerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let namesrv = args.next().unwrap_or_else(|| "127.0.0.1:9876".into());
    let topic = args.next().unwrap_or_else(|| "TopicTest".into());
    let group = args.next().unwrap_or_else(|| "example-consumer".into());
    let expression = args.next().unwrap_or_else(|| "*".into());

    let config = PushConsumerConfig {
        consume_from: ConsumeFrom::First,
        ..PushConsumerConfig::new(&namesrv, group, &topic, &expression)
    };
    // The listener runs on tokio's blocking pool: it may block.
    let listener = Arc::new(|msgs: &[MessageExt]| {
        for m in msgs {
            println!(
                "{} {:?} queue {} offset {} tags {:?}: {}",
                m.msg_id,
                m.topic,
                m.queue_id,
                m.queue_offset,
                m.tags,
                String::from_utf8_lossy(&m.body)
            );
        }
        ConsumeResult::Success
    });
    let consumer = PushConsumer::start(config, listener).await?;
    println!(
        "consuming as {}; queues {:?}",
        consumer.client_id(),
        consumer.assigned_queues()
    );
    tokio::signal::ctrl_c().await?;
    consumer.shutdown().await;
    Ok(())
}
