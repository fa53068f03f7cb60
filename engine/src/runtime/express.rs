//! EXPRESS executions, the running part: each runs in memory, on a
//! blocking thread, through the pure interpreter (`sluice_dsl::interp`),
//! between the durable start record that [`Action::RunExpress`] comes from
//! and the durable end record that [`Command::ExpressDone`] writes. Tasks
//! go through the same [`Executor`] port as STANDARD ones; nothing is
//! stored per step. The history is kept in memory, bounded
//! ([`ExpressRuns`]), for the console and GetExecutionHistory while it
//! lasts; after that (or a restart) the history is what the records say:
//! the start and the end.
//!
//! A run starts as soon as its start record is applied, while the flusher
//! makes it durable, so the run and the start's flush overlap. Nothing is
//! acknowledged before that flush (StartExecution's answer, an event's
//! broker acknowledgement and StartSyncExecution's result all wait for it,
//! the last also for the end's flush), so a crash in between leaves either
//! a durable start, which runs again, or nothing the caller was told of:
//! at least once, as documented for EXPRESS.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Command, Engine};
use crate::api::{Execution, StartRequest, Status};
use crate::error::EngineError;
use crate::executor::{TaskInvocation, TaskOutcome, HISTORY_OUTPUT_CAP};
use crate::history::{state_event, HistoryEvent};
use crate::machine::{express_run, ExpressEnd, ExpressRun, OsRandom, EXPRESS_MAX_SECONDS};
use crate::records::{ExecutionRecord, VersionRecord};
use crate::store::keys;
use sluice_dsl::error::names;
use sluice_dsl::interp::step::{ReadRequest, WriteRequest};
use sluice_dsl::interp::{self, Host, Outcome, RunOptions, TaskCall};
use sluice_dsl::model::State;
use sluice_dsl::resource::{Resource, ResourceRef, StartWait};
use sluice_dsl::{Random, StateMachine, StatesError};

/// History bytes kept for ended EXPRESS executions, all together; the
/// oldest go first.
const KEPT_BYTES: usize = 64 << 20;
/// Ended EXPRESS executions whose history is kept, at most.
const KEPT_ENDED: usize = 10_000;
/// Events and bytes one EXPRESS execution's history keeps; later events
/// are counted, not kept (the end is in the durable record either way).
const EVENTS_PER_RUN: usize = 1_000;
const BYTES_PER_RUN: usize = 1 << 20;
/// How often a Wait state or a retry backoff looks for a stop.
const STOP_POLL: Duration = Duration::from_millis(50);

/// The in-memory side of EXPRESS executions: the runs going on and the
/// histories kept.
pub(crate) struct ExpressRuns {
    payload_bytes: usize,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    runs: HashMap<String, Arc<Live>>,
    /// Ended runs, oldest first, and the bytes of their histories.
    ended: VecDeque<String>,
    bytes: usize,
}

/// One run: its stop flag and its history.
#[derive(Default)]
struct Live {
    stopped: AtomicBool,
    history: Mutex<History>,
}

#[derive(Default)]
struct History {
    /// Each event as the JSON text the history API shows.
    events: Vec<Vec<u8>>,
    bytes: usize,
    last_id: u64,
    dropped: u64,
}

impl ExpressRuns {
    pub fn new(payload_bytes: usize) -> Self {
        ExpressRuns {
            payload_bytes,
            kept: Mutex::default(),
        }
    }

    fn begin(&self, execution: &str) -> Arc<Live> {
        let live = Arc::new(Live::default());
        let mut kept = self.kept.lock().expect("express lock");
        kept.runs.insert(execution.to_string(), live.clone());
        live
    }

    fn end(&self, execution: &str) {
        let mut kept = self.kept.lock().expect("express lock");
        let Some(live) = kept.runs.get(execution) else {
            return;
        };
        let bytes = live.history.lock().expect("history lock").bytes;
        kept.bytes += bytes;
        kept.ended.push_back(execution.to_string());
        while kept.bytes > KEPT_BYTES || kept.ended.len() > KEPT_ENDED {
            let Some(old) = kept.ended.pop_front() else {
                break;
            };
            if let Some(gone) = kept.runs.remove(&old) {
                kept.bytes -= gone.history.lock().expect("history lock").bytes;
            }
        }
    }

