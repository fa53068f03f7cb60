//! Kafka end to end through the real `sluice serve`: a source on a fresh
//! topic feeds a trigger rule; a few hundred messages (raw, binary-mode and
//! structured CloudEvents, and repeats of some CloudEvents) are produced
//! while the server is killed with SIGKILL twice mid-stream and restarted
//! on the same store. Every distinct message starts exactly one execution:
//! none lost (offsets are committed only after the engine made the event
//! and its execution durable), none doubled (redelivered messages keep
//! their ids and are deduplicated). Needs tansu (or Kafka) on
//! KAFKA_BROKERS, default 127.0.0.1:9092; bounded to a few minutes.

mod support;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use std::time::Duration;
use support::{assert_one_execution_per_message, orders_from_source, stream_through_kills, Server};

/// Distinct messages produced.
const MESSAGES: usize = 451;

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn create_topic(name: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(name, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .expect("Kafka on KAFKA_BROKERS");
    for r in res {
        r.expect("topic created");
    }
}

/// What message `i` is: every third a binary-mode CloudEvent, every third
/// a structured one, the rest raw JSON with a key.
enum Kind {
    Binary,
    Structured,
    Raw,
}

fn kind(i: usize) -> Kind {
    match i % 3 {
        0 => Kind::Binary,
        1 => Kind::Structured,
        _ => Kind::Raw,
    }
}

fn send_one(p: &BaseProducer, topic: &str, i: usize) {
    let id = format!("ce-{i}");
    let data = json!({"n": i}).to_string();
    let structured = json!({"specversion": "1.0", "id": id, "source": "/test/kafka",
        "type": "test.order", "data": {"n": i}})
    .to_string();
    let key = format!("k{i}");
    let (body, headers): (&str, Vec<(&str, &str)>) = match kind(i) {
        Kind::Binary => (
            &data,
            vec![
                ("ce_specversion", "1.0"),
                ("ce_id", &id),
                ("ce_source", "/test/kafka"),
                ("ce_type", "test.order"),
                ("content-type", "application/json"),
            ],
        ),
        Kind::Structured => (
            &structured,
            vec![("content-type", "application/cloudevents+json")],
        ),
        Kind::Raw => (&data, vec![]),
    };
    let mut h = OwnedHeaders::new();
    for (k, v) in headers {
        h = h.insert(Header {
            key: k,
            value: Some(v),
        });
    }
    let rec = BaseRecord::to(topic).payload(body).key(&key).headers(h);
    p.send(rec).map_err(|(e, _)| e).expect("queued");
    // Delivered before it counts as sent.
    p.flush(Duration::from_secs(10)).expect("delivered");
}

#[test]
fn kill_9_mid_stream_starts_one_execution_per_message() {
    let topic = format!("kill9-{}", uuid::Uuid::new_v4().simple());
    create_topic(&topic);
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let mut server = Server::start(dir.path(), &functions);
    orders_from_source(
        &server,
        json!({"kind": "kafka", "brokers": brokers(), "topics": [topic],
            "group": format!("sluice-{topic}"), "startFrom": "earliest"}),
    );

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let t = topic.clone();
    // The killed consumer never left its group. A real Kafka rebalances
    // the group when the new consumer joins and the dead one's session
    // ends; tansu 0.6.0 instead makes the newcomer leader at SyncGroup with
    // no assignment, and it never receives a partition. Staying down past
    // the session timeout (10 s) lets tansu drop the dead member first.
    let down = Duration::from_secs(11);
    let kills = stream_through_kills(&mut server, MESSAGES, 2, down, move |i| {
        send_one(&producer, &t, i);
        // Some CloudEvents are sent twice: a repeat (same id) starts
        // nothing. (A raw message sent twice is two messages.)
        if i % 25 == 0 && !matches!(kind(i), Kind::Raw) {
            send_one(&producer, &t, i);
        }
    });
    assert_eq!(kills.len(), 2, "{kills:?}");
    eprintln!("killed at {kills:?}");
    // Redeliveries after the last restart have had time to come in.
    std::thread::sleep(Duration::from_secs(2));
    assert_one_execution_per_message(&server, MESSAGES, |n, input| {
        let id = input["id"].as_str().unwrap();
        match kind(n) {
            Kind::Binary | Kind::Structured => {
                assert_eq!(id, format!("ce-{n}"));
                assert_eq!(input["type"], "test.order");
            }
            Kind::Raw => {
                // Wrapped with the deterministic topic/partition/offset id.
                assert!(id.starts_with(&format!("{topic}/0/")), "{id}");
                assert_eq!(input["type"], "test.raw");
            }
        }
    });
}
