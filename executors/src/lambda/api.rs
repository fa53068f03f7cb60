//! The AWS Lambda Runtime API (version 2018-06-01) for one warm instance:
//! the runtime client long-polls `invocation/next`, then posts the
//! `response` or the `error` of that invocation; `init/error` reports a
//! start-up failure. Served with axum on a loopback port of its own.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Notify};

use sluice_engine::TaskError;

use crate::names;

/// One invocation handed to the runtime client.
pub struct Job {
    pub request_id: String,
    pub event: Bytes,
    /// Unix epoch milliseconds.
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
    pub reply: ReplyTo,
}

/// Where the result of the invocation in progress goes.
pub type ReplyTo = oneshot::Sender<Result<Bytes, TaskError>>;

/// What the server shares with the instance that owns it.
pub struct Shared {
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    current: Mutex<Option<(String, ReplyTo)>>,
    /// When the client first asked for work: the end of its init.
    pub ready_at: Mutex<Option<Instant>>,
    pub ready: Notify,
    /// What the client reported through `init/error`.
    pub init_error: Mutex<Option<TaskError>>,
}

impl Shared {
    pub fn new(jobs: mpsc::Receiver<Job>) -> Arc<Shared> {
        Arc::new(Shared {
            jobs: tokio::sync::Mutex::new(jobs),
            current: Mutex::new(None),
            ready_at: Mutex::new(None),
            ready: Notify::new(),
            init_error: Mutex::new(None),
        })
    }

    pub fn is_ready(&self) -> bool {
        self.ready_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared)
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    {
        let mut ready = shared.ready_at.lock().unwrap_or_else(|p| p.into_inner());
        if ready.is_none() {
            *ready = Some(Instant::now());
            shared.ready.notify_waiters();
        }
    }
    let job = {
        let mut jobs = shared.jobs.lock().await;
        jobs.recv().await
    };
    let Some(job) = job else {
        // The instance is going away; the process is being stopped.
        return (StatusCode::GONE, "the instance is shutting down").into_response();
    };
    *shared.current.lock().unwrap_or_else(|p| p.into_inner()) =
        Some((job.request_id.clone(), job.reply));
    let mut headers = HeaderMap::new();
    headers.insert("Lambda-Runtime-Aws-Request-Id", header(&job.request_id));
    headers.insert(
        "Lambda-Runtime-Deadline-Ms",
        header(&job.deadline_ms.to_string()),
    );
    headers.insert(
        "Lambda-Runtime-Invoked-Function-Arn",
        header(&job.function_arn),
    );
    headers.insert("Lambda-Runtime-Trace-Id", header(&job.trace_id));
    headers.insert("Content-Type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, job.event).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn unknown(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errorMessage": format!("no invocation {id} is in progress"),
            "errorType": "InvalidRequestID"
        })),
    )
        .into_response()
}

fn take(shared: &Shared, id: &str) -> Option<ReplyTo> {
    let mut current = shared.current.lock().unwrap_or_else(|p| p.into_inner());
    match current.take() {
        Some((cur, tx)) if cur == id => Some(tx),
        other => {
            *current = other;
            None
        }
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match take(&shared, &id) {
        Some(tx) => {
            let _ = tx.send(Ok(body));
            accepted()
        }
        None => unknown(&id),
    }
}

/// The client's error document (`errorType`, `errorMessage`), or the
/// `Lambda-Runtime-Function-Error-Type` header, names the ASL error.
fn client_error(headers: &HeaderMap, body: &[u8], fallback: &str) -> TaskError {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let kind = doc
        .get("errorType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get("Lambda-Runtime-Function-Error-Type")
                .and_then(|v| v.to_str().ok())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| fallback.to_string());
    // As Step Functions gives a Lambda function's error: the cause is the
    // client's whole error document as JSON text (errorMessage, errorType,
    // stackTrace), which workflows read with States.StringToJson($.Cause).
    let cause = match &doc {
        Value::Object(m) if m.contains_key("errorMessage") || m.contains_key("errorType") => {
            doc.to_string()
        }
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    TaskError::new(kind, cause)
}

/// The message of a Lambda error document held in a cause (see
/// [`client_error`]), for the places that show a message, not a document.
pub fn error_message(cause: &str) -> Option<String> {
    if !cause.starts_with('{') {
        return None;
    }
    let doc: Value = serde_json::from_str(cause).ok()?;
    doc.get("errorMessage")?.as_str().map(str::to_string)
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match take(&shared, &id) {
        Some(tx) => {
            let _ = tx.send(Err(client_error(&headers, &body, names::TASK_FAILED)));
            accepted()
        }
        None => unknown(&id),
    }
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let e = client_error(&headers, &body, names::INIT_ERROR);
    tracing::warn!(error = %e, "a lambda runtime client failed to initialise");
    *shared.init_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    accepted()
}
