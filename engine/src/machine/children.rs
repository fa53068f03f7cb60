//! Task states that start a child execution (`startExecution`). The child
//! is started in the same batch as the Task is scheduled — no executor is
//! involved, so a crash cannot start it twice — and linked to the Task's
//! frame: a `.sync`/`.sync:2` Task completes when the child ends, a plain
//! one at once with `{ExecutionArn, StartDate}`, a `.waitForTaskToken` one
//! when its token is used.

use serde_json::Value;

use super::map_run::{execution_arn, state_machine_arn};
use super::Machine;
use crate::api::{ParentLink, StartRequest, Status};
use crate::error::EngineError;
use crate::executor::TaskError;
use crate::records::{ChildOf, Frame, Phase};
use sluice_dsl::child::{self, ChildSummary};
use sluice_dsl::error::names;
use sluice_dsl::resource::{Resource, ResourceRef, StartWait};
use sluice_dsl::StatesError;

/// How a Task waits for the child it starts, if its resource starts one.
pub(crate) fn child_wait(resource: &str) -> Option<StartWait> {
    match ResourceRef::parse(resource).ok()?.resource {
        Resource::StartExecution { wait } => Some(wait),
        _ => None,
    }
}

impl Machine<'_> {
    /// Start the child execution of a Task frame just scheduled (saved in
    /// its Task phase).
    pub(super) fn start_child_task(
        &mut self,
        execution: &str,
        frame: &Frame,
        wait: StartWait,
    ) -> Result<(), EngineError> {
        let Phase::Task {
            attempt,
            payload,
            token,
            ..
        } = &frame.phase
        else {
            return Ok(());
        };
        let attempt = *attempt;
        let fail = |e: TaskError| Err(e).into();
        let request = match child::start_request(payload) {
            Ok(r) => r,
            Err(e) => {
                return self.task_done(
                    execution,
                    frame.id,
                    attempt,
                    fail(TaskError::new(e.error, e.cause)),
                    true,
                )
            }
        };
        let link = (
            ParentLink {
                execution_id: execution.to_string(),
                state: frame.state.clone(),
                index: None,
                map_run_id: None,
            },
            ChildOf {
                execution: execution.to_string(),
                frame: frame.id,
                slot: None,
                attempt,
            },
        );
        let start = StartRequest {
            input: request.input,
            name: request.name,
        };
        let (child, _) = match self.start_inner(&request.workflow, start, Some(link)) {
            Ok(started) => started,
            Err(EngineError::NotFound(m)) => {
                return self.task_done(
                    execution,
                    frame.id,
                    attempt,
                    fail(TaskError::new(
                        "StepFunctions.StateMachineDoesNotExistException",
                        m,
                    )),
                    true,
                )
            }
            Err(EngineError::Conflict(m)) => {
                return self.task_done(
                    execution,
                    frame.id,
                    attempt,
                    fail(TaskError::new(
                        "StepFunctions.ExecutionAlreadyExistsException",
                        m,
                    )),
                    true,
                )
            }
            Err(EngineError::BadRequest(m)) | Err(EngineError::TooLarge(m)) => {
                return self.task_done(
                    execution,
                    frame.id,
                    attempt,
                    fail(TaskError::new(
                        "StepFunctions.InvalidExecutionInputException",
                        m,
                    )),
                    true,
                )
            }
            Err(e) => return Err(e),
        };
        if wait == StartWait::No && token.is_none() {
            let arn = execution_arn(&child.workflow, &child.name);
            let result = child::started(&arn, &child.started_at);
            return self.task_done(execution, frame.id, attempt, Ok(result).into(), true);
        }
        // Awaited: the child reports when it ends (`report_task_parent`).
        Ok(())
    }

    /// A Task's child execution ended: complete the Task if it awaits it.
    pub(super) fn report_task_parent(
        &mut self,
        child_id: &str,
        link: &ChildOf,
    ) -> Result<(), EngineError> {
        let Some((frame, _)) = self.running_frame(&link.execution, link.frame)? else {
            return Ok(());
        };
        let Phase::Task {
            attempt,
            resource,
            token,
            ..
        } = &frame.phase
        else {
            return Ok(());
        };
        let wait = child_wait(resource).unwrap_or(StartWait::No);
        if *attempt != link.attempt || token.is_some() || wait == StartWait::No {
            return Ok(());
        }
        let summary = self.child_summary(child_id)?;
        let result =
            child::awaited_result(&summary, wait).map_err(|e| TaskError::new(e.error, e.cause));
        self.task_done(
            &link.execution,
            link.frame,
            link.attempt,
            result.into(),
            true,
        )
    }

    fn child_summary(&mut self, child: &str) -> Result<ChildSummary, EngineError> {
        let e = self.execution(child)?.execution.clone();
        let outcome = match e.status {
            Status::Succeeded => Ok(e.output.clone().unwrap_or(Value::Null)),
            status => Err((
                status.as_str().to_string(),
                StatesError::new(
                    e.error.clone().unwrap_or_else(|| match status {
                        Status::TimedOut => names::TIMEOUT.to_string(),
                        _ => String::new(),
                    }),
                    e.cause.clone().unwrap_or_default(),
                ),
            )),
        };
        Ok(ChildSummary {
            execution_arn: execution_arn(&e.workflow, &e.name),
            state_machine_arn: state_machine_arn(&e.workflow),
            name: e.name,
            input: e.input,
            outcome,
            start_date: e.started_at,
            stop_date: e.stopped_at.unwrap_or_default(),
        })
    }
}
