//! # sluice-console
//!
//! Sluice's HTTP face: the REST API under `/api/v1` (workflows, executions,
//! task callbacks), `/healthz` and Prometheus `/metrics`. [`app`] builds the
//! whole router from an [`AppState`], so tests drive it with
//! `app(state).oneshot(request)` and no socket; the binary serves the same
//! router on a listener.
//!
//! Every failure answers with one JSON shape, `{"code", "message",
//! "details"}` ([`ApiError`]).

mod auth;
mod aws;
mod deadletters;
mod error;
pub mod events;
mod executions;
mod extract;
mod function_code;
pub mod functions;
mod graph;
mod ops;
pub mod packages;
mod redact;
pub mod sources;
mod stream;
mod tasks;
mod triggers;
mod ui;
mod workflows;

pub use auth::{Auth, Role};
pub use error::{codes, ApiError};
pub use functions::FunctionHost;
pub use packages::PackageHost;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use sluice_engine::Engine;
pub use sources::{NotifyError, SourceControl};
use std::sync::Arc;
use tokio::sync::watch;

/// Largest request body. Above the engine's own limits (1 MiB definitions,
/// 256 KiB payloads) so that those answer with their precise messages, and
/// small enough that a stray upload cannot fill memory.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Longest `?wait=SECONDS` on a start: long enough for a synchronous
/// request/response workflow, short enough for proxies' idle timeouts.
pub const MAX_WAIT_SECONDS: f64 = 300.0;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) engine: Engine,
    /// Flips to true when the server begins to shut down, so requests that
    /// wait (`?wait=`) answer at once instead of holding the shutdown up.
    shutdown: watch::Receiver<bool>,
    shutdown_tx: Arc<watch::Sender<bool>>,
    pub(crate) metrics: Arc<ops::MetricsCache>,
    /// Tokens and roles when the server runs with `--auth`; `None`: open.
    pub(crate) auth: Option<Arc<Auth>>,
    /// Runs functions for `/api/v1/functions/{name}/invocations`, logs and
    /// `/metrics`; `None` on a server that runs none.
    pub(crate) functions: Option<Arc<dyn FunctionHost>>,
    /// The running sources (status, tests, notifications); `None` when
    /// the server runs none.
    pub(crate) sources: Option<Arc<dyn SourceControl>>,
    /// Where uploaded code packages are kept; `None` when the server
    /// keeps none.
    pub(crate) packages: Option<Arc<dyn PackageHost>>,
}

impl AppState {
    pub fn new(engine: Engine) -> Self {
        let (tx, rx) = watch::channel(false);
        AppState {
            engine,
            shutdown: rx,
            shutdown_tx: Arc::new(tx),
            metrics: Arc::new(ops::MetricsCache::default()),
            auth: None,
            functions: None,
            sources: None,
            packages: None,
        }
    }

    /// Require tokens (see [`Auth`]) on every route but the login page,
    /// the static assets and `/healthz`.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// The executors that run functions invoked through the API.
    pub fn with_functions(mut self, host: Arc<dyn FunctionHost>) -> Self {
        self.functions = Some(host);
        self
    }

    /// With the running sources behind the API.
    pub fn with_sources(mut self, sources: Arc<dyn SourceControl>) -> Self {
        self.sources = Some(sources);
        self
    }

