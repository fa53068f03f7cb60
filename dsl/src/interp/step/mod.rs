//! ASL semantics as discrete steps, so that a run can stop between any two
//! and resume later (the durable engine persists what lies between):
//!
//! 1. [`enter`] a state with its raw input → it is done at once (Pass,
//!    Choice, Succeed), or it needs a task, a wait, items read from a
//!    bucket, or child runs (Parallel branches, Map iterations).
//! 2. [`complete`] it with the raw result, or report a failure to
//!    [`on_error`], which applies Retry then Catch.
//!
//! Each state type has its rules once per query language: `jsonpath.rs`
//! (InputPath → Parameters → ResultSelector → ResultPath → OutputPath) and
//! `jsonata.rs` (`$states`, `Arguments`, `Output`); Map items, selectors and
//! batches are in `map.rs`. A state's `Assign` is evaluated with the values
//! variables had when the state was entered and comes back in [`Exit`]: the
//! caller applies it to the scope when the state leaves.

mod jsonata;
mod jsonpath;
mod map;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

use crate::error::{names, StatesError};
use crate::model::*;
use crate::retry::error_matches;
use crate::vars::{Assigned, Variables};
use crate::Random;

pub use map::{map_output, map_threshold_error, ReadRequest, WriteRequest};

/// What a step may read and change: the context object, the variables in
/// scope, randomness, the time, and the payload limit.
pub struct StepEnv<'a> {
    /// The context object (`$$`, `$states.context`); `enter` sets
    /// `Task.Token` and `Map.Item` while it evaluates templates and removes
    /// them afterwards.
    pub context: &'a mut Value,
    /// The variables as they were when the state was entered.
    pub vars: &'a dyn Variables,
    pub rng: &'a mut dyn Random,
    pub now: DateTime<Utc>,
    /// Largest state input/output in bytes.
    pub payload_limit: usize,
    /// The history id of the state's `…StateEntered` event, when the caller
    /// keeps a history (named in JSONata error causes, as AWS does).
    pub entered_event: Option<u64>,
}

/// How a state leaves when it succeeds (or a catcher handles its failure).
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    /// The next state; `None` ends the scope.
    pub next: Option<String>,
    pub output: Value,
    /// The variables the state assigns, to apply as it leaves.
    pub assigned: Option<Assigned>,
}

/// A task to run on behalf of a Task state.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The effective parameters.
    pub payload: Value,
    /// Set for `.waitForTaskToken` resources.
    pub task_token: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
}

/// How many failed iterations a Map tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Tolerance {
    pub count: Option<u64>,
    pub percentage: Option<f64>,
}

impl Tolerance {
    /// True when some failures are tolerated at all.
    pub fn tolerant(&self) -> bool {
        self.count.is_some() || self.percentage.is_some()
    }
    /// True when `failures` of `total` exceeds either threshold.
    pub fn exceeded(&self, failures: u64, total: u64) -> bool {
        if !self.tolerant() {
            return failures > 0;
        }
        let over_count = self.count.is_some_and(|c| failures > c);
        let over_pct = self
            .percentage
            .is_some_and(|p| total > 0 && failures as f64 * 100.0 / total as f64 > p);
        over_count || over_pct
    }
}

/// The iterations of a Map state.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRequest {
    /// The input of each iteration (after ItemSelector and ItemBatcher).
    pub items: Vec<Value>,
    /// Iterations in flight at once; 0 means no limit.
    pub max_concurrency: u64,
    pub tolerance: Tolerance,
    /// Each iteration is a child execution (Distributed Map).
    pub distributed: bool,
}

/// The result of entering a state.
#[derive(Debug, Clone, PartialEq)]
pub enum Entered {
    /// The state finished at once.
    Done(Exit),
    /// Run this task, then [`complete`] with its result.
    Task(TaskRequest),
    /// Wait until `until`, then [`finish`] with `output` and `assigned`.
    Wait {
        until: DateTime<Utc>,
        output: Value,
        assigned: Option<Assigned>,
    },
    /// Run every branch on `input`, then [`complete`] with the array of
    /// branch outputs (or [`on_error`] with the first branch failure).
    Parallel { input: Value },
    /// Run every iteration, then [`complete`] with [`map_output`].
    Map(MapRequest),
    /// Read the Map's items from a bucket, then call [`items_read`].
    ReadItems(ReadRequest),
}

