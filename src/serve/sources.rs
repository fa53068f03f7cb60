//! The event sources of `sluice serve`: the connectors' `SourceManager`
//! follows the engine's catalog (kind `source`), and the console reaches it
//! through its `SourceControl` port. Publish tasks (`sluice:kafka:publish`,
//! `sluice:amqp:publish`) are routed to the connectors' sink executor,
//! HTTP Tasks (`arn:aws:states:::http:invoke`) to the executors' HTTP client.

use serde_json::{json, Value};
use std::sync::Arc;

use sluice_connectors::cloudevent::source_uri;
use sluice_connectors::manager::{self, SourceManager};
use sluice_connectors::object_events;
use sluice_connectors::publish::{self, PublishExecutor};
use sluice_console::{NotifyError, SourceControl};
use sluice_dsl::source::SourceDef;
use sluice_engine::{Engine, Executor, TaskError, TaskInvocation, TaskOutcome};
use sluice_engine::{EventSink, InboundEvent};
use sluice_executors::http_task::{self, HttpTasks};

/// Sends publish tasks to the broker sinks, HTTP Tasks to `http` and every
/// other task to `rest`.
pub struct Routed {
    pub publish: Arc<PublishExecutor>,
    pub http: Arc<HttpTasks>,
    pub rest: Arc<dyn Executor>,
}

impl Routed {
    fn route(&self, task: &TaskInvocation) -> &dyn Executor {
        if publish::handles(&task.resource) {
            self.publish.as_ref()
        } else if http_task::handles(&task.resource) {
            self.http.as_ref()
        } else {
            self.rest.as_ref()
        }
    }
}

#[async_trait::async_trait]
impl Executor for Routed {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        self.route(&task).invoke(task).await
    }

    /// Forwarded, so the function executors' meters reach the history.
    async fn invoke_metered(&self, task: TaskInvocation) -> TaskOutcome {
        self.route(&task).invoke_metered(task).await
    }

    /// Forwarded, so a wasm function runs on an EXPRESS run's own thread.
    fn invoke_blocking(
        &self,
        runtime: &tokio::runtime::Handle,
        task: TaskInvocation,
    ) -> TaskOutcome {
        self.route(&task).invoke_blocking(runtime, task)
    }
}

/// The console's view of the running sources. Without a sink (an engine
/// that does not ingest events) nothing runs, but connections can be tested.
pub struct Control {
    pub manager: Option<Arc<SourceManager>>,
    pub sink: Option<Arc<dyn EventSink>>,
}

#[async_trait::async_trait]
impl SourceControl for Control {
    fn status(&self, name: &str) -> Option<Value> {
        self.manager
            .as_ref()?
            .get(name)
            .and_then(|i| serde_json::to_value(i.status).ok())
    }

    async fn test(&self, def: &SourceDef) -> Result<String, String> {
        manager::test(def).await
    }

    async fn notify(&self, def: &SourceDef, body: Value) -> Result<Value, NotifyError> {
        let Some(sink) = &self.sink else {
            return Err(NotifyError::Engine(sluice_engine::EngineError::BadRequest(
                "this server does not ingest events yet".into(),
            )));
        };
        let events = object_events::from_notification(&body, &source_uri(&def.name))
            .map_err(NotifyError::Invalid)?;
        let n = events.len();
        let batch = events
            .into_iter()
            .map(|event| InboundEvent {
                source: def.name.clone(),
                event,
            })
            .collect();
        let outcomes = if n == 0 {
            Vec::new()
        } else {
            sink.submit(batch).await.map_err(NotifyError::Engine)?
        };
        Ok(json!({"events": n, "outcomes": outcomes}))
    }

    fn metrics(&self) -> String {
        self.manager
            .as_ref()
            .map(|m| m.metrics())
            .unwrap_or_default()
    }
}

/// Starts the stored sources and keeps following the catalog until the
/// manager shuts down.
pub async fn follow_catalog(engine: Engine, manager: Arc<SourceManager>) {
    // Subscribe before the first read, so no change falls in between.
    let mut changes = engine.watch_documents();
    match engine.documents(sluice_console::sources::KIND) {
        Ok(docs) => {
            for d in docs {
                apply(&manager, &d.name, &d.body).await;
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read the stored sources"),
    }
    loop {
        match changes.recv().await {
            Ok(change) if change.kind == sluice_console::sources::KIND => {
                match engine.document(&change.kind, &change.name, None) {
                    Ok(Some(d)) => apply(&manager, &d.name, &d.body).await,
                    Ok(None) => {
                        manager.remove(&change.name).await;
                    }
                    Err(e) => {
                        tracing::error!(source = %change.name, error = %e, "cannot read a changed source")
                    }
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                // Missed changes: re-read them all.
                if let Ok(docs) = engine.documents(sluice_console::sources::KIND) {
                    let names: Vec<String> = docs.iter().map(|d| d.name.clone()).collect();
                    for d in docs {
                        apply(&manager, &d.name, &d.body).await;
                    }
                    for running in manager.list() {
                        if !names.contains(&running.name) {
                            manager.remove(&running.name).await;
                        }
                    }
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn apply(manager: &SourceManager, name: &str, body: &Value) {
    match SourceDef::from_value(body) {
        Ok(def) => manager.apply(def).await,
        Err(p) => {
            tracing::error!(source = name, problems = %p, "stored source does not validate; not started")
        }
    }
}
