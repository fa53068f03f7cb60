//! Shutdown ends the side effects in flight: a task dispatch still waiting
//! for its function is cancelled (its future dropped, which kills a
//! function process) instead of living on until the runtime is dropped, and
//! the execution is left RUNNING for the next start to dispatch again.

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts invocations that began and invocations whose future was dropped
/// before they answered; an invocation never answers.
#[derive(Default)]
struct Hangs {
    began: AtomicUsize,
    dropped: Arc<AtomicUsize>,
}

struct OnDrop(Arc<AtomicUsize>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Executor for Hangs {
    async fn invoke(&self, _task: TaskInvocation) -> Result<Value, TaskError> {
        let _guard = OnDrop(self.dropped.clone());
        self.began.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        unreachable!()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_cancels_dispatches_in_flight_and_the_execution_stays_running() {
    let dir = tempfile::tempdir().unwrap();
    let hangs = Arc::new(Hangs::default());
    let mut config = EngineConfig::new(dir.path());
    config.durability = Durability::Process;
    let engine = Engine::open(config, hangs.clone()).unwrap();
    engine.recover().await.unwrap();
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "sluice:function:hang", "End": true}}});
    engine.deploy("hang", definition).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let req = StartRequest {
            input: json!({"i": i}),
            name: None,
        };
        ids.push(engine.start("hang", req).await.unwrap().0.execution_id);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while hangs.began.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the tasks were not dispatched");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hangs.dropped.load(Ordering::SeqCst), 0);

    let asked = Instant::now();
    engine.shutdown(Duration::from_secs(5)).await;
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "shutdown waited {:?} for tasks that never answer",
        asked.elapsed()
    );
    assert_eq!(
        hangs.dropped.load(Ordering::SeqCst),
        3,
        "every dispatch ended"
    );
    for id in &ids {
        assert_eq!(
            engine.execution(id.as_str()).unwrap().status,
            Status::Running
        );
    }
}
