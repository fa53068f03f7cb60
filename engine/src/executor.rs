//! The port through which the engine runs tasks. Adapters (process, wasm,
//! HTTP executors; brokers for publish tasks) implement it; the binary wires
//! them in.

use serde_json::Value;

/// One invocation of a task.
#[derive(Debug, Clone)]
pub struct TaskInvocation {
    /// The Task state's `Resource` as written.
    pub resource: String,
    /// The effective parameters.
    pub payload: Value,
    /// Stable across re-dispatches of the same attempt (after a crash):
    /// `EXECUTION/FRAME/ATTEMPT`. Functions use it to make effects idempotent.
    pub idempotency_key: String,
    /// Set for `.waitForTaskToken` resources: the result comes later through
    /// the callback API, and the executor's own result is ignored.
    pub task_token: Option<String>,
    /// Seconds the invocation may take (the engine also enforces it).
    pub timeout_seconds: Option<u64>,
    pub execution_id: String,
    pub state: String,
}

/// A task failure, named as ASL expects (`States.Timeout`, `ValueError`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Runs tasks. Implementations must be cheap to call concurrently.
#[async_trait::async_trait]
pub trait Executor: Send + Sync + 'static {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError>;
}
