//! `/api/v1/…/executions`: start (optionally waiting for the end), list,
//! describe, history, stop and redrive.

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sluice_engine::{Execution, ListFilter, StartRequest, Status, MAX_PAGE};
use std::time::Duration;

use crate::blocking;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, OptionalJsonBody};
use crate::{AppState, MAX_WAIT_SECONDS};

/// The query of `POST /api/v1/workflows/{name}/executions`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartParams {
    /// Seconds to wait for the execution to end before answering.
    wait: Option<String>,
}

fn parse_wait(text: &str) -> Result<Duration, ApiError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && (0.0..=MAX_WAIT_SECONDS).contains(s))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}, not '{text}'"
            ))
        })
}

/// `{"executionId"}` with the execution's address in `Location`.
fn id_response(status: StatusCode, execution: &Execution) -> Response {
    let id = execution.execution_id.as_str();
    (
        status,
        [(LOCATION, format!("/api/v1/executions/{id}"))],
        Json(json!({ "executionId": id })),
    )
        .into_response()
}

/// `POST /api/v1/workflows/{name}/executions` with `{"input", "name"?}`;
/// `{name}` may be `NAME`, `NAME:VERSION` or `NAME:ALIAS`.
///
/// 201 when the execution was created; 200 when a start with the same
/// execution name and input had created it before (idempotent start).
/// With `?wait=SECONDS`: 200 and the whole execution once it has ended,
/// or 202 and its id when the wait runs out first.
pub async fn start(
    State(state): State<AppState>,
    ApiPath(workflow): ApiPath<String>,
    ApiQuery(params): ApiQuery<StartParams>,
    OptionalJsonBody(req): OptionalJsonBody<StartRequest>,
) -> Result<Response, ApiError> {
    let wait = params.wait.as_deref().map(parse_wait).transpose()?;
    let (execution, created) = state.engine.start(&workflow, req).await?;
    if created {
        tracing::debug!(workflow = %execution.workflow, execution = %execution.execution_id, "execution started");
    }
    let Some(wait) = wait else {
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok(id_response(status, &execution));
    };
    let id = execution.execution_id.as_str();
    let now = tokio::select! {
        now = state.engine.wait(id, wait) => now?,
        _ = state.shutting_down() => execution.clone(),
    };
    if now.status.is_terminal() {
        Ok(Json(now).into_response())
    } else {
        Ok(id_response(StatusCode::ACCEPTED, &now))
    }
}

/// The query of `GET /api/v1/executions`; empty values count as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListParams {
    workflow: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    next_token: Option<String>,
    started_after: Option<String>,
    started_before: Option<String>,
}

/// A time as RFC 3339 or milliseconds since the epoch.
fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    sluice_dsl::timestamp::parse(text)
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{field} must be an RFC 3339 time (2024-05-01T12:00:00Z) or milliseconds since the epoch, not '{text}'"
            ))
        })
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

impl ListParams {
    fn into_filter(self) -> Result<ListFilter, ApiError> {
        let status = non_empty(self.status)
            .map(|s| s.parse::<Status>())
            .transpose()
            .map_err(ApiError::bad_request)?;
        let limit = non_empty(self.limit)
            .map(|l| {
                l.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "limit must be a whole number from 1 to {MAX_PAGE}, not '{l}'"
                        ))
                    })
            })
            .transpose()?;
        let time = |field: &str, v: Option<String>| {
            non_empty(v).map(|t| parse_time(field, &t)).transpose()
        };
        Ok(ListFilter {
            workflow: non_empty(self.workflow),
            status,
            limit,
            next_token: non_empty(self.next_token),
            started_after_ms: time("startedAfter", self.started_after)?,
            started_before_ms: time("startedBefore", self.started_before)?,
        })
    }
}

/// `GET /api/v1/executions?workflow=&status=&startedAfter=&startedBefore=&limit=&nextToken=`:
/// `{"executions": […], "nextToken"}`, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let filter = params.into_filter()?;
    let engine = state.engine.clone();
    let page = blocking(move || engine.list_executions(&filter)).await?;
    Ok(Json(page).into_response())
}

/// `GET /api/v1/executions/{id}`.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(state.engine.execution(&id)?))
}

/// `GET /api/v1/executions/{id}/children`: `{"executions": […]}`, the
/// child executions it started (Distributed Map items, `startExecution`
/// tasks), oldest first, at most 1,000.
pub async fn children(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let engine = state.engine.clone();
    let children = blocking(move || engine.children(&id, sluice_engine::MAX_PAGE)).await?;
    Ok(Json(serde_json::json!({ "executions": children })).into_response())
}

/// `GET /api/v1/executions/{id}/history`: `{"events": […]}`, oldest first.
pub async fn history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let engine = state.engine.clone();
    let body = blocking(move || engine.history_json(&id)).await?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// The optional body of `POST /api/v1/executions/{id}/stop`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopBody {
    error: Option<String>,
    cause: Option<String>,
}

/// `POST /api/v1/executions/{id}/stop`: aborts a RUNNING execution;
/// answers with the execution as stopped.
pub async fn stop(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    OptionalJsonBody(body): OptionalJsonBody<StopBody>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(state.engine.stop(&id, body.error, body.cause).await?))
}

/// `POST /api/v1/executions/{id}/redrive`: resumes a failed, timed-out or
/// aborted execution from where it stopped; answers with the execution.
pub async fn redrive(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(state.engine.redrive(&id).await?))
}

/// `DELETE /api/v1/executions/{id}`: removes an execution that has ended,
/// with its history. 409 while it is RUNNING.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.engine.delete_execution(&id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
