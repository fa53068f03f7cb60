//! The Kafka source against a real Kafka-protocol broker (tansu; address in
//! KAFKA_BROKERS, default 127.0.0.1:9092). Topics are created per test.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::kafka::{brokers, create_topics, header, read_topic};
use common::{unique, wait_until, RecordingSink};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use sluice_connectors::{kafka, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;

fn producer() -> FutureProducer {
    kafka::producer(&brokers()).unwrap()
}

async fn send(
    p: &FutureProducer,
    topic: &str,
    key: Option<&str>,
    body: &[u8],
    headers: &[(&str, &str)],
) {
    let mut h = OwnedHeaders::new();
    for (k, v) in headers {
        h = h.insert(Header {
            key: k,
            value: Some(*v),
        });
    }
    let mut rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).payload(body).headers(h);
    if let Some(k) = key {
        rec = rec.key(k);
    }
    p.send(rec, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

struct Running {
    status: Arc<SourceStatus>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(def: serde_json::Value, sink: Arc<RecordingSink>) -> Running {
    let def = SourceDef::from_value(&def).unwrap();
    let status = Arc::new(SourceStatus::new());
    let stop = CancellationToken::new();
    let task = tokio::spawn(kafka::run(def, sink, status.clone(), stop.clone()));
    Running { status, stop, task }
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_structured_raw_and_poison_across_topics_then_committed() {
    let (a, b, dlq) = (unique("orders"), unique("refunds"), unique("orders-dlq"));
    create_topics(&[&a, &b, &dlq], 1).await;
    let group = unique("g");
    let def = json!({"name": "shop", "kind": "kafka", "brokers": brokers(), "topics": [a, b],
        "group": group, "startFrom": "earliest", "type": "shop.raw", "deadLetter": {"topic": dlq}});
    let p = producer();
    send(
        &p,
        &a,
        None,
        br#"{"n":1}"#,
        &[
            ("ce_specversion", "1.0"),
            ("ce_id", "b-1"),
            ("ce_source", "/shop"),
            ("ce_type", "shop.order.created"),
            ("content-type", "application/json"),
        ],
    )
    .await;
    send(&p, &a, None, br#"{"specversion":"1.0","id":"s-1","source":"/shop","type":"shop.order.paid","data":{"n":2}}"#,
        &[("content-type", "application/cloudevents+json")]).await;
    send(&p, &a, Some("cust-7"), br#"{"n":3}"#, &[]).await;
    send(
        &p,
        &a,
        None,
        b"{broken",
        &[("content-type", "application/cloudevents+json")],
    )
    .await;
    send(&p, &b, None, br#"{"refund":1}"#, &[]).await;

    let sink = RecordingSink::new();
    let src = start(def.clone(), sink.clone());
    wait_until(60, "4 events and a dead letter", || {
        sink.events().len() == 4 && sink.letters().len() == 1
    })
    .await;
    let by_id = |id: &str| {
        sink.events()
            .into_iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("no event {id}"))
    };
    assert_eq!(by_id("b-1")["data"], json!({"n": 1}));
    assert_eq!(by_id("s-1")["type"], "shop.order.paid");
    let raw = by_id(&format!("{a}/0/2"));
    assert_eq!(raw["type"], "shop.raw");
    assert_eq!(raw["partitionkey"], "cust-7");
    assert_eq!(raw["source"], "sluice://sources/shop");
    assert_eq!(by_id(&format!("{b}/0/0"))["data"], json!({"refund": 1}));
    // Per-partition order.
    let ids_a: Vec<String> = sink
        .ids()
        .into_iter()
        .filter(|i| !i.starts_with(&b))
        .collect();
    assert_eq!(
        ids_a,
        vec!["b-1".to_string(), "s-1".into(), format!("{a}/0/2")]
    );
    let letter = &sink.letters()[0];
    assert_eq!(letter.body, "{broken");
    assert_eq!(letter.metadata["offset"], 3);
    wait_until(20, "lag reported", || src.status.snapshot().lag == Some(0)).await;
    assert!(src.status.snapshot().connected);
    src.stop().await;

    // The poison message is in the dead-letter topic with its reason.
    let m = read_topic(&dlq, 1).await.remove(0);
    assert_eq!(m.payload(), Some(&b"{broken"[..]));
    let reason = header(&m, "sluice_dead_letter_reason");
    assert!(reason.is_some_and(|r| r.contains("not JSON")));

    // Offsets were committed: the group's next consumer sees only new messages.
    send(&p, &a, None, br#"{"n":"later"}"#, &[]).await;
    let sink2 = RecordingSink::new();
    let src = start(def, sink2.clone());
    wait_until(60, "the new message", || !sink2.events().is_empty()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        sink2.ids(),
        vec![format!("{a}/0/4")],
        "nothing already accepted comes again"
    );
    src.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_committed_until_the_sink_accepts() {
    let topic = unique("t");
    create_topics(&[&topic], 2).await;
    let group = unique("g");
    let def = json!({"name": "t", "kind": "kafka", "brokers": brokers(), "topics": [topic],
        "group": group, "startFrom": "earliest"});
    let p = producer();
    for i in 0..30 {
        send(
            &p,
            &topic,
            Some(&format!("k{}", i % 5)),
            format!("{{\"i\":{i}}}").as_bytes(),
            &[],
        )
        .await;
    }
    // A sink that refuses everything: retried in place, nothing committed.
    let refusing = RecordingSink::new();
    refusing
        .fail_next
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let src = start(def.clone(), refusing.clone());
    wait_until(60, "two refused attempts", || {
        refusing.batches.lock().unwrap().len() >= 2
    })
    .await;
    let snap = src.status.snapshot();
    assert!(
        snap.last_error
            .as_deref()
            .unwrap_or("")
            .contains("retrying"),
        "{snap:?}"
    );
    src.stop().await;

    // A sink that refuses twice, then accepts: every message, once each after acceptance.
    let sink = RecordingSink::new();
    sink.fail_next.store(2, std::sync::atomic::Ordering::SeqCst);
    let src = start(def, sink.clone());
    wait_until(60, "all 30 events", || sink.events().len() >= 30).await;
    let mut ids = sink.ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "no message lost");
    // Per partition, offsets arrive in order.
    for part in 0..2 {
        let offsets: Vec<i64> = sink
            .ids()
            .iter()
            .filter_map(|i| {
                i.strip_prefix(&format!("{topic}/{part}/"))
                    .map(|o| o.parse().unwrap())
            })
            .collect();
        let mut sorted = offsets.clone();
        sorted.sort();
        assert_eq!(offsets, sorted, "partition {part} in order");
    }
    src.stop().await;
}
