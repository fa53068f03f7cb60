//! The `sluice:amqp:publish` task resource against the real RabbitMQ: what
//! it publishes, the AMQP source reads back (binary-mode CloudEvents).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{unique, wait_until, RecordingSink};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use serde_json::json;
use sluice_connectors::publish::{
    PublishConfig, PublishExecutor, INVALID_PARAMETERS, PUBLISH_FAILED,
};
use sluice_connectors::{amqp, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;
use sluice_engine::{Executor, TaskInvocation};

fn url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn task(payload: serde_json::Value, key: &str) -> TaskInvocation {
    TaskInvocation {
        resource: "sluice:amqp:publish".into(),
        payload,
        idempotency_key: key.into(),
        task_token: None,
        timeout_seconds: Some(10),
        execution_id: "e".into(),
        state: "Publish".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_and_messages_come_back_through_the_source() {
    let queue = unique("sluice-pub");
    let conn = amqp::connect(&url()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        &queue,
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();

    let publisher = PublishExecutor::new(PublishConfig {
        amqp_url: Some(url()),
        kafka_brokers: None,
    });
    let out = publisher
        .invoke(task(json!({"routingKey": queue, "event": {"specversion": "1.0", "id": "ev-1",
            "source": "/billing", "type": "invoice.sent", "subject": "inv-9", "data": {"total": 12}}}), "exec/1/0"))
        .await
        .unwrap();
    assert_eq!(out, json!({"exchange": "", "routingKey": queue}));
    publisher
        .invoke(task(
            json!({"routingKey": queue, "message": {"plain": true}}),
            "exec/2/0",
        ))
        .await
        .unwrap();

    let sink = RecordingSink::new();
    let def = SourceDef::from_value(
        &json!({"name": "back", "kind": "amqp", "url": url(), "queue": queue}),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let task_handle = tokio::spawn(amqp::run(
        def,
        sink.clone(),
        Arc::new(SourceStatus::new()),
        stop.clone(),
    ));
    wait_until(20, "both messages", || sink.events().len() == 2).await;
    let ev = sink.events();
    assert_eq!(ev[0]["id"], "ev-1");
    assert_eq!(ev[0]["subject"], "inv-9");
    assert_eq!(ev[0]["data"], json!({"total": 12}));
    // A plain message is wrapped; the task's idempotency key is its message id.
    assert_eq!(ev[1]["id"], format!("{queue}/exec/2/0"));
    assert_eq!(ev[1]["data"], json!({"plain": true}));
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_handle)
        .await
        .unwrap()
        .unwrap();

    // Errors say whether a retry can help.
    let bad = publisher
        .invoke(task(json!({"message": 1}), "k"))
        .await
        .unwrap_err();
    assert_eq!(bad.error, INVALID_PARAMETERS);
    assert!(bad.cause.contains("/routingKey"));
    let unreachable = publisher
        .invoke(task(
            json!({"url": "amqp://guest:guest@127.0.0.1:1/%2f", "routingKey": "q", "message": 1}),
            "k",
        ))
        .await
        .unwrap_err();
    assert_eq!(unreachable.error, PUBLISH_FAILED);
    ch.queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
}
