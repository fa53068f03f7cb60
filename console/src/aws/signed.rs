//! The `--auth` check of requests signed for the AWS protocols: the body
//! is read (the signature covers it), the signature checked against the
//! token named by the access key id, and the token's role applied — a
//! `read` token may only describe, list, get and test.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::sigv4::{self, Refusal};
use crate::auth::{Auth, Role};

fn refuse(status: StatusCode, kind: &'static str, message: String) -> Response {
    let body = json!({"__type": kind, "message": message, "Type": "User"});
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(kind));
    res
}

/// Whether an AWS request only reads: Lambda's GETs, and the JSON
/// protocols' Describe/List/Get/Validate/Test operations.
fn reads(method: &Method, target: Option<&str>) -> bool {
    if *method == Method::GET || *method == Method::HEAD {
        return true;
    }
    let op = target
        .and_then(|t| t.split_once('.'))
        .map_or("", |(_, op)| op);
    ["Describe", "List", "Get", "Validate", "TestEventPattern"]
        .iter()
        .any(|p| op.starts_with(p))
}

pub(crate) async fn require(auth: &Auth, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let limit = super::body_limit(parts.uri.path());
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                format!("the request body is larger than {limit} bytes"),
            )
        }
    };
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let checked = sigv4::parse(header).and_then(|signed| {
        let (secret, principal) = auth.signing_secret(signed.access_key).ok_or_else(|| {
            Refusal(
                "UnrecognizedClientException",
                format!(
                    "The security token included in the request is invalid: no token is named '{}'",
                    signed.access_key
                ),
            )
        })?;
        let now = chrono::Utc::now().timestamp();
        sigv4::verify(
            &signed,
            secret,
            &parts.method,
            &parts.uri,
            &parts.headers,
            &bytes,
            now,
        )?;
        Ok(principal.clone())
    });
    let principal = match checked {
        Ok(p) => p,
        Err(Refusal(kind, message)) => return refuse(StatusCode::FORBIDDEN, kind, message),
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    if principal.role == Role::Read && !reads(&parts.method, target) {
        return refuse(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            format!(
                "token '{}' is read-only; {} needs an admin token",
                principal.name,
                target.unwrap_or(parts.uri.path())
            ),
        );
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(principal);
    next.run(req).await
}
