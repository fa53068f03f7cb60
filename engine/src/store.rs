//! The sled store. One tree holds every record under a key prefix, so one
//! atomic [`sled::Batch`] can change an execution, its history, its frames
//! and its timers together:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `w/` | workflow | [`WorkflowMeta`] |
//! | `v/` | workflow `/` version (20 digits) | [`VersionRecord`] |
//! | `e/` | execution id | [`ExecutionRecord`] |
//! | `n/` | workflow `/` execution name | execution id (idempotent start) |
//! | `h/` | execution id `/` event id (20 digits) | [`HistoryEvent`] |
//! | `f/` | execution id `/` frame id (20 digits) | [`Frame`] |
//! | `t/` | due ms (20 digits) `/` execution id `/` frame id `/` kind | [`Timer`] |
//! | `k/` | task token | [`TokenRecord`] |
//! | `r/` | execution id | running marker (recovery) |
//! | `i/` | start ms `/` execution id | listing index, newest last |
//! | `s/` | status `/` start ms `/` execution id | listing index by status |
//! | `x/` | workflow `/` start ms `/` execution id | listing index by workflow |
//! | `y/` | workflow `/` status `/` start ms `/` execution id | by workflow and status |
//! | `m/` | name | store metadata (`m/indexes`: the `s/ x/ y/` indexes are complete) |
//! | `c/` | kind `/` name | [`DocumentMeta`](crate::catalog::DocumentMeta) (catalog) |
//! | `cv/` | kind `/` name `/` version (20 digits) | [`Document`](crate::catalog::Document) |
//! | `d/` | CloudEvent source (`/` as `~1`) `/` id | deduplication record (ingest) |
//! | `dx/` | accepted ms (20 digits) `/` source `/` id | its `d/` key (pruning by age) |
//! | `p/` | source (`/` as `~1`) `/` key | a source's checkpoint (cron's last fire, …) |
//! | `u/` | ms (20 digits) `/` execution id `/` 0 (start) or 1 | [`StatusChange`](crate::StatusChange) (the status feed, when on) |
//! | `q/` | dead letter id (ms, 20 digits, `-` uuid) | [`DeadLetterRecord`](crate::ingest::DeadLetterRecord) |
//!
//! Only the engine's single writer writes; readers read sled directly. The
//! writer stages its writes in a [`Tx`] overlay (reads see them) and applies
//! them as one batch.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::error::EngineError;

pub(crate) fn num(n: u64) -> String {
    format!("{n:020}")
}

pub(crate) mod keys {
    use super::num;
    pub fn workflow(name: &str) -> String {
        format!("w/{name}")
    }
    pub fn version(name: &str, v: u64) -> String {
        format!("v/{name}/{}", num(v))
    }
    pub fn execution(id: &str) -> String {
        format!("e/{id}")
    }
    pub fn name(workflow: &str, name: &str) -> String {
        format!("n/{workflow}/{name}")
    }
    pub fn history(id: &str, event: u64) -> String {
        format!("h/{id}/{}", num(event))
    }
    pub fn history_prefix(id: &str) -> String {
        format!("h/{id}/")
    }
    pub fn frame(id: &str, frame: u64) -> String {
        format!("f/{id}/{}", num(frame))
    }
    pub fn frame_prefix(id: &str) -> String {
        format!("f/{id}/")
    }
    pub fn timer(due_ms: i64, id: &str, frame: u64, kind: &str) -> String {
        format!("t/{}/{id}/{}/{kind}", num(due_ms.max(0) as u64), num(frame))
    }
    pub fn token(token: &str) -> String {
        format!("k/{token}")
    }
    pub fn running(id: &str) -> String {
        format!("r/{id}")
    }
    pub fn index(started_ms: i64, id: &str) -> String {
        format!("i/{}/{id}", num(started_ms.max(0) as u64))
    }
    /// The listing prefix for these filters; keys go on with `ms/id`.
    pub fn index_prefix(workflow: Option<&str>, status: Option<crate::api::Status>) -> String {
        match (workflow, status) {
            (None, None) => "i/".to_string(),
            (None, Some(s)) => format!("s/{s}/"),
            (Some(w), None) => format!("x/{w}/"),
            (Some(w), Some(s)) => format!("y/{w}/{s}/"),
        }
    }
    pub fn index_key(prefix: &str, started_ms: i64, id: &str) -> String {
        format!("{prefix}{}/{id}", num(started_ms.max(0) as u64))
    }
    pub const INDEXES_DONE: &str = "m/indexes";
    pub fn document(kind: &str, name: &str) -> String {
        format!("c/{kind}/{name}")
    }
    pub fn document_prefix(kind: &str) -> String {
        format!("c/{kind}/")
    }
    pub fn document_version(kind: &str, name: &str, version: u64) -> String {
        format!("cv/{kind}/{name}/{}", num(version))
    }
    pub fn document_version_prefix(kind: &str, name: &str) -> String {
        format!("cv/{kind}/{name}/")
    }
    fn escape(s: &str) -> String {
        s.replace('~', "~0").replace('/', "~1")
    }
    pub fn dedupe(source: &str, id: &str) -> String {
        format!("d/{}/{id}", escape(source))
    }
    pub fn dedupe_index(at_ms: i64, source: &str, id: &str) -> String {
        format!("dx/{}/{}/{id}", num(at_ms.max(0) as u64), escape(source))
    }
    pub fn checkpoint(source: &str, key: &str) -> String {
        format!("p/{}/{key}", escape(source))
    }
    pub const STATUS_FEED: &str = "u/";
    pub fn status_change(at_ms: i64, execution: &str, n: u8) -> String {
        format!("u/{}/{execution}/{n}", num(at_ms.max(0) as u64))
    }
    pub fn dead_letter(id: &str) -> String {
        format!("q/{id}")
    }
}

