//! The REST API's and the AWS protocols' request bodies, through the real
//! router on a real engine (a sled store in a temporary folder): the first
//! byte picks a route (or an AWS operation) that takes a body, the rest is
//! the body. Whatever the body, the answer is a success or a client error
//! with a JSON body that says what is wrong (`{"code", "message"}`, or
//! AWS's `{"__type", "message"}`) — never a panic, never a 500.
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

/// (method, path, content type, `X-Amz-Target` for the AWS JSON protocols,
/// or `lambda` for Lambda's REST-JSON paths).
const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("PUT", "/api/v1/workflows/fz", "application/json", ""),
    ("PUT", "/api/v1/workflows/fz?type=EXPRESS", "application/json", ""),
    ("POST", "/api/v1/workflows/fz/executions", "application/json", ""),
    ("POST", "/api/v1/workflows/fz/executions?wait=1", "application/json", ""),
    ("PUT", "/api/v1/workflows/fz/aliases/live", "application/json", ""),
    ("POST", "/api/v1/executions/fz-1/stop", "application/json", ""),
    ("POST", "/api/v1/executions/fz-1/redrive", "application/json", ""),
    ("POST", "/api/v1/tasks/dG9rZW4/success", "application/json", ""),
    ("POST", "/api/v1/tasks/dG9rZW4/failure", "application/json", ""),
    ("POST", "/api/v1/tasks/dG9rZW4/heartbeat", "application/json", ""),
    ("PUT", "/api/v1/triggers/fz", "application/json", ""),
    ("PUT", "/api/v1/sources/fz", "application/json", ""),
    ("POST", "/api/v1/sources/fz/test", "application/json", ""),
    ("POST", "/api/v1/sources/fz/notifications", "application/json", ""),
    ("PUT", "/api/v1/functions/fz", "application/json", ""),
    ("PUT", "/api/v1/functions/fz/aliases/live", "application/json", ""),
    ("POST", "/api/v1/functions/fz/invocations", "application/json", ""),
    ("POST", "/api/v1/events", "application/cloudevents+json", ""),
    ("POST", "/api/v1/events", "application/cloudevents-batch+json", ""),
    ("POST", "/api/v1/login", "application/x-www-form-urlencoded", ""),
    ("POST", "/api/v1/packages", "application/zip", ""),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.CreateStateMachine"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.UpdateStateMachine"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.StartExecution"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.StartSyncExecution"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.DescribeExecution"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.GetExecutionHistory"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.ListExecutions"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.SendTaskSuccess"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.ValidateStateMachineDefinition"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.TestState"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.CreateStateMachineAlias"),
    ("POST", "/", "application/x-amz-json-1.0", "AWSStepFunctions.TagResource"),
    ("POST", "/", "application/x-amz-json-1.1", "AWSEvents.PutEvents"),
    ("POST", "/", "application/x-amz-json-1.1", "AWSEvents.PutRule"),
    ("POST", "/", "application/x-amz-json-1.1", "AWSEvents.PutTargets"),
    ("POST", "/", "application/x-amz-json-1.1", "AWSEvents.TestEventPattern"),
    ("POST", "/2015-03-31/functions", "application/json", "lambda"),
    ("POST", "/2015-03-31/functions/fz/invocations", "application/json", "lambda"),
    ("PUT", "/2015-03-31/functions/fz/configuration", "application/json", "lambda"),
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
    let (method, path, content_type, target) = ROUTES[pick as usize % ROUTES.len()];
    let api = api();
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .header("content-type", content_type);
    if !target.is_empty() && target != "lambda" {
        request = request.header("x-amz-target", target);
    }
    let request = request.body(Body::from(body.to_vec())).unwrap();
    let (status, text) = api.rt.block_on(async {
        let res = api.router.clone().oneshot(request).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, bytes)
    });
    assert!(
        // 501/503: what a server without functions or packages answers.
        !status.is_server_error() || matches!(status.as_u16(), 501 | 503),
        "{method} {path} {target}: {status} {}",
        String::from_utf8_lossy(&text)
    );
    if status.is_client_error() {
        let v: Value = serde_json::from_slice(&text).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {status} with a body that is not JSON ({e}): {}",
                String::from_utf8_lossy(&text)
            )
        });
        let shaped = if target.is_empty() {
            v["code"].is_string() && v["message"].is_string()
        } else {
            v["__type"].is_string() && v["message"].is_string()
        };
        assert!(shaped, "{method} {path} {target}: {status} without the error shape: {v}");
    }
});
