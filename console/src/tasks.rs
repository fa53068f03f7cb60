//! `/api/v1/tasks/{token}/…`: the callbacks that complete a Task parked by
//! `.waitForTaskToken` (Step Functions' SendTaskSuccess, SendTaskFailure
//! and SendTaskHeartbeat). Unknown tokens answer 404; a token whose task
//! already ended answers 409.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, OptionalJsonBody};
use crate::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessBody {
    /// The task's result, as a function would have returned it.
    output: Value,
}

/// `POST /api/v1/tasks/{token}/success` with `{"output": …}`.
pub async fn success(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    JsonBody(body): JsonBody<SuccessBody>,
) -> Result<Json<Value>, ApiError> {
    state.engine.task_success(&token, body.output).await?;
    Ok(Json(json!({})))
}

/// `{"error", "cause"}`, both optional as in SendTaskFailure.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureBody {
    /// The error name that Retry and Catch match.
    #[serde(default)]
    error: String,
    #[serde(default)]
    cause: String,
}

/// `POST /api/v1/tasks/{token}/failure` with `{"error", "cause"}`.
pub async fn failure(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    OptionalJsonBody(body): OptionalJsonBody<FailureBody>,
) -> Result<Json<Value>, ApiError> {
    state
        .engine
        .task_failure(&token, body.error, body.cause)
        .await?;
    Ok(Json(json!({})))
}

/// `POST /api/v1/tasks/{token}/heartbeat`: the task is still being worked
/// on (resets its `HeartbeatSeconds` clock).
pub async fn heartbeat(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    state.engine.task_heartbeat(&token).await?;
    Ok(Json(json!({})))
}
