//! Kafka source on rdkafka (librdkafka): a consumer group over several
//! topics, the CloudEvents Kafka binding (binary mode: `ce_*` headers;
//! structured mode: `content-type: application/cloudevents+json`), raw
//! messages wrapped with id `topic/partition/offset`.
//!
//! Offsets are committed by hand, only after the sink accepted a batch:
//! `enable.auto.commit=false`, and one task takes a batch, submits it
//! (retrying with backoff while the sink refuses — per-partition order is
//! kept, nothing later is committed), then commits the next offset of each
//! partition. Rebalances are handled by librdkafka during `recv`, when no
//! batch is in flight, so a commit never covers an unprocessed message;
//! after a rebalance the new owner starts at the last commit (at-least-once,
//! duplicates removed by the engine's dedupe on `source` + `id`).
//!
//! The cloudevents-sdk `rdkafka` feature is not used: it pins another
//! rdkafka build (cmake) and only one can link; the binding is the header
//! mapping below plus `cloudevent::to_events`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use sluice_dsl::source::{KafkaSource, SourceDef, SourceSpec, StartFrom};
use sluice_engine::{DeadLetter, EventSink};

use crate::cloudevent::{self, BindingHeaders, Message, Wrap};
use crate::{deliver, Backoff, CancellationToken, Converted, SourceStatus};

/// Largest batch handed to the sink at once.
const MAX_BATCH: usize = 1000;

/// Feeds librdkafka's statistics and errors into the source's status.
struct Ctx {
    name: String,
    status: Arc<SourceStatus>,
    /// Set once the consumer has been connected: a later connect after a
    /// disconnection is a reconnect (librdkafka reconnects by itself, so
    /// this is where the source sees it).
    was_up: AtomicBool,
}

impl Ctx {
    fn set_up(&self, up: bool) {
        let before = self.status.connected();
        self.status.set_connected(up);
        if up && !before && self.was_up.swap(true, Ordering::Relaxed) {
            self.status.add_reconnect();
        }
    }
}

impl ClientContext for Ctx {
    fn stats(&self, stats: Statistics) {
        // Lag of the partitions this member owns (-1 = not assigned/unknown).
        let lag: i64 = stats
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
            .map(|p| p.consumer_lag)
            .sum();
        self.status.set_lag(lag);
        let up = stats
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        self.set_up(up);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(
            error.rdkafka_error_code(),
            Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.set_up(false);
        }
        self.status.fail(&self.name, format!("{error}: {reason}"));
    }
}

impl ConsumerContext for Ctx {}

/// The librdkafka settings of the source's consumer (public so that the
/// throughput benchmark measures the bare client with the same settings).
pub fn consumer_config(cfg: &KafkaSource) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("group.id", &cfg.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.offset.reset",
            match cfg.start_from {
                StartFrom::Earliest => "earliest",
                StartFrom::Latest => "latest",
            },
        )
        .set("statistics.interval.ms", "2000")
        // Bounds what librdkafka fetches ahead per partition (back-pressure:
        // when the sink is slow, fetching stops at this much).
        .set("queued.max.messages.kbytes", "16384")
        .set("reconnect.backoff.ms", "200")
        .set("reconnect.backoff.max.ms", "5000")
        .set("session.timeout.ms", "10000");
    c
}

