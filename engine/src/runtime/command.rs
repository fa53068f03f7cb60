//! The commands the writer applies, with the callers' reply channels.

use super::*;

pub(super) type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// An answer to a caller, sent once its batch is durable (or failed to be).
pub(super) type Deferred = Box<dyn FnOnce(Option<&EngineError>) + Send>;

impl Command {
    /// Whether the batch holding this command must be flushed before its
    /// replies and effects go out.
    pub(super) fn needs_flush(&self) -> bool {
        !matches!(self, Command::Start { flush: false, .. })
    }
}

pub(super) enum Command {
    Deploy {
        name: String,
        definition: Value,
        kind: Option<WorkflowType>,
        reply: Reply<WorkflowVersion>,
    },
    Start {
        workflow: String,
        req: StartRequest,
        /// False for [`Engine::start_unflushed`].
        flush: bool,
        reply: Reply<(Execution, bool)>,
    },
    TaskDone {
        execution: String,
        frame: u64,
        attempt: u32,
        outcome: TaskOutcome,
    },
    BucketDone {
        execution: String,
        frame: u64,
        attempt: u32,
        outcome: BucketOutcome,
    },
    /// An EXPRESS execution's run in memory ended.
    ExpressDone {
        execution: String,
        end: crate::machine::ExpressEnd,
    },
    Timer {
        key: String,
        timer: Timer,
        execution: String,
        frame: u64,
    },
    Stop {
        execution: String,
        error: Option<String>,
        cause: Option<String>,
        reply: Reply<Execution>,
    },
    Callback {
        token: String,
        outcome: CallbackOutcome,
        reply: Reply<()>,
    },
    Redrive {
        execution: String,
        reply: Reply<Execution>,
    },
    Resume {
        execution: String,
        frame: u64,
    },
    PutAlias {
        workflow: String,
        alias: String,
        routes: Vec<AliasRoute>,
        reply: Reply<()>,
    },
    DeleteAlias {
        workflow: String,
        alias: String,
        reply: Reply<bool>,
    },
    DeleteVersion {
        workflow: String,
        version: u64,
        reply: Reply<bool>,
    },
    DeleteWorkflow {
        workflow: String,
        reply: Reply<()>,
    },
    DeleteExecution {
        execution: String,
        reply: Reply<()>,
    },
    /// Stores (`Some`) or removes (`None`) records under full keys (source
    /// checkpoints, acknowledged status changes), in one atomic batch.
    SetKeys {
        entries: Vec<(String, Option<Value>)>,
        reply: Reply<()>,
    },
    PutDocument {
        kind: String,
        name: String,
        body: Value,
        changes: broadcast::Sender<DocumentChange>,
        reply: Reply<Document>,
    },
    DeleteDocument {
        kind: String,
        name: String,
        changes: broadcast::Sender<DocumentChange>,
        reply: Reply<bool>,
    },
    PutDocumentAlias {
        kind: String,
        name: String,
        alias: String,
        version: u64,
        changes: broadcast::Sender<DocumentChange>,
        reply: Reply<()>,
    },
    DeleteDocumentAlias {
        kind: String,
        name: String,
        alias: String,
        changes: broadcast::Sender<DocumentChange>,
        reply: Reply<bool>,
    },
    Ingest {
        events: Vec<InboundEvent>,
        window_ms: i64,
        counters: Arc<EventCounters>,
        reply: Reply<Vec<EventOutcome>>,
    },
    DeadLetter {
        letter: DeadLetter,
        counters: Arc<EventCounters>,
        reply: Reply<String>,
    },
    DeleteDeadLetters {
        ids: Vec<String>,
        reply: Reply<usize>,
    },
    PruneDedupe {
        index_keys: Vec<String>,
        before_ms: i64,
        reply: Reply<usize>,
    },
    /// A reader met a record that does not parse: set it aside.
    Quarantine {
        key: String,
    },
}
