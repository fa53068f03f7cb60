//! `process` + `protocol: "lambda"` with the official Rust runtime client:
//! tests/lambda-rs/fn, a handler on the unmodified `lambda_runtime` crate,
//! built by the test.

mod common;

use common::*;
use serde_json::{json, Value};
use sluice_engine::{Executor, TaskInvocation};
use sluice_executors::{names, Functions};
use std::time::{SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_runtime_crate_cold_then_warm_with_context() {
    let f = Functions::new();
    deploy(&f, rust_lambda_def("rsfn", json!({})));

    let before = now_ms();
    let first = f
        .invoke(
            "rsfn",
            None,
            &json!({"n": 1, "log": "handled 1"}),
            &caller("req-1"),
            None,
        )
        .await;
    let r1 = first
        .result
        .clone()
        .unwrap_or_else(|e| panic!("{e}; stderr {}", first.meter.stderr));
    assert!(first.meter.cold);
    assert!(first.meter.init_ms > 0.0);
    assert_eq!(r1["echo"], json!({"n": 1, "log": "handled 1"}));
    // The Lambda-Runtime-* headers, as the client hands them to the handler.
    assert_eq!(r1["requestId"], "req-1");
    assert_eq!(r1["arn"], "arn:aws:lambda:local:000000000000:function:rsfn");
    assert!(
        r1["traceId"].as_str().unwrap().starts_with("Root=1-"),
        "{r1}"
    );
    // The deadline is the function's timeoutSeconds from the invocation.
    let deadline = r1["deadlineMs"].as_u64().unwrap();
    assert!(
        deadline >= before + 19_000 && deadline <= now_ms() + 20_000,
        "deadline {deadline} is not 20 s after {before}"
    );
    let remaining = r1["remainingMs"].as_u64().unwrap();
    assert!(remaining > 10_000 && remaining <= 20_000, "{remaining}");
    // What the client read from the Lambda variables.
    assert_eq!(r1["functionName"], "rsfn");
    assert_eq!(r1["memoryMb"], 256);
    assert_eq!(r1["version"], "$LATEST");
    assert!(
        first.meter.stdout.contains("handled 1"),
        "{:?}",
        first.meter.stdout
    );

    // Warm: the same process serves the next invocation.
    let second = f
        .invoke(
            "rsfn",
            None,
            &json!({"n": 2, "log": "handled 2"}),
            &caller("req-2"),
            None,
        )
        .await;
    let r2 = second.result.unwrap();
    assert!(!second.meter.cold);
    assert_eq!(second.meter.init_ms, 0.0);
    assert_eq!(r2["pid"], r1["pid"]);
    assert_eq!(r2["requestId"], "req-2");
    assert_eq!(r2["echo"]["n"], 2);
    // Each invocation's report has what it printed, and only that.
    assert_eq!(second.meter.stdout.trim(), "handled 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_is_named_by_its_diagnostic_and_the_process_stays_warm() {
    let f = Functions::new();
    deploy(&f, rust_lambda_def("rsfail", json!({})));
    let task = |key: &str, payload| TaskInvocation {
        resource: "sluice:function:rsfail".into(),
        payload,
        idempotency_key: key.into(),
        task_token: None,
        timeout_seconds: None,
        execution_id: "e".into(),
        state: "Charge".into(),
    };
    let ok = Executor::invoke(&f, task("e/1/0", json!({"n": 1})))
        .await
        .unwrap();
    // The error type the handler chose is the ASL error name (what
    // Retry/Catch `ErrorEquals` match); the cause is the client's error
    // document as JSON text, as Step Functions gives it.
    let e = Executor::invoke(&f, task("e/2/0", json!({"fail": "card declined"})))
        .await
        .unwrap_err();
    assert_eq!(e.error, "OrderRejected", "{e}");
    let doc: Value = serde_json::from_str(&e.cause).unwrap();
    assert_eq!(doc["errorMessage"], "rejected: \"card declined\"", "{e}");
    let after = f
        .invoke("rsfail", None, &json!({"n": 3}), &caller("r3"), None)
        .await;
    assert!(!after.meter.cold);
    assert_eq!(after.result.unwrap()["pid"], ok["pid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_dies_during_init_fails_the_invocation_with_its_stderr() {
    let f = Functions::new();
    // lambda_runtime reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE as a number and
    // panics at start-up when it is not one.
    deploy(
        &f,
        rust_lambda_def(
            "rsbad",
            json!({"env": {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}}),
        ),
    );
    let out = invoke(&f, "rsbad", json!({})).await;
    let e = out.result.unwrap_err();
    assert_eq!(e.error, names::EXIT_ERROR, "{e}");
    assert!(e.cause.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "{e}");
    assert_eq!(f.warm_instances("rsbad"), 0);
}