/// Checks the brokers answer and the topics exist: `sluice source test`.
pub async fn test(cfg: &KafkaSource) -> Result<String, String> {
    let cfg = cfg.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = consumer_config(&cfg)
            .create()
            .map_err(|e| format!("kafka client: {e}"))?;
        let md = consumer
            .fetch_metadata(None, Duration::from_secs(5))
            .map_err(|e| format!("brokers {} do not answer: {e}", cfg.brokers))?;
        let mut missing = Vec::new();
        let mut found = Vec::new();
        for t in &cfg.topics {
            match md.topics().iter().find(|m| m.name() == t) {
                Some(m) if m.error().is_none() => {
                    found.push(format!("{t} ({} partitions)", m.partitions().len()))
                }
                _ => missing.push(t.clone()),
            }
        }
        if missing.is_empty() {
            Ok(format!(
                "connected to {} broker(s); topics: {}",
                md.brokers().len(),
                found.join(", ")
            ))
        } else {
            Err(format!(
                "topics missing on {}: {}",
                cfg.brokers,
                missing.join(", ")
            ))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Consumes until `shutdown`. librdkafka reconnects by itself; this loop
/// only rebuilds the consumer when creating or subscribing fails.
pub async fn run(
    def: SourceDef,
    sink: Arc<dyn EventSink>,
    status: Arc<SourceStatus>,
    shutdown: CancellationToken,
) {
    let SourceSpec::Kafka(cfg) = &def.spec else {
        status.fail(&def.name, "not a kafka binding");
        return;
    };
    let mut backoff = Backoff::new();
    while !shutdown.is_cancelled() {
        match session(&def, cfg, &sink, &status, &shutdown, &mut backoff).await {
            Ok(()) => break,
            Err(e) => {
                status.set_connected(false);
                status.fail(&def.name, e);
                status.add_reconnect();
                if !backoff.wait(&shutdown).await {
                    break;
                }
            }
        }
    }
    status.set_connected(false);
}

async fn session(
    def: &SourceDef,
    cfg: &KafkaSource,
    sink: &Arc<dyn EventSink>,
    status: &Arc<SourceStatus>,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let ctx = Ctx {
        name: def.name.clone(),
        status: status.clone(),
        was_up: AtomicBool::new(false),
    };
    let consumer: StreamConsumer<Ctx> = consumer_config(cfg)
        .create_with_context(ctx)
        .map_err(|e| format!("kafka consumer: {e}"))?;
    let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| format!("subscribe {topics:?}: {e}"))?;
    let dlq = match def.dead_letter.as_ref().and_then(|d| d.topic.clone()) {
        Some(topic) => {
            let producer: FutureProducer = ClientConfig::new()
                .set("bootstrap.servers", &cfg.brokers)
                .set("enable.idempotence", "false")
                .create()
                .map_err(|e| format!("dead-letter producer: {e}"))?;
            Some((producer, topic))
        }
        None => None,
    };
    tracing::info!(source = %def.name, ?topics, "kafka source consuming");
    let source_uri = cloudevent::source_uri(&def.name);
    let event_type = def.event_type();
    let wrap = Wrap {
        source: &source_uri,
        event_type: &event_type,
    };
    // The last offsets committed (asynchronously); committed again
    // synchronously at shutdown so that a clean stop loses no commit.
    let mut last_commit: Option<TopicPartitionList> = None;
    let finish = |last: Option<TopicPartitionList>| {
        if let Some(tpl) = last {
            // One round trip at shutdown; blocking here is acceptable.
            let _ = consumer.commit(&tpl, CommitMode::Sync);
        }
        Ok(())
    };
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return finish(last_commit),
            m = consumer.recv() => m.map(|m| m.detach()),
        };
        let mut messages = Vec::new();
        match first {
            Ok(m) => messages.push(m),
            Err(e) => {
                // Transient (broker down, rebalance in progress): librdkafka
                // retries; count it and go on.
                status.fail(&def.name, format!("consume: {e}"));
                if !backoff.wait(shutdown).await {
                    return finish(last_commit);
                }
                continue;
            }
        }
        while messages.len() < MAX_BATCH {
            match consumer.recv().now_or_never() {
                Some(Ok(m)) => messages.push(m.detach()),
                Some(Err(e)) => {
                    status.fail(&def.name, format!("consume: {e}"));
                    break;
                }
                None => break,
            }
        }
        consumer.context().set_up(true);
        status.add_received(messages.len() as u64);
        // Submit until accepted (or shutdown: then nothing is committed and
        // the group redelivers from the last commit).
        loop {
            let batch: Vec<Converted> = messages.iter().map(|m| convert(m, &wrap)).collect();
            match deliver(&def.name, sink, status, batch).await {
                Ok(letters) => {
                    if let Some((producer, topic)) = &dlq {
                        if let Err(e) =
                            publish_dead_letters(producer, topic, &messages, &letters).await
                        {
                            status.fail(&def.name, e);
                            if !backoff.wait(shutdown).await {
                                return finish(last_commit);
                            }
                            continue;
                        }
                    }
                    break;
                }
                Err(e) => {
                    status.fail(
                        &def.name,
                        format!("engine refused the batch (retrying): {e}"),
                    );
                    if !backoff.wait(shutdown).await {
                        return finish(last_commit);
                    }
                }
            }
        }
        backoff.reset();
        last_commit = Some(commit(&consumer, &messages).map_err(|e| format!("commit: {e}"))?);
    }
}

/// Commits, per partition, the offset after the last message of the batch.
fn commit(
    consumer: &StreamConsumer<Ctx>,
    messages: &[OwnedMessage],
) -> Result<TopicPartitionList, KafkaError> {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for m in messages {
        let e = next.entry((m.topic(), m.partition())).or_insert(0);
        *e = (*e).max(m.offset() + 1);
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    }
    // Async: the commit is queued before the next `recv`, which is where a
    // rebalance can happen; a lost commit only means redelivery (deduped).
    consumer.commit(&tpl, CommitMode::Async)?;
    Ok(tpl)
}

async fn publish_dead_letters(
    producer: &FutureProducer,
    topic: &str,
    messages: &[OwnedMessage],
    letters: &[DeadLetter],
) -> Result<(), String> {
    for l in letters {
        let coords = (
            l.metadata["topic"].as_str(),
            l.metadata["partition"].as_i64(),
            l.metadata["offset"].as_i64(),
        );
        let Some(m) = messages.iter().find(|m| {
            (
                Some(m.topic()),
                Some(m.partition() as i64),
                Some(m.offset()),
            ) == coords
        }) else {
            continue;
        };
        let mut headers = m.headers().cloned().unwrap_or_else(OwnedHeaders::new);
        headers = headers.insert(Header {
            key: "sluice_dead_letter_reason",
            value: Some(l.reason.as_str()),
        });
        let origin = format!("{}/{}/{}", m.topic(), m.partition(), m.offset());
        headers = headers.insert(Header {
            key: "sluice_dead_letter_origin",
            value: Some(origin.as_str()),
        });
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if let Some(p) = m.payload() {
            rec = rec.payload(p);
        }
        if let Some(k) = m.key() {
            rec = rec.key(k);
        }
        producer
            .send(rec, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| format!("copy to dead-letter topic '{topic}': {e}"))?;
    }
    Ok(())
}

