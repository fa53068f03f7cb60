//! The execution status feed on a real sled store: every change is there,
//! in order, until acknowledged (tests/status_events.rs kills the server
//! and finds them still there).

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::Arc;

struct NoTasks;

#[async_trait::async_trait]
impl Executor for NoTasks {
    async fn invoke(&self, _task: TaskInvocation) -> Result<Value, TaskError> {
        Err(TaskError::new("Boom", "this task always fails"))
    }
}

fn open(dir: &std::path::Path, feed: bool) -> Engine {
    let mut config = EngineConfig::new(dir);
    config.status_feed = feed;
    Engine::open(config, Arc::new(NoTasks)).expect("open engine")
}

fn start(input: Value) -> StartRequest {
    StartRequest { input, name: None }
}

async fn statuses(engine: &Engine, id: &str) -> Vec<(Status, Option<Status>)> {
    engine
        .status_changes(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.execution_id == id)
        .map(|c| (c.status, c.previous))
        .collect()
}

#[tokio::test]
async fn every_status_change_is_in_the_feed_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), true);
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    engine.deploy("quick", pass).await.unwrap();
    let wait =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}});
    engine.deploy("slow", wait).await.unwrap();
    let task = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sluice:function:f", "End": true}}});
    engine.deploy("failing", task).await.unwrap();

    let (quick, _) = engine.start("quick", start(json!({"n": 1}))).await.unwrap();
    let quick = quick.execution_id.to_string();
    engine
        .wait(&quick, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    // Started and finished in one batch: both changes are recorded.
    assert_eq!(
        statuses(&engine, &quick).await,
        [
            (Status::Running, None),
            (Status::Succeeded, Some(Status::Running))
        ]
    );

    let (slow, _) = engine.start("slow", start(json!({}))).await.unwrap();
    let slow = slow.execution_id.to_string();
    engine.stop(&slow, None, None).await.unwrap();
    assert_eq!(
        statuses(&engine, &slow).await,
        [
            (Status::Running, None),
            (Status::Aborted, Some(Status::Running))
        ]
    );

    let (failing, _) = engine.start("failing", start(json!({}))).await.unwrap();
    let failing = failing.execution_id.to_string();
    engine
        .wait(&failing, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let changes = engine.status_changes(100).await.unwrap();
    assert_eq!(changes.len(), 6);
    let last = changes.last().unwrap();
    assert_eq!(
        (
            last.execution_id.as_str(),
            last.workflow.as_str(),
            last.status
        ),
        (failing.as_str(), "failing", Status::Failed)
    );

    // Acknowledge the first three; the rest stay, in order.
    let keys = changes[..3].iter().map(|c| c.key.clone()).collect();
    engine.ack_status_changes(keys).await.unwrap();
    let rest = engine.status_changes(100).await.unwrap();
    assert_eq!(rest, changes[3..].to_vec());
    assert!(engine
        .ack_status_changes(vec!["e/not-a-feed-key".into()])
        .await
        .is_err());
}

#[tokio::test]
async fn without_the_feed_nothing_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), false);
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    engine.deploy("quick", pass).await.unwrap();
    let (e, _) = engine.start("quick", start(json!({}))).await.unwrap();
    engine
        .wait(
            &e.execution_id.to_string(),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(engine.status_changes(100).await.unwrap().is_empty());
}
