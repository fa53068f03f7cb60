//! Sinks: the Task resources `sluice:kafka:publish` and
//! `sluice:amqp:publish`, as an `Executor`.
//!
//! Parameters (the Task's effective `Parameters`):
//! - Kafka: `{"topic": "orders", "key"?: "k", "message": ANY | "event": {CloudEvent},
//!   "headers"?: {"name": "value"}, "brokers"?: "host:9092"}` →
//!   `{"topic", "partition", "offset"}`
//! - AMQP: `{"exchange"?: "" , "routingKey": "k", "message": ANY | "event": {CloudEvent},
//!   "headers"?: {…}, "url"?: "amqp://…"}` → `{"exchange", "routingKey"}`
//!
//! `message`: a string is sent as it is (`text/plain`), anything else as
//! JSON (`application/json`). `event`: a CloudEvent in structured JSON, sent
//! in binary mode (`ce_*` Kafka headers / `cloudEvents_*` AMQP headers, the
//! data as the body). The task's idempotency key travels with each message
//! (Kafka header `sluice_idempotency_key`; AMQP `message_id` unless the
//! event gives an id), since tasks are at-least-once. Without `brokers`/`url`
//! the server's defaults are used.

use std::collections::HashMap;
use std::sync::Arc;

use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use rdkafka::producer::FutureProducer;
use serde_json::{json, Value};
use sluice_engine::{Executor, TaskError, TaskInvocation};
use tokio::sync::Mutex;

use crate::cloudevent::HeaderPairs;
use crate::{amqp, cloudevent, kafka};

pub const KAFKA_PUBLISH: &str = "sluice:kafka:publish";
pub const AMQP_PUBLISH: &str = "sluice:amqp:publish";

/// The ASL error of a publish the broker did not take (retry can help).
pub const PUBLISH_FAILED: &str = "Sluice.PublishFailed";
/// The ASL error of parameters that cannot be published (retry cannot help).
pub const INVALID_PARAMETERS: &str = "Sluice.InvalidParameters";

/// Whether `resource` (without `.waitForTaskToken`) is one of the sinks.
pub fn handles(resource: &str) -> bool {
    let base = resource
        .strip_suffix(".waitForTaskToken")
        .unwrap_or(resource);
    base == KAFKA_PUBLISH || base == AMQP_PUBLISH
}

/// Defaults for tasks that name no broker.
#[derive(Debug, Clone, Default)]
pub struct PublishConfig {
    /// Kafka bootstrap servers, e.g. `127.0.0.1:9092`.
    pub kafka_brokers: Option<String>,
    /// AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub amqp_url: Option<String>,
}

/// Publishes to Kafka and AMQP; one producer per broker list and one
/// confirming channel per URL, reused (re-opened after an error).
pub struct PublishExecutor {
    config: PublishConfig,
    producers: Mutex<HashMap<String, FutureProducer>>,
    channels: Mutex<HashMap<String, (Connection, Channel)>>,
}

impl PublishExecutor {
    pub fn new(config: PublishConfig) -> Arc<Self> {
        Arc::new(PublishExecutor {
            config,
            producers: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
        })
    }

    async fn kafka(&self, p: &Value, idempotency_key: &str) -> Result<Value, TaskError> {
        let brokers = str_param(p, "brokers")?
            .map(str::to_string)
            .or_else(|| self.config.kafka_brokers.clone())
            .ok_or_else(|| invalid("/brokers: no Kafka brokers given and the server has no default (--kafka-brokers)"))?;
        let topic = str_param(p, "topic")?
            .ok_or_else(|| invalid("/topic: the topic to publish to is required"))?;
        let key = str_param(p, "key")?;
        let (body, mut headers) = body_and_headers(p, "ce_", "content-type")?;
        headers.push(("sluice_idempotency_key".into(), idempotency_key.into()));
        let producer = {
            let mut producers = self.producers.lock().await;
            match producers.get(&brokers) {
                Some(p) => p.clone(),
                None => {
                    let pr =
                        kafka::producer(&brokers).map_err(|e| TaskError::new(PUBLISH_FAILED, e))?;
                    producers.insert(brokers.clone(), pr.clone());
                    pr
                }
            }
        };
        let (partition, offset) = kafka::publish(&producer, topic, key, &body, &headers)
            .await
            .map_err(|e| TaskError::new(PUBLISH_FAILED, e))?;
        Ok(json!({"topic": topic, "partition": partition, "offset": offset}))
    }

