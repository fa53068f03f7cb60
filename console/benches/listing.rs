//! `GET /api/v1/executions` with 100,000 executions stored, through the
//! whole router (query parsing, index range, record reads, JSON), printed
//! as figures (`cargo bench -p sluice-console --bench listing`;
//! `-- --quick` stores 10,000).
//!
//! The store: 10 workflows; 1% of the executions (all of workflow `flaky`)
//! fail, the rest succeed. Baseline in the same run: finding the newest 100
//! failed executions by reading every record newest first — what the
//! listing did before the status index (see engine/src/indexes.rs).

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};
use sluice_console::{app, AppState};
use sluice_engine::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

struct NoTasks;

#[async_trait::async_trait]
impl Executor for NoTasks {
    async fn invoke(&self, _task: TaskInvocation) -> Result<Value, TaskError> {
        Err(TaskError::new("States.TaskFailed", "no tasks here"))
    }
}

const CONCURRENCY: usize = 512;
const REPEAT: usize = 50;

async fn fill(engine: &Engine, total: usize) {
    let ok = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let flaky = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Flaky", "Cause": "always"}}});
    for w in 0..9 {
        engine.deploy(&format!("ok-{w}"), ok.clone()).await.unwrap();
    }
    engine.deploy("flaky", flaky).await.unwrap();
    let started = Instant::now();
    let mut next = 0usize;
    let mut running = tokio::task::JoinSet::new();
    while next < total || !running.is_empty() {
        while next < total && running.len() < CONCURRENCY {
            let workflow = if next.is_multiple_of(100) {
                "flaky".to_string()
            } else {
                format!("ok-{}", next % 9)
            };
            let engine = engine.clone();
            running.spawn(async move {
                let req = StartRequest {
                    input: json!({"n": next}),
                    name: None,
                };
                engine.start(&workflow, req).await.unwrap();
            });
            next += 1;
        }
        running.join_next().await;
    }
    eprintln!(
        "stored {total} executions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Let the last executions finish.
    while engine
        .count_executions(None, Some(Status::Running))
        .unwrap()
        > 0
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(router: &axum::Router, uri: &str) -> (Duration, Value) {
    let t = Instant::now();
    let res = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{uri}");
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let elapsed = t.elapsed();
    (elapsed, serde_json::from_slice(&bytes).unwrap())
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn measure(router: &axum::Router, name: &str, uri: &str, expect: usize) {
    let mut times = Vec::with_capacity(REPEAT);
    for _ in 0..REPEAT {
        let (t, body) = get(router, uri).await;
        assert_eq!(
            body["executions"].as_array().unwrap().len(),
            expect,
            "{uri}"
        );
        times.push(t);
    }
    println!(
        "| {name} | `{uri}` | {} | {} | {} |",
        ms(pct(&mut times, 0.5)),
        ms(pct(&mut times, 0.99)),
        ms(*times.iter().max().unwrap())
    );
}

/// The old way: read pages of every execution, newest first, until 100 failed ones.
async fn baseline_scan(router: &axum::Router) -> Duration {
    let t = Instant::now();
    let mut found = 0;
    let mut token: Option<String> = None;
    while found < 100 {
        let uri = match &token {
            Some(t) => format!("/api/v1/executions?limit=1000&nextToken={t}"),
            None => "/api/v1/executions?limit=1000".to_string(),
        };
        let (_, body) = get(router, &uri).await;
        found += body["executions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "FAILED")
            .count();
        match body["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    t.elapsed()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total = if quick { 10_000 } else { 100_000 };
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.durability = Durability::Process;
    let engine = Engine::open(config, Arc::new(NoTasks)).unwrap();
    engine.recover().await.unwrap();
    fill(&engine, total).await;
    let router = app(AppState::new(engine.clone()));

    // A page deep into the failed ones, and a start-time window mid-store.
    let mut token = String::new();
    for _ in 0..4 {
        let uri = format!("/api/v1/executions?status=FAILED&limit=20&nextToken={token}");
        let (_, body) = get(&router, &uri).await;
        token = body["nextToken"].as_str().unwrap().to_string();
    }
    let (_, all) = get(&router, "/api/v1/executions?limit=1000").await;
    let mid = all["executions"][500]["startedAt"]
        .as_str()
        .unwrap()
        .to_string();
    let mid_ms = sluice_dsl::timestamp::parse(&mid)
        .unwrap()
        .timestamp_millis();

    println!("{total} executions stored; {REPEAT} requests per case\n");
    println!("| case | request | p50 | p99 | max |");
    println!("|---|---|---:|---:|---:|");
    let cases = [
        (
            "newest 100",
            "/api/v1/executions?limit=100".to_string(),
            100,
        ),
        (
            "newest 1,000",
            "/api/v1/executions?limit=1000".to_string(),
            1000,
        ),
        (
            "one workflow (9%)",
            "/api/v1/executions?workflow=ok-3&limit=100".to_string(),
            100,
        ),
        (
            "rare status (1%)",
            "/api/v1/executions?status=FAILED&limit=20".to_string(),
            20,
        ),
        (
            "workflow and status",
            "/api/v1/executions?workflow=flaky&status=FAILED&limit=20".to_string(),
            20,
        ),
        (
            "5th page of a rare status",
            format!("/api/v1/executions?status=FAILED&limit=20&nextToken={token}"),
            20,
        ),
        (
            "start-time window",
            format!(
                "/api/v1/executions?startedBefore={mid_ms}&startedAfter={}&limit=100",
                mid_ms - 60_000
            ),
            100,
        ),
    ];
    for (name, uri, expect) in &cases {
        measure(&router, name, uri, *expect).await;
    }
    let mut scans: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        scans.push(baseline_scan(&router).await);
    }
    println!(
        "\nbaseline: newest 100 FAILED by reading every record, newest first (the listing before the status index): p50 {}",
        ms(pct(&mut scans, 0.5))
    );
}
