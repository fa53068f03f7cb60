//! The AWS wire protocols on the REST API's listener (DESIGN.md, "Wave 2
//! interfaces"), so that an AWS SDK, the AWS CLI or Terraform pointed at
//! `endpoint_url=http://127.0.0.1:8080` works unmodified: Step Functions
//! (AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.*`, [`states`]) and
//! EventBridge (AWS JSON 1.1, `X-Amz-Target: AWSEvents.*`, [`events`]). Each
//! service translates into the same engine calls as the REST API; there
//! is no second path into the engine.
//!
//! What is shared here: the `POST /` dispatcher on `X-Amz-Target`, the
//! error shape SDKs turn into typed exceptions (`{"__type", "message"}`,
//! HTTP 400), the region (from the request's SigV4 credential scope),
//! ARNs, timestamps as epoch seconds, and reading request fields with
//! errors that name them.

pub(crate) mod arn;
mod events;
pub(crate) mod lambda;
pub(crate) mod signed;
pub(crate) mod sigv4;
mod states;

/// The paths the AWS protocols answer on: `POST /` (the JSON protocols)
/// and Lambda's `/2015-03-31/…`.
pub(crate) fn is_aws_path(path: &str) -> bool {
    path == "/" || path.starts_with("/2015-03-31/")
}

/// The largest body a request to `path` may have.
pub(crate) fn body_limit(path: &str) -> usize {
    if path == "/2015-03-31/functions"
        || (path.starts_with("/2015-03-31/functions/") && path.ends_with("/code"))
    {
        crate::LAMBDA_UPLOAD_BYTES
    } else {
        crate::MAX_BODY_BYTES
    }
}

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::AppState;

/// An AWS-shaped error: `__type` is the name SDKs map to an exception
/// class (`StateMachineDoesNotExist`, `ValidationException`, …).
#[derive(Debug)]
pub(crate) struct AwsError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> AwsError {
        AwsError::new("ValidationException", message)
    }

    pub fn internal(message: impl Into<String>) -> AwsError {
        AwsError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalServerError",
            message: message.into(),
        }
    }
}

/// What a protocol answers: a JSON body in the protocol's content type.
pub(crate) type AwsResult = Result<Value, AwsError>;

fn reply(content_type: &'static str, result: AwsResult) -> Response {
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!(kind = e.kind, message = %e.message, "AWS protocol request failed");
            }
            let mut m = Map::new();
            m.insert("__type".into(), e.kind.into());
            m.insert("message".into(), e.message.into());
            (e.status, Value::Object(m))
        }
    };
    (
        status,
        [(axum::http::header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

/// The request's region: the SigV4 credential scope's
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`), else `us-east-1`.
pub(crate) fn region(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|c| c.split(['/', ',']).nth(2))
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or("us-east-1")
        .to_string()
}

/// `POST /` with `X-Amz-Target: SERVICE.OPERATION`: the AWS JSON protocols.
pub async fn json_protocol(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((service, operation)) = target.split_once('.') else {
        return reply(
            "application/x-amz-json-1.0",
            Err(AwsError::new(
                "UnknownOperationException",
                "POST / is the AWS JSON protocol: send the header X-Amz-Target: AWSStepFunctions.OPERATION (the REST API is under /api/v1)",
            )),
        );
    };
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Object(Map::new()))
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(AwsError::new(
                "SerializationException",
                "the request body is a JSON object",
            )),
            Err(e) => Err(AwsError::new(
                "SerializationException",
                format!("the request body is not JSON: {e}"),
            )),
        }
    };
    let ctx = Ctx {
        state,
        region: region(&headers),
    };
    match service {
        "AWSStepFunctions" => {
            let result = match input {
                Ok(input) => states::call(&ctx, operation, Req(input)).await,
                Err(e) => Err(e),
            };
            reply("application/x-amz-json-1.0", result)
        }
        "AWSEvents" => {
            let result = match input {
                Ok(input) => events::call(&ctx, operation, Req(input)).await,
                Err(e) => Err(e),
            };
            reply("application/x-amz-json-1.1", result)
        }
        _ => reply(
            "application/x-amz-json-1.0",
            Err(AwsError::new(
                "UnknownOperationException",
                format!("unknown service '{service}' in X-Amz-Target; this server speaks AWSStepFunctions and AWSEvents"),
            )),
        ),
    }
}

/// What an operation runs with.
pub(crate) struct Ctx {
    pub state: AppState,
    pub region: String,
}

/// A request's fields, read with errors that name the field.
pub(crate) struct Req(pub Value);

impl Req {
    pub fn str(&self, field: &str) -> Result<&str, AwsError> {
        match self.0.get(field) {
            Some(Value::String(s)) => Ok(s),
            None | Some(Value::Null) => Err(AwsError::validation(format!(
                "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
            ))),
            Some(_) => Err(AwsError::new(
                "SerializationException",
                format!("'{field}' must be a string"),
            )),
        }
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<&str>, AwsError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.str(field).map(Some),
        }
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, AwsError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(AwsError::new(
                "SerializationException",
                format!("'{field}' must be a boolean"),
            )),
        }
    }

    /// An integer field within `min..=max`.
    pub fn opt_int(&self, field: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                Some(n) => Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{n}' at '{field}' failed to satisfy constraint: Member must have value between {min} and {max}"
                ))),
                None => Err(AwsError::new(
                    "SerializationException",
                    format!("'{field}' must be an integer"),
                )),
            },
        }
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }
}

/// An RFC 3339 time as the AWS JSON protocols send timestamps: seconds
/// since the epoch, with milliseconds.
pub(crate) fn epoch(rfc3339: &str) -> Value {
    match sluice_dsl::timestamp::parse(rfc3339) {
        Some(t) => serde_json::json!(t.timestamp_millis() as f64 / 1000.0),
        None => Value::Null,
    }
}

/// A JSON document as the AWS protocols carry one: as text.
pub(crate) fn text(v: &Value) -> Value {
    Value::String(v.to_string())
}

/// A paging token over a sorted listing: the position to go on from.
pub(crate) fn page_token(position: usize) -> Value {
    use base64::Engine as _;
    Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position.to_string()))
}

/// The position a paging token stands for (0 without one).
pub(crate) fn page_position(req: &Req) -> Result<usize, AwsError> {
    use base64::Engine as _;
    let Some(token) = req.opt_str("nextToken")? else {
        return Ok(0);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            AwsError::new(
                "InvalidToken",
                "nextToken is not a token this server handed out",
            )
        })
}
