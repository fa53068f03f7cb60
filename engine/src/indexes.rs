//! The listing indexes, both per workflow: by workflow (`x/`) and by
//! workflow and status (`y/`), kept in the same batch as the execution
//! record they describe, so `GET /api/v1/executions?workflow=&status=`
//! reads one key range instead of scanning every execution. A listing
//! across workflows merges the ranges of every workflow ([`newest_first`]).
//!
//! Why per workflow only: every index key is a sled insert in the batch
//! that starts the execution, the writer's main cost. Older versions also
//! kept `i/` (all) and `s/` (by status); reading those was one range
//! instead of one per workflow, but writing them cost two of the nine
//! inserts of a trigger-started execution. The merge stays exact: `x/`
//! keys never move, and a `y/` key moves only between statuses of its own
//! workflow, just as an `s/` key moved between status ranges.
//!
//! Stores written before these indexes are filled in once at open; the
//! `i/` and `s/` keys of older versions are dropped in the background.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::api::Status;
use crate::error::EngineError;
use crate::records::ExecutionRecord;
use crate::runtime::Engine;
use crate::store::{keys, Tx};

fn status_key(rec: &ExecutionRecord, status: Status) -> String {
    let w = rec.execution.workflow.as_str();
    keys::index_key(
        &keys::index_prefix(w, Some(status)),
        rec.started_ms,
        rec.execution.execution_id.as_str(),
    )
}

fn workflow_key(rec: &ExecutionRecord) -> String {
    let w = rec.execution.workflow.as_str();
    keys::index_key(
        &keys::index_prefix(w, None),
        rec.started_ms,
        rec.execution.execution_id.as_str(),
    )
}

/// Stage the index changes for `rec`, whose committed status was `before`
/// (`None`: the execution is new in this batch).
pub(crate) fn update(
    tx: &mut Tx<'_>,
    rec: &ExecutionRecord,
    before: Option<Status>,
) -> Result<(), EngineError> {
    let now = rec.execution.status;
    if before == Some(now) {
        return Ok(());
    }
    match before {
        Some(old) => tx.remove(status_key(rec, old)),
        None => tx.put(workflow_key(rec), &true)?,
    }
    tx.put(status_key(rec, now), &true)
}

/// Stage the removal of the index keys of a deleted execution whose
/// committed status was `committed` (`None`: never committed, so no keys).
pub(crate) fn remove(tx: &mut Tx<'_>, rec: &ExecutionRecord, committed: Option<Status>) {
    let Some(status) = committed else {
        return;
    };
    tx.remove(status_key(rec, status));
    tx.remove(workflow_key(rec));
}

/// Every workflow with an execution in the index, in name order: a skip
/// scan over `x/` that costs one seek per workflow, however many
/// executions each has. (Deleted workflows whose executions remain are
/// included; the catalog `w/` would miss them.)
pub(crate) fn indexed_workflows(tree: &sled::Tree) -> Result<Vec<String>, EngineError> {
    let base = keys::WORKFLOW_INDEX.as_bytes();
    let mut out = Vec::new();
    let mut from = base.to_vec();
    loop {
        let Some((key, _)) = tree.range(from.as_slice()..).next().transpose()? else {
            break;
        };
        let Some(rest) = key.strip_prefix(base) else {
            break;
        };
        let Some(end) = rest.iter().position(|&b| b == b'/') else {
            break;
        };
        out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        // Just past every key of `x/NAME/`: the same with '/' + 1 = '0'.
        from = key[..base.len() + end].to_vec();
        from.push(b'0');
    }
    Ok(out)
}

/// The index prefixes a listing reads: its workflow's, or every
/// workflow's when it names none.
pub(crate) fn listing_prefixes(
    tree: &sled::Tree,
    workflow: Option<&str>,
    status: Option<Status>,
) -> Result<Vec<String>, EngineError> {
    Ok(match workflow {
        Some(w) => vec![keys::index_prefix(w, status)],
        None => indexed_workflows(tree)?
            .iter()
            .map(|w| keys::index_prefix(w, status))
            .collect(),
    })
}