    /// With the package store behind `/api/v1/packages`.
    pub fn with_packages(mut self, packages: Arc<dyn PackageHost>) -> Self {
        self.packages = Some(packages);
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Begin shutting down: waiting requests answer now (202 with the
    /// execution id, as when their wait runs out).
    pub fn shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }

    /// Resolves once [`AppState::shutdown`] was called.
    pub(crate) async fn shutting_down(&self) {
        let mut rx = self.shutdown.clone();
        // An error means the sender is gone, which cannot happen while self lives.
        let _ = rx.wait_for(|down| *down).await;
    }
}

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/workflows", get(workflows::list))
        .route(
            "/workflows/{name}",
            put(workflows::deploy)
                .get(workflows::describe)
                .delete(workflows::delete),
        )
        .route(
            "/workflows/{name}/aliases/{alias}",
            put(workflows::put_alias).delete(workflows::delete_alias),
        )
        .route(
            "/workflows/{name}/versions/{version}",
            get(workflows::version).delete(workflows::delete_version),
        )
        .route("/workflows/{name}/graph", get(graph::graph))
        .route("/summary", get(ops::summary))
        .route("/stream", get(stream::stream))
        .route("/workflows/{name}/executions", post(executions::start))
        .route("/executions", get(executions::list))
        .route(
            "/executions/{id}",
            get(executions::describe).delete(executions::delete),
        )
        .route("/executions/{id}/history", get(executions::history))
        .route("/executions/{id}/children", get(executions::children))
        .route("/executions/{id}/stop", post(executions::stop))
        .route("/executions/{id}/redrive", post(executions::redrive))
        .route("/tasks/{token}/success", post(tasks::success))
        .route("/tasks/{token}/failure", post(tasks::failure))
        .route("/tasks/{token}/heartbeat", post(tasks::heartbeat))
        .route("/triggers", get(triggers::list))
        .route(
            "/triggers/{name}",
            put(triggers::put)
                .get(triggers::get)
                .delete(triggers::delete),
        )
        .route("/events", post(events::post))
        .route(
            "/deadletters",
            get(deadletters::list).delete(deadletters::purge),
        )
        .route(
            "/deadletters/{id}",
            get(deadletters::get).delete(deadletters::delete),
        )
        .route("/functions", get(functions::list))
        .route(
            "/functions/{name}",
            put(functions::deploy)
                .get(functions::describe)
                .delete(functions::delete),
        )
        .route(
            "/functions/{name}/versions/{version}",
            get(functions::version),
        )
        .route("/functions/{name}/aliases", get(functions::aliases))
        .route(
            "/functions/{name}/aliases/{alias}",
            put(functions::put_alias).delete(functions::delete_alias),
        )
        .route("/functions/{name}/package", put(functions::update_code))
        .route("/functions/{name}/invocations", post(functions::invoke))
        .route("/functions/{name}/logs", get(functions::logs))
        .route("/packages", post(packages::upload).get(packages::list))
        .route("/packages/{digest}", get(packages::describe))
        .route("/sources", get(sources::list))
        .route(
            "/sources/{name}",
            put(sources::put).get(sources::get).delete(sources::delete),
        )
        .route("/sources/{name}/test", post(sources::test))
        .route(
            "/sources/{name}/notifications",
            post(sources::notifications),
        );
    let mut router = Router::new()
        .nest("/api/v1", api)
        .route("/ui/{file}", get(ui::asset))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout));
    for page in ui::PAGES {
        router = if page == "/" {
            // `POST /` is the AWS JSON protocols' endpoint (X-Amz-Target).
            router.route(page, get(ui::page).post(aws::json_protocol))
        } else {
            router.route(page, get(ui::page))
        };
    }
    router
        .merge(lambda_routes())
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
        .layer(axum::middleware::from_fn(refuse_large_bodies))
        .with_state(state)
}

/// Lambda's REST-JSON API (`aws::lambda`). CreateFunction and
/// UpdateFunctionCode carry the zip in base64, so their bodies may be as
/// large as a package (Lambda's 50 MB zip) in base64.
fn lambda_routes() -> Router<AppState> {
    use aws::lambda as l;
    // Literal paths, so that the route walk of the auth tests finds them.
    let uploads = Router::new()
        .route("/2015-03-31/functions", post(l::create).get(l::list))
        .route("/2015-03-31/functions/{name}/code", put(l::update_code))
        .layer(DefaultBodyLimit::max(LAMBDA_UPLOAD_BYTES));
    Router::new()
        .route("/2015-03-31/functions/", get(l::list))
        .route(
            "/2015-03-31/functions/{name}",
            get(l::get).delete(l::delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(l::get_configuration).put(l::update_configuration),
        )
        .route("/2015-03-31/functions/{name}/invocations", post(l::invoke))
        .route(
            "/2015-03-31/functions/{name}/versions",
            post(l::publish).get(l::list_versions),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases",
            post(l::create_alias).get(l::list_aliases),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(l::get_alias)
                .put(l::update_alias)
                .delete(l::delete_alias_route),
        )
        .merge(uploads)
}

/// Largest CreateFunction / UpdateFunctionCode body: a 50 MB zip in base64.
pub(crate) const LAMBDA_UPLOAD_BYTES: usize = 70 * 1024 * 1024;

/// 413 for a request whose `Content-Length` is over [`MAX_BODY_BYTES`],
/// from its headers alone: the body is never read (a client that waits
/// for `100 Continue` sends nothing). Package uploads have their own,
/// larger limit, checked the same way where they are received.
async fn refuse_large_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let path = request.uri().path();
    let upload = path == "/api/v1/packages"
        || (path.starts_with("/api/v1/functions/") && path.ends_with("/package"))
        || aws::body_limit(path) > MAX_BODY_BYTES;
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) && !upload {
        ops::count_refusal("body_too_large");
        return error::ApiError::too_large(format!(
            "the request body ({} bytes) is larger than the limit of {MAX_BODY_BYTES} bytes; \
             send a smaller one (package archives go to POST /api/v1/packages)",
            declared.unwrap_or_default()
        ))
        .into_response();
    }
    next.run(request).await
}

/// Run a store scan that may touch many records off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, sluice_engine::EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            sluice_engine::EngineError::Storage(format!("a store scan stopped unexpectedly: {e}"))
        })?
        .map_err(ApiError::from)
}