/// Read a JSON record straight from the tree.
pub(crate) fn get<T: DeserializeOwned>(
    tree: &sled::Tree,
    key: &str,
) -> Result<Option<T>, EngineError> {
    match tree.get(key.as_bytes())? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Staged writes of one batch; reads see them before the tree. Writes of
/// the command being applied stay in `pending` until [`Tx::savepoint`], so a
/// command that fails halfway is dropped whole by [`Tx::rollback`].
pub(crate) struct Tx<'t> {
    tree: &'t sled::Tree,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    pending: BTreeMap<String, Option<Vec<u8>>>,
}

impl<'t> Tx<'t> {
    pub fn new(tree: &'t sled::Tree) -> Self {
        Tx {
            tree,
            writes: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    fn staged(&self, key: &str) -> Option<&Option<Vec<u8>>> {
        self.pending.get(key).or_else(|| self.writes.get(key))
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, EngineError> {
        match self.staged(key) {
            Some(Some(bytes)) => Ok(Some(serde_json::from_slice(bytes)?)),
            Some(None) => Ok(None),
            None => get(self.tree, key),
        }
    }

    pub fn put<T: Serialize>(&mut self, key: String, value: &T) -> Result<(), EngineError> {
        self.pending.insert(key, Some(serde_json::to_vec(value)?));
        Ok(())
    }

    pub fn remove(&mut self, key: String) {
        self.pending.insert(key, None);
    }

    /// Keep the current command's writes.
    pub fn savepoint(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.writes.extend(pending);
    }

    /// Drop the current command's writes.
    pub fn rollback(&mut self) {
        self.pending.clear();
    }

    /// Keys under `prefix`, as staged (tree keys not yet removed, plus new ones).
    pub fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, EngineError> {
        let mut keys: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for item in self.tree.scan_prefix(prefix.as_bytes()).keys() {
            keys.insert(String::from_utf8_lossy(&item?).into_owned());
        }
        for layer in [&self.writes, &self.pending] {
            for (k, v) in layer.range(prefix.to_string()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                match v {
                    Some(_) => keys.insert(k.clone()),
                    None => keys.remove(k),
                };
            }
        }
        Ok(keys.into_iter().collect())
    }

    /// Ids of the executions whose record this batch writes (every history
    /// event and status change rewrites the record).
    pub fn written_executions(&self) -> std::collections::BTreeSet<String> {
        let prefix = keys::execution("");
        self.writes
            .keys()
            .chain(self.pending.keys())
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(str::to_string)
            .collect()
    }

    /// Apply every kept write atomically.
    pub fn commit(mut self) -> Result<(), EngineError> {
        self.savepoint();
        let mut batch = sled::Batch::default();
        for (k, v) in self.writes {
            match v {
                Some(bytes) => batch.insert(k.as_bytes(), bytes),
                None => batch.remove(k.as_bytes()),
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}
