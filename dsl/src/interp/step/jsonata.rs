//! States in the JSONata query language ("Transforming data with JSONata in
//! Step Functions"): `$states.input` is the state's input, `Arguments`
//! builds what a Task or Parallel runs on, `$states.result` is what it gave,
//! `Output` builds the state's output (by default the result of a Task,
//! Parallel or Map, otherwise the input), and `Assign` reads the same
//! values, with variables as they were when the state was entered.

use serde_json::Value;
use std::borrow::Cow;

use super::{finish, map, size_ok, uuid, Entered, Exit, StepEnv, TaskRequest};
use crate::error::StatesError;
use crate::interp::context;
use crate::interp::pipeline::error_output;
use crate::model::*;
use crate::query::{self, JTemplate, JsonataField, Scope, Site, StatesVar};
use crate::retry::Catcher;
use crate::vars::Assigned;

/// Run `f` with `$states` holding `input` and the context object (moved in
/// from `env` and back, so nothing is copied); returns what `f` gave and
/// the input.
pub(super) fn with_states<R>(
    env: &mut StepEnv,
    input: Value,
    f: impl FnOnce(&mut StatesVar, &mut StepEnv) -> R,
) -> (R, Value) {
    let context = std::mem::take(env.context);
    let mut states = StatesVar::new(input, Some(context));
    let r = f(&mut states, env);
    if let Some(c) = states.context_mut() {
        *env.context = std::mem::take(c);
    }
    (r, states.take_input())
}

pub(super) fn site<'a>(state: &'a State, env: &StepEnv) -> Site<'a> {
    Site {
        state: &state.name,
        entered_event: env.entered_event,
    }
}

/// Evaluate a field's template.
pub(super) fn eval(
    t: &JTemplate,
    state: &State,
    states: &StatesVar,
    env: &mut StepEnv,
) -> Result<Value, StatesError> {
    let scope = Scope {
        states,
        vars: env.vars,
    };
    t.evaluate(&scope, site(state, env), env.now, env.rng)
}

/// Evaluate one expression field.
pub(super) fn eval_field(
    f: &JsonataField,
    state: &State,
    states: &StatesVar,
    env: &mut StepEnv,
) -> Result<Value, StatesError> {
    let scope = Scope {
        states,
        vars: env.vars,
    };
    query::evaluate(
        &f.expr,
        &f.field,
        &scope,
        site(state, env),
        env.now,
        env.rng,
    )
}

/// The variables an `Assign` sets.
pub(super) fn assign(
    shape: Option<&Shape>,
    state: &State,
    states: &StatesVar,
    env: &mut StepEnv,
) -> Result<Option<Assigned>, StatesError> {
    let Some(Shape::Jsonata(t)) = shape else {
        return Ok(None);
    };
    match eval(t, state, states, env)? {
        Value::Object(map) if map.is_empty() => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(site(state, env).error(format_args!(
            "The field 'Assign' must be an object of variables, found {}",
            crate::path::preview(&other)
        ))),
    }
}

/// `Output` (and `Assign`) of a state without a result: the output is the
/// input unless `Output` says otherwise.
fn output_and_assign(
    output: Option<&JTemplate>,
    assign_shape: Option<&Shape>,
    state: &State,
    raw: Cow<'_, Value>,
    env: &mut StepEnv,
) -> Result<(Value, Option<Assigned>), StatesError> {
    if output.is_none() && assign_shape.is_none() {
        return Ok((raw.into_owned(), None));
    }
    let (r, input) = with_states(env, raw.into_owned(), |states, env| {
        let assigned = assign(assign_shape, state, states, env)?;
        let out = output.map(|t| eval(t, state, states, env)).transpose()?;
        Ok::<_, StatesError>((out, assigned))
    });
    let (out, assigned) = r?;
    Ok((out.unwrap_or(input), assigned))
}

