//! The HTTP Task: `Resource: "arn:aws:states:::http:invoke"` (or
//! `sluice:http:invoke`) calls the API its parameters describe and returns
//! AWS's result shape:
//!
//! ```json
//! {"Headers": {"content-type": ["application/json"]},
//!  "ResponseBody": {"id": 7}, "StatusCode": 200, "StatusText": "OK"}
//! ```
//!
//! A JSON response body (`application/json`, `*+json`) is parsed, any other
//! text is kept as a string. A response that is not 2xx fails the task with
//! `States.Http.StatusCode.<code>` (its cause is the result above, as JSON),
//! so `Retry`/`Catch` on `States.Http.StatusCode.429` work as on AWS; a
//! request that cannot be sent or that gets no answer is `States.Http.Socket`;
//! parameters AWS refuses are `States.Runtime`, before anything is sent.
//!
//! Sluice has no EventBridge connections: `Authentication.ConnectionArn` is
//! accepted and not used (docs/asl-compatibility.md).

mod form;
mod request;

use serde_json::{Map, Value};
use std::time::Duration;

use sluice_engine::{Executor, TaskError, TaskInvocation};

use crate::names;
pub use request::{build as build_request, header_allowed, Request};

/// What an HTTP Task fails with when the server answers outside 2xx.
pub const STATUS_CODE_PREFIX: &str = "States.Http.StatusCode.";
/// What an HTTP Task fails with when the request gets no answer.
pub const SOCKET: &str = "States.Http.Socket";
/// The longest an HTTP Task waits for its answer (AWS: 60 seconds).
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The largest response body kept (AWS's 256 KiB payload quota).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

const AWS_RESOURCE: &str = "arn:aws:states:::http:invoke";
const SLUICE_RESOURCE: &str = "sluice:http:invoke";

/// Whether `resource` (a Task's `Resource`) is the HTTP Task.
pub fn handles(resource: &str) -> bool {
    resource == AWS_RESOURCE || resource == SLUICE_RESOURCE
}

/// Runs HTTP Tasks over one connection pool (TLS with the machine's roots).
#[derive(Clone)]
pub struct HttpTasks {
    client: reqwest::Client,
}

impl Default for HttpTasks {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpTasks {
    pub fn new() -> HttpTasks {
        crate::tls::install_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!(
                "sluice/",
                env!("CARGO_PKG_VERSION"),
                " (http:invoke)"
            ))
            .build()
            .unwrap_or_default();
        HttpTasks { client }
    }

    /// Call the API `params` describe; `timeout` is the Task's
    /// `TimeoutSeconds` (the wait is never longer than [`MAX_WAIT`]).
    pub async fn invoke(&self, params: &Value, timeout: Option<u64>) -> Result<Value, TaskError> {
        let request =
            request::build(params).map_err(|cause| TaskError::new(names::RUNTIME, cause))?;
        let wait = timeout.map_or(MAX_WAIT, |s| Duration::from_secs(s).min(MAX_WAIT));
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| TaskError::new(names::RUNTIME, e.to_string()))?;
        let mut call = self
            .client
            .request(method, request.url.clone())
            .timeout(wait);
        for (name, value) in &request.headers {
            call = call.header(name, value);
        }
        if let Some(body) = request.body {
            call = call.body(body);
        }
        let url = &request.url;
        let response = call.send().await.map_err(|e| socket_error(url, wait, &e))?;
        let status = response.status();
        let headers = response_headers(response.headers());
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = read_body(response, url, wait).await?;
        let result = serde_json::json!({
            "Headers": headers,
            "ResponseBody": response_body(&bytes, &content_type),
            "StatusCode": status.as_u16(),
            "StatusText": status.canonical_reason().unwrap_or_default(),
        });
        if status.is_success() {
            Ok(result)
        } else {
            Err(TaskError::new(
                format!("{STATUS_CODE_PREFIX}{}", status.as_u16()),
                result.to_string(),
            ))
        }
    }
}

async fn read_body(
    mut response: reqwest::Response,
    url: &url::Url,
    wait: Duration,
) -> Result<Vec<u8>, TaskError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| socket_error(url, wait, &e))?
    {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(TaskError::new(
                sluice_dsl::error::names::DATA_LIMIT_EXCEEDED,
                format!("the response of {url} is larger than {MAX_RESPONSE_BYTES} bytes, the most a state's result may hold"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Header names (lowercase, as HTTP/2 and reqwest give them) to their values.
fn response_headers(headers: &reqwest::header::HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if let Value::Array(values) = out
            .entry(name.as_str())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            values.push(Value::String(text));
        }
    }
    out
}

fn response_body(bytes: &[u8], content_type: &str) -> Value {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let json = media == "application/json" || media.ends_with("+json");
    if json {
        if let Ok(parsed) = serde_json::from_slice(bytes) {
            return parsed;
        }
    }
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

fn socket_error(url: &url::Url, wait: Duration, e: &reqwest::Error) -> TaskError {
    let cause = if e.is_timeout() {
        format!("{url} did not answer within {} s", wait.as_secs_f64())
    } else {
        // The source chain says why (refused, reset, TLS, DNS).
        let mut cause = format!("cannot reach {url}: {e}");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            cause.push_str(&format!(": {s}"));
            source = s.source();
        }
        cause
    };
    TaskError::new(SOCKET, cause)
}

#[async_trait::async_trait]
impl Executor for HttpTasks {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        HttpTasks::invoke(self, &task.payload, task.timeout_seconds).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_are_parsed_and_other_text_is_kept() {
        assert_eq!(
            response_body(br#"{"a":1}"#, "application/json; charset=utf-8"),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            response_body(br#"{"a":1}"#, "application/problem+json"),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            response_body(b"<p>hi</p>", "text/html"),
            Value::String("<p>hi</p>".into())
        );
        assert_eq!(
            response_body(b"not json", "application/json"),
            Value::String("not json".into())
        );
    }

    #[test]
    fn the_two_resource_names() {
        assert!(handles("arn:aws:states:::http:invoke"));
        assert!(handles("sluice:http:invoke"));
        assert!(!handles("arn:aws:states:::http:invoke.waitForTaskToken"));
    }
}
