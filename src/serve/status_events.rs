//! Execution status events (`--status-events kafka:TOPIC|amqp:EXCHANGE`):
//! every status change the engine records in its status feed becomes a
//! CloudEvent published to each destination, then is acknowledged to the
//! feed. A crash between the two publishes the change again with the same
//! CloudEvent id (at least once; consumers deduplicate by id).
//!
//! The events, like EventBridge's "Step Functions Execution Status Change":
//! type `sluice.execution.started|succeeded|failed|timed_out|aborted|redriven`,
//! source `sluice://workflows/NAME`, subject the execution id, data the
//! execution as `GET /api/v1/executions/{id}` shows it (input, output,
//! error, cause) plus `previousStatus`. Kafka messages are keyed by the
//! execution id (one execution's events stay in order in one partition);
//! AMQP messages use the type as routing key, so a queue can bind to
//! `sluice.execution.failed` alone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::{json, Value};
use sluice_connectors::publish::{PublishExecutor, AMQP_PUBLISH, KAFKA_PUBLISH};
use sluice_engine::{Engine, EngineError, Executor, Status, StatusChange, TaskInvocation};

/// Changes read, published and acknowledged together.
const PAGE: usize = 256;

/// Where status events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Kafka { topic: String },
    Amqp { exchange: String },
}

impl Destination {
    /// `kafka:TOPIC` or `amqp:EXCHANGE`; the brokers come from
    /// `--kafka-brokers` / `--amqp-url`.
    pub fn parse(s: &str, kafka: bool, amqp: bool) -> Result<Destination> {
        let d = match s.split_once(':') {
            Some(("kafka", topic)) if !topic.is_empty() => Destination::Kafka {
                topic: topic.into(),
            },
            Some(("amqp", exchange)) if !exchange.is_empty() => Destination::Amqp {
                exchange: exchange.into(),
            },
            _ => bail!("--status-events {s}: use kafka:TOPIC or amqp:EXCHANGE"),
        };
        match d {
            Destination::Kafka { .. } if !kafka => {
                bail!("--status-events {s}: give the Kafka brokers with --kafka-brokers HOST:PORT")
            }
            Destination::Amqp { .. } if !amqp => {
                bail!("--status-events {s}: give the AMQP broker with --amqp-url amqp://…")
            }
            _ => Ok(d),
        }
    }
}

/// The CloudEvent of one change.
fn event(engine: &Engine, c: &StatusChange) -> Value {
    let kind = match (c.status, c.previous) {
        (Status::Running, Some(_)) => "redriven".to_string(),
        (Status::Running, None) => "started".to_string(),
        (s, _) => s.as_str().to_ascii_lowercase(),
    };
    let mut data = match engine.execution(&c.execution_id) {
        Ok(e) => serde_json::to_value(e).unwrap_or_else(|_| json!({})),
        // Deleted since: what the feed knows.
        Err(_) => json!({"executionId": c.execution_id, "workflow": c.workflow}),
    };
    // The execution may have moved on; the event tells this change.
    data["status"] = c.status.as_str().into();
    data["previousStatus"] = c.previous.map(|p| p.as_str()).into();
    if c.status == Status::Running {
        for later in ["output", "error", "cause", "stoppedAt"] {
            if let Some(o) = data.as_object_mut() {
                o.remove(later);
            }
        }
    }
    json!({
        "specversion": "1.0",
        "id": format!("{}/{}@{}", c.execution_id, c.status.as_str(), c.at),
        "source": format!("sluice://workflows/{}", c.workflow),
        "type": format!("sluice.execution.{kind}"),
        "subject": c.execution_id,
        "time": c.at,
        "datacontenttype": "application/json",
        "data": data,
    })
}

async fn publish(
    publisher: &PublishExecutor,
    dest: &Destination,
    c: &StatusChange,
    event: Value,
) -> Result<(), String> {
    let (resource, payload) = match dest {
        Destination::Kafka { topic } => (
            KAFKA_PUBLISH,
            json!({"topic": topic, "key": c.execution_id, "event": event}),
        ),
        Destination::Amqp { exchange } => (
            AMQP_PUBLISH,
            json!({"exchange": exchange, "routingKey": event["type"], "event": event}),
        ),
    };
    let task = TaskInvocation {
        resource: resource.into(),
        idempotency_key: event["id"].as_str().unwrap_or_default().into(),
        payload,
        task_token: None,
        timeout_seconds: Some(30),
        execution_id: c.execution_id.clone(),
        state: String::new(),
    };
    publisher
        .invoke(task)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Publishes the feed until the process ends; failures are retried (in
/// order, with backoff) and never skip a change.
pub async fn run(engine: Engine, publisher: Arc<PublishExecutor>, destinations: Vec<Destination>) {
    let mut delay = Duration::from_millis(200);
    loop {
        match publish_page(&engine, &publisher, &destinations).await {
            Ok(0) => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(_) => delay = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "status events not published; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Publishes one page of changes to every destination (concurrently) and
/// acknowledges it; the number of changes.
async fn publish_page(
    engine: &Engine,
    publisher: &PublishExecutor,
    destinations: &[Destination],
) -> Result<usize, String> {
    let storage = |e: EngineError| format!("the status feed: {e}");
    let changes = engine.status_changes(PAGE).await.map_err(storage)?;
    if changes.is_empty() {
        return Ok(0);
    }
    let sends = changes.iter().flat_map(|c| {
        let ev = event(engine, c);
        destinations
            .iter()
            .map(move |d| publish(publisher, d, c, ev.clone()))
    });
    for r in futures::future::join_all(sends).await {
        r?;
    }
    let n = changes.len();
    engine
        .ack_status_changes(changes.into_iter().map(|c| c.key).collect())
        .await
        .map_err(storage)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_name_the_flag_and_the_fix() {
        assert_eq!(
            Destination::parse("kafka:runs", true, false).unwrap(),
            Destination::Kafka {
                topic: "runs".into()
            }
        );
        assert_eq!(
            Destination::parse("amqp:sluice.status", false, true).unwrap(),
            Destination::Amqp {
                exchange: "sluice.status".into()
            }
        );
        let e = Destination::parse("kafka:runs", false, true).unwrap_err();
        assert!(e.to_string().contains("--kafka-brokers"), "{e}");
        let e = Destination::parse("amqp:x", true, false).unwrap_err();
        assert!(e.to_string().contains("--amqp-url"), "{e}");
        let e = Destination::parse("sqs:q", true, true).unwrap_err();
        assert!(
            e.to_string().contains("kafka:TOPIC or amqp:EXCHANGE"),
            "{e}"
        );
        assert!(Destination::parse("kafka:", true, true).is_err());
    }
}
