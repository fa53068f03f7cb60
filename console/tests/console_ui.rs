//! The web console's routes: pages and assets served from the binary, the
//! graph and summary the pages draw, and the live stream.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread")]
async fn every_console_page_is_the_app_shell_and_assets_are_served() {
    let env = env().await;
    for path in [
        "/",
        "/workflows",
        "/workflows/x",
        "/executions",
        "/executions/abc",
        "/functions",
        "/sources",
        "/login",
    ] {
        let a = env.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert!(a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(a.text.contains("/ui/app.js"), "{path}");
        let csp = a.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'"),
            "no third-party script may load: {csp}"
        );
    }
    let js = env.get("/ui/graph-layout.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.text.contains("export function layoutScope"));
    assert!(!js.text.contains("http://") && !js.text.contains("https://"));
    env.get("/ui/nope.js").await.error(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_graph_of_a_workflow_version() {
    let env = env().await;
    env.deploy("g", pass()).await;
    let two = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Parallel", "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}], "End": true}
    }});
    env.deploy("g", two).await;
    let latest = env.get("/api/v1/workflows/g/graph").await.json();
    assert_eq!(latest["version"], 2);
    assert_eq!(latest["graph"]["startAt"], "A");
    assert_eq!(
        latest["graph"]["edges"],
        json!([{"from": "A", "to": "B", "kind": "next"}])
    );
    assert_eq!(
        latest["graph"]["states"][1]["branches"][0]["states"][0]["name"],
        "X"
    );
    let v1 = env.get("/api/v1/workflows/g/graph?version=1").await.json();
    assert_eq!(v1["version"], 1);
    env.get("/api/v1/workflows/g/graph?version=7")
        .await
        .error(StatusCode::NOT_FOUND);
    env.get("/api/v1/workflows/none/graph")
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_counts_by_status_and_ranks_failing_workflows() {
    let env = env().await;
    env.deploy("ok", pass()).await;
    env.deploy(
        "bad",
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}),
    )
    .await;
    for w in ["ok", "bad", "bad"] {
        let id = env.start(w, json!({})).await;
        env.wait_until_done(&id).await;
    }
    let s = env.get("/api/v1/summary").await.json();
    assert_eq!(s["executions"]["SUCCEEDED"], 1);
    assert_eq!(s["executions"]["FAILED"], 2);
    assert_eq!(s["total"], 3);
    assert_eq!(s["workflows"], 2);
    assert_eq!(s["topFailing"], json!([{"workflow": "bad", "failed": 2}]));
}

/// Reads server-sent events until `done` says so (bounded in time).
async fn read_events(
    body: Body,
    mut done: impl FnMut(&str, &Value) -> bool,
) -> Vec<(String, Value)> {
    let mut body = body.into_data_stream();
    let mut buf = String::new();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let chunk = tokio::time::timeout_at(deadline, futures_next(&mut body))
            .await
            .expect("the expected events arrive within 20 s")
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut kind = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(k) = line.strip_prefix("event: ") {
                    kind = k.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if kind.is_empty() {
                continue; // keep-alive comment
            }
            let value: Value = serde_json::from_str(&data).unwrap();
            let stop = done(&kind, &value);
            seen.push((kind, value));
            if stop {
                return seen;
            }
        }
    }
}

async fn futures_next(body: &mut axum::body::BodyDataStream) -> Option<axum::body::Bytes> {
    use futures_util::StreamExt;
    body.next().await.map(|r| r.expect("a body chunk"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_announces_each_change_of_an_execution_as_it_commits() {
    let env = env().await;
    env.deploy("g", pass()).await;
    let res = env
        .app
        .clone()
        .oneshot(Request::get("/api/v1/stream").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let id = env.start("g", json!({"n": 1})).await;
    let events = read_events(res.into_body(), |kind, v| {
        kind == "execution" && v["executionId"] == id.as_str() && v["status"] == "SUCCEEDED"
    })
    .await;
    let last = &events.last().unwrap().1;
    assert_eq!(last["workflow"], "g");
    assert_eq!(last["version"], 1);
    assert!(last["lastEvent"].as_u64().unwrap() >= 3, "{last}");
    assert!(last["stoppedAt"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_ends_when_the_server_shuts_down() {
    let env = env().await;
    let res = env
        .app
        .clone()
        .oneshot(Request::get("/api/v1/stream").body(Body::empty()).unwrap())
        .await
        .unwrap();
    env.state.shutdown();
    let all = tokio::time::timeout(Duration::from_secs(10), res.into_body().collect())
        .await
        .expect("the stream ends at shutdown instead of holding it up");
    assert!(all.is_ok());
}
