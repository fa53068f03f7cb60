//! The `sluice:kafka:publish` task resource against a real Kafka-protocol
//! broker (tansu; KAFKA_BROKERS, default 127.0.0.1:9092): the records it
//! writes (key, headers, binary-mode CloudEvent attributes, idempotency
//! key), what the Kafka source reads back from them, and a record that is
//! not a valid CloudEvent going to the source's dead-letter topic.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::kafka::{brokers, create_topics, header, read_topic};
use common::{unique, wait_until, RecordingSink};
use rdkafka::message::Message;
use serde_json::json;
use sluice_connectors::publish::{
    PublishConfig, PublishExecutor, INVALID_PARAMETERS, PUBLISH_FAILED,
};
use sluice_connectors::{kafka, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;
use sluice_engine::{Executor, TaskInvocation};

fn task(payload: serde_json::Value, key: &str) -> TaskInvocation {
    TaskInvocation {
        resource: "sluice:kafka:publish".into(),
        payload,
        idempotency_key: key.into(),
        task_token: None,
        timeout_seconds: Some(20),
        execution_id: "e".into(),
        state: "Publish".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_records_come_back_through_the_source() {
    let (topic, dlq) = (unique("pub"), unique("pub-dlq"));
    create_topics(&[&topic, &dlq], 1).await;
    let publisher = PublishExecutor::new(PublishConfig {
        kafka_brokers: Some(brokers()),
        amqp_url: None,
    });

    // A CloudEvent, sent in binary mode with a key and a header of its own.
    let out = publisher
        .invoke(task(
            json!({"topic": topic, "key": "inv-9", "headers": {"tenant": "acme"},
                "event": {"specversion": "1.0", "id": "ev-1", "source": "/billing",
                    "type": "invoice.sent", "subject": "inv-9", "data": {"total": 12}}}),
            "exec-1/3/0",
        ))
        .await
        .unwrap();
    assert_eq!(out, json!({"topic": topic, "partition": 0, "offset": 0}));
    // A JSON message and a text message.
    let out = publisher
        .invoke(task(
            json!({"topic": topic, "message": {"plain": true}}),
            "exec-2/1/0",
        ))
        .await
        .unwrap();
    assert_eq!(out["offset"], 1);
    publisher
        .invoke(task(
            json!({"topic": topic, "message": "hello"}),
            "exec-3/1/0",
        ))
        .await
        .unwrap();
    // Headers that claim binary mode without the required attributes: a
    // record the source cannot read as a CloudEvent.
    publisher
        .invoke(task(
            json!({"topic": topic, "message": "half an event",
                "headers": {"ce_specversion": "1.0", "ce_type": "t"}}),
            "exec-4/1/0",
        ))
        .await
        .unwrap();

    // The records as written.
    let records = read_topic(&topic, 4).await;
    let ev = &records[0];
    assert_eq!(ev.key(), Some(&b"inv-9"[..]));
    assert_eq!(ev.payload(), Some(&br#"{"total":12}"#[..]));
    assert_eq!(header(ev, "ce_id").as_deref(), Some("ev-1"));
    assert_eq!(header(ev, "ce_specversion").as_deref(), Some("1.0"));
    assert_eq!(header(ev, "ce_subject").as_deref(), Some("inv-9"));
    assert_eq!(
        header(ev, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(header(ev, "tenant").as_deref(), Some("acme"));
    assert_eq!(
        header(ev, "sluice_idempotency_key").as_deref(),
        Some("exec-1/3/0")
    );
    assert_eq!(records[1].key(), None);
    assert_eq!(records[1].payload(), Some(&br#"{"plain":true}"#[..]));
    assert_eq!(
        header(&records[2], "content-type").as_deref(),
        Some("text/plain")
    );

    // Read back through the source, which copies the unreadable record to
    // its dead-letter topic.
    let sink = RecordingSink::new();
    let def = SourceDef::from_value(
        &json!({"name": "back", "kind": "kafka", "brokers": brokers(),
        "topics": [topic], "group": unique("g"), "startFrom": "earliest",
        "deadLetter": {"topic": dlq}}),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let status = Arc::new(SourceStatus::new());
    let handle = tokio::spawn(kafka::run(def, sink.clone(), status.clone(), stop.clone()));
    wait_until(60, "three events and a dead letter", || {
        sink.events().len() == 3 && sink.letters().len() == 1
    })
    .await;
    let events = sink.events();
    assert_eq!(events[0]["id"], "ev-1");
    assert_eq!(events[0]["type"], "invoice.sent");
    assert_eq!(events[0]["subject"], "inv-9");
    assert_eq!(events[0]["data"], json!({"total": 12}));
    assert_eq!(events[1]["id"], format!("{topic}/0/1"));
    assert_eq!(events[1]["data"], json!({"plain": true}));
    assert_eq!(events[2]["data"], "hello");
    assert_eq!(events[2]["datacontenttype"], "text/plain");
    let letter = &sink.letters()[0];
    assert_eq!(letter.body, "half an event");
    assert!(letter.reason.contains("'id'"), "{}", letter.reason);
    assert_eq!(status.snapshot().dead_lettered, 1);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(15), handle)
        .await
        .unwrap()
        .unwrap();

    // The copy in the dead-letter topic keeps the record and says why and
    // where it came from.
    let copy = read_topic(&dlq, 1).await.remove(0);
    assert_eq!(copy.payload(), Some(&b"half an event"[..]));
    assert_eq!(
        header(&copy, "sluice_dead_letter_origin"),
        Some(format!("{topic}/0/3"))
    );
    assert_eq!(
        header(&copy, "sluice_dead_letter_reason").as_deref(),
        Some(letter.reason.as_str())
    );
    assert_eq!(
        header(&copy, "sluice_idempotency_key").as_deref(),
        Some("exec-4/1/0")
    );

    // Errors say whether a retry can help.
    let bad = publisher
        .invoke(task(json!({"message": 1}), "k"))
        .await
        .unwrap_err();
    assert_eq!(bad.error, INVALID_PARAMETERS);
    assert!(bad.cause.contains("/topic"), "{}", bad.cause);
    let both = publisher
        .invoke(task(
            json!({"topic": topic, "message": 1, "event": {}}),
            "k",
        ))
        .await
        .unwrap_err();
    assert_eq!(both.error, INVALID_PARAMETERS);
    let unreachable = publisher
        .invoke(task(
            json!({"brokers": "127.0.0.1:1", "topic": topic, "message": 1}),
            "k",
        ))
        .await
        .unwrap_err();
    assert_eq!(unreachable.error, PUBLISH_FAILED);
    assert!(unreachable.cause.contains(&topic), "{}", unreachable.cause);
}