    /// The execution ended in the store (or was deleted): a run still
    /// going stops at its next task or wait.
    pub fn stop(&self, execution: &str) {
        let kept = self.kept.lock().expect("express lock");
        if let Some(live) = kept.runs.get(execution) {
            live.stopped.store(true, Ordering::Release);
        }
    }

    fn live(&self, execution: &str) -> Option<Arc<Live>> {
        self.kept
            .lock()
            .expect("express lock")
            .runs
            .get(execution)
            .cloned()
    }

    /// The history kept for an EXPRESS execution, as `[event,…]` text.
    pub fn history_text(&self, execution: &str) -> Option<Vec<u8>> {
        let live = self.live(execution)?;
        let history = live.history.lock().expect("history lock");
        let mut out = Vec::with_capacity(history.bytes + history.events.len() + 2);
        for (i, e) in history.events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(e);
        }
        Some(out)
    }
}

/// The history of an EXPRESS execution whose run is no longer in memory:
/// what its record holds.
pub(crate) fn history_from_record(e: &Execution) -> Vec<HistoryEvent> {
    let mut events = vec![HistoryEvent {
        id: 1,
        previous_event_id: 0,
        timestamp: e.started_at.clone(),
        kind: "ExecutionStarted".into(),
        details: details(json!({"input": e.input, "name": e.name, "version": e.version})),
    }];
    let (kind, d) = match e.status {
        Status::Running => return events,
        Status::Succeeded => ("ExecutionSucceeded", json!({"output": e.output})),
        Status::TimedOut => ("ExecutionTimedOut", failure(e)),
        Status::Aborted => ("ExecutionAborted", failure(e)),
        _ => ("ExecutionFailed", failure(e)),
    };
    events.push(HistoryEvent {
        id: 2,
        previous_event_id: 1,
        timestamp: e.stopped_at.clone().unwrap_or_default(),
        kind: kind.into(),
        details: details(d),
    });
    events
}

fn failure(e: &Execution) -> Value {
    let mut d = Map::new();
    if let Some(error) = &e.error {
        d.insert("error".into(), json!(error));
    }
    if let Some(cause) = &e.cause {
        d.insert("cause".into(), json!(cause));
    }
    Value::Object(d)
}

fn details(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Engine {
    /// Run an EXPRESS execution that was RUNNING when the store was
    /// opened again, from its input: at least once.
    pub(super) async fn recover_express(&self, rec: &ExecutionRecord) -> Result<(), EngineError> {
        let e = &rec.execution;
        let key = keys::version(&e.workflow, e.version);
        let machine = match crate::store::get::<VersionRecord>(&self.inner.tree, &key)? {
            Some(v) => StateMachine::from_value(&v.definition).map_err(|p| p.to_string()),
            None => Err(format!(
                "workflow {} has no version {}",
                e.workflow, e.version
            )),
        };
        match machine {
            Ok(m) => {
                tracing::info!(execution = %e.execution_id, "an EXPRESS execution runs again from its input");
                self.run_express(express_run(rec, Arc::new(m)));
                Ok(())
            }
            Err(cause) => {
                let end = ExpressEnd::Failed(StatesError::runtime(cause));
                let done = Command::ExpressDone {
                    execution: e.execution_id.to_string(),
                    end,
                };
                self.inner
                    .commands
                    .send(done)
                    .await
                    .map_err(|_| EngineError::ShuttingDown)
            }
        }
    }

    /// Run an EXPRESS execution in memory (after its start is durable, or
    /// again at recovery).
    pub(super) fn run_express(&self, run: ExpressRun) {
        let live = self.inner.express.begin(&run.execution);
        let engine = self.clone();
        self.inner.runtime.spawn_blocking(move || {
            // A panic in a run (a bug) ends its execution, not the thread
            // with the execution left RUNNING.
            let end = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                engine.express_in_memory(&run, &live)
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(execution = %run.execution, panic = %what, "an EXPRESS run panicked");
                ExpressEnd::Failed(StatesError::runtime(format!(
                    "the run stopped on an internal error: {what}"
                )))
            });
            engine.inner.express.end(&run.execution);
            let done = Command::ExpressDone {
                execution: run.execution,
                end,
            };
            if engine.inner.commands.blocking_send(done).is_err() {
                tracing::debug!("the engine stopped before an EXPRESS run ended; it runs again at the next start");
            }
        });
    }

    fn express_in_memory(&self, run: &ExpressRun, live: &Arc<Live>) -> ExpressEnd {
        let now = Utc::now();
        let start_time = match Utc.timestamp_millis_opt(run.started_ms).single() {
            Some(t) if now - t < chrono::Duration::seconds(1) => t,
            // A second run (after a crash) has its own five minutes.
            _ => now,
        };
        let limit = run
            .machine
            .timeout_seconds
            .map_or(EXPRESS_MAX_SECONDS, |t| t.min(EXPRESS_MAX_SECONDS));
        let deadline = start_time + chrono::Duration::seconds(limit as i64);
        let left = (deadline - now).to_std().unwrap_or_default();
        let mut host = ExpressHost {
            engine: self,
            run,
            live: live.clone(),
            rng: OsRandom,
            tasks: 0,
            deadline: std::time::Instant::now() + left,
        };
        host.record(
            "ExecutionStarted",
            json!({"input": run.input, "name": run.name}),
        );
        let options = RunOptions {
            execution_name: run.name.clone(),
            state_machine_name: run.workflow.clone(),
            start_time,
            payload_limit: self.inner.express.payload_bytes,
            max_seconds: Some(EXPRESS_MAX_SECONDS),
            ..RunOptions::default()
        };
        let outcome = interp::run(&run.machine, run.input.clone(), &options, &mut host);
        if live.stopped.load(Ordering::Acquire) {
            // Stopped (its end is recorded already) or deleted.
            host.record("ExecutionAborted", json!({}));
            return ExpressEnd::Failed(StatesError::runtime("the execution was stopped"));
        }
        match outcome {
            Outcome::Succeeded(output) => {
                host.record("ExecutionSucceeded", json!({"output": output}));
                ExpressEnd::Succeeded(output)
            }
            Outcome::Failed(e) if e.error == names::TIMEOUT && Utc::now() >= deadline => {
                host.record("ExecutionTimedOut", failure_details(&e));
                ExpressEnd::TimedOut(e)
            }
            Outcome::Failed(e) => {
                host.record("ExecutionFailed", failure_details(&e));
                ExpressEnd::Failed(e)
            }
        }
    }
}

