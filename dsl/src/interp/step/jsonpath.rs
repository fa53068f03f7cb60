//! States in the JSONPath query language: InputPath → Parameters → (the
//! result) → ResultSelector → ResultPath → OutputPath, with `Assign` reading
//! the state's result as `$` (its effective input where it has no result:
//! Choice and Wait) and every path reading variables as they were when the
//! state was entered.

use serde_json::Value;
use std::borrow::Cow;

use super::{finish, map, size_ok, uuid, Entered, Exit, StepEnv, TaskRequest};
use crate::error::{names, StatesError};
use crate::interp::context;
use crate::interp::pipeline::{error_output, merge_result, select, select_cow, shape};
use crate::model::*;
use crate::path::preview;
use crate::retry::Catcher;
use crate::template::Template;
use crate::vars::Assigned;

/// What paths of the state read besides its input.
macro_rules! docs {
    ($env:expr) => {
        $crate::path::Docs {
            context: &*$env.context,
            vars: $env.vars,
        }
    };
}
pub(super) use docs;

/// The JSONPath template of a `Parameters`-like field.
pub(super) fn path_template(shape: Option<&Shape>) -> Option<&Template> {
    match shape {
        Some(Shape::Path(t)) => Some(t),
        _ => None,
    }
}

/// The variables an `Assign` sets, reading `value` as `$`.
pub(super) fn assign(
    shape: Option<&Shape>,
    value: &Value,
    env: &mut StepEnv,
) -> Result<Option<Assigned>, StatesError> {
    let Some(t) = path_template(shape) else {
        return Ok(None);
    };
    match t.evaluate(value, docs!(env), env.rng)? {
        // `Assign: {}` assigns nothing (and history shows no assignedVariables).
        Value::Object(map) if map.is_empty() => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(StatesError::runtime(format!(
            "Assign must build an object of variables, built {}",
            preview(&other)
        ))),
    }
}

/// True when the state's output is its input, unchanged (`$` paths).
fn passes_input_through(state: &State) -> bool {
    matches!(
        (&state.input_path, &state.output_path),
        (DataPath::Whole, DataPath::Whole)
    )
}

pub(super) fn enter(
    state: &State,
    raw: Cow<'_, Value>,
    input_checked: bool,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    // The same document passes the same check: skip measuring it twice.
    let output_checked = input_checked && passes_input_through(state);
    match &state.kind {
        StateKind::Pass(p) => pass(state, p, raw, env).map(Entered::Done),
        StateKind::Choice(c) => choice(state, c, raw, output_checked, env).map(Entered::Done),
        StateKind::Wait(w) => {
            let effective = select_cow(&state.input_path, raw, docs!(env), "InputPath")?;
            let until = super::check_delay(env.now, wait_until(w, &effective, env)?)?;
            let assigned = assign(state.assign.as_ref(), &effective, env)?;
            let output =
                select_cow(&state.output_path, effective, docs!(env), "OutputPath")?.into_owned();
            Ok(Entered::Wait {
                until,
                output,
                assigned,
            })
        }
        StateKind::Succeed => {
            let effective = select_cow(&state.input_path, raw, docs!(env), "InputPath")?;
            let out =
                select_cow(&state.output_path, effective, docs!(env), "OutputPath")?.into_owned();
            if !output_checked {
                size_ok(&out, env.payload_limit, state, "output")?;
            }
            Ok(Entered::Done(Exit {
                next: None,
                output: out,
                assigned: None,
            }))
        }
        StateKind::Fail(f) => {
            let error = fail_string(f.error.as_ref(), &raw, env, "ErrorPath")?;
            let cause = fail_string(f.cause.as_ref(), &raw, env, "CausePath")?;
            Err(super::fail_error(error, cause))
        }
        StateKind::Task(t) => task(state, t, &raw, retry_count, env).map(Entered::Task),
        StateKind::Parallel(p) => {
            let effective = select(&state.input_path, &raw, docs!(env), "InputPath")?;
            let input = shape(
                path_template(p.parameters.as_ref()),
                effective,
                docs!(env),
                env.rng,
            )?;
            Ok(Entered::Parallel { input })
        }
        StateKind::Map(m) => {
            let effective = select(&state.input_path, &raw, docs!(env), "InputPath")?.into_owned();
            map::enter(state, m, &raw, effective, env)
        }
    }
}

