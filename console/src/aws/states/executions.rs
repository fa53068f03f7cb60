//! Executions: start (also synchronously, for EXPRESS state machines),
//! describe, list, stop, redrive, and the `.waitForTaskToken` callbacks.

use serde_json::{json, Value};
use sluice_engine::{EngineError, Execution, ListFilter, StartRequest, Status, WorkflowType};
use std::time::Duration;

use super::machines::workflow;
use super::{engine_error, execution_by_arn, meta, role_arn};
use crate::aws::arn::{self, Machine};
use crate::aws::{epoch, text, AwsError, AwsResult, Ctx, Req};

/// How long an EXPRESS execution may run (Step Functions' limit), and so
/// how long StartSyncExecution waits.
const EXPRESS_LIMIT: Duration = Duration::from_secs(300);

pub(super) fn execution_arn(ctx: &Ctx, e: &Execution) -> String {
    arn::execution(&ctx.region, &e.workflow, &e.name)
}

/// A JSON document sent as text in `field` (`{}` when absent).
fn json_field(req: &Req, field: &str, error: &'static str) -> Result<Value, AwsError> {
    match req.opt_str(field)? {
        None => Ok(json!({})),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            AwsError::new(
                error,
                format!("Invalid {field}: '{field}' is not JSON: {e}"),
            )
        }),
    }
}

/// `sync`: the caller answers only after the execution's end is durable
/// (StartSyncExecution), so the start needs no flush of its own.
async fn start_execution(
    ctx: &Ctx,
    req: &Req,
    sync: bool,
) -> Result<(Machine, Execution), AwsError> {
    let machine_arn = req.str("stateMachineArn")?.to_string();
    let machine = arn::parse_machine(&machine_arn, "stateMachineArn")?;
    let input = json_field(req, "input", "InvalidExecutionInput")?;
    let name = req.opt_str("name")?.map(str::to_string);
    if let Some(n) = &name {
        super::check_name("execution name", "name", n)?;
    }
    let request = StartRequest {
        input,
        name: name.clone(),
    };
    let engine = &ctx.state.engine;
    let started = if sync {
        engine.start_unflushed(&machine.reference(), request).await
    } else {
        engine.start(&machine.reference(), request).await
    };
    let (execution, created) = started.map_err(|e| match e {
        EngineError::NotFound(_) => AwsError::new(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{machine_arn}'"),
        ),
        EngineError::Conflict(_) => already_exists(ctx, &machine, name.as_deref()),
        other => engine_error(other, "StateMachineDoesNotExist"),
    })?;
    // Step Functions: the same name and input return the running execution;
    // once it has ended, the name is taken.
    if !created && execution.status != Status::Running {
        return Err(already_exists(ctx, &machine, name.as_deref()));
    }
    Ok((machine, execution))
}

fn already_exists(ctx: &Ctx, machine: &Machine, name: Option<&str>) -> AwsError {
    let arn_text = arn::execution(&ctx.region, machine.name(), name.unwrap_or_default());
    AwsError::new(
        "ExecutionAlreadyExists",
        format!("Execution Already Exists: '{arn_text}'"),
    )
}

pub(super) async fn start(ctx: &Ctx, req: Req) -> AwsResult {
    let (_, e) = start_execution(ctx, &req, false).await?;
    Ok(json!({"executionArn": execution_arn(ctx, &e), "startDate": epoch(&e.started_at)}))
}

/// StartSyncExecution: EXPRESS state machines only; answers when the
/// execution ends (or stops it at the five-minute limit).
pub(super) async fn start_sync(ctx: &Ctx, req: Req) -> AwsResult {
    let machine_arn = req.str("stateMachineArn")?;
    let machine = arn::parse_machine(machine_arn, "stateMachineArn")?;
    let wf = workflow(ctx, machine.name(), machine_arn)?;
    if wf.kind != WorkflowType::Express {
        return Err(AwsError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine: StartSyncExecution needs an EXPRESS state machine",
        ));
    }
    let (_, started) = start_execution(ctx, &req, true).await?;
    let id = started.execution_id.to_string();
    let mut e = ctx
        .state
        .engine
        .wait(&id, EXPRESS_LIMIT)
        .await
        .map_err(|e| engine_error(e, "ExecutionDoesNotExist"))?;
    if e.status == Status::Running {
        let cause = "the execution ran past the five-minute limit of EXPRESS workflows".to_string();
        e = match ctx
            .state
            .engine
            .stop(&id, Some("States.Timeout".into()), Some(cause))
            .await
        {
            Ok(stopped) => stopped,
            Err(_) => ctx
                .state
                .engine
                .execution(&id)
                .map_err(|e| engine_error(e, "ExecutionDoesNotExist"))?,
        };
    }
    let status = match e.status {
        Status::Succeeded => "SUCCEEDED",
        Status::Aborted if e.error.as_deref() == Some("States.Timeout") => "TIMED_OUT",
        Status::TimedOut => "TIMED_OUT",
        _ => "FAILED",
    };
    let millis = |t: &Option<String>| {
        let end = t.as_deref().map(epoch).and_then(|v| v.as_f64());
        let start = epoch(&e.started_at).as_f64();
        match (start, end) {
            (Some(s), Some(x)) => ((x - s) * 1000.0).max(0.0).ceil() as u64,
            _ => 0,
        }
    };
    let mut out = json!({
        "executionArn": execution_arn(ctx, &e),
        "stateMachineArn": arn::state_machine(&ctx.region, &e.workflow),
        "name": e.name,
        "startDate": epoch(&e.started_at),
        "stopDate": e.stopped_at.as_deref().map(epoch),
        "status": status,
        "input": text(&e.input),
        "inputDetails": {"included": true},
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": millis(&e.stopped_at)},
    });
    if let Some(o) = &e.output {
        out["output"] = text(o);
        out["outputDetails"] = json!({"included": true});
    }
    put_error(&mut out, &e);
    Ok(out)
}

