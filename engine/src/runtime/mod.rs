//! The running engine: the single writer thread with group commit, the timer
//! loop, task dispatch, waiters, and recovery at start-up.
//!
//! Applying a command is in [`apply`], the tests in `tests.rs`. Still over
//! 800 lines (about 1,050): splitting the rest (handle, writer, flusher,
//! effects runner, timers, recovery) is the first step of the engine-core
//! restructure (issue 16), done with its behaviour pinned by the tests.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, Notify};

use crate::api::{AliasRoute, Execution, StartRequest, WorkflowType, WorkflowVersion};
use crate::buckets::Buckets;
use crate::catalog::{Document, DocumentChange};
use crate::error::EngineError;
use crate::events::{DeadLetter, EventOutcome, InboundEvent};
use crate::executor::{Executor, TaskOutcome};
use crate::ingest::EventCounters;
use crate::machine::BucketOutcome;
use crate::machine::{Action, CallbackOutcome, Definitions, Limits, Machine};
use crate::records::{Frame, Phase, Timer};
use crate::store::keys;

mod apply;
mod express;
use self::apply::{apply, LowDisk};

/// When a committed batch counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// sled's `flush`: survives a crash of the process (kill -9), not
    /// necessarily a power cut (Linux `sync_file_range` does not flush the
    /// disk's cache).
    Process,
    /// `flush`, then `fsync` of the store's files: survives a power cut.
    #[default]
    Power,
}

/// sled's page cache unless configured: enough for the working set of
/// thousands of running executions, small enough that 100,000 parked ones
/// fit in 500 MB.
pub const DEFAULT_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// How to open the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The sled folder.
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub limits: Limits,
    /// Most commands applied in one batch (one flush).
    pub max_batch: usize,
    /// How long an event's CloudEvent `source` + `id` is remembered: a
    /// redelivery within it starts nothing again.
    pub dedupe_window: Duration,
    /// sled's page cache, in bytes. sled's own default (1 GiB) lets memory
    /// grow with the store; reads past the cache go to the OS page cache.
    pub cache_bytes: u64,
    /// Record every execution status change in the status feed
    /// ([`Engine::status_changes`]) for a publisher to send on.
    pub status_feed: bool,
    /// Free space kept on the store's disk: below it writes are refused
    /// ([`crate::disk`]); 0 turns the check off.
    pub disk_reserve_bytes: u64,
    /// Tests: each flush takes at least this long (a slow disk).
    #[cfg(test)]
    pub(crate) slow_flush: Duration,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            durability: Durability::default(),
            limits: Limits::default(),
            max_batch: 1024,
            dedupe_window: Duration::from_secs(24 * 3600),
            cache_bytes: DEFAULT_CACHE_BYTES,
            status_feed: false,
            disk_reserve_bytes: crate::disk::DEFAULT_RESERVE_BYTES,
            #[cfg(test)]
            slow_flush: Duration::ZERO,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// An answer to a caller, sent once its batch is durable (or failed to be).
type Deferred = Box<dyn FnOnce(Option<&EngineError>) + Send>;