/// Retry bookkeeping of one state entry (persisted by the engine).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RetryState {
    /// Retries used per retrier, by position in `Retry`.
    pub used: Vec<u64>,
    /// Retries so far across all retriers (`$$.State.RetryCount`).
    pub retries: u32,
}

/// What to do about a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum OnError {
    /// Enter the state again after this many seconds.
    Retry { delay_seconds: f64 },
    /// A catcher handled it.
    Caught(Exit),
    /// The failure propagates (the execution, branch or iteration fails).
    Fail(StatesError),
}

pub(super) fn size_ok(
    v: &Value,
    limit: usize,
    state: &State,
    what: &str,
) -> Result<(), StatesError> {
    // One walk for both limits; the messages are only built when one fails.
    let m = super::pipeline::measure(v, limit);
    if m.too_deep {
        // Too deep to store back: refused like an oversized document, but
        // with States.Runtime (it is not a size).
        return Err(StatesError::runtime(crate::depth::too_deep(&format!(
            "The {what} of state '{}'",
            state.name
        ))));
    }
    if m.size > limit {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The {what} of state '{}' has a size exceeding the maximum number of bytes service limit ({limit} bytes)",
                state.name
            ),
        ));
    }
    Ok(())
}

/// Route a state's final output: check its size, then follow Next/End.
pub fn finish(
    state: &State,
    output: Value,
    assigned: Option<Assigned>,
    env: &StepEnv,
) -> Result<Exit, StatesError> {
    size_ok(&output, env.payload_limit, state, "output")?;
    if let Some(a) = &assigned {
        crate::vars::check_sizes(&state.name, a)?;
    }
    Ok(Exit {
        next: match &state.transition {
            Some(Transition::Next(n)) => Some(n.clone()),
            _ => None,
        },
        output,
        assigned,
    })
}

/// Enter `state` with its raw input. For Task, Parallel and Map states an
/// `Err` goes to [`on_error`]; for the others it fails the run.
pub fn enter(
    state: &State,
    raw: &Value,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    enter_cow(state, Cow::Borrowed(raw), false, retry_count, env)
}

/// [`enter`] with the raw input given away: for the states that never need
/// it again (Pass, Choice, Wait, Succeed, Fail have no Retry), the input then
/// flows to the output without being copied. `input_checked` says the input
/// already passed the size check (it is the previous state's output), so a
/// Choice or Succeed that passes it through unchanged need not measure it
/// again.
pub fn enter_owned(
    state: &State,
    raw: Value,
    input_checked: bool,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    enter_cow(state, Cow::Owned(raw), input_checked, 0, env)
}

fn enter_cow(
    state: &State,
    raw: Cow<'_, Value>,
    input_checked: bool,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    if env.context.is_object()
        && matches!(
            state.kind,
            StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_)
        )
    {
        super::context::set_retry_count(env.context, retry_count);
    }
    match state.query_language {
        QueryLanguage::JsonPath => jsonpath::enter(state, raw, input_checked, retry_count, env),
        QueryLanguage::Jsonata => jsonata::enter(state, raw, retry_count, env),
    }
}

/// Continue a Map whose `ItemReader` read `items`.
pub fn items_read(
    state: &State,
    raw: &Value,
    items: Vec<Value>,
    env: &mut StepEnv,
) -> Result<MapRequest, StatesError> {
    map::items_read(state, raw, items, env)
}

/// Where a Map with a `ResultWriter` writes its results (evaluated when its
/// iterations are done).
pub fn write_request(
    state: &State,
    raw: &Value,
    env: &mut StepEnv,
) -> Result<Option<WriteRequest>, StatesError> {
    map::write_request(state, raw, env)
}

/// Finish a Task, Parallel or Map state with its raw result:
/// JSONPath: ResultSelector → ResultPath → OutputPath; JSONata: `Output`.
/// An `Err` goes to [`on_error`].
pub fn complete(
    state: &State,
    raw: Value,
    result: Value,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    complete_cow(state, Cow::Owned(raw), result, env)
}