/// The Kafka binding's headers (`content-type`, `ce_*` attributes); values
/// that are not UTF-8 are read lossily.
pub fn binding_headers<'h>(
    headers: impl IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
) -> BindingHeaders {
    let mut out = BindingHeaders::default();
    for (key, value) in headers {
        let value = value
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        out.all
            .insert(key.to_string(), Value::String(value.clone()));
        if key.eq_ignore_ascii_case("content-type") {
            out.content_type = Some(value);
        } else if let Some(a) = key.strip_prefix("ce_") {
            out.ce_attributes.push((a.to_ascii_lowercase(), value));
        }
    }
    out
}

/// One Kafka message as CloudEvents (see `cloudevent::to_events`).
pub(crate) fn convert(m: &OwnedMessage, wrap: &Wrap<'_>) -> Converted {
    let body = m.payload().unwrap_or(&[]);
    let headers = binding_headers(
        m.headers()
            .into_iter()
            .flat_map(|h| h.iter().map(|h| (h.key, h.value))),
    );
    let mut raw_extensions = Vec::new();
    if let Some(k) = m.key().and_then(|k| std::str::from_utf8(k).ok()) {
        // The binding's name for the message key.
        raw_extensions.push(("partitionkey".to_string(), k.to_string()));
    }
    let msg = Message {
        body,
        content_type: headers.content_type,
        ce_attributes: headers.ce_attributes,
        raw_id: raw_id(m.topic(), m.partition(), m.offset()),
        raw_extensions,
    };
    Converted {
        events: cloudevent::to_events(&msg, wrap),
        body: cloudevent::body_text(body),
        metadata: json!({
            "topic": m.topic(),
            "partition": m.partition(),
            "offset": m.offset(),
            "headers": headers.all,
        }),
    }
}

/// A wrapped message's id: `topic/partition/offset`.
pub fn raw_id(topic: &str, partition: i32, offset: i64) -> String {
    format!("{topic}/{partition}/{offset}")
}

/// A producer for the publish sinks.
pub fn producer(brokers: &str) -> Result<FutureProducer, String> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "15000")
        .create()
        .map_err(|e| format!("kafka producer for {brokers}: {e}"))
}

/// Publishes one record and waits for the broker's acknowledgement.
pub async fn publish(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&str>,
    body: &[u8],
    headers: &[(String, String)],
) -> Result<(i32, i64), String> {
    let mut h = OwnedHeaders::new();
    for (k, v) in headers {
        h = h.insert(Header {
            key: k.as_str(),
            value: Some(v.as_str()),
        });
    }
    let mut rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).payload(body).headers(h);
    if let Some(k) = key {
        rec = rec.key(k);
    }
    producer
        .send(rec, Duration::from_secs(15))
        .await
        .map(|d| (d.partition, d.offset))
        .map_err(|(e, _)| format!("publish to topic '{topic}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Timestamp;

    fn msg(payload: &[u8], headers: &[(&str, &str)]) -> OwnedMessage {
        let mut h = OwnedHeaders::new();
        for (k, v) in headers {
            h = h.insert(Header {
                key: k,
                value: Some(*v),
            });
        }
        OwnedMessage::new(
            Some(payload.to_vec()),
            Some(b"k1".to_vec()),
            "orders".into(),
            Timestamp::NotAvailable,
            2,
            41,
            Some(h),
        )
    }

    const WRAP: Wrap<'static> = Wrap {
        source: "sluice://sources/o",
        event_type: "t",
    };

    #[test]
    fn raw_messages_get_topic_partition_offset_ids() {
        let c = convert(&msg(br#"{"a":1}"#, &[]), &WRAP);
        let ev = &c.events.unwrap()[0];
        assert_eq!(ev["id"], "orders/2/41");
        assert_eq!(ev["partitionkey"], "k1");
        assert_eq!(ev["data"], json!({"a": 1}));
    }

    #[test]
    fn binary_mode_headers() {
        let c = convert(
            &msg(
                b"hi",
                &[
                    ("ce_specversion", "1.0"),
                    ("ce_id", "x"),
                    ("ce_source", "/s"),
                    ("ce_type", "t.t"),
                    ("content-type", "text/plain"),
                ],
            ),
            &WRAP,
        );
        let ev = &c.events.unwrap()[0];
        assert_eq!(ev["id"], "x");
        assert_eq!(ev["data"], "hi");
        assert_eq!(ev["datacontenttype"], "text/plain");
        assert!(ev.get("partitionkey").is_none());
    }
}
