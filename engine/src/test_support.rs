//! What the crate's unit tests share.

use serde_json::Value;

use crate::{Executor, TaskError, TaskInvocation};

/// An executor for engines whose workflows run no tasks.
pub(crate) struct NoTasks;

#[async_trait::async_trait]
impl Executor for NoTasks {
    async fn invoke(&self, _task: TaskInvocation) -> Result<Value, TaskError> {
        Err(TaskError::new("States.TaskFailed", "no tasks here"))
    }
}