fn failure_details(e: &StatesError) -> Value {
    let mut d = Map::new();
    if !e.error.is_empty() {
        d.insert("error".into(), json!(e.error));
    }
    if !e.cause.is_empty() {
        d.insert("cause".into(), json!(e.cause));
    }
    Value::Object(d)
}

/// What the interpreter needs, for one EXPRESS run on this engine.
struct ExpressHost<'a> {
    engine: &'a Engine,
    run: &'a ExpressRun,
    live: Arc<Live>,
    rng: OsRandom,
    /// Tasks invoked so far: the idempotency key's middle part, the same
    /// in a second run of the same execution.
    tasks: u64,
    /// When the run times out: a Wait or a backoff sleeps no longer (the
    /// interpreter then fails the run with `States.Timeout`).
    deadline: std::time::Instant,
}

impl Live {
    /// Append an event, unless the run's history is full (then it is
    /// counted as dropped).
    fn record(&self, kind: &str, d: Value) {
        let mut history = self.history.lock().expect("history lock");
        if history.events.len() >= EVENTS_PER_RUN {
            history.dropped += 1;
            return;
        }
        let event = HistoryEvent {
            id: history.last_id + 1,
            previous_event_id: history.last_id,
            timestamp: sluice_dsl::timestamp::format(Utc::now()),
            kind: kind.to_string(),
            details: details(d),
        };
        let text = serde_json::to_vec(&event).unwrap_or_default();
        if history.bytes + text.len() > BYTES_PER_RUN {
            history.dropped += 1;
            return;
        }
        history.last_id += 1;
        history.bytes += text.len();
        history.events.push(text);
    }
}

