//! What the store keeps (see `store.rs` for where).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::api::{AliasRoute, Execution, Status, WorkflowType};
use sluice_dsl::interp::step::{ReadRequest, RetryState, Tolerance};
use sluice_dsl::StatesError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkflowMeta {
    pub name: String,
    pub latest_version: u64,
    pub aliases: BTreeMap<String, Vec<AliasRoute>>,
    pub updated_at: String,
    /// Records written before workflows had types are STANDARD.
    #[serde(default)]
    pub kind: WorkflowType,
    /// Absent in records written before it was kept.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Versions deleted by their number: gone from listings, aliases and
    /// qualified starts; their records stay for the executions that ran
    /// them. Never the latest version (the workflow's definition).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub deleted_versions: std::collections::BTreeSet<u64>,
}

impl WorkflowMeta {
    /// Whether `version` exists and was not deleted.
    pub fn has_version(&self, version: u64) -> bool {
        version >= 1 && version <= self.latest_version && !self.deleted_versions.contains(&version)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub name: String,
    pub version: u64,
    pub definition: Value,
    pub created_at: String,
}

/// An execution and the counters its transitions need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExecutionRecord {
    pub execution: Execution,
    pub started_ms: i64,
    /// Last history event id written.
    pub last_event: u64,
    /// Bytes of history written (the events as stored).
    #[serde(default)]
    pub history_bytes: u64,
    /// Next frame id to hand out.
    pub next_frame: u64,
    /// Frames alive (running, waiting, or kept for redrive).
    pub frames: u64,
    /// For a child execution: the parent frame it reports its end to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_of: Option<ChildOf>,
    /// An EXPRESS execution: it has no frames and no stored history; it
    /// runs in memory from its start record and, after a crash, from the
    /// start again (at least once, as Step Functions runs EXPRESS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub express: bool,
}

/// The parent a child execution reports to: a Distributed Map frame and
/// the item's slot, or a Task frame waiting on `startExecution.sync`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ChildOf {
    pub execution: String,
    pub frame: u64,
    /// The Map slot; `None` for a Task's child (then `attempt` is its attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<usize>,
    #[serde(default)]
    pub attempt: u32,
}

impl ExecutionRecord {
    pub fn status(&self) -> Status {
        self.execution.status
    }
}

/// Where a frame sits: the chain of (Parallel or Map state, branch index)
/// from the top-level scope down to the frame's scope.
pub(crate) type ScopePath = Vec<(String, usize)>;

/// One active position in an execution: a state being run in some scope.
/// A frame that waits for a task *is* the outbox record: recovery
/// re-dispatches from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Frame {
    pub id: u64,
    /// The Parallel/Map frame this branch or iteration reports to, and its slot.
    pub parent: Option<(u64, usize)>,
    pub scope: ScopePath,
    pub state: String,
    /// The state's raw input.
    pub input: Value,
    pub retry: RetryState,
    pub phase: Phase,
    /// History id of the state's `…StateEntered` event.
    pub entered_event: u64,
    /// Times a task of this frame was dispatched (idempotency keys count them).
    pub attempts: u32,
    /// A Parallel/Map that failed keeps its children's results here, so a
    /// redrive re-runs only the branches or iterations that did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_fork: Option<Fork>,
    /// The frames whose variables this frame reads besides its own, the
    /// outermost first: the Parallel/Map frames it runs inside.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Phase {
    /// Enter the state (first time, or again after a retry delay).
    Ready,
    /// A task is dispatched and not completed.
    Task {
        attempt: u32,
        resource: String,
        payload: Value,
        token: Option<String>,
        timeout_seconds: Option<u64>,
        /// `HeartbeatSeconds`: the task fails unless a heartbeat (or its
        /// result) arrives before `heartbeat_due_ms`.
        #[serde(default)]
        heartbeat_seconds: Option<u64>,
        #[serde(default)]
        heartbeat_due_ms: Option<i64>,
        /// `.waitForTaskToken`: the invocation that hands out the token
        /// returned; only the callback is awaited now, and a restart does
        /// not invoke the function again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        delivered: bool,
    },
    /// A Wait state; `output` continues when the timer fires, and
    /// `assigned` is what the state's `Assign` sets then.
    Waiting {
        until_ms: i64,
        output: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assigned: Option<Map<String, Value>>,
    },
    /// A Distributed Map reading its items (`ItemReader`): the read runs
    /// after the batch is durable, and reports with `items_read`.
    Reading { attempt: u32, request: ReadRequest },
    /// A Distributed Map writing its results (`ResultWriter`) before it
    /// completes; reports with `results_written`.
    Writing {
        attempt: u32,
        request: WriteSpec,
        /// What the Map fails with once the results are written, if its
        /// iterations failed past their tolerance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<StatesError>,
    },
    /// Waiting out a retry delay.
    Backoff { until_ms: i64 },
    /// A Parallel or Map waiting for its children.
    Fork(Fork),
    /// Failed with this error; kept so a redrive can resume here.
    Failed(StatesError),
}

