//! Moving frames through states: enter, block on a task/wait/fork, or move
//! on; retry, catch, or finish.

use serde_json::{json, Value};

use super::{resolve, state_type, Action, Machine};
use crate::api::Status;
use crate::error::EngineError;
use crate::executor::TaskInvocation;
use crate::history::state_event;
use crate::records::{Frame, Phase, Timer, TokenRecord};
use crate::store::keys;
use sluice_dsl::interp::step::{self, Entered, Exit, OnError, RetryState, StepEnv};
use sluice_dsl::model::State;
use sluice_dsl::{StateMachine, StatesError};

impl Machine<'_> {
    /// Advance every queued frame until each blocks or ends.
    pub(super) fn drain(&mut self) -> Result<(), EngineError> {
        while let Some((execution, frame)) = self.queue.pop() {
            if self.over_budget() {
                self.defer(&execution, frame);
                continue;
            }
            self.advance(&execution, frame)?;
        }
        Ok(())
    }

    /// Continue a frame that was about to run when the engine stopped.
    pub fn resume(&mut self, execution: &str, frame: u64) -> Result<(), EngineError> {
        self.queue.push((execution.to_string(), frame));
        self.drain()
    }

    pub(super) fn enqueue(&mut self, execution: &str, frame: &Frame) -> Result<(), EngineError> {
        self.save_frame(execution, frame)?;
        self.queue.push((execution.to_string(), frame.id));
        Ok(())
    }

    fn advance(&mut self, execution: &str, frame_id: u64) -> Result<(), EngineError> {
        let Some(mut frame) = self.load_frame(execution, frame_id)? else {
            return Ok(()); // cancelled meanwhile
        };
        if self.execution(execution)?.status() != Status::Running {
            return Ok(());
        }
        let (workflow, version) = {
            let e = &self.execution(execution)?.execution;
            (e.workflow.clone(), e.version)
        };
        let machine = self.definition(&workflow, version)?;
        if matches!(&frame.phase, Phase::Fork(f) if f.map && f.run.is_none()) {
            // A Map whose iterations were left to later commands.
            self.start_iterations(execution, &machine, &mut frame)?;
            return self.save_frame(execution, &frame);
        }
        loop {
            if !matches!(frame.phase, Phase::Ready) {
                return self.save_frame(execution, &frame);
            }
            let (events, bytes) = {
                let rec = self.execution(execution)?;
                (rec.last_event, rec.history_bytes)
            };
            if events >= self.limits.history_events || bytes >= self.limits.history_bytes {
                let e = StatesError::runtime(format!(
                    "the execution reached the history limit of {} events or {} MiB; split the work into smaller executions",
                    self.limits.history_events,
                    self.limits.history_bytes >> 20
                ));
                return self.fail_execution(execution, Status::Failed, &e);
            }
            if self.over_budget() {
                self.defer(execution, frame.id);
                return self.save_frame(execution, &frame);
            }
            self.steps += 1;
            let state = resolve(&machine, &frame.scope)
                .and_then(|s| s.get(&frame.state))
                .ok_or_else(|| {
                    EngineError::Storage(format!(
                        "state '{}' vanished from its definition",
                        frame.state
                    ))
                })?;
            let mut ctx = self.context(execution, &machine, &state.name)?;
            let vars = self.scopes(execution, &machine, &frame)?;
            let mut env = StepEnv {
                context: &mut ctx,
                vars: &vars,
                rng: &mut self.rng,
                now: self.now,
                payload_limit: self.limits.payload_bytes,
                entered_event: Some(frame.entered_event),
            };
            let entered = step::enter(state, &frame.input, frame.retry.retries, &mut env);
            match entered {
                Ok(Entered::Done(exit)) => {
                    if !self.exit_state(execution, &machine, &mut frame, state, exit)? {
                        return Ok(());
                    }
                }
                Ok(Entered::Task(req)) => return self.schedule_task(execution, frame, state, req),
                Ok(Entered::Wait {
                    until,
                    output,
                    assigned,
                }) => {
                    let until_ms = until.timestamp_millis();
                    frame.phase = Phase::Waiting {
                        until_ms,
                        output,
                        assigned,
                    };
                    self.arm_timer(execution, frame.id, until_ms, Timer::Wake)?;
                    return self.save_frame(execution, &frame);
                }
                Ok(Entered::Parallel { input }) => {
                    return self.fork_parallel(execution, &machine, frame, state, input)
                }
                Ok(Entered::Map(req)) => {
                    return self.fork_map(execution, &machine, frame, state, req)
                }
                Ok(Entered::ReadItems(request)) => {
                    return self.read_items(execution, frame, request);
                }
                Err(e) => {
                    if !self.state_failed(execution, &machine, &mut frame, state, e)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn schedule_task(
        &mut self,
        execution: &str,
        mut frame: Frame,
        state: &State,
        req: step::TaskRequest,
    ) -> Result<(), EngineError> {
        let sluice_dsl::model::StateKind::Task(t) = &state.kind else {
            return Err(EngineError::Storage(
                "a task was requested by a non-Task state".into(),
            ));
        };
        frame.attempts += 1;
        let attempt = frame.attempts;
        let scheduled = self.event(
            execution,
            frame.entered_event,
            "TaskScheduled",
            json!({"resource": t.resource, "state": frame.state, "parameters": req.payload, "timeoutInSeconds": req.timeout_seconds}),
        )?;
        self.event(
            execution,
            scheduled,
            "TaskStarted",
            json!({"resource": t.resource, "state": frame.state}),
        )?;
        if let Some(token) = &req.task_token {
            let rec = TokenRecord {
                execution: execution.to_string(),
                frame: frame.id,
                attempt,
                used: false,
            };
            self.tx.put(keys::token(token), &rec)?;
        }
        if let Some(seconds) = req.timeout_seconds {
            let due = self.now.timestamp_millis() + (seconds.min(1 << 40) as i64) * 1000;
            self.arm_timer(execution, frame.id, due, Timer::TaskTimeout { attempt })?;
        }
        let heartbeat_due_ms = match req.heartbeat_seconds {
            Some(seconds) => {
                let due = self.now.timestamp_millis() + (seconds.min(1 << 40) as i64) * 1000;
                self.arm_timer(
                    execution,
                    frame.id,
                    due,
                    Timer::Heartbeat {
                        attempt,
                        due_ms: due,
                    },
                )?;
                Some(due)
            }
            None => None,
        };
        frame.phase = Phase::Task {
            attempt,
            resource: t.resource.clone(),
            payload: req.payload,
            token: req.task_token,
            timeout_seconds: req.timeout_seconds,
            heartbeat_seconds: req.heartbeat_seconds,
            heartbeat_due_ms,
            delivered: false,
        };
        if let Some(wait) = super::children::child_wait(&t.resource) {
            self.save_frame(execution, &frame)?;
            return self.start_child_task(execution, &frame, wait);
        }
        self.actions.push(dispatch_action(execution, &frame));
        self.save_frame(execution, &frame)
    }

    /// Record the state's exit and follow it. Returns true when the frame
    /// moved to a new state and should keep advancing.
    pub(super) fn exit_state(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        frame: &mut Frame,
        state: &State,
        exit: Exit,
    ) -> Result<bool, EngineError> {
        let mut details = json!({"name": state.name, "output": exit.output});
        if let Some(assigned) = exit.assigned {
            details["assignedVariables"] = super::vars::assigned_for_history(&assigned);
            if let Err(e) = self.assign(execution, frame, &state.name, assigned)? {
                return self.state_failed(execution, machine, frame, state, e);
            }
        }
        let exited = self.event(
            execution,
            frame.entered_event,
            &state_event(state_type(state), true),
            details,
        )?;
        match exit.next {
            Some(next) => {
                let next_type = resolve(machine, &frame.scope)
                    .and_then(|s| s.get(&next))
                    .map(state_type)
                    .unwrap_or("Pass");
                let input = exit.output;
                frame.entered_event = self.event(
                    execution,
                    exited,
                    &state_event(next_type, false),
                    json!({"name": next, "input": input}),
                )?;
                frame.state = next;
                frame.input = input;
                frame.retry = RetryState::default();
                frame.phase = Phase::Ready;
                Ok(true)
            }
            None => {
                self.frame_finished(execution, frame, Ok(exit.output))?;
                Ok(false)
            }
        }
    }

    /// A state failed: apply Retry and Catch. Returns true when a catcher
    /// moved the frame to a new state.
    pub(super) fn state_failed(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        frame: &mut Frame,
        state: &State,
        error: StatesError,
    ) -> Result<bool, EngineError> {
        let mut ctx = self.context(execution, machine, &state.name)?;
        let vars = self.scopes(execution, machine, frame)?;
        let mut env = StepEnv {
            context: &mut ctx,
            vars: &vars,
            rng: &mut self.rng,
            now: self.now,
            payload_limit: self.limits.payload_bytes,
            entered_event: Some(frame.entered_event),
        };
        match step::on_error(
            state,
            frame.input.clone(),
            error,
            &mut frame.retry,
            &mut env,
        ) {
            OnError::Retry { delay_seconds } => {
                let due = self.now.timestamp_millis() + (delay_seconds * 1000.0).min(1e15) as i64;
                frame.phase = Phase::Backoff { until_ms: due };
                self.arm_timer(execution, frame.id, due, Timer::Wake)?;
                self.save_frame(execution, frame)?;
                Ok(false)
            }
            OnError::Caught(exit) => self.exit_state(execution, machine, frame, state, exit),
            OnError::Fail(e) => {
                self.frame_finished(execution, frame, Err(e))?;
                Ok(false)
            }
        }
    }

    /// A frame reached the end of its scope, or failed out of it.
    pub(super) fn frame_finished(
        &mut self,
        execution: &str,
        frame: &mut Frame,
        result: Result<Value, StatesError>,
    ) -> Result<(), EngineError> {
        match frame.parent {
            Some((parent, slot)) => {
                self.tx.remove(keys::frame(execution, frame.id));
                self.drop_scope(execution, frame.id);
                self.execution(execution)?.frames -= 1;
                self.child_finished(execution, None, parent, slot, result)
            }
            None => match result {
                Ok(output) => {
                    self.tx.remove(keys::frame(execution, frame.id));
                    self.drop_scope(execution, frame.id);
                    self.execution(execution)?.frames -= 1;
                    self.succeed_execution(execution, output)
                }
                Err(e) => {
                    // Kept, failed, so that a redrive resumes here (and, for
                    // a Parallel/Map, with the results of its children).
                    let phase = std::mem::replace(&mut frame.phase, Phase::Failed(e.clone()));
                    if let Phase::Fork(fork) = phase {
                        frame.failed_fork = Some(fork);
                    }
                    self.save_frame(execution, frame)?;
                    self.fail_execution(execution, Status::Failed, &e)
                }
            },
        }
    }

    fn succeed_execution(&mut self, execution: &str, output: Value) -> Result<(), EngineError> {
        let last = self.execution(execution)?.last_event;
        self.event(
            execution,
            last,
            "ExecutionSucceeded",
            json!({"output": output}),
        )?;
        let now = super::now_string(self.now);
        let rec = self.execution(execution)?;
        rec.execution.status = Status::Succeeded;
        rec.execution.output = Some(output.clone());
        rec.execution.stopped_at = Some(now);
        self.tx.remove(keys::running(execution));
        self.actions.push(Action::Finished {
            execution: execution.to_string(),
        });
        self.report_to_parent(execution, Ok(output))
    }

    /// End the execution with a failure status; its remaining frames stay
    /// (not running) so a redrive can resume them.
    pub(super) fn fail_execution(
        &mut self,
        execution: &str,
        status: Status,
        e: &StatesError,
    ) -> Result<(), EngineError> {
        let kind = match status {
            Status::TimedOut => "ExecutionTimedOut",
            Status::Aborted => "ExecutionAborted",
            _ => "ExecutionFailed",
        };
        let last = self.execution(execution)?.last_event;
        let mut details = serde_json::Map::new();
        if !e.error.is_empty() {
            details.insert("error".into(), json!(e.error));
        }
        if !e.cause.is_empty() {
            details.insert("cause".into(), json!(e.cause));
        }
        self.event(execution, last, kind, Value::Object(details))?;
        let now = super::now_string(self.now);
        let rec = self.execution(execution)?;
        rec.execution.status = status;
        // A Fail state without Error (or Cause) ends with none, as on AWS.
        rec.execution.error = (!e.error.is_empty()).then(|| e.error.clone());
        rec.execution.cause = (!e.cause.is_empty()).then(|| e.cause.clone());
        rec.execution.stopped_at = Some(now);
        self.tx.remove(keys::running(execution));
        self.actions.push(Action::Finished {
            execution: execution.to_string(),
        });
        self.abort_map_children(execution)?;
        self.report_to_parent(execution, Err(e.clone()))
    }
}

/// The dispatch of the frame's current task (also used by recovery).
pub(crate) fn dispatch_action(execution: &str, frame: &Frame) -> Action {
    let Phase::Task {
        attempt,
        resource,
        payload,
        token,
        timeout_seconds,
        ..
    } = &frame.phase
    else {
        unreachable!("dispatch_action is only called for frames waiting on a task")
    };
    Action::Dispatch {
        execution: execution.to_string(),
        frame: frame.id,
        attempt: *attempt,
        invocation: Box::new(TaskInvocation {
            resource: resource.clone(),
            payload: payload.clone(),
            idempotency_key: format!("{execution}/{}/{attempt}", frame.id),
            task_token: token.clone(),
            timeout_seconds: *timeout_seconds,
            execution_id: execution.to_string(),
            state: frame.state.clone(),
        }),
    }
}
