//! Lambda's REST-JSON API under `/2015-03-31/functions`: a Lambda function
//! is a Sluice `process` function speaking the Runtime API (its runtime's
//! interface client found on the server, see
//! `sluice_executors::lambda::runtimes`), its code a package, its versions
//! and aliases the catalog's. What Lambda keeps and a Sluice definition has
//! no field for (the runtime name, the role, tags) is kept beside it as
//! `aws-function/NAME`. Invoke runs it (`RequestResponse`), checks it
//! (`DryRun`) or queues it durably (`Event`: an execution of the workflow
//! `sluice-lambda-events`, retried as Lambda retries asynchronous
//! invocations).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sluice_engine::{Document, EngineError, StartRequest};
use std::collections::HashMap;

use crate::AppState;

const META_KIND: &str = "aws-function";
const FUNCTION_KIND: &str = crate::functions::KIND;
/// The workflow that runs `Event` invocations.
pub(crate) const EVENTS_WORKFLOW: &str = "sluice-lambda-events";

/// A Lambda error: HTTP status, `x-amzn-ErrorType` and a message.
pub(crate) struct LambdaError(StatusCode, &'static str, String);

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let body = json!({"Type": "User", "__type": self.1, "message": self.2});
        let mut res = (self.0, axum::Json(body)).into_response();
        res.headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.1));
        res
    }
}

type Answer = Result<Response, LambdaError>;

fn invalid(m: impl Into<String>) -> LambdaError {
    LambdaError(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        m.into(),
    )
}

fn missing(name: &str) -> LambdaError {
    LambdaError(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Function not found: {}", function_arn("us-east-1", name)),
    )
}

