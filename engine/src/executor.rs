//! The port through which the engine runs tasks. Adapters (process, wasm,
//! HTTP executors; brokers for publish tasks) implement it; the binary wires
//! them in.

use serde::{Deserialize, Serialize};
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

/// Most bytes of a meter's stdout and of its stderr that the history keeps
/// (the last ones): a history event is read whole, and the function's logs
/// keep more.
pub const HISTORY_OUTPUT_CAP: usize = 4 * 1024;

/// What one invocation cost, as its executor measured it: recorded as
/// `meter` in the Task's `TaskSucceeded` / `TaskFailed` / `TaskTimedOut`
/// history event, and (by the function executors) in the function's logs.
/// Fields an executor cannot measure keep their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskMeter {
    /// The function that ran.
    pub function: String,
    /// `$LATEST` or the catalog version that ran.
    pub version: String,
    /// The invocation's request id (the task's idempotency key).
    pub request_id: String,
    /// `process`, `wasm` or `http`.
    pub runtime: String,
    /// The process that served the invocation (`process` functions): a
    /// warm invocation reuses the previous one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
    /// A new process or instance had to start (for `wasm`: always a fresh
    /// instance from the precompiled module, so `cold` marks the first
    /// compile only).
    pub cold: bool,
    /// Start-up time of a cold instance, in milliseconds.
    pub init_ms: f64,
    /// The invocation itself (without init), in milliseconds.
    pub duration_ms: f64,
    /// Peak resident memory of the instance in KiB, when known.
    pub max_memory_kb: Option<u64>,
    /// memoryMb × duration, in GB-seconds (what Lambda bills).
    pub gb_seconds: f64,
    /// RFC 3339, milliseconds.
    pub started_at: String,
    /// The error name; `null` on success.
    pub error: Option<String>,
    /// The last bytes the function wrote to stdout (its result excluded).
    pub stdout: String,
    /// The last bytes the function wrote to stderr.
    pub stderr: String,
    /// Whether stdout or stderr was cut.
    pub truncated: bool,
}

impl TaskMeter {
    /// Set `gb_seconds` from the function's memory and `duration_ms`.
    pub fn finish_cost(&mut self, memory_mb: u64) {
        self.gb_seconds = memory_mb as f64 / 1024.0 * self.duration_ms / 1000.0;
    }

    /// Set stdout and stderr from raw bytes, keeping the last `cap` bytes of each.
    pub fn set_output(&mut self, stdout: &[u8], stderr: &[u8], cap: usize) {
        let (o, t1) = tail(stdout, cap);
        let (e, t2) = tail(stderr, cap);
        self.stdout = o;
        self.stderr = e;
        self.truncated |= t1 || t2;
    }

    /// Cut stdout and stderr to their last `cap` bytes.
    pub fn cap_output(&mut self, cap: usize) {
        for s in [&mut self.stdout, &mut self.stderr] {
            if s.len() > cap {
                let mut start = s.len() - cap;
                while !s.is_char_boundary(start) {
                    start += 1;
                }
                s.drain(..start);
                self.truncated = true;
            }
        }
    }
}

/// The last `cap` bytes as text, and whether anything was cut.
fn tail(bytes: &[u8], cap: usize) -> (String, bool) {
    let start = bytes.len().saturating_sub(cap);
    (
        String::from_utf8_lossy(&bytes[start..]).into_owned(),
        start > 0,
    )
}

/// The result of one invocation and, when the executor measures it, its cost.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub result: Result<Value, TaskError>,
    pub meter: Option<TaskMeter>,
}

/// A result without a meter.
impl From<Result<Value, TaskError>> for TaskOutcome {
    fn from(result: Result<Value, TaskError>) -> Self {
        TaskOutcome {
            result,
            meter: None,
        }
    }
}

/// Runs tasks. Implementations must be cheap to call concurrently.
#[async_trait::async_trait]
pub trait Executor: Send + Sync + 'static {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError>;

    /// [`Executor::invoke`] with what the invocation cost; the engine calls
    /// this one and records the meter in the task's history. Executors that
    /// measure nothing keep this default (no meter).
    async fn invoke_metered(&self, task: TaskInvocation) -> TaskOutcome {
        self.invoke(task).await.into()
    }

    /// [`Executor::invoke_metered`] from a thread that may block (the
    /// in-memory run of an EXPRESS execution), driven on `runtime`. An
    /// executor that can run a task on the calling thread itself (a wasm
    /// module) overrides this to save a hop to another thread.
    fn invoke_blocking(
        &self,
        runtime: &tokio::runtime::Handle,
        task: TaskInvocation,
    ) -> TaskOutcome {
        let seconds = task.timeout_seconds;
        runtime.block_on(within_timeout(seconds, self.invoke_metered(task)))
    }
}

/// `run`, failed with `States.Timeout` if it takes longer than `seconds`:
/// the engine's own bound on a task, whatever its executor does.
pub async fn within_timeout(
    seconds: Option<u64>,
    run: impl std::future::Future<Output = TaskOutcome>,
) -> TaskOutcome {
    let Some(s) = seconds else {
        return run.await;
    };
    match tokio::time::timeout(std::time::Duration::from_secs(s), run).await {
        Ok(outcome) => outcome,
        Err(_) => TaskOutcome::from(Err(TaskError::new(
            "States.Timeout",
            format!("the task ran past its TimeoutSeconds ({s})"),
        ))),
    }
}
