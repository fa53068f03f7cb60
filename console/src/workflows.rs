//! `/api/v1/workflows`: deploy a definition as a new version, list and
//! describe workflows, read one version's definition.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use sluice_engine::{Workflow, WorkflowVersion};

use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::{blocking, AppState};

/// `PUT /api/v1/workflows/{name}`: the body is the ASL definition. The
/// same definition as the latest version returns that version, so
/// deploying is idempotent.
pub async fn deploy(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(definition): JsonBody<Value>,
) -> Result<Json<WorkflowVersion>, ApiError> {
    let version = state.engine.deploy(&name, definition).await?;
    tracing::info!(workflow = %version.name, version = version.version, "workflow deployed");
    Ok(Json(version))
}

/// `GET /api/v1/workflows`: `{"workflows": [Workflow…]}`, by name.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let engine = state.engine.clone();
    let workflows = blocking(move || engine.workflows()).await?;
    Ok(Json(json!({ "workflows": workflows })))
}

/// `GET /api/v1/workflows/{name}`: versions, aliases and the latest definition.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Workflow>, ApiError> {
    Ok(Json(state.engine.workflow(&name)?))
}

/// `GET /api/v1/workflows/{name}/versions/{version}`: that version's definition as deployed.
pub async fn version(
    State(state): State<AppState>,
    ApiPath((name, version)): ApiPath<(String, u64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.engine.workflow_version(&name, version)?))
}
