//! AMQP: the bare lapin consumer against the AMQP source into an engine.

use std::sync::Arc;
use std::time::Instant;

use futures::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use serde_json::json;
use sluice_connectors::{amqp, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;
use sluice_engine::InboundEvent;

use crate::{body, check_started, engine, engine_alone_rows, time_source, Args, Row, Timing};
use crate::{DURABILITIES, EVENT_TYPE};

fn url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

async fn channel() -> (lapin::Connection, Channel) {
    let conn = amqp::connect(&url()).await.expect("RabbitMQ on AMQP_URL");
    let ch = conn.create_channel().await.unwrap();
    (conn, ch)
}

/// A fresh durable queue holding `count` persistent messages (with message
/// ids, as publishers that want exact deduplication send them).
async fn fill(count: usize) -> String {
    let queue = format!("sluice-bench-{}", uuid::Uuid::new_v4().simple());
    let (_conn, ch) = channel().await;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(&queue, durable, FieldTable::default())
        .await
        .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut confirms = Vec::with_capacity(1000);
    for i in 0..count {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(format!("m-{i}").into());
        confirms.push(
            ch.basic_publish("", &queue, BasicPublishOptions::default(), &body(i), props)
                .await
                .unwrap(),
        );
        if confirms.len() == 1000 || i + 1 == count {
            for c in futures::future::join_all(confirms.drain(..)).await {
                assert!(c.unwrap().is_ack());
            }
        }
    }
    queue
}

async fn delete(queue: &str) {
    let (_conn, ch) = channel().await;
    ch.queue_delete(queue, QueueDeleteOptions::default())
        .await
        .unwrap();
}

/// The bare client: consume with the source's prefetch and batching (what
/// is ready, up to 512, then one `ack multiple`) until `count` messages.
async fn raw_consume(queue: &str, count: usize, prefetch: u16) -> Timing {
    let started = Instant::now();
    let (_conn, ch) = channel().await;
    ch.basic_qos(prefetch, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = ch
        .basic_consume(
            queue,
            "bench-raw",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut first = None;
    let mut seen = 0;
    while seen < count {
        let mut batch = vec![consumer.next().await.unwrap().unwrap()];
        first.get_or_insert_with(|| started.elapsed());
        while batch.len() < 512 {
            match consumer.next().now_or_never() {
                Some(d) => batch.push(d.unwrap().unwrap()),
                None => break,
            }
        }
        seen += batch.len();
        batch
            .last()
            .unwrap()
            .ack(BasicAckOptions { multiple: true })
            .await
            .unwrap();
    }
    Timing {
        first: first.unwrap(),
        total: started.elapsed(),
    }
}

fn events(queue: &str, count: usize) -> Vec<InboundEvent> {
    (0..count)
        .map(|i| InboundEvent {
            source: "bench".into(),
            event: json!({"specversion": "1.0",
                "id": amqp::raw_id(queue, Some(&format!("m-{i}")), b""),
                "source": "sluice://sources/bench", "type": EVENT_TYPE,
                "datacontenttype": "application/json",
                "data": serde_json::from_slice::<serde_json::Value>(&body(i)).unwrap()}),
        })
        .collect()
}

pub async fn run(args: &Args, prefetch: u16) -> Vec<Row> {
    let n = args.messages;
    let queue = fill(n).await;
    let mut rows = vec![Row {
        case: format!("lapin consumer alone, prefetch {prefetch} (the floor)"),
        messages: n,
        timing: raw_consume(&queue, n, prefetch).await,
    }];
    delete(&queue).await;
    for (durability, name) in DURABILITIES {
        let queue = fill(n).await;
        let (engine, _dir) = engine(durability).await;
        let def = SourceDef::from_value(&json!({"name": "bench", "kind": "amqp", "url": url(),
            "queue": queue, "prefetch": prefetch, "type": EVENT_TYPE}))
        .unwrap();
        let status = Arc::new(SourceStatus::new());
        let stop = CancellationToken::new();
        let started = Instant::now();
        let task = tokio::spawn(amqp::run(
            def,
            Arc::new(engine.clone()),
            status.clone(),
            stop.clone(),
        ));
        let timing = time_source(started, &status, n as u64).await;
        stop.cancel();
        task.await.unwrap();
        check_started(&engine, n as u64);
        delete(&queue).await;
        rows.push(Row {
            case: format!("AMQP source → engine, prefetch {prefetch}, --durability {name}"),
            messages: n,
            timing,
        });
    }
    rows.extend(engine_alone_rows(n, || events(&queue, n)).await);
    rows
}
