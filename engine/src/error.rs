//! Errors of the engine's API; each maps to one HTTP status in the console.

use sluice_dsl::Problems;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A definition or request is invalid (HTTP 400); problems carry JSON pointers.
    #[error("invalid definition:\n{0}")]
    Invalid(Problems),
    /// A request field is wrong (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing with that name or id (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// A payload or definition is too large (HTTP 413).
    #[error("{0}")]
    TooLarge(String),
    /// The store failed (HTTP 500).
    #[error("storage error: {0}")]
    Storage(String),
    /// A stored record does not parse (a flipped byte, a torn write): it
    /// is set aside under `q/` ([`crate::store::keys::quarantine`]) and
    /// the rest of the store goes on (HTTP 500 naming the key).
    #[error("the stored record {key} is corrupt ({reason}); it is set aside under q/{key} and the rest of the store goes on")]
    Corrupt { key: String, reason: String },
    /// The store's disk is below its free-space reserve (HTTP 507);
    /// nothing was stored.
    #[error("{0}")]
    DiskFull(String),
    /// The engine is shutting down (HTTP 503).
    #[error("the engine is shutting down")]
    ShuttingDown,
}

impl From<sled::Error> for EngineError {
    fn from(e: sled::Error) -> Self {
        EngineError::Storage(e.to_string())
    }
}

impl From<serde_json::Error> for EngineError {
    fn from(e: serde_json::Error) -> Self {
        EngineError::Storage(format!("corrupt record: {e}"))
    }
}
