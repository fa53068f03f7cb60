//! AMQP 0-9-1 source (RabbitMQ) on lapin: consumes one queue with a
//! prefetch window, optionally declares an exchange and binds the queue,
//! reads the CloudEvents AMQP binding (binary mode: `cloudEvents:`/
//! `cloudEvents_` headers; structured mode by content type), wraps other
//! messages, and reconnects with backoff.
//!
//! Acks: a batch of deliveries is acked (one `basic.ack multiple`) only
//! after the sink accepted its events; when the sink fails the batch is
//! nacked with requeue, so the broker redelivers it. The prefetch window
//! bounds what is in flight, so a slow engine pauses consumption.

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sluice_dsl::source::{AmqpSource, SourceDef, SourceSpec};
use sluice_engine::{DeadLetter, EventSink};

use crate::cloudevent::{self, BindingHeaders, Message, Wrap};
use crate::{deliver, Backoff, CancellationToken, Converted, SourceStatus};

/// Largest batch handed to the sink at once.
const MAX_BATCH: usize = 512;

/// Connects to an AMQP URL with lapin driven by tokio.
pub async fn connect(url: &str) -> Result<Connection, lapin::Error> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    Connection::connect(url, props).await
}

/// Consumes until `shutdown`; reconnects with backoff on any broker error.
pub async fn run(
    def: SourceDef,
    sink: Arc<dyn EventSink>,
    status: Arc<SourceStatus>,
    shutdown: CancellationToken,
) {
    let SourceSpec::Amqp(cfg) = &def.spec else {
        status.fail(&def.name, "not an amqp binding");
        return;
    };
    let mut backoff = Backoff::new();
    let mut first = true;
    while !shutdown.is_cancelled() {
        if !first {
            status.add_reconnect();
        }
        first = false;
        match session(&def, cfg, &sink, &status, &shutdown, &mut backoff).await {
            Ok(()) => break,
            Err(e) => {
                status.set_connected(false);
                status.fail(&def.name, e);
                if !backoff.wait(&shutdown).await {
                    break;
                }
            }
        }
    }
    status.set_connected(false);
}

