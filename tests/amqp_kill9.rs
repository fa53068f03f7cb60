//! AMQP end to end through the real `sluice serve`: a source on a fresh
//! RabbitMQ queue feeds a trigger rule; a few hundred messages (binary-mode
//! and structured CloudEvents, raw messages with and without a message id,
//! and repeats of some) are published while the server is killed with
//! SIGKILL twice mid-stream and restarted on the same store. Every distinct
//! message starts exactly one execution: none lost (a delivery is acked
//! only after the engine made the event and its execution durable; the
//! broker requeues what a dead connection left unacked), none doubled
//! (redeliveries keep their deterministic ids and are deduplicated). Needs
//! RabbitMQ on AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/%2f.

mod support;

use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use serde_json::json;
use sluice_connectors::amqp;
use std::time::Duration;
use support::{assert_one_execution_per_message, orders_from_source, stream_through_kills, Server};

/// Distinct messages published.
const MESSAGES: usize = 401;

fn url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A publishing connection with confirms, driven by its own runtime.
struct Publisher {
    rt: tokio::runtime::Runtime,
    _conn: Connection,
    ch: Channel,
}

impl Publisher {
    fn new() -> Publisher {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (conn, ch) = rt.block_on(async {
            let conn = amqp::connect(&url()).await.expect("RabbitMQ on AMQP_URL");
            let ch = conn.create_channel().await.unwrap();
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .unwrap();
            (conn, ch)
        });
        Publisher {
            rt,
            _conn: conn,
            ch,
        }
    }

    fn declare(&self, queue: &str) {
        let opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        self.rt
            .block_on(self.ch.queue_declare(queue, opts, FieldTable::default()))
            .unwrap();
    }

    fn delete(&self, queue: &str) {
        self.rt
            .block_on(self.ch.queue_delete(queue, QueueDeleteOptions::default()))
            .unwrap();
    }

    /// Message `i` (see [`kind`]), published and confirmed.
    fn send(&self, queue: &str, i: usize) {
        let id = format!("ce-{i}");
        let data = json!({"n": i}).to_string();
        let (body, content_type, headers, message_id) = match kind(i) {
            Kind::Binary => (
                data,
                Some("application/json"),
                vec![
                    ("cloudEvents_specversion".to_string(), "1.0".to_string()),
                    ("cloudEvents_id".into(), id),
                    ("cloudEvents_source".into(), "/test/amqp".into()),
                    ("cloudEvents_type".into(), "test.order".into()),
                ],
                None,
            ),
            Kind::Structured => (
                json!({"specversion": "1.0", "id": id, "source": "/test/amqp",
                    "type": "test.order", "data": {"n": i}})
                .to_string(),
                Some("application/cloudevents+json"),
                vec![],
                None,
            ),
            Kind::RawWithId => (data, None, vec![], Some(format!("m-{i}"))),
            Kind::Raw => (data, None, vec![], None),
        };
        self.rt
            .block_on(amqp::publish(
                &self.ch,
                "",
                queue,
                body.as_bytes(),
                content_type,
                &headers,
                message_id.as_deref(),
            ))
            .expect("published and confirmed");
    }
}

enum Kind {
    Binary,
    Structured,
    /// Wrapped with the id `QUEUE/MESSAGE-ID`.
    RawWithId,
    /// Wrapped with the id `QUEUE/sha256:HEX` of the body.
    Raw,
}

fn kind(i: usize) -> Kind {
    match i % 4 {
        0 => Kind::Binary,
        1 => Kind::Structured,
        2 => Kind::RawWithId,
        _ => Kind::Raw,
    }
}

#[test]
fn kill_9_mid_stream_starts_one_execution_per_message() {
    let queue = format!("sluice-kill9-{}", uuid::Uuid::new_v4().simple());
    let publisher = Publisher::new();
    publisher.declare(&queue);
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let mut server = Server::start(dir.path(), &functions);
    orders_from_source(
        &server,
        json!({"kind": "amqp", "url": url(), "queue": queue, "prefetch": 100}),
    );

    let q = queue.clone();
    let kills = stream_through_kills(&mut server, MESSAGES, 2, Duration::ZERO, move |i| {
        publisher.send(&q, i);
        // Some messages are published twice: the repeat has the same
        // deterministic id and starts nothing.
        if i % 25 == 0 {
            publisher.send(&q, i);
        }
    });
    assert_eq!(kills.len(), 2, "{kills:?}");
    eprintln!("killed at {kills:?}");
    // Requeued deliveries after the last restart have had time to come in.
    std::thread::sleep(Duration::from_secs(2));
    assert_one_execution_per_message(&server, MESSAGES, |n, input| {
        let id = input["id"].as_str().unwrap();
        match kind(n) {
            Kind::Binary | Kind::Structured => {
                assert_eq!(id, format!("ce-{n}"));
                assert_eq!(input["type"], "test.order");
            }
            Kind::RawWithId => {
                assert_eq!(id, format!("{queue}/m-{n}"));
                assert_eq!(input["type"], "test.raw");
            }
            Kind::Raw => {
                assert!(id.starts_with(&format!("{queue}/sha256:")), "{id}");
                assert_eq!(input["type"], "test.raw");
            }
        }
    });
    Publisher::new().delete(&queue);
}
