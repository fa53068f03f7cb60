//! The test harness of the API tests: a real engine on a temporary sled
//! store with an in-process executor, and the router driven through
//! `oneshot` without a socket.
// Each test binary uses a different part of this harness.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use sluice_console::{app, AppState};
use sluice_engine::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

type Handler = Box<dyn Fn(&TaskInvocation) -> Result<Value, TaskError> + Send + Sync>;

/// Runs `sluice:function:NAME` with the handler registered for NAME and
/// records every invocation.
#[derive(Default)]
pub struct TestExecutor {
    handlers: Mutex<HashMap<String, Arc<Handler>>>,
    pub calls: Mutex<Vec<TaskInvocation>>,
}

impl TestExecutor {
    pub fn on(
        &self,
        name: &str,
        f: impl Fn(&TaskInvocation) -> Result<Value, TaskError> + Send + Sync + 'static,
    ) {
        self.handlers
            .lock()
            .unwrap()
            .insert(name.to_string(), Arc::new(Box::new(f)));
    }
}

#[async_trait::async_trait]
impl Executor for TestExecutor {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        self.calls.lock().unwrap().push(task.clone());
        let name = task
            .resource
            .trim_start_matches("sluice:function:")
            .trim_end_matches(".waitForTaskToken");
        let handler = self.handlers.lock().unwrap().get(name).cloned();
        match handler {
            Some(h) => h(&task),
            None => Err(TaskError::new(
                "States.TaskFailed",
                format!("no handler for {name}"),
            )),
        }
    }
}

pub struct TestEnv {
    pub app: Router,
    pub state: AppState,
    pub executor: Arc<TestExecutor>,
    _dir: tempfile::TempDir,
}

/// The engine's payload limit in these tests, below the body limit so the
/// engine's own 413 can be seen.
pub const PAYLOAD_LIMIT: usize = 64 * 1024;

pub async fn env() -> TestEnv {
    let dir = tempfile::tempdir().unwrap();
    let executor = Arc::new(TestExecutor::default());
    let mut config = EngineConfig::new(dir.path());
    config.durability = Durability::Process;
    config.limits.payload_bytes = PAYLOAD_LIMIT;
    let engine = Engine::open(config, executor.clone()).unwrap();
    engine.recover().await.unwrap();
    let state = AppState::new(engine);
    TestEnv {
        app: app(state.clone()),
        state,
        executor,
        _dir: dir,
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    /// Asserts the API error shape and returns its code.
    pub fn error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        let v = self.json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["code", "message", "details"], "{v}");
        assert!(!v["message"].as_str().unwrap().is_empty());
        v["code"].as_str().unwrap().to_string()
    }
}

impl TestEnv {
    /// The same server with running sources behind the API.
    pub fn with_sources(mut self, sources: Arc<dyn sluice_console::SourceControl>) -> Self {
        self.state = self.state.clone().with_sources(sources);
        self.app = app(self.state.clone());
        self
    }

    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        let builder = Request::builder().method(method).uri(uri);
        let req = match body {
            Some(b) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Answer {
        self.call(Method::POST, uri, Some(body)).await
    }

    pub async fn deploy(&self, name: &str, definition: Value) -> Answer {
        let uri = format!("/api/v1/workflows/{name}");
        self.call(Method::PUT, &uri, Some(definition)).await
    }

    /// Start and return the new execution's id.
    pub async fn start(&self, workflow: &str, input: Value) -> String {
        let a = self
            .post(
                &format!("/api/v1/workflows/{workflow}/executions"),
                json!({ "input": input }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.json()["executionId"].as_str().unwrap().to_string()
    }

    pub async fn wait_until_done(&self, id: &str) -> Execution {
        self.state
            .engine()
            .wait(id, Duration::from_secs(20))
            .await
            .unwrap()
    }
}

pub fn pass() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})
}

pub fn sleepy() -> Value {
    json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 120, "End": true}}})
}