/// Checks that the broker is reachable and the queue exists (or can be
/// declared): `sluice source test NAME`.
pub async fn test(cfg: &AmqpSource) -> Result<String, String> {
    let conn = connect(&cfg.url)
        .await
        .map_err(|e| format!("connect {}: {e}", redact(&cfg.url)))?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    let q = ch
        .queue_declare(
            &cfg.queue,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    let _ = conn.close(200, "test done").await;
    match q {
        Ok(q) => Ok(format!(
            "connected; queue '{}' has {} messages ready, {} consumers",
            cfg.queue,
            q.message_count(),
            q.consumer_count()
        )),
        Err(_) => Ok(format!(
            "connected; queue '{}' does not exist yet (the source declares it)",
            cfg.queue
        )),
    }
}

/// The URL without its password, for errors and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// Declares the topology: the exchange (durable topic) and its bindings
/// when configured; the queue (durable) unless it exists already — then
/// its arguments (dead-lettering, TTL) are the operator's and are kept.
async fn declare(conn: &Connection, cfg: &AmqpSource) -> Result<Channel, lapin::Error> {
    let probe = conn.create_channel().await?;
    let exists = probe
        .queue_declare(
            &cfg.queue,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .is_ok();
    // A failed passive declare closes the channel: use a fresh one.
    let _ = probe.close(200, "probe").await;
    let ch = conn.create_channel().await?;
    if !exists {
        ch.queue_declare(
            &cfg.queue,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    }
    if let Some(ex) = &cfg.exchange {
        ch.exchange_declare(
            ex,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
        let keys = cfg.binding_keys.clone().unwrap_or_else(|| vec!["#".into()]);
        for key in keys {
            ch.queue_bind(
                &cfg.queue,
                ex,
                &key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
    }
    Ok(ch)
}

async fn session(
    def: &SourceDef,
    cfg: &AmqpSource,
    sink: &Arc<dyn EventSink>,
    status: &SourceStatus,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let conn = connect(&cfg.url)
        .await
        .map_err(|e| format!("connect {}: {e}", redact(&cfg.url)))?;
    let ch = declare(&conn, cfg)
        .await
        .map_err(|e| format!("declare: {e}"))?;
    ch.basic_qos(cfg.prefetch, BasicQosOptions::default())
        .await
        .map_err(|e| format!("basic.qos: {e}"))?;
    let tag = format!("sluice-{}", def.name);
    let mut consumer = ch
        .basic_consume(
            &cfg.queue,
            &tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("basic.consume on '{}': {e}", cfg.queue))?;
    status.set_connected(true);
    backoff.reset();
    tracing::info!(source = %def.name, queue = %cfg.queue, "amqp source consuming");
    let source_uri = cloudevent::source_uri(&def.name);
    let event_type = def.event_type();
    let wrap = Wrap {
        source: &source_uri,
        event_type: &event_type,
    };
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = conn.close(200, "shutdown").await;
                return Ok(());
            }
            d = consumer.next() => d,
        };
        let mut deliveries = vec![take(first)?];
        // Whatever else is already here joins the batch (bounded by prefetch).
        while deliveries.len() < MAX_BATCH {
            match consumer.next().now_or_never() {
                Some(d) => deliveries.push(take(d)?),
                None => break,
            }
        }
        status.add_received(deliveries.len() as u64);
        let batch: Vec<Converted> = deliveries
            .iter()
            .map(|d| convert(d, &cfg.queue, &wrap))
            .collect();
        let last = deliveries.last().expect("one at least");
        match deliver(&def.name, sink, status, batch).await {
            Ok(letters) => {
                if let Some(dest) = &def.dead_letter {
                    if let Some(ex) = &dest.exchange {
                        let key = dest.routing_key.as_deref().unwrap_or(&cfg.queue);
                        publish_dead_letters(&ch, ex, key, &deliveries, &letters).await?;
                    }
                }
                last.ack(BasicAckOptions { multiple: true })
                    .await
                    .map_err(|e| format!("basic.ack: {e}"))?;
                backoff.reset();
            }
            Err(e) => {
                status.fail(
                    &def.name,
                    format!("engine refused the batch (requeued): {e}"),
                );
                last.nack(BasicNackOptions {
                    multiple: true,
                    requeue: true,
                })
                .await
                .map_err(|e| format!("basic.nack: {e}"))?;
                if !backoff.wait(shutdown).await {
                    let _ = conn.close(200, "shutdown").await;
                    return Ok(());
                }
            }
        }
    }
}

fn take(d: Option<Result<Delivery, lapin::Error>>) -> Result<Delivery, String> {
    match d {
        Some(Ok(d)) => Ok(d),
        Some(Err(e)) => Err(format!("consumer: {e}")),
        None => Err("the broker cancelled the consumer".into()),
    }
}

/// Copies each poison message, with the reason, to the dead-letter exchange.
async fn publish_dead_letters(
    ch: &Channel,
    exchange: &str,
    key: &str,
    deliveries: &[Delivery],
    letters: &[DeadLetter],
) -> Result<(), String> {
    if letters.is_empty() {
        return Ok(());
    }
    let mut rest = letters.iter();
    // Letters are in delivery order; match them back by delivery tag.
    let mut next = rest.next();
    for d in deliveries {
        let Some(l) = next else { break };
        if l.metadata.get("deliveryTag").and_then(Value::as_u64) != Some(d.delivery_tag) {
            continue;
        }
        let mut headers = d.properties.headers().clone().unwrap_or_default();
        headers.insert(
            ShortString::from("x-sluice-dead-letter-reason"),
            AMQPValue::LongString(LongString::from(l.reason.as_bytes())),
        );
        let props = d.properties.clone().with_headers(headers);
        ch.basic_publish(
            exchange,
            key,
            BasicPublishOptions::default(),
            &d.data,
            props,
        )
        .await
        .map_err(|e| format!("publish to dead-letter exchange '{exchange}': {e}"))?;
        next = rest.next();
    }
    Ok(())
}

/// The AMQP binding's headers (`cloudEvents:*` or `cloudEvents_*`
/// attributes; the content type is a property of its own).
pub fn binding_headers(headers: Option<&FieldTable>, content_type: Option<&str>) -> BindingHeaders {
    let mut out = BindingHeaders {
        content_type: content_type.map(str::to_string),
        ..BindingHeaders::default()
    };
    for (k, v) in headers.into_iter().flat_map(|h| h.inner()) {
        let k = k.as_str();
        let text = value_text(v);
        out.all.insert(k.to_string(), Value::String(text.clone()));
        let attr = k
            .strip_prefix("cloudEvents:")
            .or_else(|| k.strip_prefix("cloudEvents_"));
        if let Some(a) = attr {
            out.ce_attributes.push((a.to_ascii_lowercase(), text));
        }
    }
    out
}

/// One delivery as CloudEvents (see `cloudevent::to_events`).
pub(crate) fn convert(d: &Delivery, queue: &str, wrap: &Wrap<'_>) -> Converted {
    let props = &d.properties;
    let headers = binding_headers(
        props.headers().as_ref(),
        props.content_type().as_ref().map(|c| c.as_str()),
    );
    let raw_id = raw_id(
        queue,
        props.message_id().as_ref().map(|m| m.as_str()),
        &d.data,
    );
    let msg = Message {
        body: &d.data,
        content_type: headers.content_type,
        ce_attributes: headers.ce_attributes,
        raw_id,
        raw_extensions: Vec::new(),
    };
    Converted {
        events: cloudevent::to_events(&msg, wrap),
        body: cloudevent::body_text(&d.data),
        metadata: json!({
            "queue": queue,
            "exchange": d.exchange.as_str(),
            "routingKey": d.routing_key.as_str(),
            "deliveryTag": d.delivery_tag,
            "headers": headers.all,
        }),
    }
}

/// A wrapped message's id: `queue/message-id` when the publisher set one;
/// else `queue/sha256:HEX` of the body, so a redelivery maps to the same
/// id (and two identical bodies without message ids count as one event —
/// publishers that send repeats on purpose set `message_id`).
pub fn raw_id(queue: &str, message_id: Option<&str>, body: &[u8]) -> String {
    match message_id {
        Some(m) if !m.is_empty() => format!("{queue}/{m}"),
        _ => {
            let digest = Sha256::digest(body);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("{queue}/sha256:{hex}")
        }
    }
}

fn value_text(v: &AMQPValue) -> String {
    match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::ByteArray(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
        AMQPValue::Timestamp(t) => chrono::DateTime::from_timestamp(*t as i64, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::Float(n) => n.to_string(),
        AMQPValue::Double(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// Publishes one message (used by the `sluice:amqp:publish` sink and
/// status events): binary-mode CloudEvent headers when `headers` has them.
pub async fn publish(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    content_type: Option<&str>,
    headers: &[(String, String)],
    message_id: Option<&str>,
) -> Result<(), String> {
    let mut table = FieldTable::default();
    for (k, v) in headers {
        table.insert(
            ShortString::from(k.as_str()),
            AMQPValue::LongString(LongString::from(v.as_bytes())),
        );
    }
    let mut props = BasicProperties::default()
        .with_headers(table)
        .with_delivery_mode(2);
    if let Some(ct) = content_type {
        props = props.with_content_type(ShortString::from(ct));
    }
    if let Some(m) = message_id {
        props = props.with_message_id(ShortString::from(m));
    }
    let confirm = ch
        .basic_publish(
            exchange,
            routing_key,
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await
        .map_err(|e| format!("publish to '{exchange}': {e}"))?;
    let c = confirm.await.map_err(|e| format!("publish confirm: {e}"))?;
    if c.is_nack() {
        return Err(format!(
            "the broker refused the message (exchange '{exchange}')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ids_are_deterministic() {
        assert_eq!(raw_id("q", Some("m-1"), b"x"), "q/m-1");
        assert_eq!(raw_id("q", None, b"x"), raw_id("q", Some(""), b"x"));
        assert_ne!(raw_id("q", None, b"x"), raw_id("q", None, b"y"));
        assert!(raw_id("q", None, b"x").starts_with("q/sha256:"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("amqp://guest:secret@h:5672/%2f"),
            "amqp://guest:***@h:5672/%2f"
        );
        assert_eq!(redact("amqp://h:5672"), "amqp://h:5672");
    }
}
