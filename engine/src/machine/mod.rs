//! The one place that changes state. Each command is applied by the single
//! writer against a [`Tx`] overlay; it records history, moves frames, and
//! pushes [`Action`]s that the runtime performs only after the batch holding
//! the command is durable.

mod advance;
mod catalog;
mod children;
mod commands;
mod distributed;
mod express;
mod fork;
mod ingest;
mod manage;
mod map_run;
mod vars;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::EngineError;
use crate::executor::TaskInvocation;
use crate::history::HistoryEvent;
use crate::records::{ExecutionRecord, Frame, ScopePath, Timer};
use crate::store::{keys, Tx};
use sluice_dsl::model::{Scope, State, StateKind};
use sluice_dsl::{Random, StateMachine, StatesError};

pub(crate) use advance::dispatch_action;
pub(crate) use children::child_wait;
pub use commands::check_name;
pub(crate) use commands::CallbackOutcome;
pub use express::EXPRESS_MAX_SECONDS;
pub(crate) use express::{express_run, ExpressEnd, ExpressRun};
pub(crate) use ingest::DEDUPE_INDEX_CHUNK;
pub(crate) use map_run::{bucket_action, execution_arn, map_run_arn, state_machine_arn};

/// A side effect to perform after the batch is durable.
#[derive(Debug)]
pub(crate) enum Action {
    /// Run this task; report with `task_done(execution, frame, attempt, …)`.
    Dispatch {
        execution: String,
        frame: u64,
        attempt: u32,
        invocation: Box<TaskInvocation>,
    },
    /// A timer was armed at this time (ms since the epoch).
    ArmTimer { due_ms: i64 },
    /// The execution reached a terminal status.
    Finished { execution: String },
    /// Read a Distributed Map's items; report with `bucket_done`.
    ReadItems {
        execution: String,
        frame: u64,
        attempt: u32,
        request: sluice_dsl::interp::step::ReadRequest,
    },
    /// Write a Distributed Map's results; report with `bucket_done`.
    WriteResults {
        execution: String,
        frame: u64,
        attempt: u32,
        bucket: String,
        files: Vec<(String, Value)>,
    },
    /// Run an EXPRESS execution in memory; report with `express_done`.
    RunExpress(Box<ExpressRun>),
    /// The command used up its share of the writer ([`STEP_BUDGET`]):
    /// go on with this frame in a command of its own.
    Resume { execution: String, frame: u64 },
}

/// State transitions (and Map iterations started) one command may make
/// before it yields the writer: what is left goes on in later commands
/// ([`Action::Resume`]), so an endless loop or a Map of 100,000 items
/// cannot hold up every other execution.
pub const STEP_BUDGET: u64 = 1_000;
/// History bytes one command may write before it yields the writer.
pub const BYTES_BUDGET: u64 = 8 * 1024 * 1024;

/// What a bucket access of a Distributed Map gave.
#[derive(Debug)]
pub(crate) enum BucketOutcome {
    /// The items an `ItemReader` read.
    Items(Result<Vec<Value>, StatesError>),
    /// The files a `ResultWriter` wrote.
    Written(Result<(), StatesError>),
}

/// Read what an `ItemReader` asks for, through the bucket port.
pub(crate) async fn read_items(
    buckets: &dyn crate::buckets::Buckets,
    request: &sluice_dsl::interp::step::ReadRequest,
) -> Result<Vec<Value>, StatesError> {
    use sluice_dsl::error::names;
    use sluice_dsl::model::ReaderSource;
    let failed =
        |e: crate::executor::TaskError| StatesError::new(names::ITEM_READER_FAILED, e.cause);
    match &request.source {
        ReaderSource::Listing => {
            let objects = buckets
                .list(&request.bucket, &request.key, request.max_items)
                .await
                .map_err(failed)?;
            Ok(objects.iter().map(|o| o.to_item()).collect())
        }
        ReaderSource::Object(format) => {
            let bytes = buckets
                .get(&request.bucket, &request.key)
                .await
                .map_err(failed)?;
            sluice_dsl::map_run::parse_items(format, &bytes, &request.key, request.max_items)
        }
    }
}

