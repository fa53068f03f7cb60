//! The AMQP source reconnects after RabbitMQ restarts (rabbitmqctl
//! stop_app / start_app: the node stays up, connections drop).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{unique, wait_until, RecordingSink};
use lapin::options::{BasicPublishOptions, QueueDeleteOptions};
use lapin::BasicProperties;
use serde_json::json;
use sluice_connectors::{amqp, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;

fn rabbitmqctl(arg: &str) {
    let ok = Command::new("rabbitmqctl")
        .arg(arg)
        .status()
        .expect("rabbitmqctl on PATH")
        .success();
    assert!(ok, "rabbitmqctl {arg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_broker_restarts() {
    let url = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let queue = unique("sluice-restart");
    let sink = RecordingSink::new();
    let def =
        SourceDef::from_value(&json!({"name": "r", "kind": "amqp", "url": url, "queue": queue}))
            .unwrap();
    let status = Arc::new(SourceStatus::new());
    let stop = CancellationToken::new();
    let task = tokio::spawn(amqp::run(def, sink.clone(), status.clone(), stop.clone()));
    wait_until(20, "connected", || status.snapshot().connected).await;

    rabbitmqctl("stop_app");
    let restarted = std::panic::AssertUnwindSafe(async {
        wait_until(20, "disconnected", || !status.snapshot().connected).await;
    });
    let outcome = futures::FutureExt::catch_unwind(restarted).await;
    rabbitmqctl("start_app");
    outcome.expect("the source noticed the broker going away");

    wait_until(60, "reconnected", || status.snapshot().connected).await;
    assert!(status.snapshot().reconnects >= 1);
    // The queue (durable, declared by the source) survived; messages flow again.
    let conn = amqp::connect(&url).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.basic_publish(
        "",
        &queue,
        BasicPublishOptions::default(),
        b"{\"after\":true}",
        BasicProperties::default().with_message_id("after".into()),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    wait_until(20, "the message sent after the restart", || {
        sink.events().len() == 1
    })
    .await;
    assert_eq!(sink.events()[0]["data"], json!({"after": true}));
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    ch.queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
}
