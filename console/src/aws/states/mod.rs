//! Step Functions over AWS JSON 1.0 (`X-Amz-Target: AWSStepFunctions.*`):
//! state machines are Sluice workflows, their versions Sluice's immutable
//! versions, their aliases Sluice's weighted aliases, executions Sluice's
//! executions. What Step Functions keeps and Sluice's engine has no field
//! for (the role ARN, tags, descriptions) is kept beside the workflow in
//! the catalog, as the document `aws-state-machine/NAME`.
//!
//! The operations live by what they act on: [`machines`] (state machines,
//! versions, aliases, validation, tags), [`executions`] (starts, reads,
//! stops, redrives, task callbacks), [`history`] (GetExecutionHistory in
//! AWS's event shapes) and [`test_state`] (TestState).

mod executions;
mod history;
mod machines;
mod test_state;

use serde_json::{json, Map, Value};
use sluice_engine::{EngineError, Execution};

use super::{AwsError, AwsResult, Ctx, Req};

/// The catalog kind of the Step Functions fields of a workflow.
const META_KIND: &str = "aws-state-machine";

pub(crate) async fn call(ctx: &Ctx, operation: &str, req: Req) -> AwsResult {
    match operation {
        "CreateStateMachine" => machines::create(ctx, req).await,
        "DescribeStateMachine" => machines::describe(ctx, req).await,
        "ListStateMachines" => machines::list(ctx, req).await,
        "UpdateStateMachine" => machines::update(ctx, req).await,
        "DeleteStateMachine" => machines::delete(ctx, req).await,
        "PublishStateMachineVersion" => machines::publish(ctx, req).await,
        "ListStateMachineVersions" => machines::list_versions(ctx, req).await,
        "DeleteStateMachineVersion" => machines::delete_version(ctx, req).await,
        "CreateStateMachineAlias" => machines::create_alias(ctx, req).await,
        "DescribeStateMachineAlias" => machines::describe_alias(ctx, req).await,
        "UpdateStateMachineAlias" => machines::update_alias(ctx, req).await,
        "DeleteStateMachineAlias" => machines::delete_alias(ctx, req).await,
        "ListStateMachineAliases" => machines::list_aliases(ctx, req).await,
        "ValidateStateMachineDefinition" => machines::validate(ctx, req).await,
        "TagResource" => machines::tag(ctx, req).await,
        "UntagResource" => machines::untag(ctx, req).await,
        "ListTagsForResource" => machines::list_tags(ctx, req).await,
        "StartExecution" => executions::start(ctx, req).await,
        "StartSyncExecution" => executions::start_sync(ctx, req).await,
        "DescribeExecution" => executions::describe(ctx, req).await,
        "DescribeStateMachineForExecution" => executions::describe_machine(ctx, req).await,
        "ListExecutions" => executions::list(ctx, req).await,
        "StopExecution" => executions::stop(ctx, req).await,
        "RedriveExecution" => executions::redrive(ctx, req).await,
        "SendTaskSuccess" => executions::task_success(ctx, req).await,
        "SendTaskFailure" => executions::task_failure(ctx, req).await,
        "SendTaskHeartbeat" => executions::task_heartbeat(ctx, req).await,
        "GetExecutionHistory" => history::get(ctx, req).await,
        "TestState" => test_state::run(ctx, req).await,
        other => Err(AwsError::new(
            "UnknownOperationException",
            format!("AWSStepFunctions.{other} is not an operation this server implements (docs/asl-compatibility.md lists them)"),
        )),
    }
}

/// An engine error as Step Functions names it; `missing` is the
/// `…DoesNotExist` type of what the call looked for.
pub(super) fn engine_error(e: EngineError, missing: &'static str) -> AwsError {
    match e {
        EngineError::Invalid(problems) => {
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect();
            AwsError::new(
                "InvalidDefinition",
                format!("Invalid State Machine Definition: '{}'", list.join("; ")),
            )
        }
        EngineError::NotFound(m) => AwsError::new(missing, m),
        EngineError::BadRequest(m) | EngineError::TooLarge(m) => AwsError::validation(m),
        EngineError::Conflict(m) => AwsError::new("ConflictException", m),
        EngineError::ShuttingDown => AwsError {
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
            kind: "ServiceUnavailable",
            message: "the server is shutting down; try again".into(),
        },
        EngineError::DiskFull(m) => AwsError {
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
            kind: "ServiceUnavailable",
            message: m,
        },
        other => AwsError::internal(other.to_string()),
    }
}