/// Write a `ResultWriter`'s files, through the bucket port.
pub(crate) async fn write_files(
    buckets: &dyn crate::buckets::Buckets,
    bucket: &str,
    files: Vec<(String, Value)>,
) -> Result<(), StatesError> {
    for (key, body) in files {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        buckets.put(bucket, &key, bytes).await.map_err(|e| {
            StatesError::new(sluice_dsl::error::names::RESULT_WRITER_FAILED, e.cause)
        })?;
    }
    Ok(())
}

/// Limits the machine enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest state input/output in bytes.
    pub payload_bytes: usize,
    /// Most history events per execution; past it the execution fails.
    pub history_events: u64,
    /// Most history bytes per execution (events with large payloads);
    /// past it the execution fails, as past `history_events`.
    pub history_bytes: u64,
    /// Largest workflow definition in bytes.
    pub definition_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            payload_bytes: 256 * 1024,
            history_events: 25_000,
            history_bytes: 256 * 1024 * 1024,
            definition_bytes: 1024 * 1024,
        }
    }
}

/// Parsed definitions by workflow and version (versions are immutable),
/// and the compiled trigger rules (rebuilt after a trigger changes).
#[derive(Default)]
pub(crate) struct Definitions {
    machines: HashMap<(String, u64), Arc<StateMachine>>,
    triggers: Option<Arc<ingest::TriggerTable>>,
}

impl Definitions {
    /// A batch failed to commit: what was compiled from it may not exist.
    pub(crate) fn forget_triggers(&mut self) {
        self.triggers = None;
    }
}

/// Operating-system randomness for task tokens, jitter and intrinsics.
pub(crate) struct OsRandom;

impl Random for OsRandom {
    fn next_u64(&mut self) -> u64 {
        rand::random()
    }
}

/// One batch of commands.
pub(crate) struct Machine<'a> {
    pub tx: Tx<'a>,
    pub actions: Vec<Action>,
    definitions: &'a mut Definitions,
    limits: &'a Limits,
    now: DateTime<Utc>,
    rng: OsRandom,
    /// Execution records touched in this batch (written at the end).
    executions: HashMap<String, ExecutionRecord>,
    /// Records as they were before the current command touched them
    /// (`None`: not cached before), for rollback.
    saved: HashMap<String, Option<ExecutionRecord>>,
    actions_at_savepoint: usize,
    /// Deduplication records written in this batch (`d/` keys), indexed
    /// by age in `finish`; as many as were kept at the savepoint.
    remembered: Vec<String>,
    remembered_at_savepoint: usize,
    /// Frames to advance: (execution, frame).
    queue: Vec<(String, u64)>,
    /// Transitions and history bytes of the current command (see
    /// [`STEP_BUDGET`]), and the frames it left to later commands.
    steps: u64,
    bytes: u64,
    deferred: std::collections::HashSet<(String, u64)>,
    /// Status of each execution loaded from the store, as committed (the
    /// listing indexes in `finish` move from it).
    committed_status: HashMap<String, crate::api::Status>,
    /// Write status changes to the status feed (`u/`).
    pub status_feed: bool,
    /// Child executions being aborted by their parent, which must not
    /// report back to it.
    aborting: std::collections::HashSet<String>,
    /// Workflow records read in this batch, valid while
    /// [`Tx::workflow_writes`] is the number kept with them.
    workflow_metas: (u64, HashMap<String, Arc<crate::records::WorkflowMeta>>),
}

pub(crate) fn now_string(t: DateTime<Utc>) -> String {
    sluice_dsl::timestamp::format(t)
}

