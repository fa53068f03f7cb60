//! A pure, in-memory ASL interpreter: the reference semantics that the local
//! runner (`sluice workflow run --local`) and the benchmarks use, and whose
//! pipeline steps (`pipeline`) the durable engine applies per transition.
//!
//! The caller is the [`Host`]: it runs tasks, owns the clock and supplies
//! randomness, so this module does no I/O.

mod context;
pub mod pipeline;
mod runner;
pub mod step;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::StatesError;
use crate::model::StateMachine;
use crate::Random;

/// Default maximum size of any state's input or output, in bytes (AWS: 256 KiB).
pub const DEFAULT_PAYLOAD_LIMIT: usize = 256 * 1024;

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// `$$.StateMachine.Name`.
    pub state_machine_name: String,
    /// `$$.Execution.StartTime`, and the start of the execution timeout.
    pub start_time: DateTime<Utc>,
    /// Largest state input/output in bytes (serialized JSON) before
    /// `States.DataLimitExceeded`.
    pub payload_limit: usize,
    /// Transitions allowed before the run fails: a guard against loops.
    pub max_transitions: u64,
    /// A ceiling on the run's duration in seconds, on top of the
    /// definition's `TimeoutSeconds` (EXPRESS executions: 300). Past
    /// either, the run fails with `States.Timeout`.
    pub max_seconds: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            execution_name: "local".into(),
            state_machine_name: "local".into(),
            start_time: DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
                .map(|t| t.to_utc())
                .unwrap_or_default(),
            payload_limit: DEFAULT_PAYLOAD_LIMIT,
            max_transitions: 1_000_000,
            max_seconds: None,
        }
    }
}

/// One invocation of a Task state's resource.
#[derive(Debug, Clone)]
pub struct TaskCall<'a> {
    /// The Task state's name.
    pub state: &'a str,
    /// The `Resource` as written.
    pub resource: &'a str,
    /// The effective parameters (after InputPath and Parameters).
    pub payload: &'a Value,
    /// 0 on the first attempt, then 1, 2, … across all retriers.
    pub retry_count: u32,
    /// The task token of a `.waitForTaskToken` resource.
    pub task_token: Option<&'a str>,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
}

/// What the interpreter needs from its surroundings.
pub trait Host {
    /// Run a task. An `Err` is a task failure with its ASL error name.
    fn invoke(&mut self, call: &TaskCall) -> Result<Value, StatesError>;
    /// Let `seconds` pass (Wait states and Retry backoff).
    fn sleep(&mut self, seconds: f64);
    /// The current time.
    fn now(&mut self) -> DateTime<Utc>;
    /// Randomness for `States.UUID`, `States.MathRandom` and jitter.
    fn random(&mut self) -> &mut dyn Random;
    /// A state was entered with `input`: for a host that keeps a history
    /// (EXPRESS executions on `sluice serve`). Nothing by default.
    fn state_entered(&mut self, _state: &crate::model::State, _input: &Value) {}
    /// A state was left with `output` (a state that fails out of its scope
    /// is not left: the failure ends the scope).
    fn state_exited(&mut self, _state: &crate::model::State, _output: &Value) {}
    /// The items an `ItemReader` reads (Distributed Map). A host without
    /// access to buckets fails the state with `States.ItemReaderFailed`.
    fn read_items(&mut self, request: &step::ReadRequest) -> Result<Vec<Value>, StatesError> {
        Err(StatesError::new(
            crate::error::names::ITEM_READER_FAILED,
            format!(
                "this run cannot read s3://{}/{}: give the Map its items in the input, or run it where buckets are configured",
                request.bucket, request.key
            ),
        ))
    }
    /// Write the outcomes of a Map's iterations where its `ResultWriter`
    /// says; returns the Map's result (`ResultWriterDetails`).
    fn write_results(
        &mut self,
        _state: &crate::model::State,
        request: &step::WriteRequest,
        _outcomes: &[Result<Value, StatesError>],
    ) -> Result<Value, StatesError> {
        Err(StatesError::new(
            crate::error::names::RESULT_WRITER_FAILED,
            format!(
                "this run cannot write to s3://{}/{}: remove the ResultWriter, or run it where buckets are configured",
                request.bucket, request.prefix
            ),
        ))
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(Value),
    Failed(StatesError),
}

/// Run `machine` on `input` to completion.
pub fn run(
    machine: &StateMachine,
    input: Value,
    options: &RunOptions,
    host: &mut dyn Host,
) -> Outcome {
    runner::Runner::new(machine, options, host).run(input)
}

#[cfg(test)]
mod tests;
