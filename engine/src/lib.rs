//! # sluice-engine
//!
//! Durable ASL executions on sled. Every change of state is one command
//! applied by one writer inside one sled transaction ([`machine`]); the side
//! effects it asks for (dispatch a task, arm a timer, finish a waiter) run
//! only after the batch that holds it is flushed (group commit). A crash at
//! any instant loses nothing acknowledged: on start-up every RUNNING
//! execution resumes from its persisted frames.
//!
//! The engine knows nothing of Kafka, HTTP or wasm: tasks go through the
//! [`Executor`] trait that the executors crate implements.

mod error;
mod executor;
mod ids;

pub use error::EngineError;
pub use executor::{Executor, TaskError, TaskInvocation};
pub use ids::{ExecutionId, TaskToken};
