//! Invoke: `RequestResponse`, `Event` (durable) and `DryRun`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{json, Value};
use sluice_engine::{EngineError, StartRequest};
use std::collections::HashMap;

use super::*;
use crate::AppState;

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
    let host = host(&state)?;
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
    ensure_events_workflow(state).await.map_err(from_engine)?;
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

/// Deploys [`EVENTS_WORKFLOW`] (the same definition again is a no-op).
pub(crate) async fn ensure_events_workflow(state: &AppState) -> Result<(), EngineError> {
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
        .map(|_| ())
}