fn from_api(e: crate::ApiError) -> LambdaError {
    match e.status.as_u16() {
        404 => LambdaError(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            e.message,
        ),
        409 => LambdaError(StatusCode::CONFLICT, "ResourceConflictException", e.message),
        413 => LambdaError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            e.message,
        ),
        400 => {
            let details = e.details.as_array().map(|d| {
                d.iter()
                    .map(|p| {
                        format!(
                            "{}: {}",
                            p["pointer"].as_str().unwrap_or(""),
                            p["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            invalid(details.filter(|d| !d.is_empty()).unwrap_or(e.message))
        }
        503 => LambdaError(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            e.message,
        ),
        _ => LambdaError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            e.message,
        ),
    }
}

fn from_engine(e: EngineError) -> LambdaError {
    from_api(e.into())
}

fn function_arn(region: &str, name: &str) -> String {
    format!(
        "arn:aws:lambda:{region}:{}:function:{name}",
        super::arn::ACCOUNT
    )
}

/// A `FunctionName` (name, ARN or partial ARN) → name and qualifier.
fn parse_name(text: &str) -> Result<(String, Option<String>), LambdaError> {
    let rest = match text.find("function:") {
        Some(i) if text.starts_with("arn:") || text.contains(':') => &text[i + "function:".len()..],
        _ => text,
    };
    let (name, qualifier) = match rest.split_once(':') {
        Some((n, q)) => (n, Some(q.to_string())),
        None => (rest, None),
    };
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !ok {
        return Err(invalid(format!(
            "1 validation error detected: Value '{text}' at 'functionName' failed to satisfy constraint: a function name is 1 to 64 letters, digits, '-' or '_'"
        )));
    }
    Ok((name.to_string(), qualifier))
}

fn json_body(body: &Bytes) -> Result<Map<String, Value>, LambdaError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(LambdaError(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "the request body is not a JSON object".into(),
        )),
    }
}

fn meta(state: &AppState, name: &str) -> Map<String, Value> {
    state
        .engine
        .document(META_KIND, name, None)
        .ok()
        .flatten()
        .and_then(|d| d.body.as_object().cloned())
        .unwrap_or_default()
}

/// FunctionConfiguration of one stored version.
fn configuration(
    region: &str,
    doc: &Document,
    meta: &Map<String, Value>,
    version: &str,
    packages: Option<&Value>,
) -> Value {
    let def = &doc.body;
    let env = def.get("env").cloned().unwrap_or_else(|| json!({}));
    let package = packages.cloned().unwrap_or(Value::Null);
    json!({
        "FunctionName": doc.name,
        "FunctionArn": function_arn(region, &doc.name),
        "Runtime": meta.get("Runtime").cloned().unwrap_or_else(|| json!("provided.al2023")),
        "Role": meta.get("Role").cloned().unwrap_or_else(|| json!(format!("arn:aws:iam::{}:role/sluice", super::arn::ACCOUNT))),
        "Handler": def.get("handler").cloned().unwrap_or(Value::Null),
        "Description": def.get("description").cloned().unwrap_or_else(|| json!("")),
        "Timeout": def.get("timeoutSeconds").cloned().unwrap_or(json!(30)),
        "MemorySize": def.get("memoryMb").cloned().unwrap_or(json!(128)),
        "LastModified": doc.updated_at,
        "CodeSha256": package.get("codeSha256").cloned().unwrap_or_else(|| json!("")),
        "CodeSize": package.get("codeSize").cloned().unwrap_or(json!(0)),
        "Version": version,
        "Environment": {"Variables": env},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
    })
}

fn package_of(state: &AppState, def: &Value) -> Option<Value> {
    let reference = def.get("package")?.as_str()?;
    state.packages.as_ref()?.get(reference)
}

fn ok(status: StatusCode, v: Value) -> Answer {
    Ok((status, axum::Json(v)).into_response())
}

/// The latest stored definition of `name`.
fn latest(state: &AppState, name: &str) -> Result<Document, LambdaError> {
    state
        .engine
        .document(FUNCTION_KIND, name, None)
        .map_err(from_engine)?
        .ok_or_else(|| missing(name))
}

/// The document a qualifier names: `$LATEST`, a version number or an alias.
fn qualified(
    state: &AppState,
    name: &str,
    qualifier: Option<&str>,
) -> Result<(Document, String), LambdaError> {
    let engine = &state.engine;
    let version = match qualifier {
        None | Some("$LATEST") => return Ok((latest(state, name)?, "$LATEST".into())),
        Some(q) => match q.parse::<u64>() {
            Ok(v) => v,
            Err(_) => engine
                .document_aliases(FUNCTION_KIND, name)
                .map_err(from_engine)?
                .into_iter()
                .find(|(a, _)| a == q)
                .map(|(_, v)| v)
                .ok_or_else(|| missing(&format!("{name}:{q}")))?,
        },
    };
    let doc = engine
        .document(FUNCTION_KIND, name, Some(version))
        .map_err(from_engine)?
        .ok_or_else(|| missing(&format!("{name}:{version}")))?;
    Ok((doc, version.to_string()))
}

fn region(headers: &HeaderMap) -> String {
    super::region(headers)
}

/// CreateFunction: a `process` + `lambda` function of the runtime's
/// command line, with the zip as its package.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let req = json_body(&body)?;
    let text = |k: &str| req.get(k).and_then(Value::as_str);
    let (name, _) =
        parse_name(text("FunctionName").ok_or_else(|| invalid("FunctionName is required"))?)?;
    if state
        .engine
        .document(FUNCTION_KIND, &name, None)
        .map_err(from_engine)?
        .is_some()
    {
        return Err(LambdaError(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("Function already exist: {name}"),
        ));
    }
    if text("PackageType") == Some("Image") {
        return Err(invalid(
            "PackageType Image is not supported here: give Code.ZipFile",
        ));
    }
    let runtime = text("Runtime").ok_or_else(|| {
        invalid("Runtime is required for a Zip package (python3.x, nodejs…, provided.al2023)")
    })?;
    let handler = text("Handler").unwrap_or(if runtime.starts_with("provided") {
        "bootstrap"
    } else {
        ""
    });
    if handler.is_empty() {
        return Err(invalid(format!(
            "Handler is required for runtime {runtime} (e.g. app.handler)"
        )));
    }
    let host = state.functions.clone().ok_or_else(|| {
        LambdaError(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "this server runs no functions".into(),
        )
    })?;
    let command = host.lambda_command(runtime, handler).map_err(invalid)?;
    let zip = req
        .get("Code")
        .and_then(|c| c.get("ZipFile"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid("Code.ZipFile is required (S3 code locations are not supported here)")
        })?;
    let mut def = json!({
        "name": name, "runtime": "process", "protocol": "lambda", "command": command, "handler": handler,
        // Lambda functions reach the network unless placed in a VPC.
        "network": true,
        "timeoutSeconds": req.get("Timeout").cloned().unwrap_or(json!(3)),
        "memoryMb": req.get("MemorySize").cloned().unwrap_or(json!(128)),
        "env": req.get("Environment").and_then(|e| e.get("Variables")).cloned().unwrap_or_else(|| json!({})),
        "code": {"zipFile": zip},
    });
    if let Some(d) = req
        .get("Description")
        .filter(|d| d.as_str().is_some_and(|s| !s.is_empty()))
    {
        def["description"] = d.clone();
    }
    // Lambda's own fields go first and are taken back if the function is
    // refused, so a failed create leaves nothing behind.
    let mut m = Map::new();
    m.insert("Runtime".into(), json!(runtime));
    for k in ["Role", "Tags"] {
        if let Some(v) = req.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    state
        .engine
        .put_document(META_KIND, &name, Value::Object(m.clone()))
        .await
        .map_err(from_engine)?;
    let stored = async {
        let package = crate::function_code::inline(&state, &mut def).await?;
        let doc = crate::functions::store(&state, &name, def).await?;
        Ok::<_, crate::ApiError>((package, doc))
    }
    .await;
    let (package, doc) = match stored {
        Ok(p) => p,
        Err(e) => {
            let _ = state.engine.delete_document(META_KIND, &name).await;
            return Err(from_api(e));
        }
    };
    let version = if req.get("Publish") == Some(&json!(true)) {
        doc.version.to_string()
    } else {
        "$LATEST".into()
    };
    ok(
        StatusCode::CREATED,
        configuration(&region(&headers), &doc, &m, &version, package.as_ref()),
    )
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Answer {
    let docs = state.engine.documents(FUNCTION_KIND).map_err(from_engine)?;
    let region = region(&headers);
    let functions: Vec<Value> = docs
        .iter()
        .map(|d| {
            configuration(
                &region,
                d,
                &meta(&state, &d.name),
                "$LATEST",
                package_of(&state, &d.body).as_ref(),
            )
        })
        .collect();
    ok(StatusCode::OK, json!({"Functions": functions}))
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Answer {
    let (name, qualifier) = parse_name(&name)?;
    let qualifier = qualifier.or_else(|| q.get("Qualifier").cloned());
    let (doc, version) = qualified(&state, &name, qualifier.as_deref())?;
    let m = meta(&state, &name);
    let config = configuration(
        &region(&headers),
        &doc,
        &m,
        &version,
        package_of(&state, &doc.body).as_ref(),
    );
    let tags = m.get("Tags").cloned().unwrap_or_else(|| json!({}));
    ok(
        StatusCode::OK,
        json!({"Configuration": config, "Code": {"RepositoryType": "Sluice"}, "Tags": tags}),
    )
}

pub async fn get_configuration(
    state: State<AppState>,
    name: Path<String>,
    q: Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Answer {
    let res = get(state, name, q, headers).await?;
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .map_err(|e| {
            LambdaError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                e.to_string(),
            )
        })?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    ok(StatusCode::OK, v["Configuration"].clone())
}

pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Answer {
    let (name, _) = parse_name(&name)?;
    if !state
        .engine
        .delete_document(FUNCTION_KIND, &name)
        .await
        .map_err(from_engine)?
    {
        return Err(missing(&name));
    }
    state
        .engine
        .delete_document(META_KIND, &name)
        .await
        .map_err(from_engine)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// UpdateFunctionConfiguration: memory, timeout, environment, description
/// (and the handler and runtime, which give a new command line).
pub async fn update_configuration(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let req = json_body(&body)?;
    let doc = latest(&state, &name)?;
    let mut def = doc.body.clone();
    let mut m = meta(&state, &name);
    if let Some(v) = req.get("Timeout") {
        def["timeoutSeconds"] = v.clone();
    }
    if let Some(v) = req.get("MemorySize") {
        def["memoryMb"] = v.clone();
    }
    if let Some(v) = req.get("Environment") {
        def["env"] = v.get("Variables").cloned().unwrap_or_else(|| json!({}));
    }
    if let Some(v) = req.get("Description") {
        def["description"] = v.clone();
    }
    if req.get("Runtime").is_some() || req.get("Handler").is_some() {
        let runtime = req
            .get("Runtime")
            .or_else(|| m.get("Runtime"))
            .and_then(Value::as_str)
            .unwrap_or("provided.al2023")
            .to_string();
        let handler = req
            .get("Handler")
            .or_else(|| def.get("handler"))
            .and_then(Value::as_str)
            .unwrap_or("bootstrap")
            .to_string();
        let host = state.functions.clone().ok_or_else(|| {
            LambdaError(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceException",
                "this server runs no functions".into(),
            )
        })?;
        def["command"] = json!(host.lambda_command(&runtime, &handler).map_err(invalid)?);
        def["handler"] = json!(handler);
        m.insert("Runtime".into(), json!(runtime));
    }
    if let Some(r) = req.get("Role") {
        m.insert("Role".into(), r.clone());
    }
    let doc = crate::functions::store(&state, &name, def)
        .await
        .map_err(from_api)?;
    state
        .engine
        .put_document(META_KIND, &name, Value::Object(m.clone()))
        .await
        .map_err(from_engine)?;
    ok(
        StatusCode::OK,
        configuration(
            &region(&headers),
            &doc,
            &m,
            "$LATEST",
            package_of(&state, &doc.body).as_ref(),
        ),
    )
}

/// UpdateFunctionCode with a `ZipFile`: a new package, a new version.
pub async fn update_code(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let req = json_body(&body)?;
    let zip = req
        .get("ZipFile")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("ZipFile is required (S3 code locations are not supported here)"))?;
    let doc = latest(&state, &name)?;
    let mut def = doc.body.clone();
    if let Some(o) = def.as_object_mut() {
        o.remove("package");
        o.remove("codeDir");
        o.insert("code".into(), json!({"zipFile": zip}));
    }
    let package = crate::function_code::inline(&state, &mut def)
        .await
        .map_err(from_api)?;
    let doc = crate::functions::store(&state, &name, def)
        .await
        .map_err(from_api)?;
    let m = meta(&state, &name);
    let version = if req.get("Publish") == Some(&json!(true)) {
        doc.version.to_string()
    } else {
        "$LATEST".into()
    };
    ok(
        StatusCode::OK,
        configuration(&region(&headers), &doc, &m, &version, package.as_ref()),
    )
}

/// PublishVersion: every change is a stored version already; this names
/// the latest.
pub async fn publish(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let doc = latest(&state, &name)?;
    let m = meta(&state, &name);
    ok(
        StatusCode::CREATED,
        configuration(
            &region(&headers),
            &doc,
            &m,
            &doc.version.to_string(),
            package_of(&state, &doc.body).as_ref(),
        ),
    )
}

pub async fn list_versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let latest_doc = latest(&state, &name)?;
    let m = meta(&state, &name);
    let region = region(&headers);
    let mut versions = vec![configuration(
        &region,
        &latest_doc,
        &m,
        "$LATEST",
        package_of(&state, &latest_doc.body).as_ref(),
    )];
    for d in state
        .engine
        .document_versions(FUNCTION_KIND, &name)
        .map_err(from_engine)?
    {
        versions.push(configuration(
            &region,
            &d,
            &m,
            &d.version.to_string(),
            package_of(&state, &d.body).as_ref(),
        ));
    }
    ok(StatusCode::OK, json!({"Versions": versions}))
}

fn alias_view(
    region: &str,
    name: &str,
    alias: &str,
    version: u64,
    meta: &Map<String, Value>,
) -> Value {
    json!({
        "AliasArn": format!("{}:{alias}", function_arn(region, name)),
        "Name": alias,
        "FunctionVersion": version.to_string(),
        "Description": meta.get("Aliases").and_then(|a| a.get(alias)).and_then(|a| a.get("Description")).cloned().unwrap_or_else(|| json!("")),
    })
}

async fn set_alias(
    state: &AppState,
    name: &str,
    alias: &str,
    req: &Map<String, Value>,
) -> Result<u64, LambdaError> {
    if req.get("RoutingConfig").is_some_and(|r| {
        r.get("AdditionalVersionWeights")
            .is_some_and(|w| w.as_object().is_some_and(|o| !o.is_empty()))
    }) {
        return Err(invalid("RoutingConfig with AdditionalVersionWeights is not supported here: an alias points at one version"));
    }
    let version: u64 = req
        .get("FunctionVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("FunctionVersion is required"))?
        .parse()
        .map_err(|_| invalid("FunctionVersion is a published version number"))?;
    state
        .engine
        .put_document_alias(FUNCTION_KIND, name, alias, version)
        .await
        .map_err(from_engine)?;
    if let Some(d) = req.get("Description") {
        let mut m = meta(state, name);
        let aliases = m.entry("Aliases").or_insert_with(|| json!({}));
        aliases[alias] = json!({"Description": d});
        state
            .engine
            .put_document(META_KIND, name, Value::Object(m))
            .await
            .map_err(from_engine)?;
    }
    Ok(version)
}

pub async fn create_alias(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    latest(&state, &name)?;
    let req = json_body(&body)?;
    let alias = req
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("Name is required"))?
        .to_string();
    if state
        .engine
        .document_aliases(FUNCTION_KIND, &name)
        .map_err(from_engine)?
        .iter()
        .any(|(a, _)| *a == alias)
    {
        return Err(LambdaError(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("Alias already exists: {alias}"),
        ));
    }
    let version = set_alias(&state, &name, &alias, &req).await?;
    ok(
        StatusCode::CREATED,
        alias_view(
            &region(&headers),
            &name,
            &alias,
            version,
            &meta(&state, &name),
        ),
    )
}

pub async fn update_alias(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let mut req = json_body(&body)?;
    let current = state
        .engine
        .document_aliases(FUNCTION_KIND, &name)
        .map_err(from_engine)?
        .into_iter()
        .find(|(a, _)| *a == alias);
    let Some((_, version)) = current else {
        return Err(missing(&format!("{name}:{alias}")));
    };
    req.entry("FunctionVersion")
        .or_insert_with(|| json!(version.to_string()));
    let version = set_alias(&state, &name, &alias, &req).await?;
    ok(
        StatusCode::OK,
        alias_view(
            &region(&headers),
            &name,
            &alias,
            version,
            &meta(&state, &name),
        ),
    )
}

pub async fn get_alias(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let found = state
        .engine
        .document_aliases(FUNCTION_KIND, &name)
        .map_err(from_engine)?
        .into_iter()
        .find(|(a, _)| *a == alias);
    let (_, version) = found.ok_or_else(|| missing(&format!("{name}:{alias}")))?;
    ok(
        StatusCode::OK,
        alias_view(
            &region(&headers),
            &name,
            &alias,
            version,
            &meta(&state, &name),
        ),
    )
}

pub async fn list_aliases(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    latest(&state, &name)?;
    let m = meta(&state, &name);
    let region = region(&headers);
    let aliases: Vec<Value> = state
        .engine
        .document_aliases(FUNCTION_KIND, &name)
        .map_err(from_engine)?
        .into_iter()
        .map(|(a, v)| alias_view(&region, &name, &a, v, &m))
        .collect();
    ok(StatusCode::OK, json!({"Aliases": aliases}))
}

/// The last 4 KiB of an invocation's logs, with Lambda's REPORT line.
fn log_tail(meter: &Value) -> String {
    let text = format!(
        "{}{}REPORT RequestId: {}\tDuration: {:.2} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\n",
        meter["stdout"].as_str().unwrap_or_default(),
        meter["stderr"].as_str().unwrap_or_default(),
        meter["requestId"].as_str().unwrap_or_default(),
        meter["durationMs"].as_f64().unwrap_or_default(),
        meter["memoryMb"].as_u64().unwrap_or(128),
        meter["maxMemoryKb"].as_u64().unwrap_or_default() / 1024,
    );
    let start = text.len().saturating_sub(4096);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

/// Invoke: `RequestResponse` (the default), `Event` or `DryRun`.
pub async fn invoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, qualifier) = parse_name(&name)?;
    let qualifier = qualifier.or_else(|| q.get("Qualifier").cloned());
    let (_, version) = qualified(&state, &name, qualifier.as_deref())?;
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let event: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            LambdaError(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                format!("Could not parse request body into json: {e}"),
            )
        })?
    };
    match header("x-amz-invocation-type").unwrap_or("RequestResponse") {
        "DryRun" => return Ok(StatusCode::NO_CONTENT.into_response()),
        "Event" => return queue_event(&state, &name, qualifier.as_deref(), event).await,
        "RequestResponse" => {}
        other => {
            return Err(invalid(format!(
                "X-Amz-Invocation-Type '{other}' is RequestResponse, Event or DryRun"
            )))
        }
    }
    let host = state.functions.clone().ok_or_else(|| {
        LambdaError(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "this server runs no functions".into(),
        )
    })?;
    let answer = host.invoke(&name, qualifier.as_deref(), event).await;
    let meter = answer.get("meter").cloned().unwrap_or(Value::Null);
    let (payload, unhandled) = match (
        answer.get("result"),
        answer.get("error").and_then(Value::as_str),
    ) {
        (Some(r), _) => (r.clone(), false),
        (None, Some("Sluice.FunctionNotFound")) => return Err(missing(&name)),
        (None, Some("Sluice.Throttled")) => {
            return Err(LambdaError(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Rate Exceeded.".into(),
            ))
        }
        (None, error) => (
            json!({"errorType": error.unwrap_or("Unhandled"), "errorMessage": answer["cause"]}),
            true,
        ),
    };
    // Lambda names $LATEST for an unqualified call, the version for others.
    let executed = match version.as_str() {
        "$LATEST" => version,
        _ => meter["version"]
            .as_str()
            .map_or(version.clone(), str::to_string),
    };
    let mut res = (StatusCode::OK, axum::Json(payload)).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&executed) {
        h.insert("x-amz-executed-version", v);
    }
    if unhandled {
        h.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if header("x-amz-log-type") == Some("Tail") {
        let tail = base64::engine::general_purpose::STANDARD.encode(log_tail(&meter));
        if let Ok(v) = HeaderValue::from_str(&tail) {
            h.insert("x-amz-log-result", v);
        }
    }
    Ok(res)
}

