//! Extractors that reject with [`ApiError`], so a malformed body, query or
//! path gets the API's JSON error shape rather than axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A required JSON body. A missing `Content-Type` is accepted (the body is
/// JSON whatever the client forgot to say); a different one is refused,
/// because it usually means `curl -d`, which sends a form.
pub struct JsonBody<T>(pub T);

/// An optional JSON body: an empty body reads as `T::default()`.
pub struct OptionalJsonBody<T>(pub T);

/// A media type without its parameters, lowercased: `Application/JSON;
/// charset=utf-8` → `application/json`.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The request's `Content-Type` as sent and its [`essence`]; `None`
/// when there is none.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<(String, String)> {
    let text = headers
        .get(CONTENT_TYPE)?
        .to_str()
        .unwrap_or("")
        .to_string();
    let mime = essence(&text);
    Some((text, mime))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some((text, mime)) = media_type(headers) else {
        return Ok(());
    };
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "the body must be JSON with 'Content-Type: application/json', not '{text}' (with curl: -H 'Content-Type: application/json' --data-binary @FILE)"
        )))
    }
}

async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<(HeaderMap, Bytes), ApiError> {
    let headers = req.headers().clone();
    let bytes = Bytes::from_request(req, state).await?;
    Ok((headers, bytes))
}

fn parse<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, ApiError> {
    check_content_type(headers)?;
    let axum::Json(value) = axum::Json::<T>::from_bytes(bytes)?;
    Ok(value)
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (headers, bytes) = body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("this request needs a JSON body"));
        }
        parse(&headers, &bytes).map(JsonBody)
    }
}

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (headers, bytes) = body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse(&headers, &bytes).map(OptionalJsonBody)
    }
}

/// Query parameters; unknown ones are refused when `T` denies them.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(q) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(q))
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(p) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(p))
    }
}
