//! The engine on a real sled store in a temporary folder, with an
//! in-process executor standing in for the function executors.

use serde_json::{json, Value};
use sluice_engine::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Handler = Box<dyn Fn(&TaskInvocation) -> Result<Value, TaskError> + Send + Sync>;

/// Runs `sluice:function:NAME` by calling the handler registered for NAME,
/// recording every invocation; reports the meter registered for the
/// invoking state, if any.
#[derive(Default)]
struct TestExecutor {
    handlers: Mutex<HashMap<String, Arc<Handler>>>,
    calls: Mutex<Vec<TaskInvocation>>,
    meters: Mutex<HashMap<String, TaskMeter>>,
}

impl TestExecutor {
    fn on(
        &self,
        name: &str,
        f: impl Fn(&TaskInvocation) -> Result<Value, TaskError> + Send + Sync + 'static,
    ) {
        self.handlers
            .lock()
            .unwrap()
            .insert(name.to_string(), Arc::new(Box::new(f)));
    }
    fn calls(&self) -> Vec<TaskInvocation> {
        self.calls.lock().unwrap().clone()
    }
    fn meter(&self, state: &str, meter: TaskMeter) {
        self.meters.lock().unwrap().insert(state.to_string(), meter);
    }
}

#[async_trait::async_trait]
impl Executor for TestExecutor {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        self.calls.lock().unwrap().push(task.clone());
        let name = task
            .resource
            .trim_start_matches("sluice:function:")
            .trim_end_matches(".waitForTaskToken");
        let handler = self.handlers.lock().unwrap().get(name).cloned();
        match handler {
            Some(h) => h(&task),
            None => Err(TaskError::new(
                "States.TaskFailed",
                format!("no test handler for {name}"),
            )),
        }
    }

    async fn invoke_metered(&self, task: TaskInvocation) -> TaskOutcome {
        let meter = self.meters.lock().unwrap().get(&task.state).cloned();
        TaskOutcome {
            result: self.invoke(task).await,
            meter,
        }
    }
}

struct TestEnv {
    engine: Engine,
    executor: Arc<TestExecutor>,
    _dir: tempfile::TempDir,
}

async fn env() -> TestEnv {
    let dir = tempfile::tempdir().unwrap();
    let executor = Arc::new(TestExecutor::default());
    let mut config = EngineConfig::new(dir.path());
    config.durability = Durability::Process;
    let engine = Engine::open(config, executor.clone()).unwrap();
    engine.recover().await.unwrap();
    TestEnv {
        engine,
        executor,
        _dir: dir,
    }
}

