//! The commands the writer applies: deploy, start, task completion, timer,
//! stop, callback, redrive.

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{now_string, resolve, state_type, Machine};
use crate::api::{Execution, StartRequest, Status, WorkflowType, WorkflowVersion};
use crate::error::EngineError;
use crate::executor::{TaskError, TaskOutcome, HISTORY_OUTPUT_CAP};
use crate::history::state_event;
use crate::ids::ExecutionId;
use crate::records::{
    ExecutionRecord, Frame, Phase, Timer, TokenRecord, VersionRecord, WorkflowMeta,
};
use crate::store::keys;
use sluice_dsl::error::names;
use sluice_dsl::interp::pipeline::json_size;
use sluice_dsl::interp::step::{self, RetryState, StepEnv};
use sluice_dsl::{StateMachine, StatesError};

/// What a `.waitForTaskToken` callback reports.
#[derive(Debug, Clone)]
pub(crate) enum CallbackOutcome {
    Success(Value),
    Failure { error: String, cause: String },
    Heartbeat,
}

/// Names of workflows, executions and aliases: what fits in a key and a URL.
pub fn check_name(what: &str, name: &str) -> Result<(), EngineError> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::BadRequest(format!(
            "{what} '{name}' is not valid: use 1 to 80 letters, digits, '-', '_' or '.'"
        )))
    }
}