/// The Step Functions fields kept beside workflow `name` (an empty object
/// when there are none).
pub(super) fn meta(ctx: &Ctx, name: &str) -> Result<Map<String, Value>, AwsError> {
    let doc = ctx
        .state
        .engine
        .document(META_KIND, name, None)
        .map_err(|e| engine_error(e, "StateMachineDoesNotExist"))?;
    Ok(match doc.map(|d| d.body) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    })
}

/// Changes the Step Functions fields of workflow `name`.
pub(super) async fn update_meta(
    ctx: &Ctx,
    name: &str,
    change: impl FnOnce(&mut Map<String, Value>),
) -> Result<(), AwsError> {
    let mut m = meta(ctx, name)?;
    change(&mut m);
    ctx.state
        .engine
        .put_document(META_KIND, name, Value::Object(m))
        .await
        .map_err(|e| engine_error(e, "StateMachineDoesNotExist"))?;
    Ok(())
}

/// Drops the Step Functions fields of a deleted workflow.
pub(super) async fn delete_meta(ctx: &Ctx, name: &str) -> Result<(), AwsError> {
    ctx.state
        .engine
        .delete_document(META_KIND, name)
        .await
        .map_err(|e| engine_error(e, "StateMachineDoesNotExist"))?;
    Ok(())
}

/// The role ARN a state machine was created with (Sluice runs every
/// workflow with the server's own rights; the role is kept, not used).
/// A name field (state machine, execution, alias): a length outside 1 to
/// 80 is a `ValidationException` as AWS's model constraint gives it; other
/// characters than Sluice allows are `InvalidName`.
pub(super) fn check_name(what: &str, field: &str, name: &str) -> Result<(), AwsError> {
    let constraint = match name.chars().count() {
        0 => Some("greater than or equal to 1"),
        n if n > 80 => Some("less than or equal to 80"),
        _ => None,
    };
    if let Some(c) = constraint {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must have length {c}"
        )));
    }
    match sluice_engine::check_name(what, name) {
        Err(EngineError::BadRequest(m)) => {
            Err(AwsError::new("InvalidName", format!("Invalid Name: {m}")))
        }
        _ => Ok(()),
    }
}

/// The definition text of a version as it was given (Step Functions
/// returns it byte for byte), or the stored definition as JSON text.
pub(super) fn definition_text(meta: &Map<String, Value>, version: u64, stored: &Value) -> Value {
    meta.get("definitionTexts")
        .and_then(|t| t.get(version.to_string()))
        .filter(|t| t.is_string())
        .cloned()
        .unwrap_or_else(|| super::text(stored))
}

/// `roleArn` must be an IAM role's ARN, as Step Functions checks it.
pub(super) fn check_role_arn(req: &super::Req) -> Result<(), AwsError> {
    let Some(role) = req.opt_str("roleArn")? else {
        return Ok(());
    };
    let valid = role
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":iam::"))
        .filter(|(partition, _)| partition.starts_with("aws"))
        .and_then(|(_, rest)| rest.split_once(":role/"))
        .is_some_and(|(account, name)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        });
    if valid {
        Ok(())
    } else {
        Err(AwsError::new(
            "InvalidArn",
            format!("Invalid Arn: 'roleArn' is '{role}', not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME, ACCOUNT 12 digits)"),
        ))
    }
}

pub(super) fn role_arn(meta: &Map<String, Value>) -> Value {
    meta.get("roleArn")
        .cloned()
        .unwrap_or_else(|| json!(format!("arn:aws:iam::{}:role/sluice", super::arn::ACCOUNT)))
}

/// The execution an execution ARN names.
pub(super) fn execution_by_arn(ctx: &Ctx, arn: &str) -> Result<Execution, AwsError> {
    let (workflow, name) = super::arn::parse_execution(arn, "executionArn")?;
    ctx.state
        .engine
        .execution_named(&workflow, &name)
        .map_err(|e| match e {
            EngineError::NotFound(_) => AwsError::new(
                "ExecutionDoesNotExist",
                format!("Execution Does Not Exist: '{arn}'"),
            ),
            other => engine_error(other, "ExecutionDoesNotExist"),
        })
}
