//! Change notifications for live views: after each batch is durable the
//! flusher publishes one [`ExecutionUpdate`] per execution the batch changed
//! (status, history), on a tokio broadcast channel. The updates are read
//! by the writer right after it applied the batch, so they show that
//! batch's state, not a later one's that is not durable yet. Subscribers that fall
//! behind get `RecvError::Lagged` and should re-read what they show.

use serde::Serialize;
use std::collections::BTreeSet;
use tokio::sync::broadcast;

use crate::api::Status;
use crate::records::ExecutionRecord;
use crate::store::{get, keys};

/// Updates buffered per subscriber before it counts as lagging.
const CAPACITY: usize = 4096;

/// An execution changed (a new history event, or a new status).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionUpdate {
    pub execution_id: String,
    pub workflow: String,
    pub version: u64,
    pub status: Status,
    pub started_at: String,
    pub stopped_at: Option<String>,
    /// Id of the newest history event.
    pub last_event: u64,
}

pub(crate) struct Watch {
    tx: broadcast::Sender<ExecutionUpdate>,
}

impl Watch {
    pub fn new() -> Self {
        Watch {
            tx: broadcast::channel(CAPACITY).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ExecutionUpdate> {
        self.tx.subscribe()
    }

    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// The state of these executions as the tree holds it now (call it
    /// right after applying the batch that changed them).
    pub fn updates(tree: &sled::Tree, executions: BTreeSet<String>) -> Vec<ExecutionUpdate> {
        let mut out = Vec::with_capacity(executions.len());
        for id in executions {
            let Ok(Some(rec)) = get::<ExecutionRecord>(tree, &keys::execution(&id)) else {
                continue;
            };
            let e = rec.execution;
            out.push(ExecutionUpdate {
                execution_id: id,
                workflow: e.workflow,
                version: e.version,
                status: e.status,
                started_at: e.started_at,
                stopped_at: e.stopped_at,
                last_event: rec.last_event,
            });
        }
        out
    }

    /// Publish updates (once their batch is durable).
    pub fn publish(&self, updates: Vec<ExecutionUpdate>) {
        for u in updates {
            // An error only means every subscriber left meanwhile.
            let _ = self.tx.send(u);
        }
    }
}
