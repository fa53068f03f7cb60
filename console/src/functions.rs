//! `/api/v1/functions`: function definitions in the engine's catalog (kind
//! `function`), their versions and aliases, direct invocation and logs.
//! Running functions is the binary's business: it hands the console a
//! [`FunctionHost`] (the executors), so this crate stays free of them.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;

use sluice_dsl::function::{FunctionDef, Runtime};
use sluice_dsl::Problems;
use sluice_engine::{Document, EngineError};

use crate::error::{codes, ApiError};
use crate::extract::{ApiPath, ApiQuery, JsonBody, OptionalJsonBody};
use crate::redact::Reveal;
use crate::{blocking, AppState};

/// The catalog kind of function definitions.
pub const KIND: &str = "function";

/// What runs functions for the API (implemented by the binary over the
/// executors).
#[async_trait::async_trait]
pub trait FunctionHost: Send + Sync + 'static {
    /// Invoke `name` at `qualifier` (version, alias or `$LATEST`); the
    /// answer is `{"result"| "error","cause", "meter"}`.
    async fn invoke(&self, name: &str, qualifier: Option<&str>, event: Value) -> Value;
    /// The last `limit` invocations of `name` (their meters), oldest first.
    fn logs(&self, name: &str, limit: usize) -> Value;
    /// Per-function counters in the Prometheus text format.
    fn metrics(&self) -> String;
    /// What `def` asks for that the host cannot enforce, as (JSON
    /// pointer, message); such a definition is not deployed.
    fn refusal(&self, _def: &FunctionDef) -> Option<(String, String)> {
        None
    }
    /// The command line of a function of Lambda runtime `runtime`
    /// (`python3.12`, `nodejs20.x`, `provided.al2023`) with `handler`, or
    /// why this server cannot run that runtime (naming the fix).
    fn lambda_command(&self, runtime: &str, _handler: &str) -> Result<Vec<String>, String> {
        Err(format!("this server runs no Lambda runtimes ({runtime})"))
    }
}

