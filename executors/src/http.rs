//! `runtime: "http"`: the event is POSTed to `url` as a CloudEvent in
//! binary mode (`ce-*` headers, the event JSON as the body). A 2xx body is
//! the result; a 4xx is a non-retryable error named by the response; 5xx,
//! an unreachable server and timeouts are retryable errors
//! (`Sluice.HttpServerError`, `Sluice.HttpUnavailable`, `States.Timeout`) —
//! `Retry` on those names in the workflow retries them.

use serde_json::Value;
use std::time::Duration;

use sluice_dsl::function::FunctionDef;
use sluice_engine::TaskError;

use crate::names;

/// The CloudEvent attributes of one invocation.
pub struct Attributes<'a> {
    /// `ce-id`: the task's idempotency key, stable across re-dispatches, so
    /// the receiver can deduplicate.
    pub id: &'a str,
    /// `ce-source`, e.g. `sluice/executions/ID`.
    pub source: &'a str,
    /// `ce-subject`: the Task state.
    pub subject: &'a str,
}

/// The CloudEvent `type` of an invocation.
pub const EVENT_TYPE: &str = "io.sluice.function.invoke";

/// One client (connection pool) for all http functions.
pub fn client() -> reqwest::Client {
    crate::tls::install_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

fn error_name(body: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let kind = v
        .get("errorType")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)?
        .to_string();
    let message = v
        .get("errorMessage")
        .or_else(|| v.get("cause"))
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some((kind, message))
}

pub async fn invoke(
    client: &reqwest::Client,
    def: &FunctionDef,
    attributes: &Attributes<'_>,
    event: &Value,
    timeout: Duration,
) -> (Result<Value, TaskError>, Vec<u8>) {
    let name = &def.name;
    let Some(url) = def.url.as_deref() else {
        return (
            Err(TaskError::new(
                names::TASK_FAILED,
                format!("function '{name}' has no url"),
            )),
            Vec::new(),
        );
    };
    let request = client
        .post(url)
        .timeout(timeout)
        .header("ce-specversion", "1.0")
        .header("ce-id", attributes.id)
        .header("ce-source", attributes.source)
        .header("ce-type", EVENT_TYPE)
        .header("ce-subject", attributes.subject)
        .header(
            "ce-time",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
        .header("content-type", "application/json")
        .body(event.to_string());
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return (Err(transport_error(name, url, timeout, &e)), Vec::new()),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return (Err(transport_error(name, url, timeout, &e)), Vec::new()),
    };
    let text = || String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
    let result = if status.is_success() {
        if body.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Null)
        } else {
            // A JSON body is the result; any other body is kept as a string.
            Ok(serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())))
        }
    } else if status.is_client_error() {
        let (kind, message) = error_name(&body).unwrap_or_else(|| {
            (
                names::HTTP_CLIENT_ERROR.to_string(),
                format!("{url} answered {status}: {}", text()),
            )
        });
        Err(TaskError::new(kind, message))
    } else {
        Err(TaskError::new(
            names::HTTP_SERVER_ERROR,
            format!("function '{name}': {url} answered {status}: {}", text()),
        ))
    };
    (result, body)
}

fn transport_error(name: &str, url: &str, timeout: Duration, e: &reqwest::Error) -> TaskError {
    if e.is_timeout() {
        TaskError::new(
            names::TIMEOUT,
            format!(
                "function '{name}': {url} did not answer within {} s (its timeoutSeconds)",
                timeout.as_secs_f64()
            ),
        )
    } else {
        TaskError::new(
            names::HTTP_UNAVAILABLE,
            format!("function '{name}': cannot reach {url}: {e}"),
        )
    }
}
