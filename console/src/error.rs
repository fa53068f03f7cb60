//! The one error type of the API: every failure, whether the engine refused
//! a request or axum could not read it, leaves as the same JSON shape
//! `{"code", "message", "details"}` so clients need one error path.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sluice_engine::EngineError;

/// An API failure: an HTTP status, a stable machine-readable `code`, a
/// message for people and, for invalid definitions, the problems found.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable across releases; clients branch on it, not on `message`.
    pub code: &'static str,
    pub message: String,
    /// `[{"pointer", "message"}]` for invalid definitions, `null` otherwise.
    pub details: Value,
}

/// The codes an [`ApiError`] can carry.
pub mod codes {
    pub const INVALID: &str = "invalid";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const CONFLICT: &str = "conflict";
    pub const TOO_LARGE: &str = "too_large";
    pub const INTERNAL: &str = "internal";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const INSUFFICIENT_STORAGE: &str = "insufficient_storage";
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(problems) => {
                let details: Vec<Value> = problems
                    .iter()
                    .map(|p| json!({"pointer": p.pointer, "message": p.message}))
                    .collect();
                ApiError {
                    status: StatusCode::BAD_REQUEST,
                    code: codes::INVALID,
                    message: format!(
                        "the definition is invalid: {} problem(s), each in details with its JSON pointer",
                        details.len()
                    ),
                    details: Value::Array(details),
                }
            }
            EngineError::BadRequest(m) => Self::bad_request(m),
            EngineError::NotFound(m) => Self::not_found(m),
            EngineError::Conflict(m) => Self::new(StatusCode::CONFLICT, codes::CONFLICT, m),
            EngineError::TooLarge(m) => Self::too_large(m),
            EngineError::Storage(internal) => {
                // The internals (paths, sled messages) go to the operator's
                // log, not to clients.
                tracing::error!(error = %internal, "storage error while answering a request");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::INTERNAL,
                    "the server could not read or write its store; the server log has the details",
                )
            }
            EngineError::Corrupt { .. } => {
                tracing::error!(error = %e, "a corrupt record while answering a request");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::INTERNAL,
                    e.to_string(),
                )
            }
            EngineError::DiskFull(m) => {
                crate::ops::count_refusal("disk_full");
                Self::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    codes::INSUFFICIENT_STORAGE,
                    m,
                )
            }
            EngineError::ShuttingDown => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNAVAILABLE,
                "the server is shutting down; retry against the restarted server",
            ),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::too_large(format!(
                "the request body is larger than the limit of {} bytes",
                crate::MAX_BODY_BYTES
            ))
        } else {
            Self::bad_request(format!("cannot read the request body: {}", r.body_text()))
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::BytesRejection(b) => b.into(),
            JsonRejection::JsonSyntaxError(e) => {
                Self::bad_request(format!("the body is not valid JSON: {}", source_text(&e)))
            }
            JsonRejection::JsonDataError(e) => Self::bad_request(format!(
                "the JSON body does not have the expected shape: {}",
                source_text(&e)
            )),
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(format!("bad query string: {}", source_text(&r)))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request(format!("bad path: {}", r.body_text()))
    }
}

/// The innermost cause of a rejection (serde's words, with the field path),
/// without axum's generic prefix.
fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(s) = inner.source() {
        inner = s;
    }
    inner.to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "message": self.message, "details": self.details});
        (self.status, Json(body)).into_response()
    }
}

/// The answer to a path no route serves.
pub(crate) async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no API route at {}; the routes are under /api/v1 (see the README)",
        uri.path()
    ))
}

/// The answer to a method a route does not take.
pub(crate) async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}
