//! # sluice-engine
//!
//! Durable ASL executions on sled. Every change of state is one command
//! applied by one writer ([`machine`]); a batch of commands is written with
//! one atomic sled batch and one flush (group commit), and the side effects
//! they ask for (dispatch a task, arm a timer, answer a caller) run only
//! after that flush. A crash at any instant loses nothing acknowledged: on
//! start-up every RUNNING execution resumes from its persisted frames, and a
//! task that was dispatched but not completed is dispatched again with the
//! same idempotency key.
//!
//! The engine knows nothing of Kafka, HTTP or wasm: tasks go through the
//! [`Executor`] trait that the executors crate implements, and events come
//! in through the [`EventSink`] trait that the engine implements for the
//! connectors.

mod api;
mod buckets;
mod catalog;
pub mod disk;
mod error;
mod events;
mod executor;
mod history;
mod ids;
mod ingest;

pub use api::*;
pub use buckets::{Buckets, NoBuckets, ObjectInfo};
pub use catalog::{Document, DocumentChange};
pub use error::EngineError;
pub use events::{DeadLetter, EventOutcome, EventSink, InboundEvent};
pub use executor::{
    within_timeout, Executor, TaskError, TaskInvocation, TaskMeter, TaskOutcome, HISTORY_OUTPUT_CAP,
};
pub use history::HistoryEvent;
pub use ids::{ExecutionId, TaskToken};
mod indexes;
pub use ingest::{DeadLetterPage, DeadLetterRecord, EventStats};
mod machine;
mod records;
mod store;

pub use machine::{check_name, Limits, BYTES_BUDGET, STEP_BUDGET};
mod queries;
mod runtime;

pub use queries::MAX_PAGE;
pub use runtime::{Durability, Engine, EngineConfig, DEFAULT_CACHE_BYTES};
mod status_feed;
#[cfg(test)]
mod test_support;
pub use status_feed::StatusChange;
mod watch;
pub use watch::ExecutionUpdate;

/// The current time as the engine writes times (RFC 3339, milliseconds,
/// UTC), for records kept beside the engine's own.
pub fn now_rfc3339() -> String {
    machine::now_string(chrono::Utc::now())
}
