//! `/api/v1/sources`: source bindings (DESIGN.md, "Source binding") stored
//! in the engine's catalog (kind `source`), their live status, connection
//! tests, and S3/MinIO event notifications.
//!
//! The console knows nothing of brokers: the running sources sit behind the
//! [`SourceControl`] port, which the binary implements with
//! `sluice-connectors`. Without it (tests, a server built without sources)
//! bindings are still stored and listed, without status.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use sluice_dsl::source::{SourceDef, SourceSpec};

use crate::error::{codes, ApiError};
use crate::extract::{ApiPath, JsonBody};
use crate::redact::Reveal;
use crate::{blocking, AppState};

/// The catalog kind of source bindings.
pub const KIND: &str = "source";

/// What the API needs from the running sources.
#[async_trait::async_trait]
pub trait SourceControl: Send + Sync + 'static {
    /// The live status of a running source (connected, lag, last error,
    /// counts) as JSON; `None` when it is not running.
    fn status(&self, name: &str) -> Option<Value>;
    /// Checks the binding's connection; `Ok(message)` when it works.
    async fn test(&self, def: &SourceDef) -> Result<String, String>;
    /// Turns an S3/MinIO event notification into events and submits them
    /// for `def`; answers the outcomes, or why the body was refused (400).
    async fn notify(&self, def: &SourceDef, body: Value) -> Result<Value, NotifyError>;
    /// Prometheus lines of the sources (appended to `/metrics`).
    fn metrics(&self) -> String;
}

/// Why a notification was not taken.
#[derive(Debug)]
pub enum NotifyError {
    /// The body is not an event notification (answered 400).
    Invalid(String),
    /// The engine failed (answered as its error).
    Engine(sluice_engine::EngineError),
}

fn load(state: &AppState, name: &str) -> Result<(u64, SourceDef), ApiError> {
    let doc = state.engine.document(KIND, name, None)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no source named '{name}' (PUT /api/v1/sources/{name} creates it)"
        ))
    })?;
    let def = SourceDef::from_value(&doc.body).map_err(|p| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            format!("stored source '{name}' no longer validates: {p}"),
        )
    })?;
    Ok((doc.version, def))
}

fn describe(state: &AppState, version: u64, def: &SourceDef) -> Value {
    let status = state.sources.as_ref().and_then(|s| s.status(&def.name));
    json!({
        "name": def.name,
        "kind": def.spec.kind(),
        "version": version,
        "enabled": def.enabled,
        "definition": def.to_value(),
        "status": status,
    })
}

/// `PUT /api/v1/sources/{name}`: validates and stores the binding (a new
/// version when it changed); the running source follows the catalog.
pub async fn put(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(mut body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    if let Some(obj) = body.as_object_mut() {
        match obj.get("name") {
            None => {
                obj.insert("name".into(), Value::String(name.clone()));
            }
            Some(Value::String(n)) if *n == name => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "/name: the body names {other} but the path names '{name}'; make them equal or leave name out"
                )))
            }
        }
    }
    let def = SourceDef::from_value(&body).map_err(sluice_engine::EngineError::Invalid)?;
    let doc = state
        .engine
        .put_document(KIND, &name, def.to_value())
        .await?;
    tracing::info!(source = %name, version = doc.version, "source stored");
    Ok(Json(json!({"name": name, "version": doc.version})))
}

/// `GET /api/v1/sources/{name}`: the definition, version and live status.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    Reveal(reveal): Reveal,
) -> Result<Json<Value>, ApiError> {
    let (version, def) = load(&state, &name)?;
    let mut answer = describe(&state, version, &def);
    if !reveal {
        crate::redact::credentials(&mut answer);
    }
    Ok(Json(answer))
}

/// `GET /api/v1/sources`: `{"sources": [...]}` by name, each with its status.
/// Credentials are masked unless an admin asks `?reveal=true`.
pub async fn list(
    State(state): State<AppState>,
    Reveal(reveal): Reveal,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine.clone();
    let docs = blocking(move || engine.documents(KIND)).await?;
    let sources: Vec<Value> = docs
        .iter()
        .filter_map(|d| {
            SourceDef::from_value(&d.body)
                .ok()
                .map(|def| describe(&state, d.version, &def))
        })
        .collect();
    let mut answer = json!({ "sources": sources });
    if !reveal {
        crate::redact::credentials(&mut answer);
    }
    Ok(Json(answer))
}

/// `DELETE /api/v1/sources/{name}`: 204; the running source stops.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.engine.delete_document(KIND, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no source named '{name}'")))
    }
}

fn control(state: &AppState) -> Result<&std::sync::Arc<dyn SourceControl>, ApiError> {
    state.sources.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            "this server runs no sources",
        )
    })
}

/// `POST /api/v1/sources/{name}/test`: `{"ok", "message"}` — whether the
/// server reaches the broker (and the queue/topics exist).
pub async fn test(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, def) = load(&state, &name)?;
    let result = control(&state)?.test(&def).await;
    Ok(Json(match result {
        Ok(m) => json!({"ok": true, "message": m}),
        Err(m) => json!({"ok": false, "message": m}),
    }))
}

/// `POST /api/v1/sources/{name}/notifications`: an S3/MinIO event
/// notification (`{"Records": [...]}`) for an `s3` source; its
/// ObjectCreated/ObjectRemoved events go to the trigger rules.
pub async fn notifications(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let (_, def) = load(&state, &name)?;
    if !matches!(def.spec, SourceSpec::S3(_)) {
        return Err(ApiError::bad_request(format!(
            "source '{name}' is of kind {}; notifications go to an s3 source",
            def.spec.kind()
        )));
    }
    match control(&state)?.notify(&def, body).await {
        Ok(v) => Ok(Json(v)),
        Err(NotifyError::Invalid(m)) => Err(ApiError::bad_request(m)),
        Err(NotifyError::Engine(e)) => Err(e.into()),
    }
}
