//! ASL semantics as discrete steps, so that a run can stop between any two
//! and resume later (the durable engine persists what lies between):
//!
//! 1. [`enter`] a state with its raw input → it is done at once (Pass,
//!    Choice, Succeed), or it needs a task, a wait, or child runs (Parallel
//!    branches, Map iterations).
//! 2. [`complete`] it with the raw result, or report a failure to
//!    [`on_error`], which applies Retry then Catch.
//!
//! The in-memory runner drives these steps in a loop; every semantic rule
//! lives here once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

use super::context;
use super::pipeline::{check_size, error_output, merge_result, select, select_cow, shape};
use crate::error::{names, StatesError};
use crate::model::*;
use crate::path::preview;
use crate::retry::error_matches;
use crate::Random;

/// What a step may read and change: the context object, randomness, the
/// time, and the payload limit.
pub struct StepEnv<'a> {
    /// The context object (`$$`); `enter` sets `Task.Token` and `Map.Item`
    /// while it evaluates templates and removes them afterwards.
    pub context: &'a mut Value,
    pub rng: &'a mut dyn Random,
    pub now: DateTime<Utc>,
    /// Largest state input/output in bytes.
    pub payload_limit: usize,
}

/// Where a state sends the run after it succeeds.
#[derive(Debug, Clone, PartialEq)]
pub enum Exit {
    Next(String, Value),
    End(Value),
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
    /// The input of each iteration (after ItemSelector).
    pub items: Vec<Value>,
    /// Iterations in flight at once; 0 means no limit.
    pub max_concurrency: u64,
    pub tolerance: Tolerance,
}