impl<'a> Machine<'a> {
    pub fn new(tree: &'a sled::Tree, definitions: &'a mut Definitions, limits: &'a Limits) -> Self {
        Machine {
            tx: Tx::new(tree),
            actions: Vec::new(),
            definitions,
            limits,
            now: Utc::now(),
            rng: OsRandom,
            executions: HashMap::new(),
            saved: HashMap::new(),
            actions_at_savepoint: 0,
            remembered: Vec::new(),
            remembered_at_savepoint: 0,
            queue: Vec::new(),
            steps: 0,
            bytes: 0,
            deferred: Default::default(),
            committed_status: HashMap::new(),
            status_feed: false,
            aborting: Default::default(),
            workflow_metas: (0, HashMap::new()),
        }
    }

    /// The current command succeeded: keep everything it did.
    pub fn savepoint(&mut self) {
        self.tx.savepoint();
        self.saved.clear();
        self.actions_at_savepoint = self.actions.len();
        self.remembered_at_savepoint = self.remembered.len();
        self.steps = 0;
        self.bytes = 0;
    }

    /// The current command failed: undo everything it did.
    pub fn rollback(&mut self) {
        self.tx.rollback();
        for (id, before) in self.saved.drain() {
            match before {
                Some(rec) => self.executions.insert(id, rec),
                None => self.executions.remove(&id),
            };
        }
        self.actions.truncate(self.actions_at_savepoint);
        self.remembered.truncate(self.remembered_at_savepoint);
        self.queue.clear();
        self.steps = 0;
        self.bytes = 0;
    }

    /// Whether the current command has had its share of the writer.
    fn over_budget(&self) -> bool {
        self.steps >= STEP_BUDGET || self.bytes >= BYTES_BUDGET
    }

    /// Leave `frame` to a command of its own (once per batch and frame).
    fn defer(&mut self, execution: &str, frame: u64) {
        if self.deferred.insert((execution.to_string(), frame)) {
            self.actions.push(Action::Resume {
                execution: execution.to_string(),
                frame,
            });
        }
    }

    /// Write the touched execution records into the overlay; the caller
    /// then commits `tx` and flushes.
    pub fn finish(mut self) -> Result<(Tx<'a>, Vec<Action>), EngineError> {
        self.index_remembered()?;
        for (id, rec) in std::mem::take(&mut self.executions) {
            let before = self.committed_status.get(&id).copied();
            crate::indexes::update(&mut self.tx, &rec, before)?;
            if self.status_feed && before != Some(rec.execution.status) {
                let change = crate::status_feed::StatusChange {
                    key: String::new(),
                    execution_id: id.clone(),
                    workflow: rec.execution.workflow.clone(),
                    status: rec.execution.status,
                    previous: before,
                    at: now_string(self.now),
                };
                crate::status_feed::record(
                    &mut self.tx,
                    self.now.timestamp_millis(),
                    before,
                    change,
                )?;
            }
            self.tx.put(keys::execution(&id), &rec)?;
        }
        Ok((self.tx, self.actions))
    }

    /// Whether execution `id` is RUNNING, without loading its record when
    /// this batch has not: the `r/` key is kept while it runs.
    fn is_running(&mut self, id: &str) -> Result<bool, EngineError> {
        if let Some(rec) = self.executions.get(id) {
            return Ok(rec.execution.status == crate::api::Status::Running);
        }
        Ok(self.tx.get::<bool>(&keys::running(id))?.unwrap_or(false))
    }

    fn execution(&mut self, id: &str) -> Result<&mut ExecutionRecord, EngineError> {
        if !self.saved.contains_key(id) {
            self.saved
                .insert(id.to_string(), self.executions.get(id).cloned());
        }
        if !self.executions.contains_key(id) {
            let rec: ExecutionRecord = self
                .tx
                .get(&keys::execution(id))?
                .ok_or_else(|| EngineError::NotFound(format!("no execution with id {id}")))?;
            self.committed_status
                .insert(id.to_string(), rec.execution.status);
            self.executions.insert(id.to_string(), rec);
        }
        Ok(self.executions.get_mut(id).expect("inserted above"))
    }

