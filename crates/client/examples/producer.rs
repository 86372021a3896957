//! Sends a few messages every way the producer can: sync, async (spawned), oneway and batch.
//!
//! `cargo run -p saturn-client --example producer -- [namesrv] [topic] [count]`
//! (defaults: `127.0.0.1:9876`, `TopicTest`, 10).

use saturn_client::{Message, Producer, ProducerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let namesrv = args.next().unwrap_or_else(|| "127.0.0.1:9876".into());
    let topic = args.next().unwrap_or_else(|| "TopicTest".into());
    let count: usize = args.next().map_or(Ok(10), |s| s.parse())?;

    let producer = Producer::start(ProducerConfig::new(&namesrv, "example-producer")).await?;

    // Sync: wait for the broker's answer.
    for i in 0..count {
        let msg = Message::new(topic.as_str(), format!("sync {i}"))
            .with_tags("TagA")
            .with_key(format!("key-{i}"));
        let r = producer.send(msg).await?;
        println!(
            "sent {} -> {:?} offset {} ({:?})",
            r.msg_id, r.queue, r.queue_offset, r.status
        );
    }

    // Async: the send is a future; spawn it and collect the result later.
    let mut pending = Vec::new();
    for i in 0..count {
        let p = producer.clone();
        let msg = Message::new(topic.as_str(), format!("async {i}")).with_tags("TagB");
        pending.push(tokio::spawn(async move { p.send(msg).await }));
    }
    for task in pending {
        let r = task.await??;
        println!("async sent {}", r.msg_id);
    }

    // Oneway: no answer at all.
    producer
        .send_oneway(Message::new(topic.as_str(), "fire and forget"))
        .await?;

    // Batch: one request, consecutive offsets in one queue.
    let batch = (0..count)
        .map(|i| Message::new(topic.as_str(), format!("batch {i}")).with_tags("TagC"))
        .collect();
    let r = producer.send_batch(batch).await?;
    println!(
        "batch of {count} at {:?} from offset {}",
        r.queue, r.queue_offset
    );

    producer.shutdown().await;
    Ok(())
}