enum Command {
    Deploy {
        name: String,
        definition: Value,
        kind: Option<WorkflowType>,
        reply: Reply<WorkflowVersion>,
    },
    Start {
        workflow: String,
        req: StartRequest,
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

struct Inner {
    db: sled::Db,
    tree: sled::Tree,
    commands: mpsc::Sender<Command>,
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    timers: Notify,
    recovered: AtomicBool,
    /// Executions that were RUNNING when the store was opened: the ones
    /// recovery resumes (later starts dispatch their own tasks).
    to_recover: Mutex<Vec<String>>,
    executor: Arc<dyn Executor>,
    /// Where Distributed Maps read items and write results.
    buckets: std::sync::RwLock<Arc<dyn Buckets>>,
    runtime: tokio::runtime::Handle,
    watch: crate::watch::Watch,
    /// Catalog changes, sent once durable.
    documents: broadcast::Sender<DocumentChange>,
    events: Arc<EventCounters>,
    dedupe_window_ms: i64,
    /// The number of the last batch applied to sled, and of the last one
    /// flushed (readers of the tree may see applied, not yet durable
    /// writes; see [`Engine::durable_barrier`]).
    applied: AtomicU64,
    durable: tokio::sync::watch::Sender<u64>,
    /// Set when a flush failed and the engine stopped.
    stopped: AtomicBool,
    /// EXPRESS executions running in memory, and their histories.
    express: express::ExpressRuns,
}

/// A batch applied to sled and waiting for its flush.
struct Applied {
    /// Applied batches are numbered from 1 (see [`Engine::durable_barrier`]).
    seq: u64,
    replies: Vec<Deferred>,
    actions: Vec<Action>,
    updates: Vec<crate::ExecutionUpdate>,
}

/// A handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Open the store and start the writer and the timer loop. Call
    /// [`Engine::recover`] afterwards to resume RUNNING executions.
    pub fn open(config: EngineConfig, executor: Arc<dyn Executor>) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            EngineError::Storage(format!("cannot create {}: {e}", config.data_dir.display()))
        })?;
        let opening = std::time::Instant::now();
        crate::disk::remove_partial_snapshots(&config.data_dir).map_err(|e| {
            EngineError::Storage(format!(
                "cannot remove an incomplete snapshot in {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let db = sled::Config::new()
            .path(&config.data_dir)
            .cache_capacity(config.cache_bytes)
            .open()?;
        let tree = db.open_tree("sluice")?;
        crate::indexes::backfill(&tree)?;
        let mut to_recover = Vec::new();
        for key in tree.scan_prefix(b"r/").keys() {
            to_recover.push(String::from_utf8_lossy(&key?[2..]).into_owned());
        }
        tracing::info!(
            running = to_recover.len(),
            ms = opening.elapsed().as_millis() as u64,
            "store opened"
        );
        let (tx, rx) = mpsc::channel(4096);
        let inner = Arc::new(Inner {
            db,
            tree,
            commands: tx,
            waiters: Mutex::new(HashMap::new()),
            timers: Notify::new(),
            recovered: AtomicBool::new(false),
            to_recover: Mutex::new(to_recover),
            executor,
            buckets: std::sync::RwLock::new(Arc::new(crate::buckets::NoBuckets)),
            runtime: tokio::runtime::Handle::current(),
            watch: crate::watch::Watch::new(),
            documents: broadcast::channel(1024).0,
            events: Arc::default(),
            dedupe_window_ms: config.dedupe_window.as_millis().min(i64::MAX as u128) as i64,
            applied: AtomicU64::new(0),
            durable: tokio::sync::watch::Sender::new(0),
            stopped: AtomicBool::new(false),
            express: express::ExpressRuns::new(config.limits.payload_bytes),
        });
        let engine = Engine { inner };
        let writer = engine.clone();
        std::thread::Builder::new()
            .name("sluice-writer".into())
            .spawn(move || writer.writer_loop(rx, config))
            .map_err(|e| EngineError::Storage(format!("cannot start the writer thread: {e}")))?;
        let timers = engine.clone();
        tokio::spawn(async move { timers.timer_loop().await });
        tokio::spawn(engine.clone().dedupe_sweeper());
        tokio::spawn(engine.clone().drop_legacy_indexes());
        Ok(engine)
    }

    /// Give Distributed Maps their buckets (`ItemReader`, `ResultWriter`);
    /// call before [`Engine::recover`].
    pub fn set_buckets(&self, buckets: Arc<dyn Buckets>) {
        *self.inner.buckets.write().expect("buckets lock") = buckets;
    }

    pub(crate) fn tree(&self) -> &sled::Tree {
        &self.inner.tree
    }

    /// Updates of every execution a committed batch changed, for live views.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::ExecutionUpdate> {
        self.inner.watch.subscribe()
    }

    pub(crate) fn document_changes(&self) -> &broadcast::Sender<DocumentChange> {
        &self.inner.documents
    }

    /// Create or replace `alias` of `workflow`: one or two routes whose
    /// weights (percent) add up to 100. Starts of `NAME:ALIAS` pick a route.
    pub async fn put_alias(
        &self,
        workflow: &str,
        alias: &str,
        routes: Vec<AliasRoute>,
    ) -> Result<(), EngineError> {
        self.call(|reply| Command::PutAlias {
            workflow: workflow.to_string(),
            alias: alias.to_string(),
            routes,
            reply,
        })
        .await
    }

    /// False when the workflow has no such alias.
    pub async fn delete_alias(&self, workflow: &str, alias: &str) -> Result<bool, EngineError> {
        self.call(|reply| Command::DeleteAlias {
            workflow: workflow.to_string(),
            alias: alias.to_string(),
            reply,
        })
        .await
    }

    /// Delete a workflow, its versions and aliases; a conflict while any of
    /// its executions is RUNNING. Its executions stay readable.
    pub async fn delete_workflow(&self, workflow: &str) -> Result<(), EngineError> {
        self.call(|reply| Command::DeleteWorkflow {
            workflow: workflow.to_string(),
            reply,
        })
        .await
    }

    /// Delete an execution that has ended, with its history.
    pub async fn delete_execution(&self, id: &str) -> Result<(), EngineError> {
        self.call(|reply| Command::DeleteExecution {
            execution: id.to_string(),
            reply,
        })
        .await
    }

    /// Store `body` as the next version of the `kind` document `name`; the
    /// same body as the latest version returns that version unchanged.
    pub async fn put_document(
        &self,
        kind: &str,
        name: &str,
        body: Value,
    ) -> Result<Document, EngineError> {
        let changes = self.inner.documents.clone();
        self.call(|reply| Command::PutDocument {
            kind: kind.to_string(),
            name: name.to_string(),
            body,
            changes,
            reply,
        })
        .await
    }

    /// Store (or remove) records under their full keys (source
    /// checkpoints, the status feed), durably and atomically.
    pub(crate) async fn store_keys(
        &self,
        entries: Vec<(String, Option<Value>)>,
    ) -> Result<(), EngineError> {
        self.call(|reply| Command::SetKeys { entries, reply }).await
    }

    /// Delete every version and alias; false when there was no such document.
    pub async fn delete_document(&self, kind: &str, name: &str) -> Result<bool, EngineError> {
        let changes = self.inner.documents.clone();
        self.call(|reply| Command::DeleteDocument {
            kind: kind.to_string(),
            name: name.to_string(),
            changes,
            reply,
        })
        .await
    }

    /// Point `alias` at an existing version.
    pub async fn put_document_alias(
        &self,
        kind: &str,
        name: &str,
        alias: &str,
        version: u64,
    ) -> Result<(), EngineError> {
        let changes = self.inner.documents.clone();
        self.call(|reply| Command::PutDocumentAlias {
            kind: kind.to_string(),
            name: name.to_string(),
            alias: alias.to_string(),
            version,
            changes,
            reply,
        })
        .await
    }

    pub(crate) fn event_counters(&self) -> &EventCounters {
        &self.inner.events
    }

    pub(crate) fn dedupe_window_ms(&self) -> i64 {
        self.inner.dedupe_window_ms
    }

    /// Events in, through the writer (see [`crate::EventSink`]).
    pub(crate) async fn ingest(
        &self,
        events: Vec<InboundEvent>,
    ) -> Result<Vec<EventOutcome>, EngineError> {
        let counters = self.inner.events.clone();
        let window_ms = self.inner.dedupe_window_ms;
        self.call(|reply| Command::Ingest {
            events,
            window_ms,
            counters,
            reply,
        })
        .await
    }

    /// Store a message in the dead-letter inbox; returns its id.
    pub async fn store_dead_letter(&self, letter: DeadLetter) -> Result<String, EngineError> {
        let counters = self.inner.events.clone();
        self.call(|reply| Command::DeadLetter {
            letter,
            counters,
            reply,
        })
        .await
    }

    pub(crate) async fn delete_dead_letter_ids(
        &self,
        ids: Vec<String>,
    ) -> Result<usize, EngineError> {
        self.call(|reply| Command::DeleteDeadLetters { ids, reply })
            .await
    }

    pub(crate) async fn prune_dedupe_keys(
        &self,
        index_keys: Vec<String>,
        before_ms: i64,
    ) -> Result<usize, EngineError> {
        self.call(|reply| Command::PruneDedupe {
            index_keys,
            before_ms,
            reply,
        })
        .await
    }

    /// True once recovery has re-dispatched every unfinished task.
    /// A reader met a record that does not parse: the writer sets it
    /// aside (best effort; the next reader asks again).
    pub(crate) fn report_corrupt(&self, key: &str) {
        let _ = self.inner.commands.try_send(Command::Quarantine {
            key: key.to_string(),
        });
    }

    /// The keys of the records set aside as corrupt (`q/`).
    pub fn quarantined(&self) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for k in self
            .inner
            .tree
            .scan_prefix(keys::QUARANTINE.as_bytes())
            .keys()
        {
            let k = k?;
            out.push(String::from_utf8_lossy(&k[keys::QUARANTINE.len()..]).into_owned());
        }
        Ok(out)
    }

    pub fn recovered(&self) -> bool {
        self.inner.recovered.load(Ordering::Acquire)
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(make(tx))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        rx.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Deploy a definition as a new immutable version (the same definition
    /// as the latest version returns that version).
    pub async fn deploy(
        &self,
        name: &str,
        definition: Value,
    ) -> Result<WorkflowVersion, EngineError> {
        self.deploy_as(name, definition, None).await
    }

    /// [`Engine::deploy`] with the workflow's type: the type a new workflow
    /// gets, or (for an existing one) the type it must have — a conflict
    /// otherwise, since the type is fixed at creation.
    pub async fn deploy_as(
        &self,
        name: &str,
        definition: Value,
        kind: Option<WorkflowType>,
    ) -> Result<WorkflowVersion, EngineError> {
        self.call(|reply| Command::Deploy {
            name: name.to_string(),
            definition,
            kind,
            reply,
        })
        .await
    }

    /// Start an execution of `workflow` (`NAME`, `NAME:VERSION` or
    /// `NAME:ALIAS`). Returns once the start is durable.
    pub async fn start(
        &self,
        workflow: &str,
        req: StartRequest,
    ) -> Result<(Execution, bool), EngineError> {
        self.call(|reply| Command::Start {
            workflow: workflow.to_string(),
            req,
            reply,
        })
        .await
    }

    pub async fn stop(
        &self,
        id: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<Execution, EngineError> {
        self.call(|reply| Command::Stop {
            execution: id.to_string(),
            error,
            cause,
            reply,
        })
        .await
    }

    pub async fn redrive(&self, id: &str) -> Result<Execution, EngineError> {
        self.call(|reply| Command::Redrive {
            execution: id.to_string(),
            reply,
        })
        .await
    }

    pub async fn task_success(&self, token: &str, output: Value) -> Result<(), EngineError> {
        self.call(|reply| Command::Callback {
            token: token.to_string(),
            outcome: CallbackOutcome::Success(output),
            reply,
        })
        .await
    }

    pub async fn task_failure(
        &self,
        token: &str,
        error: String,
        cause: String,
    ) -> Result<(), EngineError> {
        let outcome = CallbackOutcome::Failure { error, cause };
        self.call(|reply| Command::Callback {
            token: token.to_string(),
            outcome,
            reply,
        })
        .await
    }

    pub async fn task_heartbeat(&self, token: &str) -> Result<(), EngineError> {
        self.call(|reply| Command::Callback {
            token: token.to_string(),
            outcome: CallbackOutcome::Heartbeat,
            reply,
        })
        .await
    }

    /// Wait until the execution ends or `timeout` passes; returns it as it is then.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Execution, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .waiters
            .lock()
            .expect("waiters lock")
            .entry(id.to_string())
            .or_default()
            .push(tx);
        let current = self.execution(id)?;
        if current.status.is_terminal() {
            self.durable_barrier().await?;
            return Ok(current);
        }
        let _ = tokio::time::timeout(timeout, rx).await;
        let current = self.execution(id)?;
        if current.status.is_terminal() {
            self.durable_barrier().await?;
        }
        Ok(current)
    }

    /// Resume every RUNNING execution: re-dispatch tasks that were
    /// dispatched but not completed (same idempotency key) and continue
    /// frames that were about to run. Timers fire from the store by
    /// themselves.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        let mut resumed = 0;
        let ids = std::mem::take(&mut *self.inner.to_recover.lock().expect("recovery list lock"));
        for id in ids {
            let rec = crate::store::get::<crate::records::ExecutionRecord>(
                &self.inner.tree,
                &keys::execution(&id),
            );
            match rec {
                Ok(Some(rec)) if rec.status() == crate::api::Status::Running => {
                    if rec.express {
                        self.recover_express(&rec).await?;
                        resumed += 1;
                        continue;
                    }
                }
                _ => continue, // ended since the store was opened
            }
            for item in self
                .inner
                .tree
                .scan_prefix(keys::frame_prefix(&id).as_bytes())
            {
                let (key, bytes) = item?;
                let key = String::from_utf8_lossy(&key).into_owned();
                let frame: Frame = match crate::store::parse(&key, &bytes) {
                    Ok(f) => f,
                    Err(e) => {
                        // The execution cannot go on from a record it cannot
                        // read: set the record aside and end the execution.
                        tracing::error!(execution = %id, error = %e, "a corrupt frame stops its execution");
                        self.report_corrupt(&key);
                        let _ = self
                            .stop(
                                &id,
                                Some("Sluice.CorruptRecord".into()),
                                Some(e.to_string()),
                            )
                            .await;
                        break;
                    }
                };
                match frame.phase {
                    // A child execution started by a Task runs (and reports) by itself.
                    Phase::Task { ref resource, .. }
                        if crate::machine::child_wait(resource).is_some() => {}
                    // Handed out its token; only the callback is awaited.
                    Phase::Task {
                        delivered: true, ..
                    } => {}
                    Phase::Task { .. } => {
                        self.perform(vec![crate::machine::dispatch_action(&id, &frame)])
                    }
                    Phase::Reading { .. } | Phase::Writing { .. } => {
                        self.perform(vec![crate::machine::bucket_action(&id, &frame)])
                    }
                    // Ready to run, or a Map with iterations still to admit.
                    Phase::Fork(ref f)
                        if !(f.map && f.run.is_none() && f.next_item < f.total()) => {}
                    Phase::Ready | Phase::Fork(_) => {
                        let cmd = Command::Resume {
                            execution: id.clone(),
                            frame: frame.id,
                        };
                        self.inner
                            .commands
                            .send(cmd)
                            .await
                            .map_err(|_| EngineError::ShuttingDown)?;
                    }
                    _ => {}
                }
            }
            resumed += 1;
        }
        self.inner.timers.notify_one();
        self.inner.recovered.store(true, Ordering::Release);
        tracing::info!(executions = resumed, "recovery done");
        Ok(resumed)
    }

    /// The single writer: applies each batch of commands to sled, then
    /// hands it to the flusher and goes on with the next batch while the
    /// flusher waits for the disk. sled shows applied writes to readers
    /// before they are flushed either way; what waits for durability are
    /// the replies and the side effects (tasks, timers, waiters), and the
    /// flusher releases them in batch order, each after its batch's flush.
    fn writer_loop(self, mut rx: mpsc::Receiver<Command>, config: EngineConfig) {
        // One batch flushing, one waiting in the channel and one the writer
        // is handing over: at most three batches ahead of the disk.
        let (applied, to_flush) = std::sync::mpsc::sync_channel::<Applied>(1);
        let flusher = self.clone();
        let flusher_config = config.clone();
        let flusher = std::thread::Builder::new()
            .name("sluice-flusher".into())
            .spawn(move || flusher.flusher_loop(to_flush, flusher_config));
        if let Err(e) = flusher {
            tracing::error!(error = %e, "cannot start the flusher thread; the engine stops");
            return;
        }
        let mut definitions = Definitions::default();
        let mut seq = 0u64;
        let mut disk = crate::disk::DiskGuard::new(&config.data_dir, config.disk_reserve_bytes);
        // The engine's own progress held back while the disk is low.
        let mut held: Vec<Command> = Vec::new();
        loop {
            let mut batch = std::mem::take(&mut held);
            if batch.is_empty() {
                match rx.blocking_recv() {
                    Some(first) => batch.push(first),
                    None => return,
                }
            }
            let mut closed = false;
            while batch.len() < config.max_batch {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            if let Some(full) = disk.check() {
                let mut allowed = Vec::new();
                for cmd in batch {
                    match cmd.when_disk_low() {
                        LowDisk::Refuse => cmd.refuse(&full),
                        LowDisk::Hold => held.push(cmd),
                        LowDisk::Allow => allowed.push(cmd),
                    }
                }
                if closed {
                    // Shutting down: what is held is in the store, and a
                    // restart resumes it.
                    return;
                }
                if allowed.is_empty() {
                    std::thread::sleep(crate::disk::RECHECK);
                    continue;
                }
                batch = allowed;
            }
            let mut machine = Machine::new(&self.inner.tree, &mut definitions, &config.limits);
            machine.status_feed = config.status_feed;
            let mut replies: Vec<Deferred> = Vec::new();
            for cmd in batch {
                apply(&mut machine, cmd, &mut replies);
            }
            // Numbered before the batch becomes visible, so a reader that
            // saw it waits for its flush (see `durable_barrier`).
            seq += 1;
            self.inner.applied.store(seq, Ordering::Release);
            let outcome = machine.finish().and_then(|(tx, actions)| {
                let changed = self
                    .inner
                    .watch
                    .has_subscribers()
                    .then(|| tx.written_executions());
                tx.commit()?;
                // Read now, while the tree holds exactly this batch.
                let updates = changed
                    .map(|ids| crate::watch::Watch::updates(&self.inner.tree, ids))
                    .unwrap_or_default();
                Ok((actions, updates))
            });
            let batch = match outcome {
                Ok((actions, updates)) => Applied {
                    seq,
                    replies,
                    actions,
                    updates,
                },
                Err(e) => {
                    tracing::error!(error = %e, "a batch could not be stored; its commands failed");
                    definitions.forget_triggers();
                    replies.into_iter().for_each(|r| r(Some(&e)));
                    // Still through the flusher, so its number is passed.
                    Applied {
                        seq,
                        replies: Vec::new(),
                        actions: Vec::new(),
                        updates: Vec::new(),
                    }
                }
            };
            if applied.send(batch).is_err() {
                tracing::error!("the flusher stopped; the engine stops");
                return;
            }
        }
    }

    /// Makes each applied batch durable, then answers its callers and
    /// performs its side effects. A flush makes every write before it
    /// durable, so a batch applied while the previous one was flushing is
    /// covered by its own flush.
    ///
    /// A failed flush stops the engine: the batch's writes are in the
    /// tree, so a later flush could still make durable what its callers
    /// were told failed. Every batch not yet flushed fails; a restart
    /// recovers from what is on disk.
    fn flusher_loop(self, batches: std::sync::mpsc::Receiver<Applied>, config: EngineConfig) {
        while let Ok(batch) = batches.recv() {
            match self.make_durable(&config) {
                Ok(()) => {
                    self.inner.durable.send_replace(batch.seq);
                    batch.replies.into_iter().for_each(|r| r(None));
                    self.inner.watch.publish(batch.updates);
                    self.perform(batch.actions);
                }
                Err(e) => {
                    tracing::error!(error = %e, "the store could not be flushed; the engine stops (restart it to recover from what is on disk)");
                    batch.replies.into_iter().for_each(|r| r(Some(&e)));
                    while let Ok(b) = batches.try_recv() {
                        b.replies.into_iter().for_each(|r| r(Some(&e)));
                    }
                    // Wake every barrier; they see `stopped` and fail.
                    self.inner.stopped.store(true, Ordering::Release);
                    self.inner.durable.send_replace(u64::MAX);
                    return;
                }
            }
        }
    }

    /// Waits until everything applied so far is durable. The tree shows
    /// applied writes before the flusher has flushed them, so a reader
    /// that passes on what it read (a status feed publishing to a broker,
    /// `wait` returning a final status) calls this after reading.
    pub async fn durable_barrier(&self) -> Result<(), EngineError> {
        let target = self.inner.applied.load(Ordering::Acquire);
        let mut durable = self.inner.durable.subscribe();
        let reached = durable.wait_for(|d| *d >= target).await.is_ok();
        if !reached || self.inner.stopped.load(Ordering::Acquire) {
            return Err(EngineError::ShuttingDown);
        }
        Ok(())
    }

    fn make_durable(&self, config: &EngineConfig) -> Result<(), EngineError> {
        #[cfg(test)]
        std::thread::sleep(config.slow_flush);
        self.inner.db.flush()?;
        if config.durability == Durability::Power {
            fsync_dir(&config.data_dir)?;
        }
        Ok(())
    }

    fn perform(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Dispatch {
                    execution,
                    frame,
                    attempt,
                    invocation,
                } => {
                    let executor = self.inner.executor.clone();
                    let commands = self.inner.commands.clone();
                    self.inner.runtime.spawn(async move {
                        let outcome = executor.invoke_metered(*invocation).await;
                        let _ = commands
                            .send(Command::TaskDone {
                                execution,
                                frame,
                                attempt,
                                outcome,
                            })
                            .await;
                    });
                }
                Action::ReadItems {
                    execution,
                    frame,
                    attempt,
                    request,
                } => {
                    let buckets = self.inner.buckets.read().expect("buckets lock").clone();
                    let commands = self.inner.commands.clone();
                    self.inner.runtime.spawn(async move {
                        let items = crate::machine::read_items(&*buckets, &request).await;
                        let outcome = BucketOutcome::Items(items);
                        let _ = commands
                            .send(Command::BucketDone {
                                execution,
                                frame,
                                attempt,
                                outcome,
                            })
                            .await;
                    });
                }
                Action::WriteResults {
                    execution,
                    frame,
                    attempt,
                    bucket,
                    files,
                } => {
                    let buckets = self.inner.buckets.read().expect("buckets lock").clone();
                    let commands = self.inner.commands.clone();
                    self.inner.runtime.spawn(async move {
                        let written = crate::machine::write_files(&*buckets, &bucket, files).await;
                        let outcome = BucketOutcome::Written(written);
                        let _ = commands
                            .send(Command::BucketDone {
                                execution,
                                frame,
                                attempt,
                                outcome,
                            })
                            .await;
                    });
                }
                Action::Resume { execution, frame } => {
                    let commands = self.inner.commands.clone();
                    self.inner.runtime.spawn(async move {
                        let _ = commands.send(Command::Resume { execution, frame }).await;
                    });
                }
                Action::ArmTimer { due_ms } => {
                    tracing::trace!(due_ms, "timer armed");
                    self.inner.timers.notify_one()
                }
                Action::RunExpress(run) => self.run_express(*run),
                Action::Finished { execution } => {
                    self.inner.express.stop(&execution);
                    let waiters = self
                        .inner
                        .waiters
                        .lock()
                        .expect("waiters lock")
                        .remove(&execution);
                    for w in waiters.into_iter().flatten() {
                        let _ = w.send(());
                    }
                }
            }
        }
    }

    async fn timer_loop(self) {
        let mut sent: HashSet<String> = HashSet::new();
        loop {
            let now = chrono::Utc::now().timestamp_millis();
            let mut next_due: Option<i64> = None;
            let mut still_there = HashSet::new();
            for item in self.inner.tree.scan_prefix(b"t/") {
                let Ok((k, v)) = item else { break };
                let key = String::from_utf8_lossy(&k).into_owned();
                let Some((due, execution, frame)) = parse_timer_key(&key) else {
                    continue;
                };
                if due > now {
                    next_due = Some(due);
                    break;
                }
                still_there.insert(key.clone());
                if sent.contains(&key) {
                    continue;
                }
                let Ok(timer) = serde_json::from_slice::<Timer>(&v) else {
                    continue;
                };
                sent.insert(key.clone());
                if self
                    .inner
                    .commands
                    .send(Command::Timer {
                        key,
                        timer,
                        execution,
                        frame,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            sent.retain(|k| still_there.contains(k));
            let sleep = match next_due {
                Some(due) => Duration::from_millis((due - now).clamp(1, 1000) as u64),
                None => Duration::from_secs(1),
            };
            tokio::select! {
                _ = self.inner.timers.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

fn parse_timer_key(key: &str) -> Option<(i64, String, u64)> {
    let mut parts = key.split('/');
    parts.next()?; // "t"
    let due = parts.next()?.parse().ok()?;
    let execution = parts.next()?.to_string();
    let frame = parts.next()?.parse().ok()?;
    Some((due, execution, frame))
}

/// fsync every file of the store, and the folder itself.
fn fsync_dir(dir: &Path) -> Result<(), EngineError> {
    let io = |e: std::io::Error| EngineError::Storage(format!("fsync {}: {e}", dir.display()));
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
        }
    }
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io)
}

#[cfg(test)]
mod tests;
