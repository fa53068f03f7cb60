//! `sluice serve --status-events`: execution status changes published as
//! CloudEvents to the real RabbitMQ and the real Kafka-protocol broker
//! (tansu), and none lost while the broker refuses them or the server is
//! killed.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::ExchangeKind;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;
use serde_json::{json, Value};
use support::Server;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn kafka() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A topic exchange with a queue bound to every status event.
async fn amqp_queue(exchange: &str, queue: &str) {
    let conn = sluice_connectors::amqp::connect(AMQP).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        exchange,
        ExchangeKind::Topic,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(queue, QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap();
    ch.queue_bind(
        queue,
        exchange,
        "sluice.execution.#",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

/// Reads `n` messages from the queue: (routing key, CloudEvent type header,
/// CloudEvent id header, body).
async fn amqp_take(queue: &str, n: usize) -> Vec<(String, String, String, Value)> {
    let conn = sluice_connectors::amqp::connect(AMQP).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} status events: {out:?}",
            out.len()
        );
        let Some(m) = ch
            .basic_get(queue, BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let header = |name: &str| -> String {
            m.delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get(name).cloned())
                .map(|v| match v {
                    AMQPValue::LongString(s) => s.to_string(),
                    AMQPValue::ShortString(s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default()
        };
        out.push((
            m.delivery.routing_key.to_string(),
            header("cloudEvents_type"),
            header("cloudEvents_id"),
            serde_json::from_slice(&m.delivery.data).unwrap(),
        ));
    }
    out
}

async fn kafka_topic(topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka())
        .create()
        .unwrap();
    let res = admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("Kafka on KAFKA_BROKERS");
    for r in res {
        r.expect("topic created");
    }
}

/// Reads `n` messages: (key, ce_type header, body).
async fn kafka_take(topic: &str, n: usize) -> Vec<(String, String, Value)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka())
        .set("group.id", unique("status-test"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} status events on Kafka", out.len()))
            .unwrap();
        let ce_type = m
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|x| x.key == "ce_type")
                    .and_then(|x| x.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            })
            .unwrap_or_default();
        out.push((
            String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            ce_type,
            serde_json::from_slice(m.payload().unwrap_or(b"null")).unwrap(),
        ));
    }
    out
}

fn deploy(server: &Server) {
    let ok = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"done": true}, "End": true}}});
    let bad = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad.Order", "Cause": "no stock"}}});
    assert_eq!(server.call("PUT", "/api/v1/workflows/ok", Some(ok)).0, 200);
    assert_eq!(
        server.call("PUT", "/api/v1/workflows/bad", Some(bad)).0,
        200
    );
}

fn run(server: &Server, workflow: &str, input: Value) -> String {
    let (status, body) = server.call(
        "POST",
        &format!("/api/v1/workflows/{workflow}/executions?wait=10"),
        Some(json!({"input": input})),
    );
    assert_eq!(status, 200, "{body}");
    body["executionId"].as_str().unwrap().to_string()
}