/// What a `ResultWriter` writes: the files (key, JSON content) and the
/// Map's result once they are written (`ResultWriterDetails`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct WriteSpec {
    pub bucket: String,
    pub files: Vec<(String, Value)>,
    pub details: Value,
}

/// The children of a Parallel or Map frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Fork {
    pub map: bool,
    /// One slot per branch or item: None while running or not started.
    pub results: Vec<Option<Result<Value, StatesError>>>,
    /// Map items not started yet (MaxConcurrency), in order from `next_item`.
    pub pending: Vec<Value>,
    pub next_item: usize,
    pub running: usize,
    pub max_concurrency: u64,
    pub tolerance: Tolerance,
    pub failures: u64,
    /// A Distributed Map's run: then `results` and `pending` stay empty and
    /// each item, and the child execution of each slot, is a record of its
    /// own (`keys::map_item`, `keys::map_slot`), so the frame stays small
    /// however many items there are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<MapRun>,
    /// An inline Map whose items, results and state input are records of
    /// their own (`keys::map_item`, `keys::map_result`, `keys::fork_input`):
    /// `results` and `pending` stay empty and the frame holds counters
    /// only, so a finished iteration costs the same whatever the number
    /// of items (a frame holding them made a Map quadratic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyed: Option<Keyed>,
}

/// The counters of an inline Map kept in records of its own.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub(crate) struct Keyed {
    pub total: usize,
    /// Iterations with a result (succeeded or failed).
    pub done: usize,
}

impl Fork {
    /// A Map's fork before any iteration started: `pending` items, no
    /// results yet (the caller sizes `results` or sets `run`).
    pub fn map(pending: Vec<Value>, max_concurrency: u64, tolerance: Tolerance) -> Fork {
        Fork {
            map: true,
            results: Vec::new(),
            pending,
            next_item: 0,
            running: 0,
            max_concurrency,
            tolerance,
            failures: 0,
            run: None,
            keyed: None,
        }
    }

    /// How many branches or items the fork has.
    pub fn total(&self) -> usize {
        match (&self.run, &self.keyed) {
            (Some(run), _) => run.total,
            (None, Some(k)) => k.total,
            (None, None) => self.results.len(),
        }
    }
}

/// The counters of a Distributed Map's run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct MapRun {
    pub id: String,
    pub total: usize,
    pub succeeded: usize,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) enum Timer {
    /// A Wait state or retry delay of the frame ends.
    Wake,
    /// The task attempt ran past `TimeoutSeconds`.
    TaskTimeout { attempt: u32 },
    /// The execution ran past its `TimeoutSeconds`.
    ExecutionTimeout,
    /// No heartbeat arrived by `due_ms` (a later heartbeat makes this stale).
    Heartbeat { attempt: u32, due_ms: i64 },
}

impl Timer {
    pub fn kind(&self) -> String {
        match self {
            Timer::Wake => "wake".into(),
            Timer::TaskTimeout { attempt } => format!("task-timeout-{attempt}"),
            Timer::ExecutionTimeout => "execution-timeout".into(),
            Timer::Heartbeat { attempt, due_ms } => format!("heartbeat-{attempt}-{due_ms}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub execution: String,
    pub frame: u64,
    pub attempt: u32,
    /// Set once the token was used: a second callback is a conflict.
    pub used: bool,
}
