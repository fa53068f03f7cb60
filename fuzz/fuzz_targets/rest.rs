//! The REST API's request bodies, through the real router on a real engine
//! (a sled store in a temporary folder): the first byte picks a route that
//! takes a body, the rest is the body. Whatever the body, the answer is a
//! success or a client error with a JSON body that says what is wrong —
//! never a panic, never a 500.
#![no_main]

use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_console::{app, AppState};
use sluice_engine::{Durability, Engine, EngineConfig, Executor, TaskError, TaskInvocation};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// Every task fails: the target is the API, not the functions.
struct NoFunctions;

#[async_trait::async_trait]
impl Executor for NoFunctions {
    async fn invoke(&self, _task: TaskInvocation) -> Result<Value, TaskError> {
        Err(TaskError::new("Fuzz.NoFunctions", "no functions here"))
    }
}

const ROUTES: &[(&str, &str, &str)] = &[
    ("PUT", "/api/v1/workflows/fz", "application/json"),
    ("PUT", "/api/v1/workflows/fz?type=EXPRESS", "application/json"),
    ("POST", "/api/v1/workflows/fz/executions", "application/json"),
    ("POST", "/api/v1/workflows/fz/executions?wait=1", "application/json"),
    ("PUT", "/api/v1/workflows/fz/aliases/live", "application/json"),
    ("POST", "/api/v1/executions/fz-1/stop", "application/json"),
    ("POST", "/api/v1/executions/fz-1/redrive", "application/json"),
    ("POST", "/api/v1/tasks/dG9rZW4/success", "application/json"),
    ("POST", "/api/v1/tasks/dG9rZW4/failure", "application/json"),
    ("POST", "/api/v1/tasks/dG9rZW4/heartbeat", "application/json"),
    ("PUT", "/api/v1/triggers/fz", "application/json"),
    ("PUT", "/api/v1/sources/fz", "application/json"),
    ("POST", "/api/v1/sources/fz/test", "application/json"),
    ("POST", "/api/v1/sources/fz/notifications", "application/json"),
    ("PUT", "/api/v1/functions/fz", "application/json"),
    ("PUT", "/api/v1/functions/fz/aliases/live", "application/json"),
    ("POST", "/api/v1/functions/fz/invocations", "application/json"),
    ("POST", "/api/v1/events", "application/cloudevents+json"),
    ("POST", "/api/v1/events", "application/cloudevents-batch+json"),
    ("POST", "/api/v1/login", "application/x-www-form-urlencoded"),
    ("POST", "/api/v1/packages", "application/zip"),
];

struct Api {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // scripts/fuzz.sh gives each run a TMPDIR of its own and removes it.
        let dir = std::env::temp_dir().join(format!("sluice-fuzz-rest-{}", std::process::id()));
        let mut config = EngineConfig::new(&dir);
        config.durability = Durability::Process;
        let router = rt.block_on(async {
            let engine = Engine::open(config, Arc::new(NoFunctions)).expect("engine opens");
            engine.recover().await.expect("engine recovers");
            app(AppState::new(engine))
        });
        Api { rt, router }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path, content_type) = ROUTES[pick as usize % ROUTES.len()];
    let api = api();
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .unwrap();
    let (status, text) = api.rt.block_on(async {
        let res = api.router.clone().oneshot(request).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, bytes)
    });
    assert!(
        !status.is_server_error() || status.as_u16() == 501,
        "{method} {path}: {status} {}",
        String::from_utf8_lossy(&text)
    );
    if status.is_client_error() {
        let v: Value = serde_json::from_slice(&text).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {status} with a body that is not JSON ({e}): {}",
                String::from_utf8_lossy(&text)
            )
        });
        assert!(
            v["code"].is_string() && v["message"].is_string(),
            "{method} {path}: {status} without the error shape: {v}"
        );
    }
});