fn put_error(out: &mut Value, e: &Execution) {
    if e.status != Status::Succeeded {
        if let Some(err) = &e.error {
            out["error"] = json!(err);
        }
        if let Some(c) = &e.cause {
            out["cause"] = json!(c);
        }
    }
}

fn redrive_status(e: &Execution) -> &'static str {
    match e.status {
        Status::Failed | Status::TimedOut | Status::Aborted => "REDRIVABLE",
        _ => "NOT_REDRIVABLE",
    }
}

pub(super) async fn describe(ctx: &Ctx, req: Req) -> AwsResult {
    let e = execution_by_arn(ctx, req.str("executionArn")?)?;
    let mut out = json!({
        "executionArn": execution_arn(ctx, &e),
        "stateMachineArn": arn::state_machine(&ctx.region, &e.workflow),
        "stateMachineVersionArn": arn::version(&ctx.region, &e.workflow, e.version),
        "name": e.name,
        "status": e.status.as_str(),
        "startDate": epoch(&e.started_at),
        "input": text(&e.input),
        "inputDetails": {"included": true},
        "redriveCount": e.redrive_count,
        "redriveStatus": redrive_status(&e),
    });
    if let Some(t) = &e.stopped_at {
        out["stopDate"] = epoch(t);
    }
    if let Some(o) = &e.output {
        out["output"] = text(o);
        out["outputDetails"] = json!({"included": true});
    }
    put_error(&mut out, &e);
    Ok(out)
}

pub(super) async fn describe_machine(ctx: &Ctx, req: Req) -> AwsResult {
    let e = execution_by_arn(ctx, req.str("executionArn")?)?;
    // The version it ran, also when that version was deleted since.
    let v = ctx
        .state
        .engine
        .workflow_version_info(&e.workflow, e.version)
        .map_err(|_| {
            AwsError::new(
                "StateMachineDoesNotExist",
                format!("the state machine of '{}' is gone", execution_arn(ctx, &e)),
            )
        })?;
    let m = meta(ctx, &e.workflow)?;
    Ok(json!({
        "stateMachineArn": arn::state_machine(&ctx.region, &e.workflow),
        "name": e.workflow,
        "definition": super::definition_text(&m, v.version, &v.definition),
        "roleArn": role_arn(&m),
        "updateDate": epoch(&v.created_at),
        "revisionId": v.version.to_string(),
        "loggingConfiguration": m.get("loggingConfiguration").cloned()
            .unwrap_or_else(|| json!({"level": "OFF"})),
        "encryptionConfiguration": m.get("encryptionConfiguration").cloned()
            .unwrap_or_else(|| json!({"type": "AWS_OWNED_KEY"})),
        "tracingConfiguration": {"enabled": false},
    }))
}