/// An `Event` invocation: durable once answered (an execution of
/// [`EVENTS_WORKFLOW`]), retried twice on failure, as Lambda retries
/// asynchronous invocations (after one minute, then two).
async fn queue_event(
    state: &AppState,
    name: &str,
    qualifier: Option<&str>,
    event: Value,
) -> Answer {
    let definition = json!({
        "Comment": "Lambda Event invocations (InvocationType Event) through the Lambda API: durable, retried as Lambda retries them",
        "StartAt": "Invoke",
        "States": {"Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 60, "MaxAttempts": 2, "BackoffRate": 2.0}],
            "End": true}}
    });
    state
        .engine
        .deploy(EVENTS_WORKFLOW, definition)
        .await
        .map_err(from_engine)?;
    let function = match qualifier {
        Some(q) => format!("{name}:{q}"),
        None => name.to_string(),
    };
    let input = json!({"FunctionName": function, "Payload": event});
    state
        .engine
        .start(EVENTS_WORKFLOW, StartRequest { input, name: None })
        .await
        .map_err(from_engine)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn delete_alias_route(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let known = state
        .engine
        .document_aliases(FUNCTION_KIND, &name)
        .map_err(from_engine)?
        .iter()
        .any(|(a, _)| *a == alias);
    if !known {
        return Err(missing(&format!("{name}:{alias}")));
    }
    Err(LambdaError(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        format!("alias {alias} cannot be deleted here: the catalog keeps aliases; point it at another version with UpdateAlias"),
    ))
}