fn pass(
    state: &State,
    p: &PassState,
    raw: Cow<'_, Value>,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    let (merged, assigned) = match &p.result_path {
        // The result replaces the input, so the input can be consumed.
        ResultPath::Replace => {
            let effective = select_cow(&state.input_path, raw, docs!(env), "InputPath")?;
            let result = pass_result(p, effective, env)?;
            let assigned = assign(state.assign.as_ref(), &result, env)?;
            (result, assigned)
        }
        path => {
            let effective = select(&state.input_path, &raw, docs!(env), "InputPath")?;
            let result = pass_result(p, effective, env)?;
            let assigned = assign(state.assign.as_ref(), &result, env)?;
            (merge_result(path, raw.into_owned(), result)?, assigned)
        }
    };
    let out = select_cow(
        &state.output_path,
        Cow::Owned(merged),
        docs!(env),
        "OutputPath",
    )?
    .into_owned();
    finish(state, out, assigned, env)
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
        None => shape(p.parameters.as_ref(), effective, docs!(env), env.rng),
    }
}

fn choice(
    state: &State,
    c: &ChoiceState,
    raw: Cow<'_, Value>,
    output_checked: bool,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    let effective = select_cow(&state.input_path, raw, docs!(env), "InputPath")?;
    let mut taken = None;
    for branch in &c.choices {
        if branch.condition.evaluate(&effective, docs!(env))? {
            taken = Some(branch);
            break;
        }
    }
    let (next, assign_shape) = match (taken, &c.default) {
        (Some(b), _) => (b.next.as_str(), b.assign.as_ref()),
        (None, Some(d)) => (d.as_str(), state.assign.as_ref()),
        (None, None) => return Err(no_choice_matched(state)),
    };
    let assigned = assign(assign_shape, &effective, env)?;
    super::check_assigned(state, &assigned)?;
    let out = select_cow(&state.output_path, effective, docs!(env), "OutputPath")?.into_owned();
    if !output_checked {
        size_ok(&out, env.payload_limit, state, "output")?;
    }
    Ok(Exit {
        next: Some(next.to_string()),
        output: out,
        assigned,
    })
}

pub(super) fn no_choice_matched(state: &State) -> StatesError {
    StatesError::new(
        names::NO_CHOICE_MATCHED,
        format!(
            "No Choice Rules matched and no Default was specified in state '{}'",
            state.name
        ),
    )
}