/// Check a definition sent to `PUT /api/v1/functions/{name}`: a valid
/// [`FunctionDef`] whose name is the path's, with absolute paths (the
/// server has no folder to resolve relative ones against; `sluice
/// function deploy` and `sluice apply` make them absolute), and a
/// `process` function's code in a `codeDir` or a `package`.
pub fn validate(name: &str, body: &Value) -> Result<FunctionDef, Problems> {
    let def = FunctionDef::from_value(body)?;
    let mut problems = Problems::default();
    if def.name != name {
        problems.push(
            "/name",
            format!("the definition is named '{}' but was sent to /api/v1/functions/{name}; make them the same", def.name),
        );
    }
    if def.runtime == Runtime::Process && def.code_dir.is_none() && def.package.is_none() {
        problems.push(
            "/codeDir",
            "a process function needs 'codeDir' (an absolute folder on the server) or 'package' (the sha256:… of an archive uploaded with POST /api/v1/packages)",
        );
    }
    // With a package, `module` is a path inside it (checked by the dsl).
    let module = def.module.as_ref().filter(|_| def.package.is_none());
    for (pointer, path) in [("/codeDir", def.code_dir.as_ref()), ("/module", module)] {
        if let Some(p) = path {
            if !Path::new(p).is_absolute() {
                problems.push(
                    pointer,
                    format!("'{p}' is relative; give an absolute path on the server (sluice function deploy FILE resolves it against FILE's folder)"),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(def)
    } else {
        Err(problems)
    }
}

fn summary(doc: &Document) -> Value {
    json!({
        "name": doc.name,
        "version": doc.version,
        "runtime": doc.body.get("runtime"),
        "description": doc.body.get("description"),
        "updatedAt": doc.updated_at,
    })
}

/// `PUT /api/v1/functions/{name}` → `{"name","version"}`; the same
/// definition as the latest answers with that version. A definition may
/// carry its package inline, `"code": {"zipFile": "<base64>"}` (as Lambda's
/// CreateFunction): it is stored as a package and the definition keeps
/// only its `"package"`; the answer then has `codeSha256` and `codeSize`.
pub async fn deploy(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(mut body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let package = crate::function_code::inline(&state, &mut body).await?;
    let doc = store(&state, &name, body).await?;
    tracing::info!(function = %name, version = doc.version, "function deployed");
    let mut answer = json!({"name": doc.name, "version": doc.version});
    if let Some(p) = package {
        answer["package"] = p["package"].clone();
        answer["codeSha256"] = p["codeSha256"].clone();
        answer["codeSize"] = p["codeSize"].clone();
    }
    Ok(Json(answer))
}

/// Validate a definition (its package must be stored) and store it as the
/// next version of `name`.
pub(crate) async fn store(state: &AppState, name: &str, body: Value) -> Result<Document, ApiError> {
    let def = validate(name, &body).map_err(EngineError::Invalid)?;
    if let Some((pointer, message)) = state.functions.as_ref().and_then(|h| h.refusal(&def)) {
        let mut problems = Problems::default();
        problems.push(pointer, message);
        return Err(EngineError::Invalid(problems).into());
    }
    crate::function_code::check_package(state, &def)?;
    Ok(state.engine.put_document(KIND, name, body).await?)
}

/// `PUT /api/v1/functions/{name}/package` with an archive as the body
/// (Lambda's UpdateFunctionCode): stores the package and deploys the
/// latest definition of `name` again with it as the code (`codeDir`
/// dropped) → `{"name", "version", "package", "codeSha256", "codeSize", …}`.
/// Earlier versions keep their code.
pub async fn update_code(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let host = crate::packages::host(&state)?;
    let latest = state.engine.document(KIND, &name, None)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no function named '{name}' to give new code; deploy its definition first: PUT /api/v1/functions/{name} with \"package\": \"sha256:…\" (sluice function deploy FILE --package PATH)"
        ))
    })?;
    let package = crate::packages::receive(host, &headers, body).await?;
    let mut definition = latest.body;
    if let Some(o) = definition.as_object_mut() {
        o.remove("codeDir");
        o.insert("package".into(), package["package"].clone());
    }
    let doc = store(&state, &name, definition).await?;
    tracing::info!(function = %name, version = doc.version, package = %package["package"].as_str().unwrap_or_default(), "function code updated");
    let mut answer = package;
    answer["name"] = json!(doc.name);
    answer["version"] = json!(doc.version);
    Ok(Json(answer))
}

/// `GET /api/v1/functions` → `{"functions": [{name, version, runtime, description, updatedAt}]}`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let engine = state.engine.clone();
    let docs = blocking(move || engine.documents(KIND)).await?;
    Ok(Json(
        json!({"functions": docs.iter().map(summary).collect::<Vec<_>>()}),
    ))
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "no function named '{name}'; deploy one with PUT /api/v1/functions/{name} (sluice function deploy FILE)"
    ))
}

/// `GET /api/v1/functions/{name}` → the latest definition, versions and aliases.
/// `env` values and credentials are masked unless an admin asks `?reveal=true`.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    Reveal(reveal): Reveal,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine.clone();
    let n = name.clone();
    let (latest, versions, aliases) = blocking(move || {
        Ok((
            engine.document(KIND, &n, None)?,
            engine.document_versions(KIND, &n)?,
            engine.document_aliases(KIND, &n)?,
        ))
    })
    .await?;
    let mut latest = latest.ok_or_else(|| not_found(&name))?;
    if !reveal {
        crate::redact::function_definition(&mut latest.body);
    }
    Ok(Json(json!({
        "name": latest.name,
        "version": latest.version,
        "updatedAt": latest.updated_at,
        "definition": latest.body,
        "versions": versions.iter().map(|d| json!({"version": d.version, "updatedAt": d.updated_at})).collect::<Vec<_>>(),
        "aliases": aliases.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<String, Value>>(),
    })))
}

/// `GET /api/v1/functions/{name}/versions/{version}` → that version's definition.
pub async fn version(
    State(state): State<AppState>,
    ApiPath((name, version)): ApiPath<(String, u64)>,
    Reveal(reveal): Reveal,
) -> Result<Json<Value>, ApiError> {
    match state.engine.document(KIND, &name, Some(version))? {
        Some(mut doc) => {
            if !reveal {
                crate::redact::function_definition(&mut doc.body);
            }
            Ok(Json(doc.body))
        }
        None => Err(ApiError::not_found(format!(
            "function '{name}' has no version {version}"
        ))),
    }
}

