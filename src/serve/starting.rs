//! The HTTP front while the store opens: `sluice serve` listens at once, and
//! until the engine is ready every request gets a 503 that says so
//! (`/healthz`: `{"status": "starting"}`), so a supervisor sees a live
//! process within milliseconds however large the store is.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// The router to serve now, and the cell that receives the real one.
pub fn gate() -> (Router, Arc<OnceLock<Router>>) {
    let ready: Arc<OnceLock<Router>> = Arc::default();
    let cell = ready.clone();
    let router = Router::new().fallback(move |req: Request| {
        let cell = cell.clone();
        async move {
            match cell.get() {
                Some(app) => match app.clone().oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                None => starting(req.uri().path()),
            }
        }
    });
    (router, ready)
}

fn starting(path: &str) -> Response {
    let body = if path == "/healthz" {
        json!({"status": "starting", "recovered": false})
    } else {
        json!({
            "code": "Starting",
            "message": "Sluice is opening its store; retry in a moment",
            "details": null
        })
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        axum::Json(body),
    )
        .into_response()
}
