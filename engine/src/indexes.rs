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
