//! Reads a topic from the beginning with explicit offsets, then commits them.
//!
//! `cargo run -p saturn-client --example pull_consumer -- [namesrv] [topic] [group]`

use std::time::Duration;

use saturn_client::{LitePullConsumer, LitePullConsumerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let namesrv = args.next().unwrap_or_else(|| "127.0.0.1:9876".into());
    let topic = args.next().unwrap_or_else(|| "TopicTest".into());
    let group = args.next().unwrap_or_else(|| "example-pull".into());

    let consumer = LitePullConsumer::start(LitePullConsumerConfig::new(&namesrv, group)).await?;
    let queues = consumer.fetch_queues(&topic).await?;
    consumer.assign(queues.clone());
    for mq in &queues {
        consumer.seek_to_begin(mq).await?;
    }
    loop {
        let msgs = consumer.poll(Duration::from_secs(3)).await?;
        if msgs.is_empty() {
            break;
        }
        for m in &msgs {
            println!(
                "queue {} offset {}: {}",
                m.queue_id,
                m.queue_offset,
                String::from_utf8_lossy(&m.body)
            );
        }
    }
    for mq in &queues {
        println!("{mq:?} position {:?}", consumer.position(mq));
    }
    consumer.commit().await?;
    consumer.shutdown().await;
    Ok(())
}
