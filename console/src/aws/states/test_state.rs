//! TestState: one state run once on an input, as Step Functions' TestState
//! API does — with the same evaluator the engine steps executions with
//! (`sluice_dsl::interp::step`), and a Task's function invoked for real
//! through the server's function host. Nothing is stored.
//!
//! The state is wrapped in a machine of its own so that it validates as it
//! would in a workflow: every state it names (`Next`, a Choice's targets,
//! a catcher's `Next`) becomes a `Succeed` placeholder.

use serde_json::{json, Map, Value};
use sluice_dsl::interp::step::{self, Entered, Exit, OnError, RetryState, StepEnv};
use sluice_dsl::model::{State, StateKind};
use sluice_dsl::{SplitMix64, StateMachine, StatesError};

use crate::aws::{text, AwsError, AwsResult, Ctx, Req};

/// The state names `state` can go to.
fn targets(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &Value| {
        if let Some(n) = v.as_str() {
            out.push(n.to_string());
        }
    };
    push(&state["Next"]);
    push(&state["Default"]);
    for list in ["Choices", "Catch"] {
        for item in state[list].as_array().into_iter().flatten() {
            push(&item["Next"]);
        }
    }
    out
}

/// A one-state machine around `state`, named `name`.
fn machine(name: &str, state: &Value) -> Result<StateMachine, AwsError> {
    let mut states = Map::new();
    for t in targets(state) {
        states.insert(t, json!({"Type": "Succeed"}));
    }
    states.insert(name.to_string(), state.clone());
    let mut def = json!({"StartAt": name, "States": states});
    if let Some(ql) = state.get("QueryLanguage") {
        def["QueryLanguage"] = ql.clone();
    }
    StateMachine::deployable(&def).map_err(|problems| {
        let list: Vec<String> = problems
            .iter()
            .map(|p| {
                let at = p
                    .pointer
                    .strip_prefix(&format!("/States/{name}"))
                    .unwrap_or(&p.pointer);
                format!("{}: {}", if at.is_empty() { "/" } else { at }, p.message)
            })
            .collect();
        AwsError::new(
            "InvalidDefinition",
            format!("Invalid State Definition: '{}'", list.join("; ")),
        )
    })
}

/// What the run came to.
struct Outcome {
    status: &'static str,
    output: Option<Value>,
    next: Option<String>,
    error: Option<StatesError>,
    result: Option<Value>,
}

impl Outcome {
    fn exit(status: &'static str, exit: Exit, result: Option<Value>) -> Outcome {
        Outcome {
            status,
            output: Some(exit.output),
            next: exit.next,
            error: None,
            result,
        }
    }
    fn failed(error: StatesError, result: Option<Value>) -> Outcome {
        Outcome {
            status: "FAILED",
            output: None,
            next: None,
            error: Some(error),
            result,
        }
    }
}

/// A Task's resource run through the function host: its result, or the
/// error it failed with.
async fn invoke(
    ctx: &Ctx,
    resource: &str,
    payload: Value,
) -> Result<Result<Value, StatesError>, AwsError> {
    let Some(rest) = resource.strip_prefix("sluice:function:") else {
        return Err(AwsError::validation(format!(
            "TestState runs Task states whose Resource is sluice:function:NAME; '{resource}' is not one"
        )));
    };
    if rest.ends_with(".waitForTaskToken") {
        return Err(AwsError::validation(
            "TestState does not run .waitForTaskToken tasks (nothing could send the token back)",
        ));
    }
    let Some(host) = ctx.state.functions.as_ref() else {
        return Err(AwsError::validation("this server runs no functions"));
    };
    let (name, qualifier) = match rest.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (rest, None),
    };
    let answer = host.invoke(name, qualifier, payload).await;
    Ok(match answer.get("result") {
        Some(r) => Ok(r.clone()),
        None => Err(StatesError::new(
            answer["error"].as_str().unwrap_or("States.TaskFailed"),
            answer["cause"].as_str().unwrap_or_default(),
        )),
    })
}

fn resource(state: &State) -> &str {
    match &state.kind {
        StateKind::Task(t) => &t.resource,
        _ => "",
    }
}

/// A failure of `state` through its Retry and Catch policies.
fn caught(
    state: &State,
    raw: Value,
    error: StatesError,
    env: &mut StepEnv,
    result: Option<Value>,
) -> Outcome {
    match step::on_error(state, raw, error, &mut RetryState::default(), env) {
        OnError::Retry { .. } => Outcome {
            status: "RETRIABLE",
            ..Outcome::failed(StatesError::new("", ""), result)
        },
        OnError::Caught(exit) => Outcome::exit("CAUGHT_ERROR", exit, result),
        OnError::Fail(e) => Outcome::failed(e, result),
    }
}

