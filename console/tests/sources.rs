//! `/api/v1/sources` against a real engine (its catalog); the running
//! sources are behind the `SourceControl` port, played here by a recorder.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sluice_console::{NotifyError, SourceControl};
use sluice_dsl::source::SourceDef;
use std::sync::{Arc, Mutex};
use support::*;

#[derive(Default)]
struct Recorder {
    notified: Mutex<Vec<(String, Value)>>,
}

#[async_trait::async_trait]
impl SourceControl for Recorder {
    fn status(&self, name: &str) -> Option<Value> {
        (name == "orders").then(|| json!({"connected": true, "lag": 3}))
    }
    async fn test(&self, def: &SourceDef) -> Result<String, String> {
        if def.name == "orders" {
            Ok("connected".into())
        } else {
            Err("refused".into())
        }
    }
    async fn notify(&self, def: &SourceDef, body: Value) -> Result<Value, NotifyError> {
        if body.get("Records").is_none() {
            return Err(NotifyError::Invalid(
                "an S3 event notification has a 'Records' array".into(),
            ));
        }
        self.notified.lock().unwrap().push((def.name.clone(), body));
        Ok(json!({"events": 1}))
    }
    fn metrics(&self) -> String {
        "sluice_source_connected{source=\"orders\",kind=\"kafka\"} 1\n".into()
    }
}

fn kafka() -> Value {
    json!({"kind": "kafka", "brokers": "127.0.0.1:9092", "topics": ["orders"]})
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_are_stored_listed_described_and_deleted() {
    let env = env().await;
    let put = env
        .call(Method::PUT, "/api/v1/sources/orders", Some(kafka()))
        .await;
    assert_eq!(
        (put.status, put.json()),
        (StatusCode::OK, json!({"name": "orders", "version": 1}))
    );
    // The same binding again is the same version.
    let again = env
        .call(Method::PUT, "/api/v1/sources/orders", Some(kafka()))
        .await;
    assert_eq!(again.json()["version"], 1);
    let cron = json!({"name": "nightly", "kind": "cron", "schedule": "0 0 * * *"});
    assert_eq!(
        env.call(Method::PUT, "/api/v1/sources/nightly", Some(cron))
            .await
            .status,
        StatusCode::OK
    );

    let got = env.get("/api/v1/sources/orders").await.json();
    assert_eq!(got["kind"], "kafka");
    assert_eq!(
        got["definition"]["group"], "sluice",
        "defaults are filled in"
    );
    assert_eq!(
        got["status"],
        Value::Null,
        "no running sources in this server"
    );
    let list = env.get("/api/v1/sources").await.json();
    let names: Vec<&str> = list["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nightly", "orders"]);

    let del = env
        .call(Method::DELETE, "/api/v1/sources/orders", None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    env.get("/api/v1/sources/orders")
        .await
        .error(StatusCode::NOT_FOUND);
    env.call(Method::DELETE, "/api/v1/sources/orders", None)
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_bindings_answer_with_pointers() {
    let env = env().await;
    let a = env
        .call(
            Method::PUT,
            "/api/v1/sources/q",
            Some(json!({"kind": "amqp", "url": "http://x", "queue": "q", "prefetc": 1})),
        )
        .await;
    assert_eq!(a.error(StatusCode::BAD_REQUEST), "invalid");
    assert_eq!(a.json()["details"][0]["pointer"], "/prefetc");
    let b = env
        .call(
            Method::PUT,
            "/api/v1/sources/q",
            Some(json!({"name": "other", "kind": "cron", "schedule": "* * * * *"})),
        )
        .await;
    assert_eq!(b.error(StatusCode::BAD_REQUEST), "bad_request");
    assert!(b.json()["message"].as_str().unwrap().contains("/name"));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_test_notifications_and_metrics_go_through_the_port() {
    let env = env().await;
    let recorder = Arc::new(Recorder::default());
    let env = env.with_sources(recorder.clone());
    env.call(Method::PUT, "/api/v1/sources/orders", Some(kafka()))
        .await;
    env.call(
        Method::PUT,
        "/api/v1/sources/bucket",
        Some(json!({"kind": "s3", "url": "s3://in/"})),
    )
    .await;

    assert_eq!(
        env.get("/api/v1/sources/orders").await.json()["status"]["lag"],
        3
    );
    let t = env
        .post("/api/v1/sources/orders/test", json!({}))
        .await
        .json();
    assert_eq!(t, json!({"ok": true, "message": "connected"}));
    let t = env
        .post("/api/v1/sources/bucket/test", json!({}))
        .await
        .json();
    assert_eq!(t["ok"], false);

    let note = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "in"}, "object": {"key": "a"}}}]});
    let n = env
        .post("/api/v1/sources/bucket/notifications", note.clone())
        .await;
    assert_eq!((n.status, n.json()), (StatusCode::OK, json!({"events": 1})));
    assert_eq!(
        recorder.notified.lock().unwrap().clone(),
        vec![("bucket".to_string(), note.clone())]
    );
    env.post("/api/v1/sources/bucket/notifications", json!({"x": 1}))
        .await
        .error(StatusCode::BAD_REQUEST);
    // Only s3 sources take notifications.
    env.post("/api/v1/sources/orders/notifications", note)
        .await
        .error(StatusCode::BAD_REQUEST);
    env.post("/api/v1/sources/missing/notifications", json!({}))
        .await
        .error(StatusCode::NOT_FOUND);

    let metrics = env.get("/metrics").await;
    let text = metrics.text;
    assert!(
        text.contains("sluice_source_connected{source=\"orders\",kind=\"kafka\"} 1"),
        "{text}"
    );
}
