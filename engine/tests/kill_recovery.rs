//! A real kill -9 between the states of a JSONata workflow with variables:
//! the test runs itself again as a child process that opens the engine,
//! starts the execution and is killed (SIGKILL) while a Task of the
//! workflow is dispatched; the parent then opens the same store, recovers,
//! and checks that the variables assigned before the kill reached the end.

use serde_json::{json, Value};
use sluice_engine::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "SLUICE_KILL_TEST_DIR";
const MARKER: &str = "started.txt";

fn workflow() -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"factor": "{% $states.input.n %}", "label": "L"}, "Next": "Double"},
        "Double": {"Type": "Task", "Resource": "sluice:function:double", "Arguments": {"n": "{% $factor %}"},
                   "Assign": {"doubled": "{% $states.result %}"}, "Output": "{% $states.input %}", "Next": "Each"},
        "Each": {"Type": "Map", "Items": "{% [1, 2] %}",
                 "ItemProcessor": {"StartAt": "Mark", "States": {"Mark": {"Type": "Pass", "Assign": {"mine": "{% $states.input %}"}, "Next": "Wait"},
                     "Wait": {"Type": "Task", "Resource": "sluice:function:block", "Arguments": {"d": "{% $doubled %}", "mine": "{% $mine %}"},
                              "Output": {"mine": "{% $mine %}", "got": "{% $states.result %}"}, "End": true}}},
                 "Output": {"d": "{% $doubled %}", "label": "{% $label %}", "each": "{% $states.result %}"}, "End": true}
    }})
}

/// `double` doubles `n`; `block` never answers in the child (it is killed
/// while waiting) and answers `ok` in the parent; every call is recorded.
struct Functions {
    block_answers: bool,
    calls: Mutex<Vec<TaskInvocation>>,
}

#[async_trait::async_trait]
impl Executor for Functions {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        self.calls.lock().unwrap().push(task.clone());
        match task.resource.as_str() {
            "sluice:function:double" => Ok(json!(task.payload["n"].as_i64().unwrap_or(0) * 2)),
            _ if self.block_answers => Ok(json!("ok")),
            _ => std::future::pending().await,
        }
    }
}

fn open(dir: &Path, block_answers: bool) -> (Engine, Arc<Functions>) {
    let functions = Arc::new(Functions {
        block_answers,
        calls: Mutex::new(Vec::new()),
    });
    let mut config = EngineConfig::new(dir);
    config.durability = Durability::Process;
    (Engine::open(config, functions.clone()).unwrap(), functions)
}

/// The child: start the execution, report its id once both `block` tasks
/// are dispatched, then wait to be killed.
async fn child(dir: &Path) {
    let (engine, functions) = open(dir, false);
    engine.recover().await.unwrap();
    engine.deploy("vars", workflow()).await.unwrap();
    let (e, _) = engine
        .start(
            "vars",
            StartRequest {
                input: json!({"n": 21}),
                name: None,
            },
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while functions
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.resource == "sluice:function:block")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the block tasks were never dispatched"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    mark(dir, &e.execution_id.to_string());
    std::future::pending::<()>().await;
}

/// The child's marker, written whole or not at all (the parent reads it
/// as soon as it exists).
fn mark(dir: &Path, id: &str) {
    let part = dir.join("marker.part");
    std::fs::write(&part, id).unwrap();
    std::fs::rename(part, dir.join(MARKER)).unwrap();
}

/// Run this test binary again as a child that runs `test` with the store
/// in `dir`, wait for its marker (the execution's id), and kill it.
async fn kill_child_at_marker(test: &str, dir: &Path) -> String {
    let mut proc = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(CHILD_DIR, dir)
        .spawn()
        .unwrap();
    let marker = dir.join(MARKER);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the child never reached the blocking tasks"
        );
        assert!(proc.try_wait().unwrap().is_none(), "the child exited early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let id = std::fs::read_to_string(&marker).unwrap();
    proc.kill().unwrap(); // SIGKILL: no shutdown, no flush beyond what was acknowledged
    proc.wait().unwrap();
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_of_a_jsonata_workflow_survive_a_kill_between_states() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return child(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let id = kill_child_at_marker(
        "variables_of_a_jsonata_workflow_survive_a_kill_between_states",
        dir.path(),
    )
    .await;
    let (engine, functions) = open(dir.path(), true);
    engine.recover().await.unwrap();
    let e = engine.wait(&id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(
        e.output,
        Some(
            json!({"d": 42, "label": "L", "each": [{"mine": 1, "got": "ok"}, {"mine": 2, "got": "ok"}]})
        )
    );
    // Only the tasks in flight at the kill ran again, each with its variables.
    let calls = functions.calls.lock().unwrap().clone();
    assert!(
        calls.iter().all(|c| c.resource == "sluice:function:block"),
        "{calls:?}"
    );
    let mut payloads: Vec<Value> = calls.iter().map(|c| c.payload.clone()).collect();
    payloads.sort_by_key(|p| p["mine"].as_i64());
    assert_eq!(
        payloads,
        vec![json!({"d": 42, "mine": 1}), json!({"d": 42, "mine": 2})]
    );
}

/// An EXPRESS workflow: `double`, then `block`.
fn express_workflow() -> Value {
    json!({"StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": "sluice:function:double", "Next": "Block"},
        "Block": {"Type": "Task", "Resource": "sluice:function:block", "End": true}}})
}

/// The child of the EXPRESS test: start it, report its id once `block` is
/// dispatched, then wait to be killed.
async fn express_child(dir: &Path) {
    let (engine, functions) = open(dir, false);
    engine.recover().await.unwrap();
    engine
        .deploy_as("fast", express_workflow(), Some(WorkflowType::Express))
        .await
        .unwrap();
    let input = json!({"n": 4});
    let (e, _) = engine
        .start("fast", StartRequest { input, name: None })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while functions.calls.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "block was never dispatched");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    mark(dir, &e.execution_id.to_string());
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_express_execution_killed_mid_run_runs_again_from_its_input() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return express_child(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let id = kill_child_at_marker(
        "an_express_execution_killed_mid_run_runs_again_from_its_input",
        dir.path(),
    )
    .await;
    let (engine, functions) = open(dir.path(), true);
    // The start was durable before it was acknowledged: RUNNING, and no
    // step of the first run was kept.
    assert_eq!(engine.execution(&id).unwrap().status, Status::Running);
    engine.recover().await.unwrap();
    let e = engine.wait(&id, Duration::from_secs(20)).await.unwrap();
    assert_eq!((e.status, e.output), (Status::Succeeded, Some(json!("ok"))));
    // At least once: the whole run again, from the input, with the same
    // idempotency keys as the first run's tasks.
    let calls = functions.calls.lock().unwrap().clone();
    let seen: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.resource.as_str(), c.idempotency_key.as_str()))
        .collect();
    let (k0, k1) = (format!("{id}/x0/0"), format!("{id}/x1/0"));
    assert_eq!(
        seen,
        [
            ("sluice:function:double", k0.as_str()),
            ("sluice:function:block", k1.as_str())
        ]
    );
    assert_eq!(calls[0].payload, json!({"n": 4}));
    let types: Vec<String> = engine
        .history(&id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
}