impl ExpressHost<'_> {
    fn record(&mut self, kind: &str, d: Value) {
        self.live.record(kind, d);
    }

    fn stopped(&self) -> bool {
        self.live.stopped.load(Ordering::Acquire)
    }

    fn buckets(&self) -> Arc<dyn crate::buckets::Buckets> {
        self.engine
            .inner
            .buckets
            .read()
            .expect("buckets lock")
            .clone()
    }

    /// Run a future from this blocking thread on the engine's runtime.
    fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.engine.inner.runtime.block_on(f)
    }

    fn start_child(&self, call: &TaskCall) -> Result<Value, StatesError> {
        let request = sluice_dsl::child::start_request(call.payload)?;
        let start = StartRequest {
            input: request.input,
            name: request.name,
        };
        let started = self.block_on(self.engine.start(&request.workflow, start));
        let fail = |name: &str, m: String| StatesError::new(name, m);
        match started {
            Ok((child, _)) => {
                let arn = crate::machine::execution_arn(&child.workflow, &child.name);
                Ok(sluice_dsl::child::started(&arn, &child.started_at))
            }
            Err(EngineError::NotFound(m)) => {
                Err(fail("StepFunctions.StateMachineDoesNotExistException", m))
            }
            Err(EngineError::Conflict(m)) => {
                Err(fail("StepFunctions.ExecutionAlreadyExistsException", m))
            }
            Err(EngineError::BadRequest(m)) | Err(EngineError::TooLarge(m)) => {
                Err(fail("StepFunctions.InvalidExecutionInputException", m))
            }
            Err(e) => Err(StatesError::new(names::TASK_FAILED, e.to_string())),
        }
    }

    fn run_task(&mut self, call: &TaskCall) -> TaskOutcome {
        let n = self.tasks;
        self.tasks += 1;
        let invocation = TaskInvocation {
            resource: call.resource.to_string(),
            payload: call.payload.clone(),
            idempotency_key: format!("{}/x{n}/{}", self.run.execution, call.retry_count),
            task_token: None,
            timeout_seconds: call.timeout_seconds,
            execution_id: self.run.execution.clone(),
            state: call.state.to_string(),
        };
        let runtime = &self.engine.inner.runtime;
        self.engine
            .inner
            .executor
            .invoke_blocking(runtime, invocation)
    }
}

impl Host for ExpressHost<'_> {
    fn invoke(&mut self, call: &TaskCall) -> Result<Value, StatesError> {
        if self.stopped() {
            return Err(StatesError::runtime("the execution was stopped"));
        }
        self.record(
            "TaskScheduled",
            json!({"resource": call.resource, "state": call.state, "parameters": call.payload, "timeoutInSeconds": call.timeout_seconds}),
        );
        self.record(
            "TaskStarted",
            json!({"resource": call.resource, "state": call.state}),
        );
        let parsed = ResourceRef::parse(call.resource).map_err(StatesError::runtime)?;
        let (result, meter) = match parsed.resource {
            Resource::StartExecution {
                wait: StartWait::No,
            } => (self.start_child(call), None),
            _ => {
                let TaskOutcome { result, meter } = self.run_task(call);
                let result = result.map_err(|e| StatesError::new(e.error, e.cause));
                (result, meter)
            }
        };
        let meter = meter.and_then(|mut m| {
            m.cap_output(HISTORY_OUTPUT_CAP);
            serde_json::to_value(m).ok()
        });
        let (kind, mut d) = match &result {
            Ok(output) => (
                "TaskSucceeded",
                json!({"resource": call.resource, "state": call.state, "output": output}),
            ),
            Err(e) => (
                if e.error == names::TIMEOUT {
                    "TaskTimedOut"
                } else {
                    "TaskFailed"
                },
                json!({"resource": call.resource, "state": call.state, "error": e.error, "cause": e.cause}),
            ),
        };
        if let Some(m) = meter {
            d["meter"] = m;
        }
        self.record(kind, d);
        result
    }

    fn sleep(&mut self, seconds: f64) {
        let until = std::time::Instant::now() + Duration::from_secs_f64(seconds.clamp(0.0, 1e6));
        let until = until.min(self.deadline);
        while !self.stopped() {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }

    fn now(&mut self) -> DateTime<Utc> {
        Utc::now()
    }

    fn random(&mut self) -> &mut dyn Random {
        &mut self.rng
    }

    fn state_entered(&mut self, state: &State, input: &Value) {
        self.record(
            &state_event(state.type_name(), false),
            json!({"name": state.name, "input": input}),
        );
    }

    fn state_exited(&mut self, state: &State, output: &Value) {
        self.record(
            &state_event(state.type_name(), true),
            json!({"name": state.name, "output": output}),
        );
    }

    fn read_items(&mut self, request: &ReadRequest) -> Result<Vec<Value>, StatesError> {
        let buckets = self.buckets();
        self.block_on(crate::machine::read_items(&*buckets, request))
    }

    fn write_results(
        &mut self,
        state: &State,
        request: &WriteRequest,
        outcomes: &[Result<Value, StatesError>],
    ) -> Result<Value, StatesError> {
        let run = uuid::Uuid::new_v4().to_string();
        let workflow = &self.run.workflow;
        let label = format!("{}-{}", self.run.name, state.name);
        let map_run = crate::machine::map_run_arn(workflow, &label, &run);
        let now = sluice_dsl::timestamp::format(Utc::now());
        let children = sluice_dsl::map_run::in_memory_children(
            outcomes,
            |i| crate::machine::execution_arn(workflow, &format!("{run}-{i}")),
            &now,
        );
        let machine_arn = crate::machine::state_machine_arn(workflow);
        let (files, details) =
            sluice_dsl::map_run::result_files(&map_run, &run, &machine_arn, request, &children);
        let buckets = self.buckets();
        self.block_on(crate::machine::write_files(
            &*buckets,
            &request.bucket,
            files,
        ))?;
        Ok(details)
    }
}