/// The `ms/id` suffixes of the index keys under `prefixes` in
/// `[lower, upper)` (suffix bounds), newest first: a merge of one reverse
/// range per prefix (the prefixes are of different workflows, so no
/// execution is under two of them).
pub(crate) fn newest_first<'a>(
    tree: &'a sled::Tree,
    prefixes: &[String],
    lower: &str,
    upper: &str,
) -> impl Iterator<Item = Result<String, EngineError>> + 'a {
    let mut ranges: Vec<_> = prefixes
        .iter()
        .map(|p| {
            let skip = p.len();
            let (from, to) = (format!("{p}{lower}"), format!("{p}{upper}"));
            tree.range(from.into_bytes()..to.into_bytes())
                .keys()
                .rev()
                .map(move |k| -> Result<String, EngineError> {
                    Ok(String::from_utf8_lossy(&k?[skip..]).into_owned())
                })
        })
        .collect();
    // The next suffix of each range not yet exhausted, largest on top.
    let mut heads: BinaryHeap<(String, Reverse<usize>)> = BinaryHeap::new();
    let mut pending: Vec<usize> = (0..ranges.len()).collect();
    std::iter::from_fn(move || {
        for i in pending.drain(..) {
            match ranges[i].next() {
                Some(Ok(s)) => heads.push((s, Reverse(i))),
                Some(Err(e)) => return Some(Err(e)),
                None => {}
            }
        }
        let (s, Reverse(i)) = heads.pop()?;
        pending.push(i);
        Some(Ok(s))
    })
}

impl Engine {
    /// Drops the `i/` and `s/` index keys of older versions (see the
    /// module's header), 10,000 at a time through the writer, at each start.
    pub(crate) async fn drop_legacy_indexes(self) {
        match self.drop_legacy_index_keys().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys = n, "listing index keys of an older version dropped"),
            Err(EngineError::ShuttingDown) => {}
            Err(e) => {
                tracing::warn!(error = %e, "dropping the listing index keys of an older version failed; retried at the next start")
            }
        }
    }

    /// No marker says it was done: an older binary run on the store in
    /// between writes such keys again, and each check is one seek.
    async fn drop_legacy_index_keys(&self) -> Result<usize, EngineError> {
        let mut total = 0;
        for prefix in keys::LEGACY_INDEXES {
            loop {
                let mut batch = Vec::new();
                for k in self.tree().scan_prefix(prefix).keys().take(10_000) {
                    batch.push((String::from_utf8_lossy(&k?).into_owned(), None));
                }
                if batch.is_empty() {
                    break;
                }
                total += batch.len();
                self.store_keys(batch).await?;
            }
        }
        Ok(total)
    }
}