impl Machine<'_> {
    /// Deploys `definition` as the next version of `name`; `kind` is the
    /// type a new workflow gets (STANDARD when `None`), and must match an
    /// existing workflow's type when given.
    pub fn deploy(
        &mut self,
        name: &str,
        definition: Value,
        kind: Option<WorkflowType>,
    ) -> Result<WorkflowVersion, EngineError> {
        check_name("workflow name", name)?;
        let size = json_size(&definition, self.limits.definition_bytes);
        if size > self.limits.definition_bytes {
            return Err(EngineError::TooLarge(format!(
                "the definition is larger than the limit of {} bytes",
                self.limits.definition_bytes
            )));
        }
        StateMachine::deployable(&definition).map_err(EngineError::Invalid)?;
        let now = now_string(self.now);
        let mut meta: WorkflowMeta = self.tx.get(&keys::workflow(name))?.unwrap_or(WorkflowMeta {
            name: name.to_string(),
            latest_version: 0,
            aliases: BTreeMap::new(),
            updated_at: now.clone(),
            kind: kind.unwrap_or_default(),
            created_at: Some(now.clone()),
            deleted_versions: Default::default(),
        });
        if let Some(kind) = kind.filter(|k| *k != meta.kind) {
            return Err(EngineError::Conflict(format!(
                "workflow '{name}' is {}; a workflow's type is fixed when it is created (delete it to create it again as {kind})",
                meta.kind
            )));
        }
        if meta.kind == WorkflowType::Express {
            Self::check_express(&definition)?;
        }
        if meta.latest_version > 0 {
            let latest: Option<VersionRecord> =
                self.tx.get(&keys::version(name, meta.latest_version))?;
            if latest.is_some_and(|v| v.definition == definition) {
                // Deploying the same definition again is a no-op, so `apply` is idempotent.
                return Ok(WorkflowVersion {
                    name: name.to_string(),
                    version: meta.latest_version,
                });
            }
        }
        meta.latest_version += 1;
        meta.updated_at = now.clone();
        let version = meta.latest_version;
        let rec = VersionRecord {
            name: name.to_string(),
            version,
            definition,
            created_at: now,
        };
        self.tx.put(keys::version(name, version), &rec)?;
        self.tx.put(keys::workflow(name), &meta)?;
        Ok(WorkflowVersion {
            name: name.to_string(),
            version,
        })
    }

    /// A workflow's record, read once per batch while no command changes
    /// workflow records (every trigger-started execution resolves its
    /// workflow; reading and parsing the record each time cost 3% of the
    /// writer).
    fn cached_workflow_meta(
        &mut self,
        name: &str,
    ) -> Result<Option<Arc<WorkflowMeta>>, EngineError> {
        let writes = self.tx.workflow_writes();
        if self.workflow_metas.0 != writes {
            self.workflow_metas = (writes, HashMap::new());
        }
        if let Some(meta) = self.workflow_metas.1.get(name) {
            return Ok(Some(meta.clone()));
        }
        let Some(meta) = self.tx.get::<WorkflowMeta>(&keys::workflow(name))? else {
            return Ok(None);
        };
        let meta = Arc::new(meta);
        self.workflow_metas.1.insert(name.to_string(), meta.clone());
        Ok(Some(meta))
    }

    /// `workflow` is `NAME`, `NAME:VERSION` or `NAME:ALIAS`.
    fn resolve_version(&mut self, workflow: &str) -> Result<(String, u64), EngineError> {
        let (name, qualifier) = match workflow.split_once(':') {
            Some((n, q)) => (n, Some(q)),
            None => (workflow, None),
        };
        let meta = self.cached_workflow_meta(name)?.ok_or_else(|| {
            EngineError::NotFound(format!("no workflow named '{name}'; deploy it first"))
        })?;
        let version = match qualifier {
            None => meta.latest_version,
            Some(q) => match q.parse::<u64>() {
                Ok(v) if meta.has_version(v) => v,
                Ok(v) => {
                    return Err(EngineError::NotFound(format!(
                        "workflow '{name}' has no version {v}"
                    )))
                }
                Err(_) => {
                    let routes = meta.aliases.get(q).ok_or_else(|| {
                        EngineError::NotFound(format!("workflow '{name}' has no alias '{q}'"))
                    })?;
                    let mut pick = (rand::random::<u32>() % 100) + 1;
                    let mut chosen = routes
                        .last()
                        .map(|r| r.version)
                        .unwrap_or(meta.latest_version);
                    for r in routes {
                        if pick <= r.weight {
                            chosen = r.version;
                            break;
                        }
                        pick -= r.weight;
                    }
                    chosen
                }
            },
        };
        Ok((name.to_string(), version))
    }

    /// Start an execution. Returns it and whether it was created (false
    /// when the same name and input were started before).
    pub fn start(
        &mut self,
        workflow: &str,
        req: StartRequest,
    ) -> Result<(Execution, bool), EngineError> {
        let started = self.start_inner(workflow, req, None)?;
        self.drain()?;
        Ok(started)
    }

    /// [`Machine::start`] without running the new execution's first states
    /// yet (they are queued), optionally as the child of a Task.
    pub(super) fn start_inner(
        &mut self,
        workflow: &str,
        req: StartRequest,
        parent: Option<(crate::api::ParentLink, crate::records::ChildOf)>,
    ) -> Result<(Execution, bool), EngineError> {
        let (name, version) = self.resolve_version(workflow)?;
        let input = if req.input.is_null() {
            json!({})
        } else {
            req.input
        };
        if let Some(exec_name) = &req.name {
            check_name("execution name", exec_name)?;
            let existing: Option<String> = self.tx.get(&keys::name(&name, exec_name))?;
            if let Some(id) = existing {
                let rec = self.execution(&id)?;
                if rec.execution.input == input {
                    return Ok((rec.execution.clone(), false));
                }
                return Err(EngineError::Conflict(format!(
                    "an execution named '{exec_name}' of workflow '{name}' already exists with a different input; use another name"
                )));
            }
        }
        sluice_dsl::depth::check(&input, "the input").map_err(EngineError::BadRequest)?;
        if json_size(&input, self.limits.payload_bytes) > self.limits.payload_bytes {
            return Err(EngineError::TooLarge(format!(
                "the input is larger than the payload limit of {} bytes",
                self.limits.payload_bytes
            )));
        }
        let machine = self.definition(&name, version)?;
        let express = self
            .cached_workflow_meta(&name)?
            .is_some_and(|m| m.kind == WorkflowType::Express);
        let id = ExecutionId::new();
        let exec_name = req.name.clone().unwrap_or_else(|| id.to_string());
        let started_ms = self.now.timestamp_millis();
        let execution = Execution {
            execution_id: id.clone(),
            workflow: name.clone(),
            version,
            name: exec_name.clone(),
            status: Status::Running,
            input: input.clone(),
            output: None,
            error: None,
            cause: None,
            started_at: now_string(self.now),
            stopped_at: None,
            redrive_count: 0,
            parent: parent.as_ref().map(|(link, _)| link.clone()),
        };
        let idk = id.to_string();
        let rec = ExecutionRecord {
            execution: execution.clone(),
            started_ms,
            last_event: 0,
            history_bytes: 0,
            next_frame: 1,
            frames: 1,
            child_of: parent.map(|(_, child_of)| child_of),
            express: false,
        };
        if express {
            self.start_express(rec, machine)?;
            return Ok((execution, true));
        }
        self.saved.entry(idk.clone()).or_insert(None);
        if let Some(link) = &rec.child_of {
            self.tx
                .put(keys::child(&link.execution, started_ms, &idk), &0)?;
        }
        self.executions.insert(idk.clone(), rec);
        self.tx.put(keys::name(&name, &exec_name), &idk)?;
        // Both are new with the id; a run that ends in this batch removes them again.
        self.tx.mark_new(keys::running(&idk));
        self.tx.mark_new(keys::frame(&idk, 0));
        self.tx.put(keys::running(&idk), &true)?;
        let started = self.event(
            &idk,
            0,
            "ExecutionStarted",
            json!({"input": input, "name": exec_name, "version": version}),
        )?;
        if let Some(seconds) = machine.timeout_seconds {
            let due = started_ms + (seconds.min(1 << 40) as i64) * 1000;
            self.arm_timer(&idk, 0, due, Timer::ExecutionTimeout)?;
        }
        let start = machine.scope.start_at.clone();
        let start_type = machine.scope.get(&start).map(state_type).unwrap_or("Pass");
        let entered = self.event(
            &idk,
            started,
            &state_event(start_type, false),
            json!({"name": start, "input": input}),
        )?;
        let frame = Frame {
            id: 0,
            parent: None,
            scope: Vec::new(),
            state: start,
            input,
            retry: RetryState::default(),
            phase: Phase::Ready,
            entered_event: entered,
            attempts: 0,
            failed_fork: None,
            scopes: Vec::new(),
        };
        self.enqueue(&idk, &frame)?;
        Ok((execution, true))
    }

    /// The frame, if its execution is RUNNING and the frame still exists.
    pub(super) fn running_frame(
        &mut self,
        execution: &str,
        frame: u64,
    ) -> Result<Option<(Frame, std::sync::Arc<StateMachine>)>, EngineError> {
        let (workflow, version) = match self.execution(execution) {
            Ok(rec) if rec.status() == Status::Running => {
                (rec.execution.workflow.clone(), rec.execution.version)
            }
            Ok(_) | Err(EngineError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(f) = self.load_frame(execution, frame)? else {
            return Ok(None);
        };
        let machine = self.definition(&workflow, version)?;
        Ok(Some((f, machine)))
    }

    /// A dispatched task finished (from the executor or a callback).
    pub fn task_done(
        &mut self,
        execution: &str,
        frame_id: u64,
        attempt: u32,
        outcome: TaskOutcome,
        from_callback: bool,
    ) -> Result<(), EngineError> {
        let TaskOutcome { result, meter } = outcome;
        // A result too deep to be read back from the history is refused
        // before it is recorded.
        let result = result.and_then(|output| {
            sluice_dsl::depth::check(&output, "The result of the task")
                .map(|()| output)
                .map_err(|cause| TaskError::new(names::RUNTIME, cause))
        });
        let Some((mut frame, machine)) = self.running_frame(execution, frame_id)? else {
            return Ok(());
        };
        let Phase::Task {
            attempt: current,
            token,
            resource,
            ..
        } = &frame.phase
        else {
            return Ok(());
        };
        if *current != attempt {
            return Ok(()); // a stale attempt (timed out, or re-dispatched after a crash)
        }
        if token.is_some() && !from_callback && result.is_ok() {
            // .waitForTaskToken: the result comes through the callback.
            if let Phase::Task { delivered, .. } = &mut frame.phase {
                *delivered = true;
            }
            return self.save_frame(execution, &frame);
        }
        let resource = resource.clone();
        let state = resolve(&machine, &frame.scope)
            .and_then(|s| s.get(&frame.state))
            .ok_or_else(|| EngineError::Storage("task state vanished".into()))?;
        let last = self.execution(execution)?.last_event;
        let meter = match meter {
            Some(mut m) => {
                m.cap_output(HISTORY_OUTPUT_CAP);
                Some(serde_json::to_value(m)?)
            }
            None => None,
        };
        // The meter goes in the same event, so in the same batch, as the result.
        let details = |mut d: Value| {
            if let Some(m) = meter {
                d["meter"] = m;
            }
            d
        };
        let moved = match result {
            Ok(output) => {
                self.event(
                    execution,
                    last,
                    "TaskSucceeded",
                    details(json!({"resource": resource, "state": frame.state, "output": output})),
                )?;
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
                match step::complete(state, frame.input.clone(), output, &mut env) {
                    Ok(exit) => self.exit_state(execution, &machine, &mut frame, state, exit)?,
                    Err(e) => self.state_failed(execution, &machine, &mut frame, state, e)?,
                }
            }
            Err(e) => {
                let kind = if e.error == names::TIMEOUT || e.error == names::HEARTBEAT_TIMEOUT {
                    "TaskTimedOut"
                } else {
                    "TaskFailed"
                };
                self.event(
                    execution,
                    last,
                    kind,
                    details(json!({"resource": resource, "state": frame.state, "error": e.error, "cause": e.cause})),
                )?;
                self.state_failed(
                    execution,
                    &machine,
                    &mut frame,
                    state,
                    StatesError::new(e.error, e.cause),
                )?
            }
        };
        if moved {
            self.enqueue(execution, &frame)?;
        }
        self.drain()
    }

    pub fn timer_fired(
        &mut self,
        key: &str,
        timer: Timer,
        execution: &str,
        frame_id: u64,
    ) -> Result<(), EngineError> {
        self.tx.remove(key.to_string());
        if timer == Timer::ExecutionTimeout {
            if matches!(self.execution(execution), Ok(r) if r.status() == Status::Running) {
                let e = StatesError::new(
                    names::TIMEOUT,
                    "The execution ran longer than its TimeoutSeconds",
                );
                self.fail_execution(execution, Status::TimedOut, &e)?;
            }
            return Ok(());
        }
        let Some((mut frame, machine)) = self.running_frame(execution, frame_id)? else {
            return Ok(());
        };
        match (timer, frame.phase.clone()) {
            (
                Timer::Wake,
                Phase::Waiting {
                    until_ms,
                    output,
                    assigned,
                },
            ) if until_ms <= self.now.timestamp_millis() + 5 => {
                let state = resolve(&machine, &frame.scope)
                    .and_then(|s| s.get(&frame.state))
                    .ok_or_else(|| EngineError::Storage("wait state vanished".into()))?;
                let env = StepEnv {
                    context: &mut serde_json::Value::Null,
                    vars: &(),
                    rng: &mut self.rng,
                    now: self.now,
                    payload_limit: self.limits.payload_bytes,
                    entered_event: Some(frame.entered_event),
                };
                let moved = match step::finish(state, output, assigned, &env) {
                    Ok(exit) => self.exit_state(execution, &machine, &mut frame, state, exit)?,
                    Err(e) => self.state_failed(execution, &machine, &mut frame, state, e)?,
                };
                if moved {
                    self.enqueue(execution, &frame)?;
                }
            }
            (Timer::Wake, Phase::Backoff { .. }) => {
                frame.phase = Phase::Ready;
                self.enqueue(execution, &frame)?;
            }
            (
                Timer::TaskTimeout { attempt },
                Phase::Task {
                    attempt: current, ..
                },
            ) if attempt == current => {
                let seconds = match &frame.phase {
                    Phase::Task {
                        timeout_seconds, ..
                    } => timeout_seconds.unwrap_or(0),
                    _ => 0,
                };
                let e = TaskError::new(
                    names::TIMEOUT,
                    format!("the task did not finish within {seconds} s (TimeoutSeconds)"),
                );
                return self.task_done(execution, frame_id, attempt, Err(e).into(), true);
            }
            (
                Timer::Heartbeat { attempt, due_ms },
                Phase::Task {
                    attempt: current,
                    heartbeat_due_ms: Some(due),
                    heartbeat_seconds,
                    ..
                },
            ) if attempt == current && due == due_ms => {
                let e = TaskError::new(
                    names::HEARTBEAT_TIMEOUT,
                    format!(
                        "no heartbeat arrived within {} s (HeartbeatSeconds)",
                        heartbeat_seconds.unwrap_or(0)
                    ),
                );
                return self.task_done(execution, frame_id, attempt, Err(e).into(), true);
            }
            _ => {} // stale: the frame moved on, or a later heartbeat moved the deadline
        }
        self.drain()
    }

    pub fn stop(
        &mut self,
        execution: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<Execution, EngineError> {
        let rec = self.execution(execution)?;
        if rec.status() != Status::Running {
            return Err(EngineError::Conflict(format!(
                "execution {execution} is already {}",
                rec.status()
            )));
        }
        let express = rec.express;
        let e = StatesError::new(
            error.unwrap_or_default(),
            cause.unwrap_or_else(|| "stopped by request".into()),
        );
        if express {
            // Its run in memory sees the end and stops (runtime/express.rs).
            self.end_express(execution, Status::Aborted, Err(e))?;
        } else {
            self.fail_execution(execution, Status::Aborted, &e)?;
        }
        Ok(self.execution(execution)?.execution.clone())
    }

    pub fn callback(&mut self, token: &str, outcome: CallbackOutcome) -> Result<(), EngineError> {
        let key = keys::token(token);
        let mut rec: TokenRecord = self.tx.get(&key)?.ok_or_else(|| {
            EngineError::NotFound(
                "unknown task token; it may belong to another Sluice or be mistyped".into(),
            )
        })?;
        if rec.used {
            return Err(EngineError::Conflict(
                "this task token was already used; each token completes its task once".into(),
            ));
        }
        let waiting = match self.running_frame(&rec.execution, rec.frame)? {
            Some((f, _)) => {
                matches!(f.phase, Phase::Task { attempt, .. } if attempt == rec.attempt)
            }
            None => false,
        };
        if !waiting {
            return Err(EngineError::Conflict("the task of this token is no longer waiting (it timed out, failed or its execution ended)".into()));
        }
        let result = match outcome {
            CallbackOutcome::Heartbeat => return self.heartbeat(&rec),
            CallbackOutcome::Success(v) => Ok(v),
            CallbackOutcome::Failure { error, cause } => Err(TaskError::new(error, cause)),
        };
        rec.used = true;
        self.tx.put(key, &rec)?;
        self.task_done(&rec.execution, rec.frame, rec.attempt, result.into(), true)
    }

    /// A heartbeat moves the task's heartbeat deadline forward.
    fn heartbeat(&mut self, rec: &TokenRecord) -> Result<(), EngineError> {
        let Some(mut frame) = self.load_frame(&rec.execution, rec.frame)? else {
            return Ok(());
        };
        let now = self.now.timestamp_millis();
        let due = match &mut frame.phase {
            Phase::Task {
                heartbeat_seconds: Some(seconds),
                heartbeat_due_ms,
                ..
            } => {
                let due = now + (*seconds).min(1 << 40) as i64 * 1000;
                *heartbeat_due_ms = Some(due);
                due
            }
            _ => return Ok(()), // no HeartbeatSeconds: nothing to extend
        };
        self.arm_timer(
            &rec.execution,
            frame.id,
            due,
            Timer::Heartbeat {
                attempt: rec.attempt,
                due_ms: due,
            },
        )?;
        self.save_frame(&rec.execution, &frame)
    }

    /// Resume a FAILED, TIMED_OUT or ABORTED execution where it stopped:
    /// states that succeeded are not run again.
    pub fn redrive(&mut self, execution: &str) -> Result<Execution, EngineError> {
        if self.execution(execution)?.express {
            return Err(EngineError::Conflict(format!(
                "execution {execution} is an EXPRESS execution, which keeps no steps to resume (as on Step Functions, only STANDARD executions can be redriven): start it again"
            )));
        }
        let status = self.execution(execution)?.status();
        if !matches!(status, Status::Failed | Status::TimedOut | Status::Aborted) {
            return Err(EngineError::Conflict(format!(
                "execution {execution} is {status}; only FAILED, TIMED_OUT or ABORTED executions can be redriven"
            )));
        }
        let frames = self.tx.keys_with_prefix(&keys::frame_prefix(execution))?;
        if frames.is_empty() {
            return Err(EngineError::Conflict(format!(
                "execution {execution} has nothing left to redrive"
            )));
        }
        let rec = self.execution(execution)?;
        rec.execution.status = Status::Running;
        rec.execution.error = None;
        rec.execution.cause = None;
        rec.execution.stopped_at = None;
        rec.execution.redrive_count += 1;
        let count = rec.execution.redrive_count;
        let last = rec.last_event;
        self.tx.put(keys::running(execution), &true)?;
        self.event(
            execution,
            last,
            "ExecutionRedriven",
            json!({"redriveCount": count}),
        )?;
        for key in frames {
            let Some(mut frame) = self.tx.get::<Frame>(&key)? else {
                continue;
            };
            if matches!(frame.phase, Phase::Failed(_)) {
                if let Some(fork) = frame.failed_fork.take() {
                    if self.refork(execution, &mut frame, fork)? {
                        continue;
                    }
                }
            }
            match frame.phase {
                Phase::Failed(_) | Phase::Task { .. } | Phase::Ready => {
                    frame.phase = Phase::Ready;
                    frame.retry = RetryState::default();
                    self.enqueue(execution, &frame)?;
                }
                Phase::Waiting { until_ms, .. } | Phase::Backoff { until_ms } => {
                    self.arm_timer(execution, frame.id, until_ms, Timer::Wake)?;
                }
                Phase::Reading { .. } | Phase::Writing { .. } => {
                    self.actions
                        .push(super::map_run::bucket_action(execution, &frame));
                }
                Phase::Fork(_) => {}
            }
        }
        self.drain()?;
        Ok(self.execution(execution)?.execution.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Definitions, Limits, Machine};
    use crate::api::StartRequest;
    use serde_json::json;

    fn pass(result: &str) -> serde_json::Value {
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}})
    }

    #[test]
    fn a_start_sees_a_deploy_earlier_in_its_batch_and_not_one_rolled_back() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let (mut defs, limits) = (Definitions::default(), Limits::default());
        let mut m = Machine::new(&tree, &mut defs, &limits);
        let start = |m: &mut Machine| {
            let req = StartRequest {
                input: json!({}),
                name: None,
            };
            let (e, _) = m.start("w", req).unwrap();
            m.savepoint();
            e.version
        };
        m.deploy("w", pass("one"), None).unwrap();
        m.savepoint();
        assert_eq!(start(&mut m), 1);
        // Read (and kept) above; a deploy in the same batch replaces it.
        m.deploy("w", pass("two"), None).unwrap();
        m.savepoint();
        assert_eq!(start(&mut m), 2);
        // A deploy that is rolled back leaves version 2 the latest.
        m.deploy("w", pass("three"), None).unwrap();
        assert_eq!(m.resolve_version("w").unwrap().1, 3);
        m.rollback();
        assert_eq!(start(&mut m), 2);
    }
}