/// The result of entering a state.
#[derive(Debug, Clone, PartialEq)]
pub enum Entered {
    /// The state finished at once.
    Done(Exit),
    /// Run this task, then [`complete`] with its result.
    Task(TaskRequest),
    /// Wait until `until`, then [`finish`] with `output`.
    Wait { until: DateTime<Utc>, output: Value },
    /// Run every branch on `input`, then [`complete`] with the array of
    /// branch outputs (or [`on_error`] with the first branch failure).
    Parallel { input: Value },
    /// Run every iteration, then [`complete`] with [`map_output`].
    Map(MapRequest),
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

fn size_ok(v: &Value, limit: usize, state: &State, what: &str) -> Result<(), StatesError> {
    // The message is only built when the check fails.
    check_size(v, limit, "").map_err(|mut e| {
        e.cause = format!(
            "The {what} of state '{}' has a size exceeding the maximum number of bytes service limit ({limit} bytes)",
            state.name
        );
        e
    })
}

/// Route a state's final output: check its size, then follow Next/End.
pub fn finish(state: &State, output: Value, env: &StepEnv) -> Result<Exit, StatesError> {
    size_ok(&output, env.payload_limit, state, "output")?;
    Ok(match &state.transition {
        Some(Transition::Next(n)) => Exit::Next(n.clone(), output),
        _ => Exit::End(output),
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
pub(super) fn enter_owned(
    state: &State,
    raw: Value,
    input_checked: bool,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    enter_cow(state, Cow::Owned(raw), input_checked, 0, env)
}

/// True when the state's output is its input, unchanged (`$` paths).
fn passes_input_through(state: &State) -> bool {
    matches!(
        (&state.input_path, &state.output_path),
        (DataPath::Whole, DataPath::Whole)
    )
}

fn enter_cow(
    state: &State,
    raw: Cow<'_, Value>,
    input_checked: bool,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    // The same document passes the same check: skip measuring it twice.
    let output_checked = input_checked && passes_input_through(state);
    match &state.kind {
        StateKind::Pass(p) => {
            let merged = match &p.result_path {
                // The result replaces the input, so the input can be consumed.
                ResultPath::Replace => {
                    let effective = select_cow(&state.input_path, raw, env.context, "InputPath")?;
                    pass_result(p, effective, env)?
                }
                path => {
                    let effective = select(&state.input_path, &raw, env.context, "InputPath")?;
                    let result = pass_result(p, effective, env)?;
                    merge_result(path, raw.into_owned(), result)?
                }
            };
            let out = select_cow(
                &state.output_path,
                Cow::Owned(merged),
                env.context,
                "OutputPath",
            )?
            .into_owned();
            finish(state, out, env).map(Entered::Done)
        }
        StateKind::Choice(c) => {
            let effective = select_cow(&state.input_path, raw, env.context, "InputPath")?;
            let mut next = None;
            for branch in &c.choices {
                if branch.condition.evaluate(&effective, env.context)? {
                    next = Some(branch.next.as_str());
                    break;
                }
            }
            let Some(next) = next.or(c.default.as_deref()) else {
                return Err(StatesError::new(
                    names::NO_CHOICE_MATCHED,
                    format!(
                        "No Choice Rules matched and no Default was specified in state '{}'",
                        state.name
                    ),
                ));
            };
            let out =
                select_cow(&state.output_path, effective, env.context, "OutputPath")?.into_owned();
            if !output_checked {
                size_ok(&out, env.payload_limit, state, "output")?;
            }
            Ok(Entered::Done(Exit::Next(next.to_string(), out)))
        }
        StateKind::Wait(w) => {
            let effective = select_cow(&state.input_path, raw, env.context, "InputPath")?;
            let until = wait_until(w, &effective, env)?;
            let output =
                select_cow(&state.output_path, effective, env.context, "OutputPath")?.into_owned();
            Ok(Entered::Wait { until, output })
        }
        StateKind::Succeed => {
            let effective = select_cow(&state.input_path, raw, env.context, "InputPath")?;
            let out =
                select_cow(&state.output_path, effective, env.context, "OutputPath")?.into_owned();
            if !output_checked {
                size_ok(&out, env.payload_limit, state, "output")?;
            }
            Ok(Entered::Done(Exit::End(out)))
        }
        StateKind::Fail(f) => {
            let error = fail_string(f.error.as_ref(), &raw, env, "ErrorPath")?;
            let cause = fail_string(f.cause.as_ref(), &raw, env, "CausePath")?;
            Err(StatesError::new(error, cause))
        }
        StateKind::Task(t) => enter_task(state, t, &raw, retry_count, env).map(Entered::Task),
        StateKind::Parallel(p) => {
            let effective = select(&state.input_path, &raw, env.context, "InputPath")?;
            let input = shape(p.parameters.as_ref(), effective, env.context, env.rng)?;
            Ok(Entered::Parallel { input })
        }
        StateKind::Map(m) => enter_map(state, m, &raw, env).map(Entered::Map),
    }
}

/// A Pass state's result: `Result`, else `Parameters` applied to the
/// effective input, else the effective input itself.
fn pass_result(
    p: &PassState,
    effective: Cow<'_, Value>,
    env: &mut StepEnv,
) -> Result<Value, StatesError> {
    match &p.result {
        Some(r) => Ok(r.clone()),
        None => shape(p.parameters.as_ref(), effective, env.context, env.rng),
    }
}

fn enter_task(
    state: &State,
    t: &TaskState,
    raw: &Value,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<TaskRequest, StatesError> {
    let effective = select(&state.input_path, raw, env.context, "InputPath")?;
    let task_token = t.wait_for_task_token.then(|| uuid(env.rng));
    if env.context.is_object() {
        context::set_retry_count(env.context, retry_count);
    }
    context::set_task_token(env.context, task_token.as_deref());
    let payload = shape(
        t.parameters.as_ref(),
        effective.clone(),
        env.context,
        env.rng,
    );
    context::set_task_token(env.context, None);
    let payload = payload?;
    size_ok(&payload, env.payload_limit, state, "input to the task")?;
    Ok(TaskRequest {
        payload,
        task_token,
        timeout_seconds: dynamic_u64(&t.timeout_seconds, &effective, env, "TimeoutSecondsPath")?,
        heartbeat_seconds: dynamic_u64(
            &t.heartbeat_seconds,
            &effective,
            env,
            "HeartbeatSecondsPath",
        )?,
    })
}

fn enter_map(
    state: &State,
    m: &MapState,
    raw: &Value,
    env: &mut StepEnv,
) -> Result<MapRequest, StatesError> {
    let effective = select(&state.input_path, raw, env.context, "InputPath")?.into_owned();
    let items = match &m.items_path {
        None => effective.clone(),
        Some(p) => p.select(&effective, env.context)?,
    };
    let Value::Array(items) = items else {
        return Err(StatesError::runtime(format!(
            "Map state '{}': ItemsPath must select an array, found {}",
            state.name,
            preview(&items)
        )));
    };
    let items = match &m.item_selector {
        None => items,
        Some(t) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                context::set_map_item(env.context, Some((index, &item)));
                let v = t.evaluate(&effective, env.context, env.rng);
                context::set_map_item(env.context, None);
                out.push(v?);
            }
            out
        }
    };
    let percentage = match &m.tolerated_failure_percentage {
        None => None,
        Some(Dynamic::Fixed(p)) => Some(*p),
        Some(Dynamic::Path(p)) => {
            let v = p.select(&effective, env.context)?;
            Some(v.as_f64().filter(|f| (0.0..=100.0).contains(f)).ok_or_else(|| {
                StatesError::runtime(format!(
                    "ToleratedFailurePercentagePath '{p}' must select a number from 0 to 100, found {}",
                    preview(&v)
                ))
            })?)
        }
    };
    let count = dynamic_u64(
        &m.tolerated_failure_count,
        &effective,
        env,
        "ToleratedFailureCountPath",
    )?;
    let max_concurrency = dynamic_u64(
        &Some(m.max_concurrency.clone()),
        &effective,
        env,
        "MaxConcurrencyPath",
    )?
    .unwrap_or(0);
    Ok(MapRequest {
        items,
        max_concurrency,
        tolerance: Tolerance { count, percentage },
    })
}

/// Combine the outcomes of the Map iterations that ran (of `total`): the
/// array of outputs (a tolerated failure appears as its `{"Error","Cause"}`),
/// or the failure that ends the Map.
pub fn map_output(
    state: &State,
    tolerance: Tolerance,
    total: u64,
    outcomes: Vec<Result<Value, StatesError>>,
) -> Result<Value, StatesError> {
    let mut failures = 0;
    let mut out = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Ok(v) => out.push(v),
            Err(e) if !tolerance.tolerant() || e.error == names::RUNTIME => return Err(e),
            Err(e) => {
                failures += 1;
                if tolerance.exceeded(failures, total) {
                    return Err(map_threshold_error(state, failures, total, &e));
                }
                out.push(error_output(&e));
            }
        }
    }
    Ok(Value::Array(out))
}

/// The error of a Map whose failed iterations passed its tolerance.
pub fn map_threshold_error(
    state: &State,
    failures: u64,
    total: u64,
    last: &StatesError,
) -> StatesError {
    StatesError::new(
        names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
        format!(
            "Map state '{}' exceeded its tolerated failures: {failures} of {total} iterations failed; the last failed with {}: {}",
            state.name, last.error, last.cause
        ),
    )
}

/// Finish a Task, Parallel or Map state with its raw result:
/// ResultSelector → ResultPath → OutputPath. An `Err` goes to [`on_error`].
pub fn complete(
    state: &State,
    raw: Value,
    result: Value,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    complete_cow(state, Cow::Owned(raw), result, env)
}

/// [`complete`] with a borrowed raw input, copied only when ResultPath
/// merges the result into it (the in-memory runner keeps it for retries).
pub(super) fn complete_cow(
    state: &State,
    raw: Cow<'_, Value>,
    result: Value,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    let Some(policy) = result_handling(state) else {
        return Err(StatesError::runtime(format!(
            "state '{}' does not take a result",
            state.name
        )));
    };
    if matches!(state.kind, StateKind::Task(_)) {
        size_ok(&result, env.payload_limit, state, "result of the task")?;
    }
    let selected = shape(
        policy.result_selector.as_ref(),
        Cow::Owned(result),
        env.context,
        env.rng,
    )?;
    let merged = match &policy.result_path {
        ResultPath::Replace => selected,
        path => merge_result(path, raw.into_owned(), selected)?,
    };
    let out = select_cow(
        &state.output_path,
        Cow::Owned(merged),
        env.context,
        "OutputPath",
    )?
    .into_owned();
    finish(state, out, env)
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
    match policy
        .catch
        .iter()
        .find(|c| error_matches(&c.error_equals, &error.error))
    {
        Some(c) => {
            let out = match merge_result(&c.result_path, raw, error_output(&error)) {
                Ok(out) => out,
                Err(e) => return OnError::Fail(e),
            };
            match size_ok(&out, env.payload_limit, state, "output") {
                Ok(()) => OnError::Caught(Exit::Next(c.next.clone(), out)),
                Err(e) => OnError::Fail(e),
            }
        }
        None => OnError::Fail(error),
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

fn fail_string(
    src: Option<&StringSource>,
    raw: &Value,
    env: &mut StepEnv,
    field: &str,
) -> Result<String, StatesError> {
    let value = match src {
        None => return Ok(String::new()),
        Some(StringSource::Fixed(s)) => return Ok(s.clone()),
        Some(StringSource::Path(p)) => p.select(raw, env.context)?,
        Some(StringSource::Intrinsic(f)) => f.eval(raw, env.context, env.rng)?,
    };
    match value {
        Value::String(s) => Ok(s),
        other => Err(StatesError::runtime(format!(
            "{field} must select a string, found {}",
            preview(&other)
        ))),
    }
}

fn wait_until(w: &WaitState, input: &Value, env: &StepEnv) -> Result<DateTime<Utc>, StatesError> {
    let after = |s: u64| env.now + chrono::Duration::seconds(s.min(i64::MAX as u64 / 1000) as i64);
    match w {
        WaitState::Seconds(s) => Ok(after(*s)),
        WaitState::Timestamp(t) => Ok(t.to_utc()),
        WaitState::SecondsPath(p) => {
            let v = p.select(input, env.context)?;
            v.as_u64().map(after).ok_or_else(|| {
                StatesError::runtime(format!(
                    "Wait SecondsPath '{p}' must select a non-negative whole number of seconds, found {}",
                    preview(&v)
                ))
            })
        }
        WaitState::TimestampPath(p) => {
            let v = p.select(input, env.context)?;
            v.as_str().and_then(crate::timestamp::parse).map(|t| t.to_utc()).ok_or_else(|| {
                StatesError::runtime(format!(
                    "Wait TimestampPath '{p}' must select an RFC 3339 timestamp such as \"2024-03-14T01:59:00Z\", found {}",
                    preview(&v)
                ))
            })
        }
    }
}

fn dynamic_u64(
    d: &Option<Dynamic<u64>>,
    input: &Value,
    env: &StepEnv,
    field: &str,
) -> Result<Option<u64>, StatesError> {
    match d {
        None => Ok(None),
        Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
        Some(Dynamic::Path(p)) => {
            let v = p.select(input, env.context)?;
            v.as_u64().map(Some).ok_or_else(|| {
                StatesError::runtime(format!(
                    "{field} '{p}' must select a non-negative whole number, found {}",
                    preview(&v)
                ))
            })
        }
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
