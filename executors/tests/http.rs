//! `http`: binary-mode CloudEvents POSTed to a real axum server on loopback.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::*;
use serde_json::{json, Value};
use sluice_executors::{names, Functions};
use std::time::Duration;

async fn server() -> String {
    let app = Router::new()
        .route(
            "/echo",
            post(|headers: HeaderMap, body: Bytes| async move {
                let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                axum::Json(json!({
                    "event": event,
                    "specversion": h("ce-specversion"), "id": h("ce-id"), "source": h("ce-source"),
                    "type": h("ce-type"), "subject": h("ce-subject"), "contentType": h("content-type"),
                }))
            }),
        )
        .route(
            "/reject",
            post(|| async { (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"errorType": "OrderInvalid", "errorMessage": "no items"}))) }),
        )
        .route("/teapot", post(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }))
        .route("/boom", post(|| async { (StatusCode::BAD_GATEWAY, "upstream down") }))
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn http_def(name: &str, url: String) -> Value {
    json!({"name": name, "runtime": "http", "url": url, "timeoutSeconds": 1})
}

#[tokio::test]
async fn the_event_goes_as_a_binary_cloudevent_and_the_body_comes_back() {
    let base = server().await;
    let f = Functions::new();
    deploy(&f, http_def("echo", format!("{base}/echo")));
    let r = f
        .invoke(
            "echo",
            None,
            &json!({"order": 7}),
            &caller("exec-1/2/0"),
            None,
        )
        .await
        .result
        .unwrap();
    assert_eq!(r["event"], json!({"order": 7}));
    assert_eq!(r["specversion"], "1.0");
    assert_eq!(
        r["id"], "exec-1/2/0",
        "the idempotency key is the CloudEvent id"
    );
    assert_eq!(r["source"], "sluice/executions/exec-1");
    assert_eq!(r["type"], "io.sluice.function.invoke");
    assert_eq!(r["subject"], "Work");
    assert_eq!(r["contentType"], "application/json");
}

#[tokio::test]
async fn client_errors_are_named_server_errors_and_timeouts_are_retryable() {
    let base = server().await;
    let f = Functions::new();
    for (name, path) in [
        ("reject", "reject"),
        ("teapot", "teapot"),
        ("boom", "boom"),
        ("slow", "slow"),
    ] {
        deploy(&f, http_def(name, format!("{base}/{path}")));
    }
    deploy(&f, http_def("down", "http://127.0.0.1:9/nothing".into()));
    let e = invoke(&f, "reject", json!({})).await.result.unwrap_err();
    assert_eq!(
        (e.error.as_str(), e.cause.as_str()),
        ("OrderInvalid", "no items")
    );
    let e = invoke(&f, "teapot", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::HTTP_CLIENT_ERROR);
    assert!(
        e.cause.contains("418") && e.cause.contains("short and stout"),
        "{}",
        e.cause
    );
    let e = invoke(&f, "boom", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::HTTP_SERVER_ERROR);
    let started = std::time::Instant::now();
    let e = invoke(&f, "slow", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(5));
    let e = invoke(&f, "down", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::HTTP_UNAVAILABLE);
}
