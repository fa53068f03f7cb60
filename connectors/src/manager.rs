//! Runs the source bindings: one task per enabled binding, restarted when
//! its definition changes, stopped when it is deleted or disabled. The
//! binary feeds it from the engine's catalog (kind `source`); the API reads
//! statuses from it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_dsl::source::{SourceDef, SourceSpec};
use sluice_engine::EventSink;
use tokio::task::JoinHandle;

use crate::status::{render_metrics, StatusSnapshot};
use crate::{amqp, bucket, cron, kafka, CancellationToken, SourceStatus};

struct Running {
    def: SourceDef,
    status: Arc<SourceStatus>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// The running sources, by name.
pub struct SourceManager {
    sink: Arc<dyn EventSink>,
    // A std Mutex: held only to swap entries, never across an await.
    running: Mutex<BTreeMap<String, Running>>,
}

/// One source as the API lists it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    pub name: String,
    pub kind: &'static str,
    pub enabled: bool,
    pub status: StatusSnapshot,
}

impl SourceManager {
    pub fn new(sink: Arc<dyn EventSink>) -> Arc<Self> {
        Arc::new(SourceManager {
            sink,
            running: Mutex::new(BTreeMap::new()),
        })
    }

    /// Starts the binding, or restarts it when it differs from the running
    /// one (an identical binding keeps running untouched).
    pub async fn apply(&self, def: SourceDef) {
        let old = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if running.get(&def.name).is_some_and(|r| r.def == def) {
                return;
            }
            running.remove(&def.name)
        };
        if let Some(old) = old {
            stop(old).await;
        }
        let status = Arc::new(SourceStatus::new());
        let stop = CancellationToken::new();
        let task = def.enabled.then(|| {
            let (d, sink, st, sd) = (def.clone(), self.sink.clone(), status.clone(), stop.clone());
            match &def.spec {
                SourceSpec::Kafka(_) => tokio::spawn(kafka::run(d, sink, st, sd)),
                SourceSpec::Amqp(_) => tokio::spawn(amqp::run(d, sink, st, sd)),
                SourceSpec::Cron(_) => tokio::spawn(cron::run(d, sink, st, sd)),
                // Notifications are also accepted at the API
                // (POST /api/v1/sources/{name}/notifications).
                SourceSpec::S3(_) => tokio::spawn(bucket::run(d, sink, st, sd)),
            }
        });
        tracing::info!(source = %def.name, kind = def.spec.kind(), enabled = def.enabled, "source applied");
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                def.name.clone(),
                Running {
                    def,
                    status,
                    stop,
                    task,
                },
            );
    }

    /// Stops and forgets a source; false when there was none.
    pub async fn remove(&self, name: &str) -> bool {
        let old = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        match old {
            Some(r) => {
                stop(r).await;
                true
            }
            None => false,
        }
    }

    /// Stops every source (server shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<Running> =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()))
                .into_values()
                .collect();
        for r in all {
            stop(r).await;
        }
    }

    pub fn get(&self, name: &str) -> Option<SourceInfo> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(name).map(info)
    }

    pub fn list(&self) -> Vec<SourceInfo> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.values().map(info).collect()
    }

    /// The sources' series for `/metrics`.
    pub fn metrics(&self) -> String {
        let rows: Vec<(String, String, StatusSnapshot)> = self
            .list()
            .into_iter()
            .map(|i| (i.name, i.kind.to_string(), i.status))
            .collect();
        render_metrics(&rows)
    }
}

fn info(r: &Running) -> SourceInfo {
    SourceInfo {
        name: r.def.name.clone(),
        kind: r.def.spec.kind(),
        enabled: r.def.enabled,
        status: r.status.snapshot(),
    }
}

async fn stop(r: Running) {
    r.stop.cancel();
    if let Some(task) = r.task {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_err()
        {
            tracing::warn!(source = %r.def.name, "source did not stop in 10 s; aborted");
            abort.abort();
        }
    }
}

/// Checks a binding's connection (`sluice source test NAME`): the broker
/// answers and the queue/topics exist, or the schedule parses.
pub async fn test(def: &SourceDef) -> Result<String, String> {
    let check = async {
        match &def.spec {
            SourceSpec::Kafka(k) => kafka::test(k).await,
            SourceSpec::Amqp(a) => amqp::test(a).await,
            SourceSpec::Cron(c) => cron::test(c),
            SourceSpec::S3(s) => bucket::Bucket::open(s)?.probe().await,
        }
    };
    tokio::time::timeout(Duration::from_secs(15), check)
        .await
        .unwrap_or_else(|_| Err("no answer within 15 s".into()))
}