pub(super) async fn list(ctx: &Ctx, req: Req) -> AwsResult {
    if req.get("mapRunArn").is_some() && req.get("stateMachineArn").is_none() {
        return Err(AwsError::validation(
            "ListExecutions by mapRunArn is not supported here; give stateMachineArn (Distributed Map children are listed by GET /api/v1/executions/{id}/children)",
        ));
    }
    let machine_arn = req.str("stateMachineArn")?;
    let machine = arn::parse_machine(machine_arn, "stateMachineArn")?;
    workflow(ctx, machine.name(), machine_arn)?;
    let status = req
        .opt_str("statusFilter")?
        .map(|s| {
            s.parse::<Status>().map_err(|_| {
                AwsError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED]"
                ))
            })
        })
        .transpose()?;
    let limit = req
        .opt_int("maxResults", 0, 1000)?
        .filter(|n| *n > 0)
        .unwrap_or(100) as usize;
    let filter = ListFilter {
        workflow: Some(machine.name().to_string()),
        status,
        limit: Some(limit),
        next_token: req.opt_str("nextToken")?.map(str::to_string),
        ..ListFilter::default()
    };
    let engine = ctx.state.engine.clone();
    let page = crate::blocking(move || engine.list_executions(&filter))
        .await
        .map_err(|e| match e.status.as_u16() {
            400 => AwsError::new(
                "InvalidToken",
                format!("Input inconsistent with page token: {}", e.message),
            ),
            _ => AwsError::internal(e.message),
        })?;
    let version = match machine {
        Machine::Version(_, v) => Some(v),
        _ => None,
    };
    let executions: Vec<Value> = page
        .executions
        .iter()
        .filter(|e| version.is_none_or(|v| e.version == v))
        .map(|e| {
            let mut item = json!({
                "executionArn": execution_arn(ctx, e),
                "stateMachineArn": arn::state_machine(&ctx.region, &e.workflow),
                "stateMachineVersionArn": arn::version(&ctx.region, &e.workflow, e.version),
                "name": e.name,
                "status": e.status.as_str(),
                "startDate": epoch(&e.started_at),
                "redriveCount": e.redrive_count,
            });
            if let Some(t) = &e.stopped_at {
                item["stopDate"] = epoch(t);
            }
            item
        })
        .collect();
    let mut out = json!({"executions": executions});
    if let Some(t) = page.next_token {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub(super) async fn stop(ctx: &Ctx, req: Req) -> AwsResult {
    let e = execution_by_arn(ctx, req.str("executionArn")?)?;
    let error = req.opt_str("error")?.map(str::to_string);
    let cause = req.opt_str("cause")?.map(str::to_string);
    let stopped = match ctx
        .state
        .engine
        .stop(e.execution_id.as_str(), error, cause)
        .await
    {
        Ok(s) => s,
        // Already ended: Step Functions answers with when it stopped.
        Err(EngineError::Conflict(_)) => ctx
            .state
            .engine
            .execution(e.execution_id.as_str())
            .map_err(|err| engine_error(err, "ExecutionDoesNotExist"))?,
        Err(other) => return Err(engine_error(other, "ExecutionDoesNotExist")),
    };
    Ok(json!({"stopDate": stopped.stopped_at.as_deref().map(epoch)}))
}

pub(super) async fn redrive(ctx: &Ctx, req: Req) -> AwsResult {
    let e = execution_by_arn(ctx, req.str("executionArn")?)?;
    ctx.state
        .engine
        .redrive(e.execution_id.as_str())
        .await
        .map_err(|err| match err {
            EngineError::Conflict(m) => AwsError::new("ExecutionNotRedrivable", m),
            other => engine_error(other, "ExecutionDoesNotExist"),
        })?;
    Ok(json!({"redriveDate": epoch(&sluice_engine::now_rfc3339())}))
}

fn token_error(e: EngineError) -> AwsError {
    match e {
        EngineError::NotFound(m) => AwsError::new("TaskDoesNotExist", m),
        EngineError::BadRequest(m) => AwsError::new("InvalidToken", m),
        EngineError::Conflict(m) => AwsError::new("TaskTimedOut", format!("Task Timed Out: {m}")),
        other => engine_error(other, "TaskDoesNotExist"),
    }
}

fn token(req: &Req) -> Result<String, AwsError> {
    let t = req.str("taskToken")?;
    if t.is_empty() || t.len() > 2048 {
        return Err(AwsError::new(
            "InvalidToken",
            "Invalid Token: a task token has 1 to 2048 characters",
        ));
    }
    Ok(t.to_string())
}

pub(super) async fn task_success(ctx: &Ctx, req: Req) -> AwsResult {
    let token = token(&req)?;
    let output = serde_json::from_str(req.str("output")?).map_err(|e| {
        AwsError::new(
            "InvalidOutput",
            format!("Invalid Output: 'output' is not JSON: {e}"),
        )
    })?;
    ctx.state
        .engine
        .task_success(&token, output)
        .await
        .map_err(token_error)?;
    Ok(json!({}))
}

pub(super) async fn task_failure(ctx: &Ctx, req: Req) -> AwsResult {
    let token = token(&req)?;
    let error = req.opt_str("error")?.unwrap_or_default().to_string();
    let cause = req.opt_str("cause")?.unwrap_or_default().to_string();
    ctx.state
        .engine
        .task_failure(&token, error, cause)
        .await
        .map_err(token_error)?;
    Ok(json!({}))
}

pub(super) async fn task_heartbeat(ctx: &Ctx, req: Req) -> AwsResult {
    let token = token(&req)?;
    ctx.state
        .engine
        .task_heartbeat(&token)
        .await
        .map_err(token_error)?;
    Ok(json!({}))
}
