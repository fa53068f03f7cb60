use super::*;
use crate::test_support::NoTasks;
use crate::StartRequest;
use serde_json::json;
use std::time::Instant;

fn start(name: &str, input: Value) -> StartRequest {
    StartRequest {
        input,
        name: Some(name.into()),
    }
}

/// Batch 1 starts execution "x" and flushes slowly; batch 2, applied
/// meanwhile, is refused because "x" exists. That refusal rests on
/// batch 1, so it must not reach its caller before batch 1 is durable.
#[tokio::test(flavor = "multi_thread")]
async fn an_error_that_rests_on_unflushed_writes_waits_for_their_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.slow_flush = Duration::from_millis(500);
    let engine = Engine::open(config, Arc::new(NoTasks)).unwrap();
    let wait =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    engine.deploy("w", wait).await.unwrap();
    let first = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let r = engine.start("w", start("x", json!({"n": 1}))).await;
            (r, Instant::now())
        })
    };
    // Batch 1 is applied (visible) and flushing.
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine
        .list_executions(&Default::default())
        .unwrap()
        .executions
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the first start was never applied"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = engine.start("w", start("x", json!({"n": 2}))).await;
    let refused_at = Instant::now();
    assert!(
        matches!(second, Err(EngineError::Conflict(_))),
        "{second:?}"
    );
    let (first, durable_at) = first.await.unwrap();
    first.unwrap();
    assert!(
        refused_at >= durable_at,
        "the refusal came {:?} before the start it rests on was durable",
        durable_at - refused_at
    );
    // A reader that passes on what it read waits for it to be durable:
    // "y" is visible as soon as it is applied, a flush (500 ms) before
    // its start is answered.
    let third = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.start("w", start("y", json!({}))).await })
    };
    let seen = Instant::now();
    while engine
        .list_executions(&Default::default())
        .unwrap()
        .executions
        .len()
        < 2
    {
        assert!(seen.elapsed() < Duration::from_secs(5), "never applied");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before = Instant::now();
    engine.durable_barrier().await.unwrap();
    assert!(
        before.elapsed() >= Duration::from_millis(200),
        "the barrier returned after {:?}, before the flush",
        before.elapsed()
    );
    third.await.unwrap().unwrap();
}
