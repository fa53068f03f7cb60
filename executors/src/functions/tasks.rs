//! What a Task state's resource runs, and the engine's executor port.

use serde_json::{json, Value};

use sluice_dsl::resource::{Resource, ResourceRef};
use sluice_engine::{within_timeout, Executor, TaskError, TaskInvocation, TaskOutcome};

use super::{Caller, Functions, Outcome, INLINE};
use crate::meter::Meter;
use crate::names;

/// The function a `FunctionName` parameter names: a plain name, `NAME:QUALIFIER`
/// or a Lambda ARN.
pub fn function_name(v: &Value) -> Option<(String, Option<String>)> {
    let s = v.as_str()?;
    match ResourceRef::parse(s) {
        Ok(ResourceRef {
            resource: Resource::Function { name, alias },
            ..
        }) => Some((name, alias)),
        _ => match s.split_once(':') {
            Some((n, q)) => Some((n.to_string(), Some(q.to_string()))),
            None => Some((s.to_string(), None)),
        },
    }
}

impl Functions {
    /// What a Task state's invocation runs: `(name, qualifier, event, wrap)`
    /// where `wrap` asks for the `lambda:invoke` result shape.
    fn target(task: &TaskInvocation) -> Result<(String, Option<String>, Value, bool), TaskError> {
        let parsed =
            ResourceRef::parse(&task.resource).map_err(|e| TaskError::new(names::RUNTIME, e))?;
        match parsed.resource {
            Resource::Function { name, alias } => Ok((name, alias, task.payload.clone(), false)),
            Resource::LambdaInvoke => {
                let (name, qualifier) = task.payload.get("FunctionName").and_then(function_name).ok_or_else(|| {
                    TaskError::new(
                        names::RUNTIME,
                        format!("state '{}' uses arn:aws:states:::lambda:invoke, which needs Parameters.FunctionName", task.state),
                    )
                })?;
                let qualifier = qualifier.or_else(|| {
                    task.payload
                        .get("Qualifier")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                let event = task
                    .payload
                    .get("Payload")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                Ok((name, qualifier, event, true))
            }
            other => Err(TaskError::new(
                names::TASK_FAILED,
                format!(
                    "state '{}' uses '{other}', which the function executors do not run",
                    task.state
                ),
            )),
        }
    }

    /// Run a Task state's invocation, with its cost.
    pub async fn invoke_task(&self, task: &TaskInvocation) -> Outcome {
        let (name, qualifier, event, wrap) = match Self::target(task) {
            Ok(t) => t,
            Err(e) => {
                return Outcome {
                    result: Err(e),
                    meter: Meter::default(),
                }
            }
        };
        let caller = Caller {
            request_id: task.idempotency_key.clone(),
            execution_id: task.execution_id.clone(),
            state: task.state.clone(),
        };
        let mut outcome = self
            .invoke(
                &name,
                qualifier.as_deref(),
                &event,
                &caller,
                task.timeout_seconds,
            )
            .await;
        if wrap {
            let version = outcome.meter.version.clone();
            outcome.result = outcome
                .result
                .map(|payload| json!({"ExecutedVersion": version, "Payload": payload, "StatusCode": 200}));
        }
        outcome
    }
}

#[async_trait::async_trait]
impl Executor for Functions {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        self.invoke_task(&task).await.result
    }

    async fn invoke_metered(&self, task: TaskInvocation) -> TaskOutcome {
        let Outcome { result, meter } = self.invoke_task(&task).await;
        // No runtime: nothing ran (no such function, throttled), nothing to meter.
        let meter = (!meter.runtime.is_empty()).then_some(meter);
        TaskOutcome { result, meter }
    }

    /// On a thread that may block, a wasm module runs on it (see
    /// [`INLINE`]) instead of on another blocking thread.
    fn invoke_blocking(
        &self,
        runtime: &tokio::runtime::Handle,
        task: TaskInvocation,
    ) -> TaskOutcome {
        let seconds = task.timeout_seconds;
        INLINE.set(true);
        let outcome = runtime.block_on(within_timeout(seconds, self.invoke_metered(task)));
        INLINE.set(false);
        outcome
    }
}
