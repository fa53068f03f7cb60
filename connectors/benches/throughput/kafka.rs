//! Kafka: the bare rdkafka consumer against the Kafka source into an engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use sluice_connectors::{kafka, CancellationToken, SourceStatus};
use sluice_dsl::source::{KafkaSource, SourceDef};
use sluice_engine::InboundEvent;

use crate::{body, check_started, engine, engine_alone_rows, time_source, Args, Row, Timing};
use crate::{DURABILITIES, EVENT_TYPE};

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

async fn create_topic(topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    for r in admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("Kafka on KAFKA_BROKERS")
    {
        r.expect("topic created");
    }
}

/// Produces `count` messages (batched by librdkafka) and waits for all.
fn produce(topic: &str, count: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "200000")
        .create()
        .unwrap();
    for i in 0..count {
        let payload = body(i);
        loop {
            match p.send(BaseRecord::<(), _>::to(topic).payload(&payload)) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    p.poll(Duration::from_millis(50));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    p.flush(Duration::from_secs(120)).expect("all produced");
}

fn source_config(topic: &str) -> KafkaSource {
    let def = SourceDef::from_value(&source_json(topic)).unwrap();
    match def.spec {
        sluice_dsl::source::SourceSpec::Kafka(k) => k,
        _ => unreachable!(),
    }
}

fn source_json(topic: &str) -> serde_json::Value {
    json!({"name": "bench", "kind": "kafka", "brokers": brokers(), "topics": [topic],
        "group": unique("bench"), "startFrom": "earliest", "type": EVENT_TYPE})
}

/// The bare client: `recv` until `count` messages, with the source's settings.
async fn raw_consume(topic: &str, count: usize) -> Timing {
    let started = Instant::now();
    let consumer: StreamConsumer = kafka::consumer_config(&source_config(topic))
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut stream = consumer.stream();
    let mut bytes = stream.next().await.unwrap().unwrap().payload_len();
    let first = started.elapsed();
    for _ in 1..count {
        bytes += stream.next().await.unwrap().unwrap().payload_len();
    }
    let total = started.elapsed();
    assert!(bytes > count * 50);
    Timing { first, total }
}

/// The events the source makes of the messages, for the engine-alone case.
pub fn events(topic: &str, count: usize) -> Vec<InboundEvent> {
    (0..count)
        .map(|i| InboundEvent {
            source: "bench".into(),
            event: json!({"specversion": "1.0", "id": kafka::raw_id(topic, 0, i as i64),
                "source": "sluice://sources/bench", "type": EVENT_TYPE,
                "datacontenttype": "application/json",
                "data": serde_json::from_slice::<serde_json::Value>(&body(i)).unwrap()}),
        })
        .collect()
}

pub async fn run(args: &Args) -> Vec<Row> {
    let n = args.messages;
    let topic = unique("bench");
    create_topic(&topic).await;
    let t = Instant::now();
    let tp = topic.clone();
    tokio::task::spawn_blocking(move || produce(&tp, n))
        .await
        .unwrap();
    println!(
        "kafka: {n} messages produced to {topic} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut rows = vec![Row {
        case: "rdkafka StreamConsumer alone (the floor)".into(),
        messages: n,
        timing: raw_consume(&topic, n).await,
    }];
    for (durability, name) in DURABILITIES {
        let (engine, _dir) = engine(durability).await;
        let def = SourceDef::from_value(&source_json(&topic)).unwrap();
        let status = Arc::new(SourceStatus::new());
        let stop = CancellationToken::new();
        let started = Instant::now();
        let task = tokio::spawn(kafka::run(
            def,
            Arc::new(engine.clone()),
            status.clone(),
            stop.clone(),
        ));
        let timing = time_source(started, &status, n as u64).await;
        stop.cancel();
        task.await.unwrap();
        check_started(&engine, n as u64);
        rows.push(Row {
            case: format!("Kafka source → engine, --durability {name}"),
            messages: n,
            timing,
        });
    }
    rows.extend(engine_alone_rows(n, || events(&topic, n)).await);
    rows
}
