//! Documents nested too deep to be stored and read back are refused where
//! they enter (execution input, task results, state outputs), and what is
//! accepted stays readable: describe and history work afterwards.

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::Arc;
use std::time::Duration;

fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..levels {
        v = json!([v]);
    }
    v
}

/// `sluice:function:deep` answers an array nested `payload.levels` deep.
struct Deep;

#[async_trait::async_trait]
impl Executor for Deep {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        Ok(nested(task.payload["levels"].as_u64().unwrap_or(1) as usize))
    }
}

async fn engine(dir: &std::path::Path) -> Engine {
    let mut config = EngineConfig::new(dir);
    config.durability = Durability::Process;
    let engine = Engine::open(config, Arc::new(Deep)).unwrap();
    engine.recover().await.unwrap();
    engine
}

async fn run(engine: &Engine, workflow: &str, input: Value) -> Execution {
    let (e, _) = engine
        .start(workflow, StartRequest { input, name: None })
        .await
        .unwrap();
    let done = engine
        .wait(e.execution_id.as_str(), Duration::from_secs(20))
        .await
        .unwrap();
    // Readable back, whatever happened.
    engine.execution(done.execution_id.as_str()).unwrap();
    engine.history(done.execution_id.as_str()).unwrap();
    done
}

#[tokio::test(flavor = "multi_thread")]
async fn an_input_deeper_than_the_limit_is_refused_and_one_at_the_limit_runs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    engine
        .deploy(
            "p",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    let refused = engine
        .start(
            "p",
            StartRequest {
                input: nested(101),
                name: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, EngineError::BadRequest(m) if m.contains("nested more than 100 levels")),
        "{refused:?}"
    );
    let ok = run(&engine, "p", nested(100)).await;
    assert_eq!(ok.status, Status::Succeeded);
    assert_eq!(ok.output, Some(nested(100)));
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_task_results_and_outputs_fail_the_state_with_states_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    engine
        .deploy(
            "task",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sluice:function:deep",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
                "Caught": {"Type": "Succeed"}}}),
        )
        .await
        .unwrap();
    let e = run(&engine, "task", json!({"levels": 126})).await;
    assert_eq!(
        e.status,
        Status::Failed,
        "States.Runtime is not caught by States.ALL"
    );
    assert_eq!(e.error.as_deref(), Some("States.Runtime"));
    assert!(
        e.cause
            .as_deref()
            .unwrap_or("")
            .contains("The result of the task is nested"),
        "{e:?}"
    );

    // Wrapped by ResultPath, a result at the limit makes an output past it.
    engine
        .deploy(
            "wrap",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sluice:function:deep",
                "ResultPath": "$.deep.inside", "End": true}}}),
        )
        .await
        .unwrap();
    let e = run(&engine, "wrap", json!({"levels": 100})).await;
    assert_eq!(e.error.as_deref(), Some("States.Runtime"), "{e:?}");
    assert!(
        e.cause
            .as_deref()
            .unwrap_or("")
            .contains("of state 'T' is nested"),
        "{e:?}"
    );

    // An intrinsic can make one too.
    let text = nested(101).to_string();
    engine
        .deploy(
            "parse",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
                "Parameters": {"v.$": "States.StringToJson($.text)"}, "End": true}}}),
        )
        .await
        .unwrap();
    let e = run(&engine, "parse", json!({"text": text})).await;
    assert_eq!(e.error.as_deref(), Some("States.Runtime"), "{e:?}");
}
