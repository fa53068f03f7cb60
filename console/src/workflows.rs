//! `/api/v1/workflows`: deploy a definition as a new version, list,
//! describe and delete workflows, read one version's definition, and
//! manage aliases.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_engine::{AliasRoute, EngineError, Workflow, WorkflowType, WorkflowVersion};

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::{blocking, AppState};

/// `?type=STANDARD|EXPRESS` on a deploy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployParams {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `PUT /api/v1/workflows/{name}[?type=EXPRESS]`: the body is the ASL
/// definition. The same definition as the latest version returns that
/// version, so deploying is idempotent. The type (STANDARD by default) is
/// fixed by the first deploy; a later one that names another type is 409.
pub async fn deploy(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<DeployParams>,
    JsonBody(definition): JsonBody<Value>,
) -> Result<Json<WorkflowVersion>, ApiError> {
    let kind = params
        .kind
        .filter(|k| !k.is_empty())
        .map(|k| k.parse::<WorkflowType>())
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("query parameter 'type': {e}")))?;
    let version = state.engine.deploy_as(&name, definition, kind).await?;
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

/// `DELETE /api/v1/workflows/{name}/versions/{version}`: 204; the version
/// leaves the listings and qualified starts, its executions go on, its
/// definition stays readable for them. 409 while an alias routes to it.
pub async fn delete_version(
    State(state): State<AppState>,
    ApiPath((name, version)): ApiPath<(String, u64)>,
) -> Result<StatusCode, ApiError> {
    if state.engine.delete_version(&name, version).await? {
        tracing::info!(workflow = %name, version, "version deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(EngineError::NotFound(format!("workflow '{name}' has no version {version}")).into())
    }
}

/// `DELETE /api/v1/workflows/{name}`: the workflow, its versions and
/// aliases go; its executions stay readable. 409 while one is RUNNING.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_workflow(&name).await?;
    tracing::info!(workflow = %name, "workflow deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `PUT /api/v1/workflows/{name}/aliases/{alias}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    /// One or two `{"version", "weight"}` routes; weights add up to 100.
    routes: Vec<AliasRoute>,
}

/// `PUT /api/v1/workflows/{name}/aliases/{alias}`: create or replace an
/// alias; answers with the workflow as it is now. Start `NAME:ALIAS`.
pub async fn put_alias(
    State(state): State<AppState>,
    ApiPath((name, alias)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<AliasBody>,
) -> Result<Json<Workflow>, ApiError> {
    state.engine.put_alias(&name, &alias, body.routes).await?;
    tracing::info!(workflow = %name, alias = %alias, "alias set");
    Ok(Json(state.engine.workflow(&name)?))
}

/// `DELETE /api/v1/workflows/{name}/aliases/{alias}`.
pub async fn delete_alias(
    State(state): State<AppState>,
    ApiPath((name, alias)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if state.engine.delete_alias(&name, &alias).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(EngineError::NotFound(format!("workflow '{name}' has no alias '{alias}'")).into())
    }
}