/// `DELETE /api/v1/functions/{name}`: every version and alias; 204, or 404.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.engine.delete_document(KIND, &name).await? {
        tracing::info!(function = %name, "function deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&name))
    }
}

#[derive(Deserialize)]
pub struct AliasBody {
    version: u64,
}

/// `PUT /api/v1/functions/{name}/aliases/{alias}` with `{"version": N}`.
pub async fn put_alias(
    State(state): State<AppState>,
    ApiPath((name, alias)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<AliasBody>,
) -> Result<Json<Value>, ApiError> {
    if sluice_dsl::resource::ResourceRef::parse(&format!("sluice:function:{name}:{alias}")).is_err()
        || alias.parse::<u64>().is_ok()
        || alias == "$LATEST"
    {
        return Err(ApiError::bad_request(format!(
            "'{alias}' cannot be an alias: use letters, digits, '-' and '_' (at most 64), not only digits"
        )));
    }
    state
        .engine
        .put_document_alias(KIND, &name, &alias, body.version)
        .await?;
    Ok(Json(
        json!({"name": name, "alias": alias, "version": body.version}),
    ))
}

/// `DELETE /api/v1/functions/{name}/aliases/{alias}`: 204; the versions stay.
pub async fn delete_alias(
    State(state): State<AppState>,
    ApiPath((name, alias)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if state
        .engine
        .delete_document_alias(KIND, &name, &alias)
        .await?
    {
        tracing::info!(function = %name, alias = %alias, "alias deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(EngineError::NotFound(format!("function '{name}' has no alias '{alias}'")).into())
    }
}

/// `GET /api/v1/functions/{name}/aliases` → `{"aliases": {ALIAS: VERSION}}`.
pub async fn aliases(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    if state.engine.document(KIND, &name, None)?.is_none() {
        return Err(not_found(&name));
    }
    let aliases: serde_json::Map<String, Value> = state
        .engine
        .document_aliases(KIND, &name)?
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    Ok(Json(json!({"aliases": aliases})))
}

fn host(state: &AppState) -> Result<&std::sync::Arc<dyn FunctionHost>, ApiError> {
    state.functions.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            "this server runs no functions",
        )
    })
}

#[derive(Deserialize)]
pub struct InvokeQuery {
    qualifier: Option<String>,
}

/// `POST /api/v1/functions/{name}/invocations[?qualifier=ALIAS|VERSION]`:
/// the body is the event. 200 with `{"result", "meter"}`, or with
/// `{"error", "cause", "meter"}` when the function failed (as Lambda's
/// Invoke answers 200 for a function error); 404 for an unknown function,
/// 429 when throttled.
pub async fn invoke(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<InvokeQuery>,
    OptionalJsonBody(event): OptionalJsonBody<Value>,
) -> Result<Response, ApiError> {
    let host = host(&state)?.clone();
    let answer = host.invoke(&name, query.qualifier.as_deref(), event).await;
    let status = match answer.get("error").and_then(Value::as_str) {
        Some("Sluice.FunctionNotFound") => StatusCode::NOT_FOUND,
        Some("Sluice.Throttled") => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::OK,
    };
    if status != StatusCode::OK {
        let code = if status == StatusCode::NOT_FOUND {
            codes::NOT_FOUND
        } else {
            "throttled"
        };
        let mut e = ApiError::new(status, code, answer["cause"].as_str().unwrap_or_default());
        e.details = answer;
        return Err(e);
    }
    Ok((status, Json(answer)).into_response())
}

#[derive(Deserialize)]
pub struct LogsQuery {
    limit: Option<usize>,
}

/// `GET /api/v1/functions/{name}/logs?limit=N` → `{"logs": [meter…]}`, the
/// last invocations (at most 200 are kept per function), oldest first.
pub async fn logs(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let host = host(&state)?;
    Ok(Json(
        json!({"logs": host.logs(&name, query.limit.unwrap_or(50).min(200))}),
    ))
}
