//! Durable engine throughput and latency, printed as figures
//! (`cargo bench -p sluice-engine --bench durable`).
//!
//! Side by side in one run, on a real sled store in a temporary folder:
//! group commit (up to 1,024 commands per flush) against the baseline of
//! one command per flush, each with `--durability process` and `power`.
//! Workloads:
//! - `pass chain`: executions of a 20-state Pass chain started concurrently
//!   (every transition is recorded in history and durable before the start
//!   is acknowledged);
//! - `task chain`: executions of a 10-Task chain with an instant in-process
//!   executor: every task completion is its own durable command, so this
//!   measures the engine-added latency per step.

use serde_json::{json, Value};

// The same allocator as the `sluice` binary: sled's copy-on-write pages
// make the engine allocation-heavy.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use sluice_engine::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Instant0;

#[async_trait::async_trait]
impl Executor for Instant0 {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        Ok(task.payload)
    }
}

fn chain(kind: &str, n: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = match kind {
            "Task" => json!({"Type": "Task", "Resource": "sluice:function:echo"}),
            _ => json!({"Type": "Pass", "Parameters": {"i": i, "v.$": "$.v"}}),
        };
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states})
}

async fn engine(durability: Durability, max_batch: usize) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.durability = durability;
    config.max_batch = max_batch;
    let engine = Engine::open(config, Arc::new(Instant0)).unwrap();
    engine.recover().await.unwrap();
    (engine, dir)
}

/// Start `count` executions with `concurrency` in flight; wait for all to end.
/// Returns (elapsed, per-execution latencies).
async fn run(
    engine: &Engine,
    workflow: &str,
    count: usize,
    concurrency: usize,
) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let engine = engine.clone();
        let workflow = workflow.to_string();
        let permit = sem.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let (e, _) = engine
                .start(
                    &workflow,
                    StartRequest {
                        input: json!({"v": i}),
                        name: None,
                    },
                )
                .await
                .unwrap();
            let done = engine
                .wait(e.execution_id.as_str(), Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(done.status, Status::Succeeded);
            drop(permit);
            t.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies.sort();
    (started.elapsed(), latencies)
}

/// Open loop: start `count` executions at `rate` per second whatever the
/// engine's progress (unlike [`run`], whose concurrency limit hides
/// queueing); returns the sorted per-execution latencies.
async fn run_at_rate(engine: &Engine, workflow: &str, count: usize, rate: f64) -> Vec<Duration> {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        ticks.tick().await;
        let engine = engine.clone();
        let workflow = workflow.to_string();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let input = json!({ "v": i });
            let req = StartRequest { input, name: None };
            let (e, _) = engine.start(&workflow, req).await.unwrap();
            let id = e.execution_id.to_string();
            let done = engine.wait(&id, Duration::from_secs(60)).await.unwrap();
            assert_eq!(done.status, Status::Succeeded);
            t.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies.sort();
    latencies
}

fn pct(v: &[Duration], p: f64) -> Duration {
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; a quick smoke run is `-- --quick`.
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    println!(
        "durable engine benchmark ({} CPUs)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<44} {:>12} {:>14} {:>10} {:>10}",
        "case", "executions", "transitions/s", "p50", "p99"
    );
    let mut results = Vec::new();
    for (durability, dname) in [
        (Durability::Process, "process"),
        (Durability::Power, "power"),
    ] {
        for (batch, bname) in [(1024usize, "group commit"), (1, "1 command per flush")] {
            let (engine, _dir) = engine(durability, batch).await;
            engine.deploy("pass", chain("Pass", 20)).await.unwrap();
            engine.deploy("task", chain("Task", 10)).await.unwrap();
            let count = (if batch == 1 { 400 } else { 4000 }) / scale;
            let (elapsed, lat) = run(&engine, "pass", count, 256).await;
            // 20 states + start + end: history events ≈ 2 per state.
            let tps = (count * 20) as f64 / elapsed.as_secs_f64();
            let case = format!("pass chain, {dname}, {bname}");
            println!(
                "{case:<44} {count:>12} {tps:>14.0} {:>10.2?} {:>10.2?}",
                pct(&lat, 0.5),
                pct(&lat, 0.99)
            );
            results.push((case, tps));
            let count = (if batch == 1 { 100 } else { 1000 }) / scale;
            let (elapsed, lat) = run(&engine, "task", count, 64).await;
            let tps = (count * 10) as f64 / elapsed.as_secs_f64();
            let case = format!("task chain, {dname}, {bname}");
            let per_step = |d: Duration| d / 10;
            println!(
                "{case:<44} {count:>12} {tps:>14.0} {:>10.2?} {:>10.2?}   (per step)",
                per_step(pct(&lat, 0.5)),
                per_step(pct(&lat, 0.99))
            );
            results.push((case, tps));
            if batch > 1 {
                // Engine-added latency per step at half the load just measured.
                let rate = tps / 2.0 / 10.0;
                let count = ((rate * 5.0) as usize).max(20);
                let lat = run_at_rate(&engine, "task", count, rate).await;
                let case = format!("task chain, {dname}, at half load");
                println!(
                    "{case:<44} {count:>12} {:>14.0} {:>10.2?} {:>10.2?}   (per step, open loop)",
                    rate * 10.0,
                    pct(&lat, 0.5) / 10,
                    pct(&lat, 0.99) / 10
                );
            }
        }
    }
    println!();
    for (a, b) in [(0, 2), (1, 3), (4, 6), (5, 7)] {
        println!(
            "{} / {}: {:.1}x",
            results[a].0,
            results[b].0,
            results[a].1 / results[b].1
        );
    }
}