/// What entering the state came to: an outcome, or a task to run first.
fn entered(
    state: &State,
    input: &Value,
    env: &mut StepEnv,
) -> Result<Result<Outcome, Value>, AwsError> {
    let entered = match step::enter(state, input, 0, env) {
        Ok(e) => e,
        Err(e) if matches!(state.kind, StateKind::Task(_)) => {
            return Ok(Ok(caught(state, input.clone(), e, env, None)))
        }
        Err(e) => return Ok(Ok(Outcome::failed(e, None))),
    };
    Ok(Ok(match entered {
        Entered::Done(exit) => Outcome::exit("SUCCEEDED", exit, None),
        Entered::Wait { output, assigned, .. } => match step::finish(state, output, assigned, env) {
            Ok(exit) => Outcome::exit("SUCCEEDED", exit, None),
            Err(e) => Outcome::failed(e, None),
        },
        Entered::Task(task) => return Ok(Err(task.payload)),
        Entered::Parallel { .. } | Entered::Map(_) | Entered::ReadItems(_) => {
            return Err(AwsError::validation(
                "TestState runs Task, Pass, Wait, Choice, Succeed and Fail states; run a Parallel or Map as a workflow",
            ))
        }
    }))
}

/// A Task state finished with what its function answered.
fn completed(
    state: &State,
    input: &Value,
    answer: Result<Value, StatesError>,
    env: &mut StepEnv,
) -> Outcome {
    match answer {
        Ok(result) => match step::complete(state, input.clone(), result.clone(), env) {
            Ok(exit) => Outcome::exit("SUCCEEDED", exit, Some(result)),
            Err(e) => caught(state, input.clone(), e, env, Some(result)),
        },
        Err(e) => caught(state, input.clone(), e, env, None),
    }
}

pub(super) async fn run(ctx: &Ctx, req: Req) -> AwsResult {
    let state_json: Value = serde_json::from_str(req.str("definition")?).map_err(|e| {
        AwsError::new(
            "InvalidDefinition",
            format!("Invalid State Definition: 'the definition is not JSON: {e}'"),
        )
    })?;
    let name = req.opt_str("stateName")?.unwrap_or("TestState").to_string();
    let level = req.opt_str("inspectionLevel")?.unwrap_or("INFO");
    if !matches!(level, "INFO" | "DEBUG" | "TRACE") {
        return Err(AwsError::validation(
            "inspectionLevel is INFO, DEBUG or TRACE",
        ));
    }
    let input: Value = match req.opt_str("input")? {
        Some(t) => serde_json::from_str(t).map_err(|e| {
            AwsError::new("InvalidExecutionInput", format!("'input' is not JSON: {e}"))
        })?,
        None => json!({}),
    };
    let vars: Map<String, Value> = match req.opt_str("variables")? {
        Some(t) => serde_json::from_str(t)
            .map_err(|e| AwsError::validation(format!("'variables' is not a JSON object: {e}")))?,
        None => Map::new(),
    };
    let machine = machine(&name, &state_json)?;
    let state = machine
        .scope
        .get(&name)
        .ok_or_else(|| AwsError::internal("the wrapped state is missing"))?;
    let now = chrono::Utc::now();
    let mut context = json!({
        "Execution": {"Id": "arn:aws:states:test:000000000000:execution:TestState:test", "Name": "test",
                      "Input": input, "StartTime": sluice_engine::now_rfc3339()},
        "State": {"Name": name, "EnteredTime": sluice_engine::now_rfc3339(), "RetryCount": 0},
        "StateMachine": {"Id": "arn:aws:states:test:000000000000:stateMachine:TestState", "Name": "TestState"},
    });
    let mut rng = SplitMix64(now.timestamp_nanos_opt().unwrap_or_default() as u64);
    // The environment borrows a random source that is not Send: it is made
    // anew on each side of the function call, never held across it.
    macro_rules! step_env {
        () => {
            StepEnv {
                context: &mut context,
                vars: &vars,
                rng: &mut rng,
                now,
                payload_limit: 256 * 1024,
                entered_event: None,
            }
        };
    }
    let first = entered(state, &input, &mut step_env!())?;
    let outcome = match first {
        Ok(outcome) => outcome,
        Err(payload) => {
            let answer = invoke(ctx, resource(state), payload).await?;
            completed(state, &input, answer, &mut step_env!())
        }
    };
    let mut out = json!({"status": outcome.status});
    if let Some(o) = &outcome.output {
        out["output"] = text(o);
    }
    if let Some(n) = &outcome.next {
        out["nextState"] = json!(n);
    }
    if let Some(e) = outcome.error.filter(|e| !e.error.is_empty()) {
        out["error"] = json!(e.error);
        out["cause"] = json!(e.cause);
    }
    if level != "INFO" {
        let mut data = json!({"input": text(&input)});
        if let Some(r) = &outcome.result {
            data["result"] = text(r);
        }
        if !vars.is_empty() {
            data["variables"] = text(&Value::Object(vars.clone()));
        }
        out["inspectionData"] = data;
    }
    Ok(out)
}
