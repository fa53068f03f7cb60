//! The AMQP source against the real RabbitMQ (AMQP_URL, default
//! amqp://guest:guest@127.0.0.1:5672/%2f).

mod common;

use std::sync::Arc;

use common::{unique, wait_until, RecordingSink};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, ExchangeKind};
use serde_json::json;
use sluice_connectors::{amqp, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;

fn url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

async fn channel() -> (lapin::Connection, Channel) {
    let conn = amqp::connect(&url()).await.expect("RabbitMQ on AMQP_URL");
    let ch = conn.create_channel().await.unwrap();
    (conn, ch)
}

async fn publish(ch: &Channel, exchange: &str, key: &str, body: &[u8], props: BasicProperties) {
    ch.basic_publish(exchange, key, BasicPublishOptions::default(), body, props)
        .await
        .unwrap()
        .await
        .unwrap();
}

fn headers(pairs: &[(&str, &str)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert(
            ShortString::from(*k),
            AMQPValue::LongString(LongString::from(v.as_bytes())),
        );
    }
    t
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
    let task = tokio::spawn(amqp::run(def, sink, status.clone(), stop.clone()));
    Running { status, stop, task }
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), self.task)
            .await
            .expect("the source stops on shutdown")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_structured_raw_and_poison_through_an_exchange() {
    let (_conn, ch) = channel().await;
    let queue = unique("sluice-q");
    let exchange = unique("sluice-ex");
    let dlx = unique("sluice-dlx");
    let dlq = unique("sluice-dlq");
    // The dead-letter exchange and a queue that catches what it receives.
    ch.exchange_declare(
        &dlx,
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(&dlq, QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap();
    ch.queue_bind(
        &dlq,
        &dlx,
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();

    let sink = RecordingSink::new();
    let src = start(
        json!({"name": "orders", "kind": "amqp", "url": url(), "queue": queue, "exchange": exchange,
               "bindingKeys": ["orders.#"], "prefetch": 10, "type": "shop.raw",
               "deadLetter": {"exchange": dlx}}),
        sink.clone(),
    );
    wait_until(20, "connected", || src.status.snapshot().connected).await;

    // Binary mode (cloudEvents_ and cloudEvents: prefixes).
    publish(
        &ch,
        &exchange,
        "orders.new",
        br#"{"n":1}"#,
        BasicProperties::default()
            .with_content_type("application/json".into())
            .with_headers(headers(&[
                ("cloudEvents_specversion", "1.0"),
                ("cloudEvents_id", "b-1"),
                ("cloudEvents:source", "/shop"),
                ("cloudEvents_type", "shop.order.created"),
            ])),
    )
    .await;
    // Structured mode.
    publish(&ch, &exchange, "orders.new",
        br#"{"specversion":"1.0","id":"s-1","source":"/shop","type":"shop.order.paid","data":{"n":2}}"#,
        BasicProperties::default().with_content_type("application/cloudevents+json".into())).await;
    // Raw, with and without a message id.
    publish(
        &ch,
        &exchange,
        "orders.old",
        br#"{"n":3}"#,
        BasicProperties::default().with_message_id("m-3".into()),
    )
    .await;
    publish(
        &ch,
        &exchange,
        "orders.old",
        b"plain text",
        BasicProperties::default(),
    )
    .await;
    // Poison: claims structured mode, is not a CloudEvent.
    publish(
        &ch,
        &exchange,
        "orders.bad",
        b"{oops",
        BasicProperties::default().with_content_type("application/cloudevents+json".into()),
    )
    .await;
    // Not bound: never arrives.
    publish(
        &ch,
        &exchange,
        "invoices.new",
        b"{}",
        BasicProperties::default(),
    )
    .await;
    // After the poison: still consumed.
    publish(
        &ch,
        &exchange,
        "orders.new",
        br#"{"n":5}"#,
        BasicProperties::default().with_message_id("m-5".into()),
    )
    .await;

    wait_until(20, "4 events and 1 dead letter", || {
        sink.events().len() == 5 && sink.letters().len() == 1
    })
    .await;
    let ev = sink.events();
    assert_eq!(ev[0]["id"], "b-1");
    assert_eq!(ev[0]["source"], "/shop");
    assert_eq!(ev[0]["data"], json!({"n": 1}));
    assert_eq!(ev[1]["id"], "s-1");
    assert_eq!(ev[1]["type"], "shop.order.paid");
    assert_eq!(ev[2]["id"], format!("{queue}/m-3"));
    assert_eq!(ev[2]["type"], "shop.raw");
    assert_eq!(ev[2]["source"], "sluice://sources/orders");
    assert_eq!(ev[3]["data"], "plain text");
    assert!(ev[3]["id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{queue}/sha256:")));
    assert_eq!(ev[4]["id"], format!("{queue}/m-5"));
    let letter = &sink.letters()[0];
    assert_eq!(letter.body, "{oops");
    assert!(letter.reason.contains("not JSON"), "{}", letter.reason);
    assert_eq!(letter.metadata["routingKey"], "orders.bad");

    // The poison message was copied to the dead-letter exchange with its reason.
    let mut got = None;
    for _ in 0..100 {
        if let Some(m) = ch
            .basic_get(&dlq, BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            got = Some(m);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let m = got.expect("the poison message in the dead-letter queue");
    assert_eq!(m.delivery.data, b"{oops");
    let reason = m
        .delivery
        .properties
        .headers()
        .as_ref()
        .unwrap()
        .inner()
        .get("x-sluice-dead-letter-reason")
        .cloned();
    assert!(matches!(reason, Some(AMQPValue::LongString(_))));

    // Everything was acked: nothing is left in the queue once the source stops.
    wait_until(10, "acked count", || src.status.snapshot().acked == 5).await;
    src.stop().await;
    let q = ch
        .queue_declare(
            &queue,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(q.message_count(), 0, "every message was acknowledged");
    ch.queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
    ch.queue_delete(&dlq, QueueDeleteOptions::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_requeued_and_redelivered() {
    let (_conn, ch) = channel().await;
    let queue = unique("sluice-q");
    ch.queue_declare(
        &queue,
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let sink = RecordingSink::new();
    sink.fail_next.store(2, std::sync::atomic::Ordering::SeqCst);
    let src = start(
        json!({"name": "r", "kind": "amqp", "url": url(), "queue": queue}),
        sink.clone(),
    );
    publish(
        &ch,
        "",
        &queue,
        br#"{"k":1}"#,
        BasicProperties::default().with_message_id("one".into()),
    )
    .await;
    wait_until(30, "the event after two refusals", || {
        sink.events().len() == 1
    })
    .await;
    let id = format!("{queue}/one");
    assert_eq!(sink.ids(), vec![id.clone()]);
    let attempts = sink.attempts.lock().unwrap().clone();
    assert_eq!(
        attempts,
        vec![id.clone(), id.clone(), id],
        "submitted three times: twice refused"
    );
    let snap = src.status.snapshot();
    assert!(
        snap.failures >= 2 && snap.last_error.as_deref().unwrap().contains("requeued"),
        "{snap:?}"
    );
    src.stop().await;
    let q = ch
        .queue_declare(
            &queue,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(q.message_count(), 0);
    ch.queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_messages_are_redelivered_to_the_next_consumer() {
    // A sink that never accepts: the source holds its prefetch window and
    // acks nothing; after it stops, a new source gets every message.
    let (_conn, ch) = channel().await;
    let queue = unique("sluice-q");
    ch.queue_declare(
        &queue,
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    for i in 0..20 {
        publish(
            &ch,
            "",
            &queue,
            format!("{{\"i\":{i}}}").as_bytes(),
            BasicProperties::default().with_message_id(format!("m{i}").into()),
        )
        .await;
    }
    let refusing = RecordingSink::new();
    refusing
        .fail_next
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let src = start(
        json!({"name": "r", "kind": "amqp", "url": url(), "queue": queue, "prefetch": 5}),
        refusing.clone(),
    );
    wait_until(20, "a refused attempt", || {
        !refusing.attempts.lock().unwrap().is_empty()
    })
    .await;
    // Never more than the prefetch window in one batch.
    assert!(refusing.batches.lock().unwrap().iter().all(|n| *n <= 5));
    src.stop().await;
    assert!(refusing.events().is_empty());

    let sink = RecordingSink::new();
    let src = start(
        json!({"name": "r", "kind": "amqp", "url": url(), "queue": queue, "prefetch": 5}),
        sink.clone(),
    );
    wait_until(30, "all 20 events", || sink.events().len() >= 20).await;
    let mut ids = sink.ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "no message lost");
    src.stop().await;
    ch.queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
}
