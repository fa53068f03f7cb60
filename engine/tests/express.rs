//! EXPRESS executions on a real sled store: run in memory between a
//! durable start and a durable end, with their history in memory.

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `sluice:function:double` doubles `n`, `fail` fails with `Boom`, `slow`
/// answers after two seconds; every invocation is recorded.
#[derive(Default)]
struct Functions {
    calls: Mutex<Vec<TaskInvocation>>,
}

#[async_trait::async_trait]
impl Executor for Functions {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        self.calls.lock().unwrap().push(task.clone());
        match task.resource.as_str() {
            "sluice:function:double" => {
                Ok(json!({"n": task.payload["n"].as_i64().unwrap_or(0) * 2}))
            }
            "sluice:function:slow" => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(json!("late"))
            }
            _ => Err(TaskError::new("Boom", "it broke")),
        }
    }
}

struct Env {
    engine: Engine,
    functions: Arc<Functions>,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let functions = Arc::new(Functions::default());
    let mut config = EngineConfig::new(dir.path());
    config.durability = Durability::Process;
    let engine = Engine::open(config, functions.clone()).unwrap();
    engine.recover().await.unwrap();
    Env {
        engine,
        functions,
        _dir: dir,
    }
}

impl Env {
    async fn express(&self, name: &str, definition: Value) {
        self.engine
            .deploy_as(name, definition, Some(WorkflowType::Express))
            .await
            .unwrap();
    }

    async fn run(&self, workflow: &str, input: Value) -> Execution {
        let (e, created) = self
            .engine
            .start(workflow, StartRequest { input, name: None })
            .await
            .unwrap();
        assert!(created);
        let id = e.execution_id.to_string();
        self.engine
            .wait(&id, Duration::from_secs(10))
            .await
            .unwrap()
    }

    fn types(&self, e: &Execution) -> Vec<String> {
        let id = e.execution_id.to_string();
        let events = self.engine.history(&id).unwrap();
        events.into_iter().map(|e| e.kind).collect()
    }
}

/// Two Tasks, an inline Map and a Wait: {"n": 3, "items": [1, 2]} gives
/// {"n": 12, "each": [1, 2]}.
fn pipeline() -> Value {
    json!({"StartAt": "Twice", "States": {
        "Twice": {"Type": "Task", "Resource": "sluice:function:double",
                  "Parameters": {"n.$": "$.n"}, "ResultPath": "$.first", "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "sluice:function:double",
                  "Parameters": {"n.$": "$.first.n"}, "ResultPath": "$.second", "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "Inner", "States": {
            "Inner": {"Type": "Pass", "End": true}}}, "ResultPath": "$.each", "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"n.$": "$.second.n", "each.$": "$.each"}, "End": true}
    }})
}