#[test]
fn status_changes_reach_amqp_and_kafka_as_cloud_events() {
    let rt = runtime();
    let (exchange, queue, topic) = (unique("status"), unique("status-q"), unique("status"));
    rt.block_on(async {
        amqp_queue(&exchange, &queue).await;
        kafka_topic(&topic).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let amqp_dest = format!("amqp:{exchange}");
    let kafka_dest = format!("kafka:{topic}");
    let brokers = kafka();
    let server = Server::start_with(
        dir.path(),
        dir.path(),
        &[
            "--amqp-url",
            AMQP,
            "--kafka-brokers",
            &brokers,
            "--status-events",
            &amqp_dest,
            "--status-events",
            &kafka_dest,
        ],
    );
    deploy(&server);
    let good = run(&server, "ok", json!({"order": 1}));
    let failed = run(&server, "bad", json!({"order": 2}));

    let got = rt.block_on(amqp_take(&queue, 4));
    let by_type: BTreeMap<(String, String), &(String, String, String, Value)> = got
        .iter()
        .map(|m| {
            (
                (
                    m.3["executionId"].as_str().unwrap().to_string(),
                    m.1.clone(),
                ),
                m,
            )
        })
        .collect();
    assert_eq!(by_type.len(), 4, "four distinct events: {got:?}");
    let started = by_type[&(good.clone(), "sluice.execution.started".into())];
    assert_eq!(
        started.0, "sluice.execution.started",
        "routing key is the type"
    );
    assert_eq!(started.3["input"], json!({"order": 1}));
    assert_eq!(started.3["status"], "RUNNING");
    assert!(started.3.get("output").is_none(), "a start tells no output");
    let succeeded = by_type[&(good.clone(), "sluice.execution.succeeded".into())];
    assert_eq!(succeeded.3["output"], json!({"done": true}));
    assert_eq!(succeeded.3["previousStatus"], "RUNNING");
    assert_eq!(succeeded.3["workflow"], "ok");
    let fail = by_type[&(failed.clone(), "sluice.execution.failed".into())];
    assert_eq!(
        (fail.3["error"].as_str(), fail.3["cause"].as_str()),
        (Some("Bad.Order"), Some("no stock"))
    );
    assert!(
        fail.2.starts_with(&format!("{failed}/FAILED@")),
        "CloudEvent id {}",
        fail.2
    );

    let on_kafka = rt.block_on(kafka_take(&topic, 4));
    let mut kinds: Vec<(String, String)> = on_kafka
        .iter()
        .map(|m| (m.0.clone(), m.1.clone()))
        .collect();
    kinds.sort();
    let mut want = vec![
        (good.clone(), "sluice.execution.started".to_string()),
        (good.clone(), "sluice.execution.succeeded".to_string()),
        (failed.clone(), "sluice.execution.failed".to_string()),
        (failed.clone(), "sluice.execution.started".to_string()),
    ];
    want.sort();
    assert_eq!(kinds, want, "keyed by execution id, typed by ce_type");
    // One execution's events keep their order on its partition.
    let good_order: Vec<&str> = on_kafka
        .iter()
        .filter(|m| m.0 == good)
        .map(|m| m.1.as_str())
        .collect();
    assert_eq!(
        good_order,
        ["sluice.execution.started", "sluice.execution.succeeded"]
    );
}

#[test]
fn changes_wait_in_the_store_while_the_broker_refuses_them_and_across_kill_9() {
    let rt = runtime();
    // The exchange does not exist yet: every publish fails.
    let (exchange, queue) = (unique("status-late"), unique("status-late-q"));
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("amqp:{exchange}");
    let args = ["--amqp-url", AMQP, "--status-events", &dest];
    let mut server = Server::start_with(dir.path(), dir.path(), &args);
    deploy(&server);
    let ids: Vec<String> = (0..5)
        .map(|i| run(&server, "ok", json!({"n": i})))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();

    rt.block_on(amqp_queue(&exchange, &queue));
    let server = Server::start_with(dir.path(), dir.path(), &args);
    let got = rt.block_on(amqp_take(&queue, 10));
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            (
                m.3["executionId"].as_str().unwrap().to_string(),
                m.1.clone(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        10,
        "every start and end of the five executions: {seen:?}"
    );
    for id in &ids {
        assert!(
            seen.contains(&(id.clone(), "sluice.execution.succeeded".into())),
            "{id}"
        );
    }
    drop(server);
    rt.block_on(async {
        let conn = sluice_connectors::amqp::connect(AMQP).await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        let _ = ch
            .exchange_delete(&exchange, ExchangeDeleteOptions::default())
            .await;
    });
}

#[test]
fn a_bad_destination_is_refused_at_start_naming_the_flag() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--data"])
        .arg(tempfile::tempdir().unwrap().path())
        .args(["--listen", "127.0.0.1:0", "--status-events", "kafka:runs"])
        .env_remove("SLUICE_KAFKA_BROKERS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--status-events kafka:runs") && err.contains("--kafka-brokers"),
        "{err}"
    );
}
