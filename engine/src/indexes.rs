//! The listing indexes by status (`s/`), workflow (`x/`) and both (`y/`),
//! kept in the same batch as the execution record they describe, so
//! `GET /api/v1/executions?workflow=&status=` reads one key range instead
//! of scanning every execution. Stores written before these indexes are
//! filled in once at open.

use crate::api::Status;
use crate::error::EngineError;
use crate::records::ExecutionRecord;
use crate::store::{keys, Tx};

fn status_keys(rec: &ExecutionRecord, status: Status) -> [String; 2] {
    let (w, ms, id) = (
        rec.execution.workflow.as_str(),
        rec.started_ms,
        rec.execution.execution_id.as_str(),
    );
    [
        keys::index_key(&keys::index_prefix(None, Some(status)), ms, id),
        keys::index_key(&keys::index_prefix(Some(w), Some(status)), ms, id),
    ]
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
    if let Some(old) = before {
        for k in status_keys(rec, old) {
            tx.remove(k);
        }
    } else {
        let w = rec.execution.workflow.as_str();
        let key = keys::index_key(
            &keys::index_prefix(Some(w), None),
            rec.started_ms,
            rec.execution.execution_id.as_str(),
        );
        tx.put(key, &true)?;
    }
    for k in status_keys(rec, now) {
        tx.put(k, &true)?;
    }
    Ok(())
}

/// Stage the removal of the index keys of a deleted execution whose
/// committed status was `committed` (`None`: never committed, so no keys).
pub(crate) fn remove(tx: &mut Tx<'_>, rec: &ExecutionRecord, committed: Option<Status>) {
    let Some(status) = committed else {
        return;
    };
    for k in status_keys(rec, status) {
        tx.remove(k);
    }
    let w = rec.execution.workflow.as_str();
    tx.remove(keys::index_key(
        &keys::index_prefix(Some(w), None),
        rec.started_ms,
        rec.execution.execution_id.as_str(),
    ));
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
            },
            started_ms,
            last_event: 0,
            next_frame: 1,
            frames: 0,
        }
    }

    fn keys_under(tree: &sled::Tree, prefix: &str) -> usize {
        tree.scan_prefix(prefix.as_bytes()).count()
    }

    #[test]
    fn a_store_from_before_the_indexes_gets_them_once() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        // Records as an older version wrote them: no s/, x/, y/ keys.
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
        assert_eq!(keys_under(&tree, "s/FAILED/"), 2);
        assert_eq!(keys_under(&tree, "s/SUCCEEDED/"), 1);
        assert_eq!(keys_under(&tree, "x/a/"), 2);
        assert_eq!(keys_under(&tree, "y/a/FAILED/"), 1);
        assert_eq!(keys_under(&tree, "y/b/FAILED/"), 1);
        assert_eq!(get::<bool>(&tree, keys::INDEXES_DONE).unwrap(), Some(true));
        // Done once: a later open does not rebuild (the marker is there).
        let succeeded: Vec<_> = tree.scan_prefix(b"s/SUCCEEDED/").keys().collect();
        for k in succeeded {
            tree.remove(k.unwrap()).unwrap();
        }
        backfill(&tree).unwrap();
        assert_eq!(keys_under(&tree, "s/SUCCEEDED/"), 0);
    }

    #[test]
    fn a_status_change_moves_the_execution_between_indexes() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let mut rec = record("a", Status::Running, 5);
        let mut tx = Tx::new(&tree);
        update(&mut tx, &rec, None).unwrap();
        tx.commit().unwrap();
        assert_eq!(keys_under(&tree, "s/RUNNING/"), 1);
        rec.execution.status = Status::Aborted;
        let mut tx = Tx::new(&tree);
        update(&mut tx, &rec, Some(Status::Running)).unwrap();
        tx.commit().unwrap();
        assert_eq!(keys_under(&tree, "s/RUNNING/"), 0);
        assert_eq!(keys_under(&tree, "y/a/RUNNING/"), 0);
        assert_eq!(keys_under(&tree, "s/ABORTED/"), 1);
        assert_eq!(keys_under(&tree, "y/a/ABORTED/"), 1);
        assert_eq!(
            keys_under(&tree, "x/a/"),
            1,
            "the workflow index is written once"
        );
    }
}