impl TestEnv {
    async fn run(&self, workflow: &str, definition: Value, input: Value) -> Execution {
        self.engine.deploy(workflow, definition).await.unwrap();
        let (e, created) = self
            .engine
            .start(workflow, StartRequest { input, name: None })
            .await
            .unwrap();
        assert!(created);
        self.engine
            .wait(e.execution_id.as_str(), Duration::from_secs(20))
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pass_and_choice_run_to_success_with_history() {
    let env = env().await;
    let e = env
        .run(
            "greet",
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Pass", "Parameters": {"msg.$": "States.Format('hi {}', $.name)", "n.$": "$.n"}, "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
                "Big": {"Type": "Succeed"},
                "Small": {"Type": "Fail", "Error": "TooSmall"}
            }}),
            json!({"name": "Ada", "n": 2}),
        )
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(e.output, Some(json!({"msg": "hi Ada", "n": 2})));
    let history = env.engine.history(e.execution_id.as_str()).unwrap();
    let kinds: Vec<&str> = history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, h) in history.iter().enumerate() {
        assert_eq!(h.id, i as u64 + 1);
        assert!(h.previous_event_id < h.id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_retry_with_backoff_then_catch() {
    let env = env().await;
    env.executor.on("flaky", |t| {
        if t.idempotency_key.ends_with("/3") {
            Ok(json!({"ok": true}))
        } else {
            Err(TaskError::new("Flaky", "try again"))
        }
    });
    env.executor
        .on("broken", |_| Err(TaskError::new("ValueError", "bad value")));
    let e = env
        .run(
            "retry",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Task", "Resource": "sluice:function:flaky", "ResultPath": "$.a", "Next": "B",
                      "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 3}]},
                "B": {"Type": "Task", "Resource": "sluice:function:broken", "Next": "Done",
                      "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.err", "Next": "Done"}]},
                "Done": {"Type": "Succeed"}
            }}),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(
        e.output,
        Some(json!({"a": {"ok": true}, "err": {"Error": "ValueError", "Cause": "bad value"}}))
    );
    let keys: Vec<String> = env
        .executor
        .calls()
        .iter()
        .map(|c| c.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(
        keys[0].ends_with("/0/1") && keys[2].ends_with("/0/3"),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn start_is_idempotent_by_name() {
    let env = env().await;
    env.engine
        .deploy(
            "w",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    let req = |input: Value| StartRequest {
        input,
        name: Some("order-1".into()),
    };
    let (a, created_a) = env.engine.start("w", req(json!({"x": 1}))).await.unwrap();
    let (b, created_b) = env.engine.start("w", req(json!({"x": 1}))).await.unwrap();
    assert!(created_a && !created_b);
    assert_eq!(a.execution_id, b.execution_id);
    let err = env
        .engine
        .start("w", req(json!({"x": 2})))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_and_map_run_children_durably() {
    let env = env().await;
    env.executor.on("double", |t| {
        Ok(json!(t.payload["n"].as_i64().unwrap() * 2))
    });
    let e = env
        .run(
            "fan",
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Next": "M", "ResultPath": "$.branches", "Branches": [
                    {"StartAt": "X", "States": {"X": {"Type": "Pass", "Result": "x", "End": true}}},
                    {"StartAt": "Y", "States": {"Y": {"Type": "Task", "Resource": "sluice:function:double", "Parameters": {"n": 5}, "End": true}}}
                ]},
                "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.doubled",
                      "ItemSelector": {"n.$": "$$.Map.Item.Value"},
                      "ItemProcessor": {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "sluice:function:double", "End": true}}},
                      "End": true}
            }}),
            json!({"items": [1, 2, 3, 4, 5]}),
        )
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(
        e.output.unwrap(),
        json!({"items": [1, 2, 3, 4, 5], "branches": ["x", 10], "doubled": [2, 4, 6, 8, 10]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn task_history_events_name_their_state_and_keep_the_meter() {
    let env = env().await;
    env.executor
        .on("work", |t| match t.payload["fail"].as_bool() {
            Some(true) => Err(TaskError::new("Boom", "it broke")),
            _ => Ok(json!({"by": t.state})),
        });
    let meter = |cold: bool, stderr: String| TaskMeter {
        function: "work".into(),
        version: "3".into(),
        runtime: "process".into(),
        instance: Some(4242),
        cold,
        init_ms: if cold { 250.5 } else { 0.0 },
        duration_ms: 12.25,
        max_memory_kb: Some(20_480),
        gb_seconds: 0.0015,
        stderr,
        ..TaskMeter::default()
    };
    // Left logs more than the history keeps: only the tail stays.
    let long = format!("{}the end", "é".repeat(HISTORY_OUTPUT_CAP));
    env.executor.meter("Left", meter(true, long.clone()));
    env.executor.meter("Right", meter(false, "warned".into()));
    // Both branches call the same function; Plain's executor measures nothing.
    let e = env
        .run(
            "metered",
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Next": "Plain", "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Task", "Resource": "sluice:function:work", "End": true}}},
                    {"StartAt": "Right", "States": {"Right": {"Type": "Task", "Resource": "sluice:function:work",
                        "Parameters": {"fail": true},
                        "Catch": [{"ErrorEquals": ["Boom"], "Next": "Caught"}], "End": true},
                        "Caught": {"Type": "Pass", "End": true}}}
                ]},
                "Plain": {"Type": "Task", "Resource": "sluice:function:plain", "End": true}
            }}),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Failed, "{e:?}"); // plain has no handler
    let history = env.engine.history(e.execution_id.as_str()).unwrap();
    let task_events = |state: &str| -> Vec<&HistoryEvent> {
        history
            .iter()
            .filter(|h| h.kind.starts_with("Task") && !h.kind.starts_with("TaskState"))
            .filter(|h| h.details["state"] == state)
            .collect()
    };
    let kinds = |events: &[&HistoryEvent]| -> Vec<String> {
        events.iter().map(|h| h.kind.clone()).collect()
    };
    let stored = |h: &HistoryEvent| -> TaskMeter {
        serde_json::from_value(h.details["meter"].clone()).expect("a meter in the event")
    };

    let left = task_events("Left");
    assert_eq!(
        kinds(&left),
        ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    );
    assert_eq!(left[2].details["output"], json!({"by": "Left"}));
    let kept = stored(left[2]);
    assert!(kept.truncated, "{kept:?}");
    assert!(kept.stderr.len() <= HISTORY_OUTPUT_CAP && long.ends_with(&kept.stderr));
    assert!(kept.stderr.ends_with("the end"));
    assert_eq!(
        kept,
        TaskMeter {
            stderr: kept.stderr.clone(),
            truncated: true,
            ..meter(true, String::new())
        }
    );

    let right = task_events("Right");
    assert_eq!(
        kinds(&right),
        ["TaskScheduled", "TaskStarted", "TaskFailed"]
    );
    assert_eq!(
        (&right[2].details["error"], &right[2].details["cause"]),
        (&json!("Boom"), &json!("it broke"))
    );
    assert_eq!(stored(right[2]), meter(false, "warned".into()));
    for h in left.iter().chain(&right) {
        assert_eq!(h.details["resource"], "sluice:function:work");
    }

    let plain = task_events("Plain");
    assert_eq!(
        kinds(&plain),
        ["TaskScheduled", "TaskStarted", "TaskFailed"]
    );
    assert!(plain[2].details.get("meter").is_none(), "{:?}", plain[2]);
    assert_eq!(
        history
            .iter()
            .filter(|h| h.kind.starts_with("Task") && !h.kind.starts_with("TaskState"))
            .count(),
        9,
        "every Task event names its state"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_branch_fails_the_parallel_and_the_execution() {
    let env = env().await;
    let e = env
        .run(
            "pfail",
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}},
                {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "branch 2"}}}
            ]}}}),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(
        (e.error.as_deref(), e.cause.as_deref()),
        (Some("Boom"), Some("branch 2"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn task_tokens_complete_parked_tasks_once() {
    let env = env().await;
    env.executor.on("notify", |_| Ok(json!("sent")));
    env.engine
        .deploy(
            "approve",
            json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "sluice:function:notify.waitForTaskToken",
                "Parameters": {"token.$": "$$.Task.Token"}, "End": true}}}),
        )
        .await
        .unwrap();
    let (e, _) = env
        .engine
        .start("approve", StartRequest::default())
        .await
        .unwrap();
    let id = e.execution_id.to_string();
    let mut token = None;
    for _ in 0..200 {
        if let Some(c) = env.executor.calls().first() {
            token = c.payload["token"].as_str().map(str::to_string);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let token = token.expect("the task was dispatched with its token");
    assert_eq!(env.engine.execution(&id).unwrap().status, Status::Running);
    assert!(matches!(
        env.engine.task_success("nope", json!(1)).await,
        Err(EngineError::NotFound(_))
    ));
    env.engine.task_heartbeat(&token).await.unwrap();
    env.engine
        .task_success(&token, json!({"approved": true}))
        .await
        .unwrap();
    let done = env.engine.wait(&id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.output, Some(json!({"approved": true})));
    assert!(matches!(
        env.engine.task_success(&token, json!(2)).await,
        Err(EngineError::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn task_timeout_is_states_timeout() {
    let env = env().await;
    env.executor.on("slow", |_| {
        std::thread::sleep(Duration::from_secs(3));
        Ok(json!("late"))
    });
    let e = env
        .run(
            "slow",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sluice:function:slow", "TimeoutSeconds": 1, "End": true}}}),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error.as_deref(), Some("States.Timeout"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_aborts_and_redrive_resumes_from_the_failed_state() {
    let env = env().await;
    let attempts = Arc::new(Mutex::new(0));
    let seen = attempts.clone();
    env.executor.on("second-time-lucky", move |_| {
        let mut n = seen.lock().unwrap();
        *n += 1;
        if *n == 1 {
            Err(TaskError::new("Outage", "down"))
        } else {
            Ok(json!("up"))
        }
    });
    env.executor.on("once", |_| Ok(json!("first")));
    let e = env
        .run(
            "redrive",
            json!({"StartAt": "First", "States": {
                "First": {"Type": "Task", "Resource": "sluice:function:once", "ResultPath": "$.first", "Next": "Second"},
                "Second": {"Type": "Task", "Resource": "sluice:function:second-time-lucky", "ResultPath": "$.second", "End": true}
            }}),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Failed);
    let id = e.execution_id.to_string();
    let again = env.engine.redrive(&id).await.unwrap();
    assert_eq!(again.redrive_count, 1);
    let done = env.engine.wait(&id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.status, Status::Succeeded, "{done:?}");
    assert_eq!(done.output, Some(json!({"first": "first", "second": "up"})));
    let once_calls = env
        .executor
        .calls()
        .iter()
        .filter(|c| c.resource.ends_with(":once"))
        .count();
    assert_eq!(once_calls, 1, "the state that succeeded is not run again");
    assert!(matches!(
        env.engine.redrive(&id).await,
        Err(EngineError::Conflict(_))
    ));

    env.engine
        .deploy(
            "sleepy",
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}),
        )
        .await
        .unwrap();
    let (w, _) = env
        .engine
        .start("sleepy", StartRequest::default())
        .await
        .unwrap();
    let stopped = env
        .engine
        .stop(w.execution_id.as_str(), Some("Manual".into()), None)
        .await
        .unwrap();
    assert_eq!(stopped.status, Status::Aborted);
    assert!(matches!(
        env.engine.stop(w.execution_id.as_str(), None, None).await,
        Err(EngineError::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_definitions_and_unknown_workflows_are_refused_without_state() {
    let env = env().await;
    let err = env
        .engine
        .deploy("bad", json!({"StartAt": "Nope", "States": {}}))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err:?}");
    assert!(matches!(
        env.engine.workflow("bad"),
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        env.engine.start("missing", StartRequest::default()).await,
        Err(EngineError::NotFound(_))
    ));
    let v1 = env
        .engine
        .deploy(
            "w",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    let same = env
        .engine
        .deploy(
            "w",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    let v2 = env
        .engine
        .deploy(
            "w",
            json!({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    assert_eq!((v1.version, same.version, v2.version), (1, 1, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn executions_are_listed_newest_first_with_pages() {
    let env = env().await;
    env.engine
        .deploy(
            "w",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (e, _) = env
            .engine
            .start(
                "w",
                StartRequest {
                    input: json!({"i": i}),
                    name: None,
                },
            )
            .await
            .unwrap();
        ids.push(e.execution_id);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let page1 = env
        .engine
        .list_executions(&ListFilter {
            limit: Some(3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page1.executions.len(), 3);
    assert_eq!(page1.executions[0].execution_id, ids[4]);
    let page2 = env
        .engine
        .list_executions(&ListFilter {
            limit: Some(3),
            next_token: page1.next_token.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page2.executions.len(), 2);
    assert_eq!(page2.executions[1].execution_id, ids[0]);
    assert!(page2.next_token.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_keep_a_parked_task_alive_and_silence_fails_it() {
    let env = env().await;
    env.executor.on("park", |_| Ok(json!("parked")));
    env.engine
        .deploy(
            "hb",
            json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "sluice:function:park.waitForTaskToken",
                "Parameters": {"token.$": "$$.Task.Token", "i.$": "$.i"}, "HeartbeatSeconds": 1, "TimeoutSeconds": 30, "End": true}}}),
        )
        .await
        .unwrap();
    let token_of = |i: i64| {
        env.executor
            .calls()
            .into_iter()
            .find(|c| c.payload["i"] == i)
            .and_then(|c| c.payload["token"].as_str().map(str::to_string))
    };
    let (silent, _) = env
        .engine
        .start(
            "hb",
            StartRequest {
                input: json!({"i": 1}),
                name: None,
            },
        )
        .await
        .unwrap();
    let (alive, _) = env
        .engine
        .start(
            "hb",
            StartRequest {
                input: json!({"i": 2}),
                name: None,
            },
        )
        .await
        .unwrap();
    let mut token = None;
    for _ in 0..200 {
        token = token_of(2);
        if token.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let token = token.expect("dispatched");
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        env.engine.task_heartbeat(&token).await.unwrap();
    }
    env.engine
        .task_success(&token, json!("done"))
        .await
        .unwrap();
    let alive = env
        .engine
        .wait(alive.execution_id.as_str(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(alive.status, Status::Succeeded, "{alive:?}");
    let silent = env
        .engine
        .wait(silent.execution_id.as_str(), Duration::from_secs(5))
        .await
        .unwrap();
    let h = env.engine.history(silent.execution_id.as_str()).unwrap();
    assert_eq!(
        silent.status,
        Status::Failed,
        "{}",
        serde_json::to_string(&h).unwrap()
    );
    assert_eq!(silent.error.as_deref(), Some("States.HeartbeatTimeout"));
}

#[tokio::test(flavor = "multi_thread")]
async fn redrive_reruns_only_the_parallel_branches_and_map_iterations_that_failed() {
    let env = env().await;
    let calls: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let seen = calls.clone();
    env.executor.on("work", move |task| {
        let key = task.payload.to_string();
        let mut calls = seen.lock().unwrap();
        let n = calls.entry(key.clone()).or_default();
        *n += 1;
        if (key == "\"flaky\"" || key == "3") && *n == 1 {
            Err(TaskError::new("Outage", format!("{key} is down")))
        } else {
            Ok(json!(format!("done {key}")))
        }
    });
    let task = |input: &str| {
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sluice:function:work",
            "Parameters": input, "End": true}}})
    };
    let late_flaky = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
        "T": {"Type": "Task", "Resource": "sluice:function:work", "Parameters": "flaky", "End": true}}});
    let e = env
        .run(
            "fan",
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Branches": [task("a"), late_flaky, task("b")],
                      "ResultPath": "$.parallel", "Next": "M"},
                "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
                      "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task",
                          "Resource": "sluice:function:work", "End": true}}},
                      "ResultPath": "$.map", "End": true}
            }}),
            json!({"items": [1, 2, 3, 4, 5]}),
        )
        .await;
    assert_eq!(e.status, Status::Failed, "{e:?}");
    assert_eq!(e.error.as_deref(), Some("Outage"));
    let id = e.execution_id.to_string();

    // First redrive: the Parallel re-runs only the branch that failed.
    env.engine.redrive(&id).await.unwrap();
    let e = env.engine.wait(&id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(e.status, Status::Failed, "the Map fails on item 3: {e:?}");
    {
        let calls = calls.lock().unwrap();
        assert_eq!(calls["\"a\""], 1, "a branch that succeeded ran once");
        assert_eq!(calls["\"b\""], 1);
        assert_eq!(calls["\"flaky\""], 2);
        assert_eq!((calls["1"], calls["2"], calls["3"]), (1, 1, 1));
        assert!(
            !calls.contains_key("4"),
            "MaxConcurrency 1 stops at the failure"
        );
    }

    // Second redrive: the Map keeps items 1 and 2 and runs 3, 4 and 5.
    env.engine.redrive(&id).await.unwrap();
    let e = env.engine.wait(&id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    let calls = calls.lock().unwrap();
    let counts: Vec<u32> = ["1", "2", "3", "4", "5"]
        .iter()
        .map(|k| calls[*k])
        .collect();
    assert_eq!(
        counts,
        [1, 1, 2, 1, 1],
        "only unfinished iterations ran again"
    );
    assert_eq!(calls["\"a\""], 1);
    assert_eq!(
        e.output,
        Some(json!({
            "items": [1, 2, 3, 4, 5],
            "parallel": ["done \"a\"", "done \"flaky\"", "done \"b\""],
            "map": ["done 1", "done 2", "done 3", "done 4", "done 5"]
        }))
    );
}