    /// Drop cached definitions of a deleted workflow (its name may be
    /// deployed again, from version 1).
    fn forget_definitions(&mut self, workflow: &str) {
        self.definitions
            .machines
            .retain(|(name, _), _| name != workflow);
    }

    fn definition(
        &mut self,
        workflow: &str,
        version: u64,
    ) -> Result<Arc<StateMachine>, EngineError> {
        let key = (workflow.to_string(), version);
        if let Some(m) = self.definitions.machines.get(&key) {
            return Ok(m.clone());
        }
        let rec: crate::records::VersionRecord = self
            .tx
            .get(&keys::version(workflow, version))?
            .ok_or_else(|| {
                EngineError::NotFound(format!("workflow {workflow} has no version {version}"))
            })?;
        let m = Arc::new(StateMachine::from_value(&rec.definition).map_err(EngineError::Invalid)?);
        self.definitions.machines.insert(key, m.clone());
        Ok(m)
    }

    /// Append a history event; returns its id.
    fn event(
        &mut self,
        execution: &str,
        previous: u64,
        kind: &str,
        details: Value,
    ) -> Result<u64, EngineError> {
        let now = now_string(self.now);
        let rec = self.execution(execution)?;
        rec.last_event += 1;
        let id = rec.last_event;
        let details = match details {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                let mut m = Map::new();
                m.insert("details".into(), other);
                m
            }
        };
        let event = HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp: now,
            kind: kind.to_string(),
            details,
        };
        let bytes = self.tx.put_len(keys::history(execution, id), &event)? as u64;
        self.bytes += bytes;
        self.execution(execution)?.history_bytes += bytes;
        Ok(id)
    }

    fn save_frame(&mut self, execution: &str, frame: &Frame) -> Result<(), EngineError> {
        self.tx.put(keys::frame(execution, frame.id), frame)
    }

    fn load_frame(&self, execution: &str, frame: u64) -> Result<Option<Frame>, EngineError> {
        self.tx.get(&keys::frame(execution, frame))
    }

    fn arm_timer(
        &mut self,
        execution: &str,
        frame: u64,
        due_ms: i64,
        timer: Timer,
    ) -> Result<(), EngineError> {
        self.tx
            .put(keys::timer(due_ms, execution, frame, &timer.kind()), &timer)?;
        self.actions.push(Action::ArmTimer { due_ms });
        Ok(())
    }

    /// The context object for a state of this execution (`RetryCount` is
    /// added by the step for the states that retry).
    fn context(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        state: &str,
    ) -> Result<Value, EngineError> {
        if !machine.uses_context {
            return Ok(Value::Object(Map::new()));
        }
        let entered = now_string(self.now);
        let rec = self.execution(execution)?;
        let e = &rec.execution;
        Ok(json!({
            "Execution": {
                "Id": map_run::execution_arn(&e.workflow, &e.name),
                "Input": e.input,
                "Name": e.name,
                "RoleArn": "arn:aws:iam::000000000000:role/sluice",
                "StartTime": e.started_at,
                "RedriveCount": e.redrive_count,
            },
            "State": { "EnteredTime": entered, "Name": state },
            "StateMachine": { "Id": map_run::state_machine_arn(&e.workflow), "Name": e.workflow },
        }))
    }
}

/// The scope a frame runs in.
pub(crate) fn resolve<'m>(machine: &'m StateMachine, path: &ScopePath) -> Option<&'m Scope> {
    let mut scope = &machine.scope;
    for (state, branch) in path {
        scope = match &scope.get(state)?.kind {
            StateKind::Parallel(p) => p.branches.get(*branch)?,
            StateKind::Map(m) => &m.processor,
            _ => return None,
        };
    }
    Some(scope)
}

pub(crate) fn state_type(state: &State) -> &'static str {
    state.type_name()
}