pub(super) fn enter(
    state: &State,
    raw: Cow<'_, Value>,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    match &state.kind {
        StateKind::Pass(_) | StateKind::Succeed => {
            let (out, assigned) = output_and_assign(
                state.output.as_ref(),
                state.assign.as_ref(),
                state,
                raw,
                env,
            )?;
            let exit = finish(state, out, assigned, env)?;
            Ok(Entered::Done(if matches!(state.kind, StateKind::Succeed) {
                Exit { next: None, ..exit }
            } else {
                exit
            }))
        }
        StateKind::Choice(c) => choice(state, c, raw, env).map(Entered::Done),
        StateKind::Wait(w) => {
            let (until, input) = with_states(env, raw.into_owned(), |states, env| {
                wait_until(w, state, states, env)
            });
            let until = super::check_delay(env.now, until?)?;
            let (output, assigned) = output_and_assign(
                state.output.as_ref(),
                state.assign.as_ref(),
                state,
                Cow::Owned(input),
                env,
            )?;
            Ok(Entered::Wait {
                until,
                output,
                assigned,
            })
        }
        StateKind::Fail(f) => {
            let (r, _) = with_states(env, raw.into_owned(), |states, env| {
                let error = fail_string(f.error.as_ref(), state, states, env)?;
                let cause = fail_string(f.cause.as_ref(), state, states, env)?;
                Ok::<_, StatesError>((error, cause))
            });
            let (error, cause) = r?;
            Err(super::fail_error(error, cause))
        }
        StateKind::Task(t) => task(state, t, raw, retry_count, env).map(Entered::Task),
        StateKind::Parallel(p) => {
            let input = match &p.parameters {
                Some(Shape::Jsonata(args)) => {
                    with_states(env, raw.into_owned(), |states, env| {
                        eval(args, state, states, env)
                    })
                    .0?
                }
                _ => raw.into_owned(),
            };
            Ok(Entered::Parallel { input })
        }
        StateKind::Map(m) => map::enter_jsonata(state, m, raw, env),
    }
}

fn choice(
    state: &State,
    c: &ChoiceState,
    raw: Cow<'_, Value>,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    let (taken, input) = with_states(env, raw.into_owned(), |states, env| {
        for (i, branch) in c.choices.iter().enumerate() {
            let holds = match &branch.condition {
                crate::choice::Condition::Constant(b) => *b,
                crate::choice::Condition::Jsonata(f) => match eval_field(f, state, states, env)? {
                    Value::Bool(b) => b,
                    other => {
                        return Err(site(state, env).error(format_args!(
                        "The Condition '{}' of rule {i} must evaluate to true or false, found {}",
                        f.expr.source(),
                        crate::path::preview(&other)
                    )))
                    }
                },
                other => {
                    other.evaluate(states.input(), crate::path::Docs::context(&Value::Null))?
                }
            };
            if holds {
                return Ok(Some(branch));
            }
        }
        Ok(None)
    });
    let (next, output, assign_shape) = match (taken?, &c.default) {
        (Some(b), _) => (&b.next, b.output.as_ref(), b.assign.as_ref()),
        (None, Some(d)) => (d, state.output.as_ref(), state.assign.as_ref()),
        (None, None) => return Err(super::jsonpath::no_choice_matched(state)),
    };
    let (out, assigned) = output_and_assign(output, assign_shape, state, Cow::Owned(input), env)?;
    size_ok(&out, env.payload_limit, state, "output")?;
    super::check_assigned(state, &assigned)?;
    Ok(Exit {
        next: Some(next.clone()),
        output: out,
        assigned,
    })
}

fn task(
    state: &State,
    t: &TaskState,
    raw: Cow<'_, Value>,
    retry_count: u32,
    env: &mut StepEnv,
) -> Result<TaskRequest, StatesError> {
    let context_token = t.has_task_token().then(|| uuid(env.rng));
    if env.context.is_object() {
        context::set_retry_count(env.context, retry_count);
    }
    context::set_task_token(env.context, context_token.as_deref());
    let (r, _) = with_states(env, raw.into_owned(), |states, env| {
        let payload = match &t.parameters {
            Some(Shape::Jsonata(args)) => eval(args, state, states, env)?,
            _ => states.input().clone(),
        };
        let timeout = dynamic_u64(t.timeout_seconds.as_ref(), state, states, env)?;
        let heartbeat = dynamic_u64(t.heartbeat_seconds.as_ref(), state, states, env)?;
        Ok::<_, StatesError>((payload, timeout, heartbeat))
    });
    context::set_task_token(env.context, None);
    let (payload, timeout_seconds, heartbeat_seconds) = r?;
    size_ok(&payload, env.payload_limit, state, "input to the task")?;
    Ok(TaskRequest {
        payload,
        // Only a `.waitForTaskToken` task waits for its token to be used.
        task_token: context_token.filter(|_| t.wait_for_task_token),
        timeout_seconds,
        heartbeat_seconds,
    })
}