#[tokio::test(flavor = "multi_thread")]
async fn an_express_execution_runs_in_memory_and_keeps_its_history_there() {
    let env = env().await;
    env.express("fast", pipeline()).await;
    let e = env.run("fast", json!({"n": 3, "items": [1, 2]})).await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(e.output, Some(json!({"n": 12, "each": [1, 2]})));
    assert!(e.stopped_at.is_some());
    let id = e.execution_id.to_string();
    // Both tasks ran once, with the execution's idempotency keys.
    let calls = env.functions.calls.lock().unwrap().clone();
    let keys: Vec<&str> = calls.iter().map(|c| c.idempotency_key.as_str()).collect();
    assert_eq!(keys, [format!("{id}/x0/0"), format!("{id}/x1/0")]);
    assert_eq!(calls[1].payload, json!({"n": 6}));
    assert_eq!(calls[1].state, "Again");
    let task = [
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
    ];
    let mut expected = vec!["ExecutionStarted"];
    expected.extend(task);
    expected.extend(task);
    expected.extend([
        "MapStateEntered",
        "PassStateEntered",
        "PassStateExited",
        "PassStateEntered",
        "PassStateExited",
        "MapStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]);
    assert_eq!(env.types(&e), expected);
    let events = env.engine.history(&id).unwrap();
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=expected.len() as u64).collect::<Vec<_>>());
    assert_eq!(events[4].details["output"], json!({"n": 6}));
    // The JSON form the REST API serves is the same history.
    let text: Value = serde_json::from_slice(&env.engine.history_json(&id).unwrap()).unwrap();
    assert_eq!(text["events"].as_array().unwrap().len(), expected.len());
    assert_eq!(text["events"][0]["type"], "ExecutionStarted");
    // Listed with the workflow's executions like any other.
    let page = env
        .engine
        .list_executions(&ListFilter {
            workflow: Some("fast".into()),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(page.executions.len(), 1);
    assert_eq!(page.executions[0].status, Status::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn express_failures_catches_and_timeouts_end_as_on_step_functions() {
    let env = env().await;
    env.express(
        "fails",
        json!({"StartAt": "F", "States": {
        "F": {"Type": "Task", "Resource": "sluice:function:fail", "End": true}}}),
    )
    .await;
    let e = env.run("fails", json!({})).await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(
        (e.error.as_deref(), e.cause.as_deref()),
        (Some("Boom"), Some("it broke"))
    );
    let types = env.types(&e);
    assert_eq!(types.last().map(String::as_str), Some("ExecutionFailed"));
    assert!(types.contains(&"TaskFailed".to_string()), "{types:?}");

    env.express("catches", json!({"StartAt": "F", "States": {
        "F": {"Type": "Task", "Resource": "sluice:function:fail",
              "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Ok"}], "End": true},
        "Ok": {"Type": "Succeed"}}}))
    .await;
    let before = env.functions.calls.lock().unwrap().len();
    let e = env.run("catches", json!({"a": 1})).await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(e.output.as_ref().unwrap()["err"]["Error"], "Boom");
    let calls = env.functions.calls.lock().unwrap()[before..].to_vec();
    let id = e.execution_id.to_string();
    let keys: Vec<&str> = calls.iter().map(|c| c.idempotency_key.as_str()).collect();
    assert_eq!(keys, [format!("{id}/x0/0"), format!("{id}/x1/1")]);

    env.express("task-timeout", json!({"StartAt": "S", "States": {
        "S": {"Type": "Task", "Resource": "sluice:function:slow", "TimeoutSeconds": 1, "End": true}}}))
    .await;
    let e = env.run("task-timeout", json!({})).await;
    assert_eq!(e.status, Status::Failed, "{e:?}");
    assert_eq!(e.error.as_deref(), Some("States.Timeout"));
    assert!(env.types(&e).contains(&"TaskTimedOut".to_string()));

    env.express(
        "run-timeout",
        json!({"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3, "Next": "S"},
        "S": {"Type": "Task", "Resource": "sluice:function:double", "End": true}}}),
    )
    .await;
    let before = env.functions.calls.lock().unwrap().len();
    let begun = std::time::Instant::now();
    let e = env.run("run-timeout", json!({})).await;
    assert_eq!(e.status, Status::TimedOut, "{e:?}");
    // At the timeout, not at the end of the Wait.
    assert!(
        begun.elapsed() < Duration::from_millis(2500),
        "{:?}",
        begun.elapsed()
    );
    assert_eq!(e.error.as_deref(), Some("States.Timeout"));
    assert_eq!(env.functions.calls.lock().unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_express_execution_ends_at_once_and_runs_nothing_more() {
    let env = env().await;
    env.express(
        "waits",
        json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "Next": "T"},
        "T": {"Type": "Task", "Resource": "sluice:function:double", "End": true}}}),
    )
    .await;
    let (e, _) = env
        .engine
        .start("waits", StartRequest::default())
        .await
        .unwrap();
    let id = e.execution_id.to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.engine.execution(&id).unwrap().status, Status::Running);
    let stopped = env
        .engine
        .stop(&id, Some("Halt".into()), Some("by the test".into()))
        .await
        .unwrap();
    assert_eq!(stopped.status, Status::Aborted);
    assert_eq!(stopped.error.as_deref(), Some("Halt"));
    // The run sees the stop within its poll and records it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !env
        .types(&stopped)
        .contains(&"ExecutionAborted".to_string())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            env.types(&stopped)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(env.functions.calls.lock().unwrap().is_empty());
    let e = env.engine.execution(&id).unwrap();
    assert_eq!(
        (e.status, e.error.as_deref()),
        (Status::Aborted, Some("Halt"))
    );
    // Nothing to resume: as on Step Functions, EXPRESS is not redriven.
    match env.engine.redrive(&id).await {
        Err(EngineError::Conflict(m)) => assert!(m.contains("EXPRESS"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn express_workflows_refuse_waiting_task_patterns_and_start_children() {
    let env = env().await;
    let waits = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "sluice:function:double.waitForTaskToken", "End": true}}});
    match env
        .engine
        .deploy_as("waits", waits.clone(), Some(WorkflowType::Express))
        .await
    {
        Err(EngineError::Invalid(p)) => {
            assert_eq!(p.0[0].pointer, "/States/T/Resource");
            assert!(
                p.0[0].message.contains(".waitForTaskToken"),
                "{}",
                p.0[0].message
            );
        }
        other => panic!("{other:?}"),
    }
    // Nothing was created; the same definition is a STANDARD workflow.
    assert!(env.engine.workflow("waits").is_err());
    env.engine.deploy("waits", waits).await.unwrap();

    env.engine
        .deploy(
            "child",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    env.express("parent", json!({"StartAt": "S", "States": {
        "S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
              "Parameters": {"StateMachineArn": "child", "Name": "kid", "Input": {"x": 1}}, "End": true}}}))
    .await;
    let e = env.run("parent", json!({})).await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    let arn = e.output.as_ref().unwrap()["ExecutionArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(arn.ends_with(":child:kid"), "{arn}");
    let kid = env.engine.execution_named("child", "kid").unwrap();
    let kid = env
        .engine
        .wait(&kid.execution_id.to_string(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (kid.status, kid.output),
        (Status::Succeeded, Some(json!({"x": 1})))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn express_starts_are_idempotent_by_name() {
    let env = env().await;
    env.express("named", pipeline()).await;
    let req = |n: i64| StartRequest {
        input: json!({"n": n, "items": []}),
        name: Some("once".into()),
    };
    let (first, created) = env.engine.start("named", req(1)).await.unwrap();
    assert!(created);
    let (again, created) = env.engine.start("named", req(1)).await.unwrap();
    assert!(!created);
    assert_eq!(first.execution_id, again.execution_id);
    assert!(matches!(
        env.engine.start("named", req(2)).await,
        Err(EngineError::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unflushed_start_ends_durably_and_holds_up_no_other_reader() {
    let env = env().await;
    env.express(
        "slowish",
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 2, "Next": "T"},
            "T": {"Type": "Task", "Resource": "sluice:function:double", "End": true}}}),
    )
    .await;
    env.engine
        .deploy(
            "std",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    let input = json!({"n": 2});
    let (sync, _) = env
        .engine
        .start_unflushed("slowish", StartRequest { input, name: None })
        .await
        .unwrap();
    // A STANDARD start and its wait do not wait for the EXPRESS run's end.
    let begun = std::time::Instant::now();
    let other = env.run("std", json!({})).await;
    assert_eq!(other.status, Status::Succeeded);
    assert!(
        begun.elapsed() < Duration::from_millis(1500),
        "{:?}",
        begun.elapsed()
    );
    let id = sync.execution_id.to_string();
    let e = env.engine.wait(&id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (e.status, e.output),
        (Status::Succeeded, Some(json!({"n": 4})))
    );
}
