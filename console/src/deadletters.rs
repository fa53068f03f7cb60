//! `/api/v1/deadletters`: the dead-letter inbox — events whose rules'
//! templates or starts failed, and messages no source could read — each
//! with its reason. Read, then delete once handled.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_engine::{DeadLetterPage, DeadLetterRecord};

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::{blocking, AppState};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PageQuery {
    /// 1 to 1000; default 100.
    pub limit: Option<usize>,
    pub next_token: Option<String>,
}

/// `GET /api/v1/deadletters?limit=&nextToken=` → `{"deadLetters": [...], "nextToken"}`, oldest first.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let engine = state.engine.clone();
    let page =
        blocking(move || engine.dead_letters(q.limit.unwrap_or(100), q.next_token.as_deref()))
            .await?;
    Ok(Json(page))
}

/// `GET /api/v1/deadletters/{id}`.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeadLetterRecord>, ApiError> {
    state
        .engine
        .dead_letter_record(&id)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no dead letter with id '{id}'")))
}

/// `DELETE /api/v1/deadletters/{id}` → 204, or 404.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    match state.engine.delete_dead_letters(vec![id.clone()]).await? {
        0 => Err(ApiError::not_found(format!(
            "no dead letter with id '{id}'"
        ))),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// `DELETE /api/v1/deadletters` → `{"deleted": N}`: empties the inbox.
pub async fn purge(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut deleted = 0;
    loop {
        let engine = state.engine.clone();
        let page = blocking(move || engine.dead_letters(1000, None)).await?;
        if page.dead_letters.is_empty() {
            break;
        }
        let ids = page.dead_letters.into_iter().map(|d| d.id).collect();
        deleted += state.engine.delete_dead_letters(ids).await?;
    }
    Ok(Json(json!({ "deleted": deleted })))
}

/// The event counters in Prometheus text format.
pub(crate) fn metrics(out: &mut String, engine: &sluice_engine::Engine) {
    use std::fmt::Write;
    let s = engine.event_stats();
    for (name, help, value) in [
        (
            "sluice_events_received_total",
            "Events recorded by the engine (any outcome).",
            s.received,
        ),
        (
            "sluice_events_matched_total",
            "Events that matched at least one trigger rule.",
            s.matched,
        ),
        (
            "sluice_events_duplicate_total",
            "Events dropped as duplicates (same source and id within the window).",
            s.duplicates,
        ),
        (
            "sluice_events_dead_lettered_total",
            "Events and messages put in the dead-letter inbox.",
            s.dead_lettered,
        ),
        (
            "sluice_trigger_executions_started_total",
            "Executions started by trigger rules.",
            s.executions_started,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {value}");
    }
}