/// Finish a Task, Parallel or Map with its raw result.
pub(super) fn complete(
    state: &State,
    raw: Cow<'_, Value>,
    result: Value,
    env: &mut StepEnv,
) -> Result<Exit, StatesError> {
    if state.output.is_none() && state.assign.is_none() {
        return finish(state, result, None, env);
    }
    let (r, _) = with_states(env, raw.into_owned(), |states, env| {
        states.set_result(result);
        let assigned = assign(state.assign.as_ref(), state, states, env)?;
        let out = match &state.output {
            Some(t) => eval(t, state, states, env)?,
            None => states.take_result().unwrap_or(Value::Null),
        };
        Ok::<_, StatesError>((out, assigned))
    });
    let (out, assigned) = r?;
    finish(state, out, assigned, env)
}

/// A catcher took the failure: `$states.errorOutput` is `{"Error","Cause"}`,
/// the output by default.
pub(super) fn catch(
    state: &State,
    catcher: &Catcher,
    raw: Value,
    error: &StatesError,
    env: &mut StepEnv,
) -> Result<(Value, Option<Assigned>), StatesError> {
    let error_output = error_output(error);
    if catcher.output.is_none() && catcher.assign.is_none() {
        return Ok((error_output, None));
    }
    let (r, _) = with_states(env, raw, |states, env| {
        states.set_error_output(error_output.clone());
        let assigned = assign(catcher.assign.as_ref(), state, states, env)?;
        let out = match &catcher.output {
            Some(t) => eval(t, state, states, env)?,
            None => error_output,
        };
        Ok::<_, StatesError>((out, assigned))
    });
    r
}

fn fail_string(
    src: Option<&StringSource>,
    state: &State,
    states: &StatesVar,
    env: &mut StepEnv,
) -> Result<Option<String>, StatesError> {
    match src {
        None => Ok(None),
        Some(StringSource::Fixed(s)) => Ok(Some(s.clone())),
        Some(StringSource::Jsonata(f)) => match eval_field(f, state, states, env)? {
            Value::String(s) => Ok(Some(s)),
            other => Err(site(state, env).error(format_args!(
                "The field '{}' must be a string, found {}",
                f.field,
                crate::path::preview(&other)
            ))),
        },
        Some(_) => Err(StatesError::runtime("a JSONPath field in a JSONata state")),
    }
}

fn wait_until(
    w: &WaitState,
    state: &State,
    states: &StatesVar,
    env: &mut StepEnv,
) -> Result<chrono::DateTime<chrono::Utc>, StatesError> {
    match w {
        WaitState::Seconds(s) => Ok(super::after(env.now, *s)),
        WaitState::Timestamp(t) => Ok(t.to_utc()),
        WaitState::SecondsExpr(f) => {
            let v = eval_field(f, state, states, env)?;
            let s = super::whole_number(&v, "The field 'Seconds'")
                .map_err(|e| site(state, env).error(e.cause))?;
            Ok(super::after(env.now, s))
        }
        WaitState::TimestampExpr(f) => {
            let v = eval_field(f, state, states, env)?;
            v.as_str()
                .and_then(crate::timestamp::parse)
                .map(|t| t.to_utc())
                .ok_or_else(|| {
                    site(state, env).error(format_args!(
                        "The field 'Timestamp' must be an RFC 3339 timestamp such as \"2024-03-14T01:59:00Z\", found {}",
                        crate::path::preview(&v)
                    ))
                })
        }
        WaitState::SecondsPath(_) | WaitState::TimestampPath(_) => {
            Err(StatesError::runtime("a JSONPath Wait in a JSONata state"))
        }
    }
}

/// A whole number given literally or by a JSONata expression.
pub(super) fn dynamic_u64(
    d: Option<&Dynamic<u64>>,
    state: &State,
    states: &StatesVar,
    env: &mut StepEnv,
) -> Result<Option<u64>, StatesError> {
    match d {
        None => Ok(None),
        Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
        Some(Dynamic::Jsonata(f)) => {
            let v = eval_field(f, state, states, env)?;
            super::whole_number(&v, &format!("The field '{}'", f.field))
                .map(Some)
                .map_err(|e| site(state, env).error(e.cause))
        }
        Some(Dynamic::Path(_)) => Err(StatesError::runtime("a JSONPath field in a JSONata state")),
    }
}
