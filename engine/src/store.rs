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
//! | `h/` | execution id `/` event id (20 digits) | [`HistoryEvent`], or a JSON array of the consecutive events one batch wrote, at the first one's id |
//! | `f/` | execution id `/` frame id (20 digits) | [`Frame`] |
//! | `t/` | due ms (20 digits) `/` execution id `/` frame id `/` kind | [`Timer`] |
//! | `k/` | task token | [`TokenRecord`] |
//! | `r/` | execution id | running marker (recovery) |
//! | `x/` | workflow `/` start ms `/` execution id | listing index by workflow |
//! | `y/` | workflow `/` status `/` start ms `/` execution id | by workflow and status |
//! | `i/`, `s/` | start ms `/` id; status `/` start ms `/` id | listing indexes of older versions, dropped in the background at each start (`Engine::drop_legacy_indexes`) |
//! | `m/` | name | store metadata (`m/indexes`: the `x/ y/` indexes are complete) |
//! | `c/` | kind `/` name | [`DocumentMeta`](crate::catalog::DocumentMeta) (catalog) |
//! | `cv/` | kind `/` name `/` version (20 digits) | [`Document`](crate::catalog::Document) |
//! | `d/` | CloudEvent source (`/` as `~1`) `/` id | deduplication record (ingest) |
//! | `dy/` | batch ms (20 digits) `/` UUID v7 | the `d/` keys a batch wrote, a JSON array (pruning by age) |
//! | `dx/` | accepted ms (20 digits) `/` source `/` id | one `d/` key: the age index of older versions, pruned alike |
//! | `p/` | source (`/` as `~1`) `/` key | a source's checkpoint (cron's last fire, …) |
//! | `u/` | ms (20 digits) `/` execution id `/` 0 (start) or 1 | [`StatusChange`](crate::StatusChange) (the status feed, when on) |
//! | `q/` | dead letter id (ms, 20 digits, `-` uuid) | [`DeadLetterRecord`](crate::ingest::DeadLetterRecord) |
//!
//! Only the engine's single writer writes; readers read sled directly. The
//! writer stages its writes in a [`Tx`] overlay (reads see them) and applies
//! them as one batch.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

use crate::error::EngineError;

pub(crate) fn num(n: u64) -> String {
    format!("{n:020}")
}

