//! `/api/v1/triggers`: trigger rules (`{ "name", "pattern", "workflow",
//! "input"? }`), validated with the dsl before the engine's catalog stores
//! them; the engine recompiles its rules on every change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use sluice_dsl::TriggerRule;
use sluice_engine::{Document, EngineError};

use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::{blocking, AppState};

const KIND: &str = "trigger";

/// `PUT /api/v1/triggers/{name}` → `{"name", "version"}`. The body's
/// `name`, when given, must be the path's; the same body again keeps the version.
pub async fn put(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(mut body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    if let Value::Object(map) = &mut body {
        match map.get("name") {
            None => {
                map.insert("name".into(), Value::String(name.clone()));
            }
            Some(Value::String(n)) if *n == name => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "the body's \"name\" ({other}) differs from the name in the path ('{name}'); make them the same"
                )))
            }
        }
    }
    TriggerRule::from_value(&body).map_err(EngineError::Invalid)?;
    let doc = state.engine.put_document(KIND, &name, body).await?;
    tracing::info!(trigger = %name, version = doc.version, "trigger rule stored");
    Ok(Json(json!({"name": doc.name, "version": doc.version})))
}

fn shown(doc: Document) -> Value {
    json!({"name": doc.name, "version": doc.version, "updatedAt": doc.updated_at, "definition": doc.body})
}

/// `GET /api/v1/triggers/{name}` → `{"name","version","updatedAt","definition"}`.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    match state.engine.document(KIND, &name, None)? {
        Some(doc) => Ok(Json(shown(doc))),
        None => Err(ApiError::not_found(format!(
            "no trigger rule named '{name}'; list them with GET /api/v1/triggers"
        ))),
    }
}

/// `GET /api/v1/triggers` → `{"triggers": [...]}`, by name.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let engine = state.engine.clone();
    let docs = blocking(move || engine.documents(KIND)).await?;
    let triggers: Vec<Value> = docs.into_iter().map(shown).collect();
    Ok(Json(json!({ "triggers": triggers })))
}

/// `DELETE /api/v1/triggers/{name}` → 204, or 404 when there is none.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.engine.delete_document(KIND, &name).await? {
        tracing::info!(trigger = %name, "trigger rule deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no trigger rule named '{name}'"
        )))
    }
}
