//! No single execution holds the writer: a Map that fans out to many
//! iterations at once, and an endless loop over a large payload, go on in
//! slices ([`sluice_engine::STEP_BUDGET`] transitions per command), so
//! other executions started later finish first; and the loop's history is
//! bounded by bytes as well as by events.

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::Arc;
use std::time::Duration;

struct NoTasks;

#[async_trait::async_trait]
impl Executor for NoTasks {
    async fn invoke(&self, _: TaskInvocation) -> Result<Value, TaskError> {
        Ok(json!(null))
    }
}

async fn engine(dir: &std::path::Path) -> Engine {
    let mut config = EngineConfig::new(dir);
    config.durability = Durability::Process;
    // The default is 256 MiB; a smaller bound keeps the test short.
    config.limits.history_bytes = 64 << 20;
    let engine = Engine::open(config, Arc::new(NoTasks)).unwrap();
    engine.recover().await.unwrap();
    engine
        .deploy(
            "small",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    engine
}

async fn start(engine: &Engine, workflow: &str, input: Value) -> String {
    let (e, _) = engine
        .start(workflow, StartRequest { input, name: None })
        .await
        .unwrap();
    e.execution_id.as_str().to_string()
}

/// Starts `big`, then a small execution, and answers (the small one's
/// status once it ended, the big one's status at that moment, the big
/// one's final execution).
async fn small_beside(engine: &Engine, big: &str, input: Value) -> (Status, Status, Execution) {
    let big_id = start(engine, big, input).await;
    let small_id = start(engine, "small", json!({})).await;
    let small = engine
        .wait(&small_id, Duration::from_secs(60))
        .await
        .unwrap();
    let big_then = engine.execution(&big_id).unwrap().status;
    let big_done = engine
        .wait(&big_id, Duration::from_secs(300))
        .await
        .unwrap();
    (small.status, big_then, big_done)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wide_map_is_admitted_in_slices_and_others_run_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    engine
        .deploy(
            "wide",
            json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "MaxConcurrency": 0, "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                "End": true}}}),
        )
        .await
        .unwrap();
    // Four history events per iteration: within the 25,000-event limit.
    let n = 5 * STEP_BUDGET as usize;
    let items: Vec<u64> = (0..n as u64).collect();
    let (small, big_then, big) = small_beside(&engine, "wide", json!({ "items": items })).await;
    assert_eq!(small, Status::Succeeded);
    assert_eq!(
        big_then,
        Status::Running,
        "the small one ran while the Map went on"
    );
    assert_eq!(big.status, Status::Succeeded, "{big:?}");
    assert_eq!(big.output.unwrap(), json!(items));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_over_a_large_payload_is_bounded_and_fair() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    engine
        .deploy(
            "loop",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Choice", "Choices": [
                    {"Variable": "$.stop", "IsPresent": true, "Next": "End"}],
                    "Default": "A"},
                "End": {"Type": "Succeed"}}}),
        )
        .await
        .unwrap();
    let blob = "x".repeat(100_000);
    let (small, big_then, big) = small_beside(&engine, "loop", json!({ "blob": blob })).await;
    assert_eq!(small, Status::Succeeded);
    assert_eq!(big_then, Status::Running);
    assert_eq!(big.status, Status::Failed);
    assert_eq!(big.error.as_deref(), Some("States.Runtime"), "{big:?}");
    assert!(big.cause.as_deref().unwrap().contains("MiB"), "{big:?}");
    // Stopped by bytes long before the 25,000-event limit.
    let events = engine.history(big.execution_id.as_str()).unwrap().len();
    assert!(events < 5_000, "{events} events");
}