/// [`complete`] with a borrowed raw input, copied only when it is needed
/// (the in-memory runner keeps it for retries).
pub(crate) fn complete_cow(
    state: &State,
    raw: Cow<'_, Value>,
    result: Value,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    if result_handling(state).is_none() {
        return Err(StatesError::runtime(format!(
            "state '{}' does not take a result",
            state.name
        )));
    }
    if matches!(state.kind, StateKind::Task(_)) {
        size_ok(&result, env.payload_limit, state, "result of the task")?;
    }
    match state.query_language {
        QueryLanguage::JsonPath => jsonpath::complete(state, raw, result, env),
        QueryLanguage::Jsonata => jsonata::complete(state, raw, result, env),
    }
}

/// Apply the state's Retry policy, then its Catch policy, to a failure.
pub fn on_error(
    state: &State,
    raw: Value,
    error: StatesError,
    retry: &mut RetryState,
    env: &mut StepEnv,
) -> OnError {
    let Some(policy) = result_handling(state) else {
        return OnError::Fail(error);
    };
    if retry.used.len() < policy.retry.len() {
        retry.used.resize(policy.retry.len(), 0);
    }
    // The first retrier that matches decides; if it is exhausted, later
    // retriers are not consulted (AWS semantics).
    if let Some(i) = policy
        .retry
        .iter()
        .position(|r| error_matches(&r.error_equals, &error.error))
    {
        let r = &policy.retry[i];
        if retry.used[i] < r.max_attempts {
            let delay_seconds = r.delay_seconds(retry.used[i], env.rng);
            retry.used[i] += 1;
            retry.retries += 1;
            return OnError::Retry { delay_seconds };
        }
    }
    let Some(catcher) = policy
        .catch
        .iter()
        .find(|c| error_matches(&c.error_equals, &error.error))
    else {
        return OnError::Fail(error);
    };
    let caught = match state.query_language {
        QueryLanguage::JsonPath => jsonpath::catch(state, catcher, raw, &error, env),
        QueryLanguage::Jsonata => jsonata::catch(state, catcher, raw, &error, env),
    };
    let exit = caught.and_then(|(output, assigned)| {
        size_ok(&output, env.payload_limit, state, "output")?;
        if let Some(a) = &assigned {
            crate::vars::check_sizes(&state.name, a)?;
        }
        Ok(Exit {
            next: Some(catcher.next.clone()),
            output,
            assigned,
        })
    });
    match exit {
        Ok(exit) => OnError::Caught(exit),
        Err(e) => OnError::Fail(e),
    }
}

fn result_handling(state: &State) -> Option<&ResultHandling> {
    match &state.kind {
        StateKind::Task(t) => Some(&t.result),
        StateKind::Parallel(p) => Some(&p.result),
        StateKind::Map(m) => Some(&m.result),
        _ => None,
    }
}

/// The error output a Catcher passes on: `{"Error": …, "Cause": …}`.
pub fn error_output(error: &StatesError) -> Value {
    super::pipeline::error_output(error)
}

/// A non-negative whole number from a JSON value, or the error naming the field.
pub(super) fn whole_number(v: &Value, what: &str) -> Result<u64, StatesError> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        })
        .ok_or_else(|| {
            StatesError::runtime(format!(
                "{what} must be a non-negative whole number, found {}",
                crate::path::preview(v)
            ))
        })
}

/// AWS refuses a Wait that ends more than 2^31 - 1 seconds from now
/// (recorded: "Wait state delay is too long.").
pub(super) fn check_delay(
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<DateTime<Utc>, StatesError> {
    if (until - now).num_seconds() > i64::from(i32::MAX) {
        return Err(StatesError::runtime("Wait state delay is too long."));
    }
    Ok(until)
}

/// The time `seconds` after `now`.
pub(super) fn after(now: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    now + chrono::Duration::seconds(seconds.min(i64::MAX as u64 / 1000) as i64)
}

/// The error of a `Fail` state: no `Error` means no error name.
pub(super) fn fail_error(error: Option<String>, cause: Option<String>) -> StatesError {
    StatesError::new(error.unwrap_or_default(), cause.unwrap_or_default())
}

/// `States.Runtime` for an Assign whose value is too large, et al.
pub(super) fn check_assigned(state: &State, a: &Option<Assigned>) -> Result<(), StatesError> {
    match a {
        Some(a) => crate::vars::check_sizes(&state.name, a),
        None => Ok(()),
    }
}

/// A v4 UUID from the caller's randomness (task tokens).
pub fn uuid(rng: &mut dyn Random) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}
