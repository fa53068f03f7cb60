//! HTTP Tasks (`arn:aws:states:::http:invoke`) in `sluice serve` and in a
//! `--local` run, against a real axum API on loopback: JSONata arguments,
//! `Retry` on `States.Http.StatusCode.503`, `Catch` on a 404, and a
//! URL-encoded body.

mod support;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::Server;

/// `GET /orders/{id}` answers 503 on its first call and the order after;
/// `POST /notes` echoes its form body; anything else is 404. Runs on its own
/// thread for as long as the test does.
fn api() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(
                move |axum::extract::Path(id): axum::extract::Path<String>, headers: HeaderMap| {
                    let calls = counted.clone();
                    async move {
                        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                            return (
                                StatusCode::SERVICE_UNAVAILABLE,
                                axum::Json(json!({"retry": true})),
                            );
                        }
                        let trace = headers
                            .get("x-trace")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        (
                            StatusCode::OK,
                            axum::Json(json!({"id": id, "total": 42, "trace": trace})),
                        )
                    }
                },
            ),
        )
        .route(
            "/notes",
            post(|headers: HeaderMap, body: Bytes| async move {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                axum::Json(json!({"received": String::from_utf8_lossy(&body), "as": kind}))
            }),
        );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (base, calls)
}

fn workflow() -> Value {
    json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Fetch",
        "States": {
            "Fetch": {
                "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Arguments": {
                    "ApiEndpoint": "{% $states.input.api & '/orders/' & $states.input.id %}",
                    "Method": "GET",
                    "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:000000000000:connection/orders/1"},
                    "Headers": {"X-Trace": "{% 'run-' & $states.input.id %}"}
                },
                "Retry": [{"ErrorEquals": ["States.Http.StatusCode.503"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "Assign": {"order": "{% $states.result.ResponseBody %}", "api": "{% $states.input.api %}"},
                "Output": "{% $states.result.StatusCode %}",
                "Next": "Note"
            },
            "Note": {
                "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Arguments": {
                    "ApiEndpoint": "{% $api & '/notes' %}", "Method": "POST",
                    "RequestBody": {"order": "{% $order.id %}", "lines": ["a", "b"]},
                    "Transform": {"RequestBodyEncoding": "URL_ENCODED"}
                },
                "Output": {"order": "{% $order %}", "note": "{% $states.result.ResponseBody %}"},
                "Next": "Missing"
            },
            "Missing": {
                "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Arguments": {"ApiEndpoint": "{% $api & '/nowhere' %}", "Method": "GET"},
                "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"], "Next": "Done",
                           "Output": {"before": "{% $states.input %}", "error": "{% $states.errorOutput.Error %}"}}],
                "End": true
            },
            "Done": {"Type": "Succeed"}
        }
    })
}

fn expected(id: &str) -> Value {
    json!({
        "before": {
            "order": {"id": id, "total": 42, "trace": format!("run-{id}")},
            "note": {"received": format!("order={id}&lines%5B0%5D=a&lines%5B1%5D=b"),
                     "as": "application/x-www-form-urlencoded"}
        },
        "error": "States.Http.StatusCode.404"
    })
}

#[test]
fn a_served_workflow_calls_an_api_retries_a_503_and_catches_a_404() {
    let (api, calls) = api();
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let server = Server::start(dir.path(), &functions);
    let (status, body) = server.call("PUT", "/api/v1/workflows/orders", Some(workflow()));
    assert_eq!(status, 200, "{body}");
    let (status, done) = server.call(
        "POST",
        "/api/v1/workflows/orders/executions?wait=20",
        Some(json!({"input": {"api": api, "id": "A7"}})),
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], expected("A7"));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the 503 was retried once");
}

#[test]
fn a_local_run_calls_the_same_api() {
    let (api, calls) = api();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.asl.json");
    std::fs::write(&path, workflow().to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["workflow", "run", "--local"])
        .arg(&path)
        .args(["--input", &json!({"api": api, "id": "B2"}).to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let output: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(output, expected("B2"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