    async fn amqp(&self, p: &Value, idempotency_key: &str) -> Result<Value, TaskError> {
        let url = str_param(p, "url")?
            .map(str::to_string)
            .or_else(|| self.config.amqp_url.clone())
            .ok_or_else(|| {
                invalid("/url: no AMQP url given and the server has no default (--amqp-url)")
            })?;
        let exchange = str_param(p, "exchange")?.unwrap_or("");
        let routing_key = str_param(p, "routingKey")?.ok_or_else(|| {
            invalid("/routingKey is required (the queue name for the default exchange)")
        })?;
        let (body, headers) = body_and_headers(p, "cloudEvents_", "")?;
        let content_type = headers
            .iter()
            .find(|(k, _)| k.is_empty())
            .map(|(_, v)| v.clone());
        let headers: Vec<(String, String)> =
            headers.into_iter().filter(|(k, _)| !k.is_empty()).collect();
        let message_id = headers
            .iter()
            .find(|(k, _)| k == "cloudEvents_id")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| idempotency_key.to_string());
        let ch = {
            let mut channels = self.channels.lock().await;
            let stale = channels
                .get(&url)
                .is_some_and(|(c, ch)| !c.status().connected() || !ch.status().connected());
            if stale {
                channels.remove(&url);
            }
            match channels.get(&url) {
                Some((_, ch)) => ch.clone(),
                None => {
                    let conn = amqp::connect(&url)
                        .await
                        .map_err(|e| TaskError::new(PUBLISH_FAILED, format!("connect: {e}")))?;
                    let ch = conn
                        .create_channel()
                        .await
                        .map_err(|e| TaskError::new(PUBLISH_FAILED, e.to_string()))?;
                    ch.confirm_select(ConfirmSelectOptions::default())
                        .await
                        .map_err(|e| TaskError::new(PUBLISH_FAILED, e.to_string()))?;
                    channels.insert(url.clone(), (conn, ch.clone()));
                    ch
                }
            }
        };
        amqp::publish(
            &ch,
            exchange,
            routing_key,
            &body,
            content_type.as_deref(),
            &headers,
            Some(&message_id),
        )
        .await
        .map_err(|e| TaskError::new(PUBLISH_FAILED, e))?;
        Ok(json!({"exchange": exchange, "routingKey": routing_key}))
    }
}

fn invalid(msg: impl Into<String>) -> TaskError {
    TaskError::new(INVALID_PARAMETERS, msg)
}

fn str_param<'a>(p: &'a Value, name: &str) -> Result<Option<&'a str>, TaskError> {
    match p.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("/{name} must be a string"))),
    }
}

/// The body, and headers: user `headers`, CloudEvent attributes with
/// `prefix` (for `event`), and the content type under `ct_header` (the AMQP
/// caller reads it back under the empty name: it is a property there).
fn body_and_headers(
    p: &Value,
    prefix: &str,
    ct_header: &str,
) -> Result<(Vec<u8>, HeaderPairs), TaskError> {
    let mut headers = Vec::new();
    if let Some(h) = p.get("headers") {
        let Some(h) = h.as_object() else {
            return Err(invalid("/headers must be an object of strings"));
        };
        for (k, v) in h {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.push((k.clone(), v));
        }
    }
    let (body, ct) = match (p.get("message"), p.get("event")) {
        (Some(_), Some(_)) => return Err(invalid("give either /message or /event, not both")),
        (None, None) => {
            return Err(invalid(
                "/message (any JSON) or /event (a CloudEvent) is required",
            ))
        }
        (Some(Value::String(s)), None) => (s.clone().into_bytes(), Some("text/plain".to_string())),
        (Some(m), None) => (
            serde_json::to_vec(m).map_err(|e| invalid(e.to_string()))?,
            Some("application/json".into()),
        ),
        (None, Some(ev)) => {
            let (attrs, body, ct) =
                cloudevent::to_binary(ev).map_err(|e| invalid(format!("/event: {e}")))?;
            headers.extend(attrs.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)));
            (body, ct)
        }
    };
    if let Some(ct) = ct {
        headers.push((ct_header.to_string(), ct));
    }
    Ok((body, headers))
}

#[async_trait::async_trait]
impl Executor for PublishExecutor {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        let base = task
            .resource
            .strip_suffix(".waitForTaskToken")
            .unwrap_or(&task.resource);
        if !task.payload.is_object() {
            return Err(invalid(
                "the Parameters of a publish task are a JSON object",
            ));
        }
        match base {
            KAFKA_PUBLISH => self.kafka(&task.payload, &task.idempotency_key).await,
            AMQP_PUBLISH => self.amqp(&task.payload, &task.idempotency_key).await,
            other => Err(TaskError::new(
                "States.Runtime",
                format!("'{other}' is not a publish resource ({KAFKA_PUBLISH}, {AMQP_PUBLISH})"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_events() {
        let (b, h) = body_and_headers(&json!({"message": "hi"}), "ce_", "content-type").unwrap();
        assert_eq!(b, b"hi");
        assert_eq!(
            h,
            vec![("content-type".to_string(), "text/plain".to_string())]
        );
        let (b, h) = body_and_headers(
            &json!({"event": {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": {"a": 1}}}),
            "ce_",
            "content-type",
        )
        .unwrap();
        assert_eq!(b, br#"{"a":1}"#);
        assert!(h.contains(&("ce_id".to_string(), "1".to_string())));
        assert!(h.contains(&("content-type".to_string(), "application/json".to_string())));
        assert_eq!(
            body_and_headers(&json!({"event": {"id": "1"}}), "ce_", "")
                .unwrap_err()
                .error,
            INVALID_PARAMETERS
        );
        assert!(body_and_headers(&json!({}), "ce_", "").is_err());
        assert!(handles("sluice:kafka:publish") && handles("sluice:amqp:publish.waitForTaskToken"));
        assert!(!handles("sluice:function:x"));
    }
}
