//! The engine's [`Executor`] for `sluice serve --functions DIR`: Task
//! states that name a local function run it through the same `stdio`
//! runner as `sluice workflow run --local`, until the executors crate
//! brings warm process pools, WebAssembly and HTTP functions.

use serde_json::{json, Value};
use std::sync::Arc;

use sluice_dsl::error::names;
use sluice_dsl::resource::{Resource, ResourceRef};
use sluice_dsl::StatesError;
use sluice_engine::{Executor, TaskError, TaskInvocation};

use crate::local::{function_name, Functions};

/// Runs `sluice:function:NAME`, `arn:aws:lambda:…:function:NAME` and
/// `arn:aws:states:::lambda:invoke` tasks with the loaded functions; any
/// other resource fails with `States.TaskFailed` saying so.
pub struct LocalFunctions {
    functions: Arc<Functions>,
}

impl LocalFunctions {
    pub fn new(functions: Functions) -> Self {
        LocalFunctions {
            functions: Arc::new(functions),
        }
    }
}

fn task_error(e: StatesError) -> TaskError {
    TaskError::new(e.error, e.cause)
}

/// One invocation; blocking (it waits for the function's process).
fn invoke(functions: &Functions, task: &TaskInvocation) -> Result<Value, TaskError> {
    let parsed =
        ResourceRef::parse(&task.resource).map_err(|e| TaskError::new(names::RUNTIME, e))?;
    let timeout = task.timeout_seconds;
    match parsed.resource {
        Resource::Function { name, .. } => functions
            .invoke(&name, &task.payload, timeout, &task.idempotency_key)
            .map_err(task_error),
        Resource::LambdaInvoke => {
            let name = task
                .payload
                .get("FunctionName")
                .and_then(function_name)
                .ok_or_else(|| {
                    TaskError::new(
                        names::RUNTIME,
                        format!(
                            "state '{}' uses arn:aws:states:::lambda:invoke, which needs Parameters.FunctionName",
                            task.state
                        ),
                    )
                })?;
            let event = task
                .payload
                .get("Payload")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let payload = functions
                .invoke(&name, &event, timeout, &task.idempotency_key)
                .map_err(task_error)?;
            Ok(json!({"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}))
        }
        other => Err(TaskError::new(
            names::TASK_FAILED,
            format!(
                "state '{}' uses '{other}', which `sluice serve` cannot run yet; it runs local functions (sluice:function:NAME, Lambda ARNs) from --functions DIR",
                task.state
            ),
        )),
    }
}

#[async_trait::async_trait]
impl Executor for LocalFunctions {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        let functions = self.functions.clone();
        // A stdio function is a child process we wait for: keep it off the
        // async workers.
        tokio::task::spawn_blocking(move || invoke(&functions, &task))
            .await
            .unwrap_or_else(|e| {
                Err(TaskError::new(
                    names::TASK_FAILED,
                    format!("the function runner stopped unexpectedly: {e}"),
                ))
            })
    }
}
