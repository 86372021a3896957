//! Sends order events so that all events of one order land in one queue, in order.
//!
//! `cargo run -p saturn-client --example ordered_producer -- [namesrv] [topic]`

use saturn_client::{Message, Producer, ProducerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let namesrv = args.next().unwrap_or_else(|| "127.0.0.1:9876".into());
    let topic = args.next().unwrap_or_else(|| "OrderTopic".into());

    let producer = Producer::start(ProducerConfig::new(&namesrv, "example-ordered")).await?;
    for order in 0..5 {
        let order_id = format!("order-{order}");
        for step in ["created", "paid", "shipped"] {
            let msg = Message::new(topic.as_str(), format!("{order_id} {step}"))
                .with_tags(step)
                .with_key(order_id.as_str());
            // Same sharding key → same queue (hash of the key modulo the queue count).
            let r = producer.send_ordered(msg, &order_id).await?;
            println!(
                "{order_id} {step} -> queue {} offset {}",
                r.queue.queue_id, r.queue_offset
            );
        }
    }
    // A custom selector works too: here everything goes to the first queue.
    let r = producer
        .send_with_selector(
            Message::new(topic.as_str(), "global order"),
            |_queues, _msg| 0,
        )
        .await?;
    println!("selector -> {:?}", r.queue);
    producer.shutdown().await;
    Ok(())
}
