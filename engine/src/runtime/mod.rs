//! The running engine: its handle ([`Engine`]) and what runs behind it.
//! `handle` is the async facade (every change a [`Command`] to the
//! writer), `writer` the single writer with group commit and the flusher,
//! `apply` the match from a command to the machine's transition,
//! `effects` what a durable batch sets off, `timers` the timer loop,
//! `recovery` the resumption of RUNNING executions at start-up, `express`
//! the in-memory runs of EXPRESS executions; the tests are in `tests.rs`.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
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
mod command;
mod effects;
mod express;
mod handle;
mod power_sync;
mod recovery;
mod timers;
mod writer;
use self::apply::{apply, LowDisk};
use self::command::{Command, Deferred, Reply};

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
    /// The side effects in flight (task dispatches, bucket reads and
    /// writes, resumptions), and the token that ends them at shutdown
    /// ([`Engine::shutdown`]).
    effects: tokio_util::task::TaskTracker,
    cancel: tokio_util::sync::CancellationToken,
}

/// A batch applied to sled and waiting for its flush.
struct Applied {
    /// Applied batches are numbered from 1 (see [`Engine::durable_barrier`]).
    seq: u64,
    /// False for a batch of nothing but [`Engine::start_unflushed`]
    /// starts: its replies go out without a flush of their own.
    flush: bool,
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
            effects: tokio_util::task::TaskTracker::new(),
            cancel: tokio_util::sync::CancellationToken::new(),
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
}

#[cfg(test)]
mod tests;
