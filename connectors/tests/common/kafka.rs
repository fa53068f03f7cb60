//! Kafka helpers for the tests against a real Kafka-protocol broker
//! (tansu; address in KAFKA_BROKERS, default 127.0.0.1:9092).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};

pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// Creates the topics on `brokers` (tansu does not auto-create them).
pub async fn create_topics_on(brokers: &str, names: &[&str], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
        .collect();
    let res = admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .unwrap_or_else(|e| panic!("Kafka on {brokers}: {e}"));
    for r in res {
        r.expect("topic created");
    }
}

pub async fn create_topics(names: &[&str], partitions: i32) {
    create_topics_on(&brokers(), names, partitions).await
}

/// The first `count` messages of `topic`, read by a fresh group from the
/// earliest offset; panics when they do not come within 30 s.
pub async fn read_topic(topic: &str, count: usize) -> Vec<OwnedMessage> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", super::unique("reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for _ in 0..60 {
            if let Some(m) = c.poll(Duration::from_millis(500)) {
                out.push(m.unwrap().detach());
                if out.len() == count {
                    return out;
                }
            }
        }
        panic!("{} of {count} messages in topic {topic}", out.len());
    })
    .await
    .unwrap()
}

/// A header's value as text.
pub fn header(m: &OwnedMessage, key: &str) -> Option<String> {
    m.headers()?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}
