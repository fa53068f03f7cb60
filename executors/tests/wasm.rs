//! `wasm`: a Rust WASI preview 1 command module built by the test.

mod common;

use common::*;
use serde_json::json;
use sluice_executors::{names, Functions};
use std::time::{Duration, Instant};

fn wasm_def(name: &str, extra: serde_json::Value) -> serde_json::Value {
    with(
        json!({"name": name, "runtime": "wasm", "module": wasm_module(), "timeoutSeconds": 5}),
        extra,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_instance_per_invocation_with_the_event_on_stdin() {
    let f = Functions::new();
    deploy(&f, wasm_def("echo", json!({"env": {"ONLY_THIS": "1"}})));
    let first = invoke(&f, "echo", json!({"n": 1})).await;
    assert_eq!(first.result.unwrap(), json!({"echo": {"n": 1}}));
    assert!(first.meter.cold, "the first call compiles the module");
    let second = invoke(&f, "echo", json!({"n": 2})).await;
    assert_eq!(second.result.unwrap(), json!({"echo": {"n": 2}}));
    assert!(!second.meter.cold);
    assert!(second.meter.max_memory_kb.unwrap() > 0);

    // Only its own environment, and no host files.
    let env = invoke(&f, "echo", json!({"env": true}))
        .await
        .result
        .unwrap();
    assert_eq!(env, json!({"vars": ["ONLY_THIS"], "rootVisible": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_by_name_timeouts_and_memory_limits() {
    let f = Functions::new();
    deploy(
        &f,
        wasm_def("w", json!({"timeoutSeconds": 1, "memoryMb": 16})),
    );
    let failed = invoke(&f, "w", json!({"fail": true})).await;
    let e = failed.result.unwrap_err();
    assert_eq!(
        (e.error.as_str(), e.cause.as_str()),
        ("ValueError", "wasm says no")
    );
    assert!(failed.meter.stderr.contains("about to fail"));

    let started = Instant::now();
    let e = invoke(&f, "w", json!({"spin": true}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, names::TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    let e = invoke(&f, "w", json!({"grow": true}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, names::MEMORY_EXCEEDED, "{e}");

    // Still fine afterwards.
    assert_eq!(
        invoke(&f, "w", json!(1)).await.result.unwrap(),
        json!({"echo": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_module_fails_the_invocation_clearly() {
    let f = Functions::new();
    deploy(
        &f,
        json!({"name": "gone", "runtime": "wasm", "module": "/nonexistent/fn.wasm"}),
    );
    let e = invoke(&f, "gone", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::TASK_FAILED);
    assert!(e.cause.contains("/nonexistent/fn.wasm"), "{}", e.cause);
}