fn task(
    state: &State,
    t: &TaskState,
    raw: &Value,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<TaskRequest, StatesError> {
    let effective = select(&state.input_path, raw, docs!(env), "InputPath")?;
    let context_token = t.has_task_token().then(|| uuid(env.rng));
    if env.context.is_object() {
        context::set_retry_count(env.context, retry_count);
    }
    context::set_task_token(env.context, context_token.as_deref());
    let payload = shape(
        path_template(t.parameters.as_ref()),
        effective.clone(),
        docs!(env),
        env.rng,
    );
    context::set_task_token(env.context, None);
    let payload = payload?;
    size_ok(&payload, env.payload_limit, state, "input to the task")?;
    Ok(TaskRequest {
        payload,
        // Only a `.waitForTaskToken` task waits for its token to be used.
        task_token: context_token.filter(|_| t.wait_for_task_token),
        timeout_seconds: dynamic_u64(
            t.timeout_seconds.as_ref(),
            &effective,
            env,
            "TimeoutSecondsPath",
        )?,
        heartbeat_seconds: dynamic_u64(
            t.heartbeat_seconds.as_ref(),
            &effective,
            env,
            "HeartbeatSecondsPath",
        )?,
    })
}

/// Finish a Task, Parallel or Map with its raw result.
pub(super) fn complete(
    state: &State,
    raw: Cow<'_, Value>,
    result: Value,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    let policy = match &state.kind {
        StateKind::Task(t) => &t.result,
        StateKind::Parallel(p) => &p.result,
        StateKind::Map(m) => &m.result,
        _ => unreachable!("complete is called for Task, Parallel and Map states only"),
    };
    let assigned = assign(state.assign.as_ref(), &result, env)?;
    let selected = shape(
        policy.result_selector.as_ref(),
        Cow::Owned(result),
        docs!(env),
        env.rng,
    )?;
    let merged = match &policy.result_path {
        ResultPath::Replace => selected,
        path => merge_result(path, raw.into_owned(), selected)?,
    };
    let out = select_cow(
        &state.output_path,
        Cow::Owned(merged),
        docs!(env),
        "OutputPath",
    )?
    .into_owned();
    finish(state, out, assigned, env)
}

/// A catcher took the failure: `Assign` reads the error output as `$`,
/// which `ResultPath` puts into the state's raw input.
pub(super) fn catch(
    _state: &State,
    catcher: &Catcher,
    raw: Value,
    error: &StatesError,
    env: &mut StepEnv,
) -> Result<(Value, Option<Assigned>), StatesError> {
    let error_output = error_output(error);
    let assigned = assign(catcher.assign.as_ref(), &error_output, env)?;
    let out = merge_result(&catcher.result_path, raw, error_output)?;
    Ok((out, assigned))
}

fn fail_string(
    src: Option<&StringSource>,
    raw: &Value,
    env: &mut StepEnv,
    field: &str,
) -> Result<Option<String>, StatesError> {
    let value = match src {
        None => return Ok(None),
        Some(StringSource::Fixed(s)) => return Ok(Some(s.clone())),
        Some(StringSource::Path(p)) => p.select(raw, docs!(env))?,
        Some(StringSource::Intrinsic(f)) => f.eval(raw, docs!(env), env.rng)?,
        Some(StringSource::Jsonata(_)) => {
            return Err(StatesError::runtime(format!(
                "{field}: a JSONata expression in a JSONPath state"
            )))
        }
    };
    match value {
        Value::String(s) => Ok(Some(s)),
        other => Err(StatesError::runtime(format!(
            "{field} must select a string, found {}",
            preview(&other)
        ))),
    }
}

fn wait_until(
    w: &WaitState,
    input: &Value,
    env: &StepEnv,
) -> Result<chrono::DateTime<chrono::Utc>, StatesError> {
    match w {
        WaitState::Seconds(s) => Ok(super::after(env.now, *s)),
        WaitState::Timestamp(t) => Ok(t.to_utc()),
        WaitState::SecondsPath(p) => {
            let v = p.select(input, docs!(env))?;
            v.as_u64().map(|s| super::after(env.now, s)).ok_or_else(|| {
                StatesError::runtime(format!(
                    "Wait SecondsPath '{p}' must select a non-negative whole number of seconds, found {}",
                    preview(&v)
                ))
            })
        }
        WaitState::TimestampPath(p) => {
            let v = p.select(input, docs!(env))?;
            v.as_str().and_then(crate::timestamp::parse).map(|t| t.to_utc()).ok_or_else(|| {
                StatesError::runtime(format!(
                    "Wait TimestampPath '{p}' must select an RFC 3339 timestamp such as \"2024-03-14T01:59:00Z\", found {}",
                    preview(&v)
                ))
            })
        }
        WaitState::SecondsExpr(_) | WaitState::TimestampExpr(_) => {
            Err(StatesError::runtime("a JSONata Wait in a JSONPath state"))
        }
    }
}

/// A whole number given literally or by path.
pub(super) fn dynamic_u64(
    d: Option<&Dynamic<u64>>,
    input: &Value,
    env: &StepEnv,
    field: &str,
) -> Result<Option<u64>, StatesError> {
    match d {
        None => Ok(None),
        Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
        Some(Dynamic::Path(p)) => {
            let v = p.select(input, docs!(env))?;
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(Some)
                .ok_or_else(|| {
                    StatesError::runtime(format!(
                        "{field} '{p}' must select a non-negative whole number, found {}",
                        preview(&v)
                    ))
                })
        }
        Some(Dynamic::Jsonata(_)) => Err(StatesError::runtime(format!(
            "{field}: a JSONata expression in a JSONPath state"
        ))),
    }
}
