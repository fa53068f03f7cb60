//! The REST API against a real engine on a temporary sled store, driven
//! through `app(state).oneshot(request)` without a socket.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use sluice_console::{app, ApiError, AppState, MAX_BODY_BYTES};
use sluice_engine::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread")]
async fn workflows_are_deployed_listed_and_described() {
    let env = env().await;
    let a = env.deploy("greet", pass()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"name": "greet", "version": 1}));
    let again = env.deploy("greet", pass()).await;
    assert_eq!(
        again.json()["version"],
        1,
        "the same definition is the same version"
    );
    let v2 = json!({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": true}}});
    assert_eq!(env.deploy("greet", v2.clone()).await.json()["version"], 2);
    env.deploy("other", pass()).await;

    let list = env.get("/api/v1/workflows").await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<Value> = list.json()["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].clone())
        .collect();
    assert_eq!(names, [json!("greet"), json!("other")]);

    let w = env.get("/api/v1/workflows/greet").await.json();
    assert_eq!(w["latestVersion"], 2);
    assert_eq!(w["versions"], json!([1, 2]));
    assert_eq!(w["definition"], v2);

    let v1 = env.get("/api/v1/workflows/greet/versions/1").await;
    assert_eq!((v1.status, v1.json()), (StatusCode::OK, pass()));
    let code = env
        .get("/api/v1/workflows/greet/versions/9")
        .await
        .error(StatusCode::NOT_FOUND);
    assert_eq!(code, "not_found");
    env.get("/api/v1/workflows/greet/versions/first")
        .await
        .error(StatusCode::BAD_REQUEST);
    env.get("/api/v1/workflows/missing")
        .await
        .error(StatusCode::NOT_FOUND);
    let bad_name = env.deploy("bad%20name", pass()).await;
    assert_eq!(bad_name.error(StatusCode::BAD_REQUEST), "bad_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_definition_lists_its_problems_with_pointers() {
    let env = env().await;
    let a = env
        .deploy(
            "bad",
            json!({"StartAt": "Nope", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}),
        )
        .await;
    assert_eq!(a.error(StatusCode::BAD_REQUEST), "invalid");
    let details = a.json()["details"].as_array().unwrap().clone();
    assert!(!details.is_empty());
    for d in &details {
        let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["pointer", "message"], "{d}");
        assert!(d["pointer"].as_str().unwrap().starts_with('/'), "{d}");
    }
    assert!(
        details.iter().any(|d| d["pointer"] == "/States/A/Next"),
        "{details:?}"
    );
    env.get("/api/v1/workflows/bad")
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_requests_answer_in_the_same_error_shape() {
    let env = env().await;
    env.deploy("w", pass()).await;
    let put = |body: &str, content_type: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::PUT)
            .uri("/api/v1/workflows/w");
        if let Some(t) = content_type {
            b = b.header(header::CONTENT_TYPE, t);
        }
        b.body(Body::from(body.to_string())).unwrap()
    };

    let malformed = env
        .send(put("{\"StartAt\": ", Some("application/json")))
        .await;
    malformed.error(StatusCode::BAD_REQUEST);
    assert!(malformed.json()["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));

    let form = env
        .send(put("a=b", Some("application/x-www-form-urlencoded")))
        .await;
    form.error(StatusCode::BAD_REQUEST);
    assert!(form.json()["message"]
        .as_str()
        .unwrap()
        .contains("Content-Type"));

    let no_type = env.send(put(&pass().to_string(), None)).await;
    assert_eq!(
        no_type.status,
        StatusCode::OK,
        "a missing Content-Type is accepted"
    );

    let empty = env.send(put("", Some("application/json"))).await;
    empty.error(StatusCode::BAD_REQUEST);

    let huge = "x".repeat(MAX_BODY_BYTES + 1);
    let too_big = env
        .send(put(&format!("\"{huge}\""), Some("application/json")))
        .await;
    assert_eq!(too_big.error(StatusCode::PAYLOAD_TOO_LARGE), "too_large");

    // Within the body limit but above the engine's payload limit.
    let input = json!({"input": {"blob": "y".repeat(PAYLOAD_LIMIT + 1)}});
    let engine_limit = env.post("/api/v1/workflows/w/executions", input).await;
    assert_eq!(
        engine_limit.error(StatusCode::PAYLOAD_TOO_LARGE),
        "too_large"
    );

    let unknown_field = env
        .post("/api/v1/workflows/w/executions", json!({"inputs": {}}))
        .await;
    unknown_field.error(StatusCode::BAD_REQUEST);
    assert!(
        unknown_field.text.contains("inputs"),
        "{}",
        unknown_field.text
    );

    let wrong_type = env
        .post("/api/v1/workflows/w/executions", json!({"name": 5}))
        .await;
    wrong_type.error(StatusCode::BAD_REQUEST);

    assert_eq!(
        env.get("/api/v1/nothing-here")
            .await
            .error(StatusCode::NOT_FOUND),
        "not_found"
    );
    let wrong_method = env.call(Method::DELETE, "/api/v1/executions", None).await;
    assert_eq!(
        wrong_method.error(StatusCode::METHOD_NOT_ALLOWED),
        "method_not_allowed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn starts_are_201_then_idempotent_200_then_409() {
    let env = env().await;
    env.deploy("w", pass()).await;
    let body = |x: i64| json!({"input": {"x": x}, "name": "order-1"});
    let first = env.post("/api/v1/workflows/w/executions", body(1)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let id = first.json()["executionId"].as_str().unwrap().to_string();
    assert_eq!(first.json(), json!({"executionId": id}));
    assert_eq!(
        first.headers[header::LOCATION],
        format!("/api/v1/executions/{id}").as_str()
    );

    let again = env.post("/api/v1/workflows/w/executions", body(1)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), json!({"executionId": id}));

    let other_input = env.post("/api/v1/workflows/w/executions", body(2)).await;
    assert_eq!(other_input.error(StatusCode::CONFLICT), "conflict");

    // No body at all: input {}.
    let bare = env
        .call(Method::POST, "/api/v1/workflows/w/executions", None)
        .await;
    assert_eq!(bare.status, StatusCode::CREATED, "{}", bare.text);

    // A pinned version; an unknown version, workflow or alias.
    env.deploy(
        "w",
        json!({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": "v2", "End": true}}}),
    )
    .await;
    let pinned = env.start("w:1", json!({"k": 1})).await;
    let done = env.wait_until_done(&pinned).await;
    assert_eq!((done.version, done.output), (1, Some(json!({"k": 1}))));
    for missing in ["w:7", "nope", "w:canary"] {
        env.post(
            &format!("/api/v1/workflows/{missing}/executions"),
            json!({}),
        )
        .await
        .error(StatusCode::NOT_FOUND);
    }
    env.post(
        "/api/v1/workflows/w/executions",
        json!({"name": "not a valid name!"}),
    )
    .await
    .error(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_with_wait_answers_with_the_execution_or_202() {
    let env = env().await;
    env.executor.on("double", |t| {
        Ok(json!(t.payload["n"].as_i64().unwrap_or(0) * 2))
    });
    env.deploy(
        "double",
        json!({"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "sluice:function:double", "End": true}}}),
    )
    .await;
    env.deploy("sleepy", sleepy()).await;

    let done = env
        .post(
            "/api/v1/workflows/double/executions?wait=10",
            json!({"input": {"n": 21}}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let e = done.json();
    assert_eq!(e["status"], "SUCCEEDED");
    assert_eq!(e["output"], 42);
    assert_eq!(e["input"], json!({"n": 21}));

    let waiting = env
        .post("/api/v1/workflows/sleepy/executions?wait=0.2", json!({}))
        .await;
    assert_eq!(waiting.status, StatusCode::ACCEPTED, "{}", waiting.text);
    let id = waiting.json()["executionId"].as_str().unwrap().to_string();
    assert_eq!(waiting.json(), json!({"executionId": id}));
    assert_eq!(
        env.get(&format!("/api/v1/executions/{id}")).await.json()["status"],
        "RUNNING"
    );

    for bad in ["abc", "-1", "301", "NaN"] {
        env.post(
            &format!("/api/v1/workflows/sleepy/executions?wait={bad}"),
            json!({}),
        )
        .await
        .error(StatusCode::BAD_REQUEST);
    }
    env.post("/api/v1/workflows/sleepy/executions?wiat=1", json!({}))
        .await
        .error(StatusCode::BAD_REQUEST);

    // Shutting down releases waiting requests at once.
    let state = env.state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        state.shutdown();
    });
    let started = std::time::Instant::now();
    let released = env
        .post("/api/v1/workflows/sleepy/executions?wait=60", json!({}))
        .await;
    assert_eq!(released.status, StatusCode::ACCEPTED);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn executions_are_described_listed_and_have_history() {
    let env = env().await;
    env.deploy("w", pass()).await;
    env.deploy("sleepy", sleepy()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = env.start("w", json!({"i": i})).await;
        env.wait_until_done(&id).await;
        ids.push(id);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let running = env.start("sleepy", json!({})).await;

    let a = env.get(&format!("/api/v1/executions/{}", ids[0])).await;
    assert_eq!(a.status, StatusCode::OK);
    let e = a.json();
    for key in [
        "executionId",
        "workflow",
        "status",
        "input",
        "output",
        "error",
        "cause",
        "startedAt",
        "stoppedAt",
    ] {
        assert!(e.get(key).is_some(), "{key} missing in {e}");
    }
    assert_eq!(e["executionId"], ids[0].as_str());
    assert_eq!(e["workflow"], "w");
    assert_eq!(e["status"], "SUCCEEDED");
    assert_eq!(e["output"], json!({"i": 0}));
    assert_eq!(
        (e["error"].clone(), e["cause"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(e["stoppedAt"].is_string());
    env.get("/api/v1/executions/0b6c0000-0000-4000-8000-000000000000")
        .await
        .error(StatusCode::NOT_FOUND);
    env.get("/api/v1/executions/not-an-id")
        .await
        .error(StatusCode::NOT_FOUND);

    let all = env.get("/api/v1/executions").await.json();
    assert_eq!(all["executions"].as_array().unwrap().len(), 4);
    assert_eq!(all["executions"][0]["executionId"], running.as_str());
    assert_eq!(all["nextToken"], Value::Null);

    let page1 = env
        .get("/api/v1/executions?workflow=w&limit=2")
        .await
        .json();
    assert_eq!(page1["executions"][0]["executionId"], ids[2].as_str());
    assert_eq!(page1["executions"].as_array().unwrap().len(), 2);
    let token = page1["nextToken"].as_str().unwrap();
    let page2 = env
        .get(&format!(
            "/api/v1/executions?workflow=w&limit=2&nextToken={}",
            encode(token)
        ))
        .await
        .json();
    assert_eq!(page2["executions"].as_array().unwrap().len(), 1);
    assert_eq!(page2["executions"][0]["executionId"], ids[0].as_str());

    let running_only = env
        .get("/api/v1/executions?status=RUNNING&workflow=")
        .await
        .json();
    assert_eq!(running_only["executions"].as_array().unwrap().len(), 1);
    for bad in [
        "status=DONE",
        "limit=0",
        "limit=1001",
        "limit=ten",
        "nextToken=forged",
        "colour=red",
    ] {
        env.get(&format!("/api/v1/executions?{bad}"))
            .await
            .error(StatusCode::BAD_REQUEST);
    }

    let h = env
        .get(&format!("/api/v1/executions/{}/history", ids[0]))
        .await;
    assert_eq!(h.status, StatusCode::OK);
    let events = h.json()["events"].as_array().unwrap().clone();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev["id"], i as u64 + 1);
        assert!(ev["previousEventId"].is_u64() && ev["timestamp"].is_string());
    }
    env.get("/api/v1/executions/0b6c0000-0000-4000-8000-000000000000/history")
        .await
        .error(StatusCode::NOT_FOUND);
}

/// Percent-encodes a query value (tokens hold '/').
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn executions_are_stopped_and_redriven() {
    let env = env().await;
    env.deploy("sleepy", sleepy()).await;
    let id = env.start("sleepy", json!({})).await;
    let stopped = env
        .post(
            &format!("/api/v1/executions/{id}/stop"),
            json!({"error": "Manual", "cause": "changed my mind"}),
        )
        .await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.text);
    let e = stopped.json();
    assert_eq!(
        (e["status"].as_str(), e["error"].as_str()),
        (Some("ABORTED"), Some("Manual"))
    );
    assert_eq!(e["cause"], "changed my mind");
    env.call(Method::POST, &format!("/api/v1/executions/{id}/stop"), None)
        .await
        .error(StatusCode::CONFLICT);
    env.post(
        "/api/v1/executions/0b6c0000-0000-4000-8000-000000000000/stop",
        json!({}),
    )
    .await
    .error(StatusCode::NOT_FOUND);

    let attempts = Arc::new(AtomicU32::new(0));
    let seen = attempts.clone();
    env.executor.on("flaky", move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(TaskError::new("Outage", "down"))
        } else {
            Ok(json!("up"))
        }
    });
    env.deploy(
        "flaky",
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sluice:function:flaky", "End": true}}}),
    )
    .await;
    let id = env.start("flaky", json!({})).await;
    assert_eq!(env.wait_until_done(&id).await.status, Status::Failed);
    let redriven = env
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/redrive"),
            None,
        )
        .await;
    assert_eq!(redriven.status, StatusCode::OK, "{}", redriven.text);
    assert_eq!(redriven.json()["redriveCount"], 1);
    let done = env.wait_until_done(&id).await;
    assert_eq!(
        (done.status, done.output),
        (Status::Succeeded, Some(json!("up")))
    );
    env.call(
        Method::POST,
        &format!("/api/v1/executions/{id}/redrive"),
        None,
    )
    .await
    .error(StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread")]
async fn task_tokens_are_completed_through_callbacks() {
    let env = env().await;
    env.executor.on("notify", |_| Ok(json!("sent")));
    env.deploy(
        "approve",
        json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "sluice:function:notify.waitForTaskToken",
            "Parameters": {"token.$": "$$.Task.Token"}, "End": true}}}),
    )
    .await;
    let tokens = |env: &TestEnv, n: usize| {
        let calls = env.executor.calls.lock().unwrap();
        (calls.len() >= n).then(|| {
            calls
                .iter()
                .map(|c| c.payload["token"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
    };
    let approve = env.start("approve", json!({})).await;
    let reject = env.start("approve", json!({})).await;
    let mut found = None;
    for _ in 0..500 {
        found = tokens(&env, 2);
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let found = found.expect("both tasks were dispatched with their tokens");
    // Which token belongs to which execution depends on dispatch order.
    let token_of = |id: &str| {
        let calls = env.executor.calls.lock().unwrap();
        let c = calls.iter().find(|c| c.execution_id == id).unwrap();
        c.payload["token"].as_str().unwrap().to_string()
    };
    assert_eq!(found.len(), 2);
    let (t_ok, t_fail) = (token_of(&approve), token_of(&reject));

    let hb = env
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{t_ok}/heartbeat"),
            None,
        )
        .await;
    assert_eq!((hb.status, hb.json()), (StatusCode::OK, json!({})));
    let ok = env
        .post(
            &format!("/api/v1/tasks/{t_ok}/success"),
            json!({"output": {"approved": true}}),
        )
        .await;
    assert_eq!((ok.status, ok.json()), (StatusCode::OK, json!({})));
    let done = env.wait_until_done(&approve).await;
    assert_eq!(done.output, Some(json!({"approved": true})));

    let failed = env
        .post(
            &format!("/api/v1/tasks/{t_fail}/failure"),
            json!({"error": "Rejected", "cause": "not today"}),
        )
        .await;
    assert_eq!((failed.status, failed.json()), (StatusCode::OK, json!({})));
    let done = env.wait_until_done(&reject).await;
    assert_eq!(
        (done.status, done.error.as_deref(), done.cause.as_deref()),
        (Status::Failed, Some("Rejected"), Some("not today"))
    );

    for path in ["success", "failure", "heartbeat"] {
        let body = json!({"output": 1});
        let body = (path == "success").then_some(body);
        let used = env
            .call(
                Method::POST,
                &format!("/api/v1/tasks/{t_ok}/{path}"),
                body.clone(),
            )
            .await;
        assert_eq!(used.error(StatusCode::CONFLICT), "conflict", "{path}");
        let unknown = env
            .call(
                Method::POST,
                &format!("/api/v1/tasks/no-such-token/{path}"),
                body,
            )
            .await;
        assert_eq!(unknown.error(StatusCode::NOT_FOUND), "not_found", "{path}");
    }
    env.call(Method::POST, &format!("/api/v1/tasks/{t_ok}/success"), None)
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics() {
    let env = env().await;
    let h = env.get("/healthz").await;
    assert_eq!(
        (h.status, h.json()),
        (StatusCode::OK, json!({"status": "ok", "recovered": true}))
    );
    env.deploy("w", pass()).await;
    env.deploy("sleepy", sleepy()).await;
    let id = env.start("w", json!({})).await;
    env.wait_until_done(&id).await;
    env.start("sleepy", json!({})).await;

    let m = env.get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for line in [
        "sluice_up 1",
        "sluice_recovered 1",
        "sluice_executions{status=\"RUNNING\"} 1",
        "sluice_executions{status=\"SUCCEEDED\"} 1",
        "sluice_executions{status=\"FAILED\"} 0",
        "sluice_workflows 2",
        "# TYPE sluice_executions gauge",
    ] {
        assert!(
            m.text.lines().any(|l| l == line),
            "{line} missing:\n{}",
            m.text
        );
    }
}

#[tokio::test]
async fn health_answers_before_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(
        EngineConfig::new(dir.path()),
        Arc::new(TestExecutor::default()),
    )
    .unwrap();
    let res = app(AppState::new(engine))
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"status": "ok", "recovered": false}));
}

#[tokio::test]
async fn storage_and_shutdown_errors_keep_the_shape_and_hide_internals() {
    let cases = [
        (
            EngineError::Storage("/secret/path: disk on fire".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
        (
            EngineError::ShuttingDown,
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
        (
            EngineError::BadRequest("b".into()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            EngineError::NotFound("n".into()),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            EngineError::Conflict("c".into()),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            EngineError::TooLarge("t".into()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
    ];
    for (error, status, code) in cases {
        let res = ApiError::from(error).into_response();
        assert_eq!(res.status(), status);
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], code);
        assert_eq!(v["details"], Value::Null);
        assert!(!v["message"].as_str().unwrap().contains("secret"), "{v}");
    }
}
