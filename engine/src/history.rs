//! Execution history: an append-only list of events with Step Functions'
//! event type names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One history event (`GET /api/v1/executions/{id}/history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// 1, 2, 3, … within the execution.
    pub id: u64,
    /// The event this one follows from (0 for the first).
    pub previous_event_id: u64,
    /// RFC 3339, milliseconds.
    pub timestamp: String,
    /// e.g. `ExecutionStarted`, `TaskStateEntered`, `TaskScheduled`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Event details (`name`, `input`, `output`, `error`, `cause`, `resource`, …).
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// The `…StateEntered` / `…StateExited` event type of a state type.
pub fn state_event(state_type: &str, exited: bool) -> String {
    format!(
        "{state_type}State{}",
        if exited { "Exited" } else { "Entered" }
    )
}