pub(crate) mod keys {
    use super::num;
    pub const WORKFLOWS: &str = "w/";
    /// Records that did not parse, under their own key.
    pub const QUARANTINE: &str = "q/";
    pub fn workflow(name: &str) -> String {
        format!("{WORKFLOWS}{name}")
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
    /// A child execution of `parent` (a Distributed Map item or a Task's
    /// `startExecution`), in the order they started.
    pub fn child(parent: &str, started_ms: i64, child: &str) -> String {
        format!("c/{parent}/{}/{child}", num(started_ms.max(0) as u64))
    }
    pub fn children_prefix(parent: &str) -> String {
        format!("c/{parent}/")
    }
    /// Item `index` of a Distributed Map frame (kept until its child succeeds).
    pub fn map_item(id: &str, frame: u64, index: usize) -> String {
        format!("mi/{id}/{}/{}", num(frame), num(index as u64))
    }
    /// The child execution of slot `index` of a Distributed Map frame.
    pub fn map_slot(id: &str, frame: u64, index: usize) -> String {
        format!("ms/{id}/{}/{}", num(frame), num(index as u64))
    }
    pub fn map_slots_prefix(id: &str, frame: u64) -> String {
        format!("ms/{id}/{}/", num(frame))
    }
    pub fn map_items_prefix(id: &str, frame: u64) -> String {
        format!("mi/{id}/{}/", num(frame))
    }
    /// Where a record that does not parse is set aside.
    pub fn quarantine(key: &str) -> String {
        format!("{QUARANTINE}{key}")
    }
    /// The result of iteration `index` of an inline Map frame.
    pub fn map_result(id: &str, frame: u64, index: usize) -> String {
        format!("mr/{id}/{}/{}", num(frame), num(index as u64))
    }
    pub fn map_results_prefix(id: &str, frame: u64) -> String {
        format!("mr/{id}/{}/", num(frame))
    }
    /// The input of an inline Map state, kept aside while it runs.
    pub fn fork_input(id: &str, frame: u64) -> String {
        format!("mf/{id}/{}", num(frame))
    }
    /// Every map item, slot, result and input record of an execution.
    pub fn map_prefixes(id: &str) -> [String; 4] {
        [
            format!("mi/{id}/"),
            format!("ms/{id}/"),
            format!("mr/{id}/"),
            format!("mf/{id}/"),
        ]
    }
    /// The variables of one frame's scope.
    pub fn variables(id: &str, frame: u64) -> String {
        format!("g/{id}/{}", num(frame))
    }
    pub fn variables_prefix(id: &str) -> String {
        format!("g/{id}/")
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
    /// The listing's name in page tokens: a token from one listing is
    /// refused by another.
    pub fn listing_label(workflow: Option<&str>, status: Option<crate::api::Status>) -> String {
        match (workflow, status) {
            (None, None) => "i/".to_string(),
            (None, Some(s)) => format!("s/{s}/"),
            (Some(w), None) => format!("x/{w}/"),
            (Some(w), Some(s)) => format!("y/{w}/{s}/"),
        }
    }
    /// The stored index prefix of one workflow, with or without a status;
    /// keys go on with `ms/id`. Both indexes are per workflow: a listing
    /// across workflows merges them (see `indexes::newest_first`).
    pub fn index_prefix(workflow: &str, status: Option<crate::api::Status>) -> String {
        listing_label(Some(workflow), status)
    }
    pub const WORKFLOW_INDEX: &str = "x/";
    pub fn index_key(prefix: &str, started_ms: i64, id: &str) -> String {
        format!("{prefix}{}/{id}", num(started_ms.max(0) as u64))
    }
    pub const INDEXES_DONE: &str = "m/indexes";
    /// The prefixes of the listing indexes older versions also kept.
    pub const LEGACY_INDEXES: [&str; 2] = ["i/", "s/"];
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
    /// The age index of the deduplication records one batch wrote: one
    /// key per batch, not per event (a key is a sled insert, and the
    /// writer's inserts are its main cost).
    pub fn dedupe_batch(at_ms: i64) -> String {
        format!(
            "{DEDUPE_BATCHES}{}/{}",
            num(at_ms.max(0) as u64),
            uuid::Uuid::now_v7()
        )
    }
    pub const DEDUPE_BATCHES: &str = "dy/";
    /// The age index of older versions: one key per record, `ms/source/id`.
    pub const DEDUPE_LEGACY: &str = "dx/";
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
        Some(bytes) => parse(key, &bytes).map(Some),
        None => Ok(None),
    }
}

/// A stored value, or [`EngineError::Corrupt`] naming its key.
pub(crate) fn parse<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, EngineError> {
    serde_json::from_slice(bytes).map_err(|e| EngineError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// Staged writes of one batch; reads see them before the tree. Writes of
/// the command being applied stay in `pending` until [`Tx::savepoint`], so a
/// command that fails halfway is dropped whole by [`Tx::rollback`].
pub(crate) struct Tx<'t> {
    tree: &'t sled::Tree,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    pending: BTreeMap<String, Option<Vec<u8>>>,
    /// Keys known not to be in the tree (see [`Tx::mark_new`]).
    new_keys: HashSet<String>,
    /// Bumped by every staged change to a workflow record (`w/`) and by
    /// every rollback: what was read from `w/` before may be stale.
    workflow_writes: u64,
}

impl<'t> Tx<'t> {
    pub fn new(tree: &'t sled::Tree) -> Self {
        Tx {
            tree,
            writes: BTreeMap::new(),
            pending: BTreeMap::new(),
            new_keys: HashSet::new(),
            workflow_writes: 0,
        }
    }

    fn staged(&self, key: &str) -> Option<&Option<Vec<u8>>> {
        self.pending.get(key).or_else(|| self.writes.get(key))
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, EngineError> {
        match self.staged(key) {
            Some(Some(bytes)) => parse(key, bytes).map(Some),
            Some(None) => Ok(None),
            None => get(self.tree, key),
        }
    }

    pub fn put<T: Serialize>(&mut self, key: String, value: &T) -> Result<(), EngineError> {
        self.note_write(&key);
        self.pending.insert(key, Some(serde_json::to_vec(value)?));
        Ok(())
    }

    /// The raw bytes under `key`, as staged.
    pub fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>, EngineError> {
        match self.staged(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(key.as_bytes())?.map(|v| v.to_vec())),
        }
    }

    /// Store raw bytes under `key`.
    pub fn put_raw(&mut self, key: String, bytes: Vec<u8>) {
        self.note_write(&key);
        self.pending.insert(key, Some(bytes));
    }

    /// [`Tx::put`], answering the size of the stored value.
    pub fn put_len<T: Serialize>(&mut self, key: String, value: &T) -> Result<usize, EngineError> {
        self.note_write(&key);
        let bytes = serde_json::to_vec(value)?;
        let len = bytes.len();
        self.pending.insert(key, Some(bytes));
        Ok(len)
    }

    pub fn remove(&mut self, key: String) {
        self.note_write(&key);
        self.pending.insert(key, None);
    }

    fn note_write(&mut self, key: &str) {
        if key.starts_with(keys::WORKFLOWS) {
            self.workflow_writes += 1;
        }
    }

    /// Changes when a workflow record may have changed (see `workflow_writes`).
    pub fn workflow_writes(&self) -> u64 {
        self.workflow_writes
    }

    /// `key` is not in the tree (it is derived from an id made in this
    /// batch): removing it again before the commit then costs nothing,
    /// instead of a no-op delete in the batch.
    pub fn mark_new(&mut self, key: String) {
        self.new_keys.insert(key);
    }

    /// Keep the current command's writes.
    pub fn savepoint(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.writes.extend(pending);
    }

    /// Drop the current command's writes.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.workflow_writes += 1;
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

    /// Apply every kept write atomically. The consecutive history events
    /// of one execution are stored as one key (see [`HistoryRun`]).
    pub fn commit(mut self) -> Result<(), EngineError> {
        self.savepoint();
        let mut batch = sled::Batch::default();
        let mut run = HistoryRun::default();
        for (k, v) in self.writes {
            match v {
                Some(bytes) => run.insert(&mut batch, k, bytes),
                None if self.new_keys.contains(&k) => {}
                None => batch.remove(k.as_bytes()),
            }
        }
        run.close(&mut batch);
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

/// Groups the history events a batch writes, in key order, into runs of
/// consecutive ids of one execution; a run of two or more is stored as one
/// JSON array at the first event's key. A transition typically writes
/// several events (a start: started, entered; a Pass state: exited,
/// entered next), and every key costs sled a tree insert, so this saves
/// much of the writer's work. Readers ([`history_events`]) take either
/// form, so stores written before read the same.
#[derive(Default)]
struct HistoryRun {
    open: Option<OpenRun>,
}

struct OpenRun {
    /// The first event's key; its first `prefix` bytes are `h/ID/`.
    key: String,
    prefix: usize,
    last: u64,
    /// `[` and the events so far, joined by `,`.
    buf: Vec<u8>,
    count: usize,
}

impl HistoryRun {
    /// Adds a write (in key order) to the batch, or to the open run.
    fn insert(&mut self, batch: &mut sled::Batch, key: String, bytes: Vec<u8>) {
        let Some(id) = history_id(&key) else {
            batch.insert(key.as_bytes(), bytes);
            return;
        };
        let prefix = key.len() - 20;
        if let Some(run) = &mut self.open {
            if run.prefix == prefix && run.key[..prefix] == key[..prefix] && id == run.last + 1 {
                run.buf.push(b',');
                run.buf.extend_from_slice(&bytes);
                run.last = id;
                run.count += 1;
                return;
            }
        }
        self.close(batch);
        // Room for a few events: a transition usually writes two to four.
        let mut buf = Vec::with_capacity(4 * bytes.len() + 8);
        buf.push(b'[');
        buf.extend_from_slice(&bytes);
        self.open = Some(OpenRun {
            key,
            prefix,
            last: id,
            buf,
            count: 1,
        });
    }

    /// Puts the open run in the batch.
    fn close(&mut self, batch: &mut sled::Batch) {
        if let Some(mut run) = self.open.take() {
            if run.count > 1 {
                run.buf.push(b']');
                batch.insert(run.key.as_bytes(), run.buf);
            } else {
                // One event is stored as itself, not as an array.
                batch.insert(run.key.as_bytes(), &run.buf[1..]);
            }
        }
    }
}

/// The event id of a history key (`h/ID/` and 20 digits).
fn history_id(key: &str) -> Option<u64> {
    let rest = key.strip_prefix("h/")?;
    let digits = rest.get(rest.len().checked_sub(20)?..)?;
    if !rest[..rest.len() - 20].ends_with('/') {
        return None;
    }
    digits.parse().ok()
}

/// One `h/` value as comma-separated event objects: the value itself, or
/// the inside of the array a batch stored (see [`HistoryRun`]), which was
/// written as `[` + events joined by `,` + `]`.
pub(crate) fn history_events_text(value: &[u8]) -> &[u8] {
    match value {
        [b'[', inner @ .., b']'] => inner,
        _ => value,
    }
}

/// The history events of one `h/` value.
pub(crate) fn history_events(
    value: &[u8],
) -> Result<Vec<crate::history::HistoryEvent>, EngineError> {
    if value.first() == Some(&b'[') {
        Ok(serde_json::from_slice(value)?)
    } else {
        Ok(vec![serde_json::from_slice(value)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: u64) -> serde_json::Value {
        json!({"id": id, "previousEventId": id - 1, "timestamp": "t", "type": "PassStateEntered"})
    }

    fn ids(value: &[u8]) -> Vec<u64> {
        history_events(value)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn a_batch_stores_consecutive_history_events_as_one_key() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        // Event 1 of execution a from an earlier batch, stored alone.
        let mut tx = Tx::new(&tree);
        tx.put(keys::history("a", 1), &event(1)).unwrap();
        tx.commit().unwrap();

        let mut tx = Tx::new(&tree);
        for id in [2, 3, 4, 7] {
            tx.put(keys::history("a", id), &event(id)).unwrap();
        }
        tx.put(keys::history("b", 9), &event(9)).unwrap();
        tx.put(keys::execution("a"), &json!({})).unwrap();
        tx.commit().unwrap();

        let stored: Vec<(String, Vec<u64>)> = tree
            .scan_prefix(b"h/")
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (String::from_utf8(k.to_vec()).unwrap(), ids(&v))
            })
            .collect();
        assert_eq!(
            stored,
            vec![
                (keys::history("a", 1), vec![1]),
                (keys::history("a", 2), vec![2, 3, 4]),
                (keys::history("a", 7), vec![7]),
                (keys::history("b", 9), vec![9]),
            ]
        );
        // The text form joins to a JSON array of every event.
        let mut text = b"[".to_vec();
        for (i, v) in tree.scan_prefix(b"h/a/").values().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend_from_slice(history_events_text(&v.unwrap()));
        }
        text.push(b']');
        let all: Vec<serde_json::Value> = serde_json::from_slice(&text).unwrap();
        assert_eq!(all, vec![event(1), event(2), event(3), event(4), event(7)]);
        assert!(tree.contains_key(keys::execution("a")).unwrap());
    }

    #[test]
    fn a_new_key_removed_in_its_batch_leaves_nothing_and_other_removals_apply() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        tree.insert("r/old", "true").unwrap();
        let mut tx = Tx::new(&tree);
        tx.mark_new(keys::running("new"));
        tx.put(keys::running("new"), &true).unwrap();
        tx.savepoint();
        tx.remove(keys::running("new"));
        tx.remove(keys::running("old"));
        tx.commit().unwrap();
        assert!(!tree.contains_key("r/new").unwrap());
        assert!(!tree.contains_key("r/old").unwrap());
    }

    #[test]
    fn only_history_keys_have_event_ids() {
        assert_eq!(history_id(&keys::history("x-1", 12)), Some(12));
        assert_eq!(history_id(&keys::frame("x-1", 12)), None);
        assert_eq!(history_id("h/short"), None);
    }
}
