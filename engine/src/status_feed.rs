//! The execution status feed: when turned on
//! ([`EngineConfig::status_feed`](crate::EngineConfig)), every status change
//! of an execution (started, succeeded, failed, timed out, aborted,
//! redriven) is written under `u/` in the same batch as the change itself,
//! so a publisher that reads the feed, publishes, then acknowledges
//! ([`Engine::ack_status_changes`]) delivers each change at least once,
//! across crashes. The engine does not publish anything itself.

use serde::{Deserialize, Serialize};

use crate::api::Status;
use crate::error::EngineError;
use crate::runtime::Engine;
use crate::store::{keys, Tx};

/// One status change of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    /// The feed key; pass it back to [`Engine::ack_status_changes`].
    #[serde(skip)]
    pub key: String,
    pub execution_id: String,
    pub workflow: String,
    pub status: Status,
    /// The status before (`None` for a new execution; `FAILED` etc. for a
    /// redrive back to `RUNNING`).
    pub previous: Option<Status>,
    /// When the change was stored (RFC 3339).
    pub at: String,
}

/// Stages the feed records of one execution's change from `before` to
/// `change.status` (an execution created and finished in one batch gets
/// its `RUNNING` record too). Keys sort by time, then execution, then
/// start before end.
pub(crate) fn record(
    tx: &mut Tx<'_>,
    at_ms: i64,
    before: Option<crate::api::Status>,
    mut change: StatusChange,
) -> Result<(), EngineError> {
    let id = change.execution_id.clone();
    if before.is_none() && change.status != Status::Running {
        let started = StatusChange {
            status: Status::Running,
            ..change.clone()
        };
        tx.put(keys::status_change(at_ms, &id, 0), &started)?;
        change.previous = Some(Status::Running);
    }
    let n = u8::from(change.status != Status::Running);
    tx.put(keys::status_change(at_ms, &id, n), &change)
}

impl Engine {
    /// The oldest unacknowledged status changes, at most `limit`, once
    /// they are durable (so none is published that a crash could undo).
    pub async fn status_changes(&self, limit: usize) -> Result<Vec<StatusChange>, EngineError> {
        let mut out = Vec::new();
        for item in self.tree().scan_prefix(keys::STATUS_FEED).take(limit) {
            let (k, v) = item?;
            let mut change: StatusChange = serde_json::from_slice(&v)?;
            change.key = String::from_utf8_lossy(&k).into_owned();
            out.push(change);
        }
        self.durable_barrier().await?;
        Ok(out)
    }

    /// Removes published changes from the feed, durably.
    pub async fn ack_status_changes(&self, keys: Vec<String>) -> Result<(), EngineError> {
        if keys.iter().any(|k| !k.starts_with(keys::STATUS_FEED)) {
            return Err(EngineError::BadRequest(
                "only status feed keys can be acknowledged".into(),
            ));
        }
        self.store_keys(keys.into_iter().map(|k| (k, None)).collect())
            .await
    }
}