/// Fill the indexes of a store written before they existed (once).
pub(crate) fn backfill(tree: &sled::Tree) -> Result<(), EngineError> {
    if tree.contains_key(keys::INDEXES_DONE)? {
        return Ok(());
    }
    let mut tx = Tx::new(tree);
    let mut n = 0u64;
    for v in tree.scan_prefix(keys::execution("")).values() {
        let rec: ExecutionRecord = serde_json::from_slice(&v?)?;
        update(&mut tx, &rec, None)?;
        n += 1;
    }
    tx.put(keys::INDEXES_DONE.to_string(), &true)?;
    tx.commit()?;
    tree.flush()?;
    if n > 0 {
        tracing::info!(executions = n, "listing indexes built");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Execution;
    use crate::ids::ExecutionId;
    use crate::store::get;
    use crate::test_support::NoTasks;
    use serde_json::Value;

    fn record(workflow: &str, status: Status, started_ms: i64) -> ExecutionRecord {
        ExecutionRecord {
            execution: Execution {
                execution_id: ExecutionId::new(),
                workflow: workflow.into(),
                version: 1,
                name: "n".into(),
                status,
                input: Value::Null,
                output: None,
                error: None,
                cause: None,
                started_at: "2026-01-01T00:00:00.000Z".into(),
                stopped_at: None,
                redrive_count: 0,
                parent: None,
            },
            started_ms,
            last_event: 0,
            history_bytes: 0,
            next_frame: 1,
            frames: 0,
            child_of: None,
            express: false,
        }
    }

    fn keys_under(tree: &sled::Tree, prefix: &str) -> usize {
        tree.scan_prefix(prefix.as_bytes()).count()
    }

    #[test]
    fn a_store_from_before_the_indexes_gets_them_once() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        // Records as an older version wrote them: no x/, y/ keys.
        let recs = [
            record("a", Status::Succeeded, 1),
            record("a", Status::Failed, 2),
            record("b", Status::Failed, 3),
        ];
        for r in &recs {
            let key = keys::execution(r.execution.execution_id.as_str());
            tree.insert(key.as_bytes(), serde_json::to_vec(r).unwrap())
                .unwrap();
        }
        backfill(&tree).unwrap();
        assert_eq!(keys_under(&tree, "y/a/SUCCEEDED/"), 1);
        assert_eq!(keys_under(&tree, "x/a/"), 2);
        assert_eq!(keys_under(&tree, "x/b/"), 1);
        assert_eq!(keys_under(&tree, "y/a/FAILED/"), 1);
        assert_eq!(keys_under(&tree, "y/b/FAILED/"), 1);
        assert_eq!(get::<bool>(&tree, keys::INDEXES_DONE).unwrap(), Some(true));
        // Done once: a later open does not rebuild (the marker is there).
        let succeeded: Vec<_> = tree.scan_prefix(b"y/a/SUCCEEDED/").keys().collect();
        for k in succeeded {
            tree.remove(k.unwrap()).unwrap();
        }
        backfill(&tree).unwrap();
        assert_eq!(keys_under(&tree, "y/a/SUCCEEDED/"), 0);
    }

    #[test]
    fn a_status_change_moves_the_execution_between_indexes() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let mut rec = record("a", Status::Running, 5);
        let mut tx = Tx::new(&tree);
        update(&mut tx, &rec, None).unwrap();
        tx.commit().unwrap();
        assert_eq!(keys_under(&tree, "y/a/RUNNING/"), 1);
        rec.execution.status = Status::Aborted;
        let mut tx = Tx::new(&tree);
        update(&mut tx, &rec, Some(Status::Running)).unwrap();
        tx.commit().unwrap();
        assert_eq!(keys_under(&tree, "y/a/RUNNING/"), 0);
        assert_eq!(keys_under(&tree, "y/a/ABORTED/"), 1);
        assert_eq!(
            keys_under(&tree, "x/a/"),
            1,
            "the workflow index is written once"
        );
    }

    fn put_index(tree: &sled::Tree, rec: &ExecutionRecord) {
        let mut tx = Tx::new(tree);
        update(&mut tx, rec, None).unwrap();
        tx.commit().unwrap();
    }

    fn merged(
        tree: &sled::Tree,
        w: Option<&str>,
        s: Option<Status>,
        lower: &str,
        upper: &str,
    ) -> Vec<String> {
        let prefixes = listing_prefixes(tree, w, s).unwrap();
        newest_first(tree, &prefixes, lower, upper)
            .map(|s| s.unwrap())
            .collect()
    }

    #[test]
    fn listings_across_workflows_merge_the_workflows_ranges_newest_first() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        // Names that sort around the '/' separator: "a-b" < "a/" < "a0".
        let recs = [
            record("a", Status::Succeeded, 10),
            record("a", Status::Running, 40),
            record("a-b", Status::Failed, 20),
            record("a0", Status::Failed, 30),
            record("b", Status::Aborted, 5),
            record("a", Status::Failed, 25),
        ];
        for r in &recs {
            put_index(&tree, r);
        }
        // In key order: "x/a-b/" sorts before "x/a/".
        assert_eq!(indexed_workflows(&tree).unwrap(), ["a-b", "a", "a0", "b"]);
        let suffix = |i: usize| {
            format!(
                "{}/{}",
                crate::store::num(recs[i].started_ms as u64),
                recs[i].execution.execution_id
            )
        };
        assert_eq!(
            merged(&tree, None, None, "", "~"),
            [1, 3, 5, 2, 0, 4].map(suffix),
            "every workflow, every status, by start time descending"
        );
        assert_eq!(
            merged(&tree, None, Some(Status::Failed), "", "~"),
            [3, 5, 2].map(suffix)
        );
        assert_eq!(
            merged(&tree, Some("a"), None, "", "~"),
            [1, 5, 0].map(suffix)
        );
        // Bounds are on the suffix: below 30 ms, from 10 ms on.
        let (lower, upper) = (crate::store::num(10), crate::store::num(30));
        assert_eq!(
            merged(&tree, None, None, &lower, &upper),
            [5, 2, 0].map(suffix)
        );
        // A status change moves the key within its workflow only.
        let mut moved = recs[1].clone();
        moved.execution.status = Status::Failed;
        let mut tx = Tx::new(&tree);
        update(&mut tx, &moved, Some(Status::Running)).unwrap();
        tx.commit().unwrap();
        assert_eq!(
            merged(&tree, None, Some(Status::Failed), "", "~"),
            [1, 3, 5, 2].map(suffix)
        );
        assert_eq!(
            merged(&tree, None, Some(Status::Running), "", "~"),
            Vec::<String>::new()
        );
        assert_eq!(
            merged(&tree, None, None, "", "~"),
            [1, 3, 5, 2, 0, 4].map(suffix)
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_index_keys_of_older_versions_are_dropped_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A store as an older version left it: i/ and s/ keys too.
            let db = sled::open(dir.path()).unwrap();
            let tree = db.open_tree("sluice").unwrap();
            for k in ["i/1/a", "i/2/b", "s/FAILED/1/a", "s/RUNNING/2/b", "x/w/1/a"] {
                tree.insert(k, "true").unwrap();
            }
            db.flush().unwrap();
        }
        let engine = Engine::open(
            crate::EngineConfig::new(dir.path()),
            std::sync::Arc::new(NoTasks),
        )
        .unwrap();
        let tree = engine.tree();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while keys_under(tree, "i/") + keys_under(tree, "s/") > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "not dropped within 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(keys_under(tree, "x/w/"), 1, "the current indexes stay");
    }
}
