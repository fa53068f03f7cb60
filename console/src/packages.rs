//! `/api/v1/packages`: code packages (zip, tar, tar.gz) uploaded as the
//! raw request body, stored content-addressed, that function definitions
//! name with `"package": "sha256:<hex>"` instead of a `codeDir`. Storing
//! and unpacking them is the binary's business (it hands the console a
//! [`PackageHost`]); this module streams uploads to it.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

use crate::error::{codes, ApiError};
use crate::extract::ApiPath;
use crate::AppState;

/// Where packages are kept (implemented by the binary over the executors'
/// package store). `put*` and `spool` block: call them off the async workers.
pub trait PackageHost: Send + Sync + 'static {
    /// The largest archive accepted, in bytes.
    fn max_archive_bytes(&self) -> u64;
    /// The refusal of an archive above [`PackageHost::max_archive_bytes`].
    fn too_large(&self) -> ApiError;
    /// A new empty file to receive an upload into, and its path.
    fn spool(&self) -> std::io::Result<(std::fs::File, PathBuf)>;
    /// Store the archive spooled at `path` (the file is removed in any
    /// case) → the package's JSON (`package`, `codeSha256`, `codeSize`, …).
    fn put(&self, path: &Path) -> Result<Value, ApiError>;
    /// Store an archive held in memory.
    fn put_bytes(&self, bytes: &[u8]) -> Result<Value, ApiError>;
    /// A stored package by `sha256:<hex>` (or the bare hex), or `None`.
    fn get(&self, digest: &str) -> Option<Value>;
    /// Every stored package.
    fn list(&self) -> Vec<Value>;
}

pub(crate) fn host(state: &AppState) -> Result<Arc<dyn PackageHost>, ApiError> {
    state.packages.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            "this server keeps no packages; give functions a 'codeDir' instead",
        )
    })
}

/// Refuse bodies that are certainly not an archive. The archive's own
/// first bytes decide its format, whatever the media type says; the
/// forms are refused because `curl -d` would have mangled the bytes.
fn check_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some((text, mime)) = crate::extract::media_type(headers) else {
        return Ok(());
    };
    if mime == "application/json"
        || mime.ends_with("+json")
        || mime == "application/x-www-form-urlencoded"
        || mime == "multipart/form-data"
    {
        return Err(ApiError::bad_request(format!(
            "a package is the archive's raw bytes, not '{text}': send a zip, tar or tar.gz with Content-Type application/zip, application/x-tar or application/gzip (curl --data-binary @fn.zip, not -d or -F)"
        )));
    }
    Ok(())
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "{what}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL,
        "the server could not store the package; the server log has the details",
    )
}

/// Receive an upload into a spool file (refusing it as soon as it passes
/// the size limit), then store it.
pub(crate) async fn receive(
    host: Arc<dyn PackageHost>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    check_media_type(headers)?;
    let max = host.max_archive_bytes();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Said up front, so a client that waits for `100 Continue` sends nothing.
    if declared.is_some_and(|n| n > max) {
        return Err(host.too_large());
    }
    let spooling = host.clone();
    let (file, path) = tokio::task::spawn_blocking(move || spooling.spool())
        .await
        .map_err(|e| internal("creating an upload file stopped", e))?
        .map_err(|e| internal("cannot create an upload file", e))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    let received: Result<(), ApiError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request(format!("the upload broke off: {e}; send it again"))
            })?;
            size += chunk.len() as u64;
            if size > max {
                return Err(host.too_large());
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| internal("cannot write an upload file", e))?;
        }
        file.flush()
            .await
            .map_err(|e| internal("cannot write an upload file", e))
    }
    .await;
    drop(file);
    if let Err(e) = received {
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
        return Err(e);
    }
    tokio::task::spawn_blocking(move || host.put(&path))
        .await
        .map_err(|e| internal("storing a package stopped", e))?
}

/// `POST /api/v1/packages` with the archive as the body →
/// `{"package": "sha256:<hex>", "codeSha256", "codeSize", "format", "files",
/// "unpackedBytes", "createdAt"}`. The same archive again answers the same.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let info = receive(host(&state)?, &headers, body).await?;
    tracing::info!(package = %info["package"].as_str().unwrap_or_default(), "package uploaded");
    Ok(Json(info))
}

/// `GET /api/v1/packages` → `{"packages": [...]}`, oldest first.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let host = host(&state)?;
    let all = tokio::task::spawn_blocking(move || host.list())
        .await
        .map_err(|e| internal("listing packages stopped", e))?;
    Ok(Json(json!({ "packages": all })))
}

/// `GET /api/v1/packages/{digest}` (`sha256:<hex>` or the hex) → the package.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(digest): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    host(&state)?
        .get(&digest)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!(
            "no package '{digest}' on this server; upload one with POST /api/v1/packages (the archive as the body)"
        )))
}
