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
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use sluice_engine::{Document, EngineError};

use crate::AppState;

mod functions;
mod invoke;
mod versions;

pub use functions::*;
pub use invoke::*;
pub use versions::*;

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
            Err(_) => alias_version(state, name, q)?,
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

/// The version alias `alias` of function `name` points at.
fn alias_version(state: &AppState, name: &str, alias: &str) -> Result<u64, LambdaError> {
    state
        .engine
        .document_aliases(FUNCTION_KIND, name)
        .map_err(from_engine)?
        .into_iter()
        .find(|(a, _)| a == alias)
        .map(|(_, v)| v)
        .ok_or_else(|| missing(&format!("{name}:{alias}")))
}

/// The function host, or the answer of a server that runs no functions.
fn host(state: &AppState) -> Result<std::sync::Arc<dyn crate::FunctionHost>, LambdaError> {
    state.functions.clone().ok_or_else(|| {
        LambdaError(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "this server runs no functions".into(),
        )
    })
}

/// The version a create or code update answers with: the stored version
/// when the request says `"Publish": true`, else `$LATEST`.
fn published(req: &Map<String, Value>, doc: &Document) -> String {
    if req.get("Publish") == Some(&json!(true)) {
        doc.version.to_string()
    } else {
        "$LATEST".into()
    }
}