impl Engine {
    /// The history of an EXPRESS execution (kept in memory, or what its
    /// record holds); `None` for a STANDARD one. Fails as
    /// [`Engine::execution`] does for an unknown id.
    pub(crate) fn express_history(
        &self,
        id: &str,
    ) -> Result<Option<Vec<HistoryEvent>>, EngineError> {
        let Some(rec) =
            crate::store::get::<ExecutionRecord>(&self.inner.tree, &keys::execution(id))?
        else {
            self.execution(id)?;
            return Ok(None);
        };
        if !rec.express {
            return Ok(None);
        }
        if let Some(text) = self.express_history_text(id) {
            let text = [&b"["[..], &text, b"]"].concat();
            return Ok(Some(serde_json::from_slice(&text)?));
        }
        Ok(Some(history_from_record(&rec.execution)))
    }

    /// The history of an EXPRESS execution still in memory, as the JSON
    /// text of its events joined by commas.
    pub(crate) fn express_history_text(&self, id: &str) -> Option<Vec<u8>> {
        self.inner.express.history_text(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_keeps_at_most_its_share_of_events_and_bytes() {
        let runs = ExpressRuns::new(1 << 20);
        let live = runs.begin("e");
        for i in 0..EVENTS_PER_RUN + 5 {
            live.record("PassStateEntered", json!({"name": "P", "input": i}));
        }
        let h = live.history.lock().unwrap();
        assert_eq!((h.events.len(), h.dropped), (EVENTS_PER_RUN, 5));
        drop(h);
        let big = "x".repeat(300 * 1024);
        let live = runs.begin("f");
        for _ in 0..5 {
            live.record("TaskSucceeded", json!({"output": big}));
        }
        let h = live.history.lock().unwrap();
        assert_eq!((h.events.len(), h.dropped), (3, 2));
        assert!(h.bytes <= BYTES_PER_RUN);
        // The text served is the events kept, in order.
        drop(h);
        let text = [&b"["[..], &runs.history_text("e").unwrap(), b"]"].concat();
        let events: Vec<HistoryEvent> = serde_json::from_slice(&text).unwrap();
        assert_eq!(events.len(), EVENTS_PER_RUN);
        assert_eq!((events[0].id, events[1].previous_event_id), (1, 1));
    }

    #[test]
    fn ended_runs_are_dropped_oldest_first_past_the_budget() {
        let runs = ExpressRuns::new(1 << 20);
        for i in 0..KEPT_ENDED + 3 {
            let id = format!("e{i}");
            runs.begin(&id).record("ExecutionStarted", json!({}));
            runs.end(&id);
        }
        assert!(runs.history_text("e0").is_none());
        assert!(runs.history_text("e2").is_none());
        assert!(runs.history_text("e3").is_some());
        assert!(runs.history_text(&format!("e{}", KEPT_ENDED + 2)).is_some());
        // Running ones are never dropped, whatever has ended since.
        let running = runs.begin("running");
        for i in 0..KEPT_ENDED + 1 {
            let id = format!("later{i}");
            runs.begin(&id);
            runs.end(&id);
        }
        assert!(runs.history_text("running").is_some());
        runs.stop("running");
        assert!(running.stopped.load(Ordering::Acquire));
        let kept = runs.kept.lock().unwrap();
        assert_eq!(kept.ended.len(), KEPT_ENDED);
        assert_eq!(kept.runs.len(), KEPT_ENDED + 1);
    }
}
