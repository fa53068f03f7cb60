//! `process` + `protocol: "stdio"`: a fresh process per invocation.

mod common;

use common::*;
use serde_json::json;
use sluice_executors::{names, Functions};

fn sh(name: &str, script: &str, extra: serde_json::Value) -> serde_json::Value {
    let v = json!({"name": name, "runtime": "process", "protocol": "stdio",
        "command": ["/bin/sh", "-c", script], "timeoutSeconds": 5});
    with(v, extra)
}

#[tokio::test]
async fn result_on_stdout_errors_by_name_and_logs_on_stderr() {
    let f = Functions::new();
    deploy(&f, sh("echo", "echo log-line >&2; cat", json!({})));
    let out = invoke(&f, "echo", json!({"n": 1})).await;
    assert_eq!(out.result.unwrap(), json!({"n": 1}));
    assert!(out.meter.cold);
    assert_eq!(out.meter.stderr.trim(), "log-line");
    assert!(out.meter.max_memory_kb.unwrap() > 0);

    deploy(
        &f,
        sh(
            "fails",
            "echo '{\"errorType\":\"ValueError\",\"errorMessage\":\"no\"}'; exit 1",
            json!({}),
        ),
    );
    let e = invoke(&f, "fails", json!({})).await.result.unwrap_err();
    assert_eq!((e.error.as_str(), e.cause.as_str()), ("ValueError", "no"));

    deploy(&f, sh("crashes", "echo oops >&2; exit 7", json!({})));
    let e = invoke(&f, "crashes", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::TASK_FAILED);
    assert!(
        e.cause.contains("status 7") && e.cause.contains("oops"),
        "{}",
        e.cause
    );

    deploy(&f, sh("garbage", "echo not-json", json!({})));
    let e = invoke(&f, "garbage", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::INVALID_RESULT);
}

#[tokio::test]
async fn clean_environment_with_the_lambda_variables() {
    std::env::set_var("SLUICE_TEST_SECRET", "hunter2");
    let f = Functions::new();
    deploy(&f, sh("env", "env", json!({"env": {"GREETING": "hi"}})));
    let out = f
        .invoke("env", None, &json!({}), &caller("key-1"), None)
        .await;
    // `env` prints lines, not JSON: the failure carries them in stdout.
    assert_eq!(out.result.unwrap_err().error, names::INVALID_RESULT);
    let env = out.meter.stdout;
    assert!(
        !env.contains("hunter2"),
        "the engine's environment leaked: {env}"
    );
    for want in [
        "GREETING=hi",
        "AWS_LAMBDA_FUNCTION_NAME=env",
        "SLUICE_IDEMPOTENCY_KEY=key-1",
        "_HANDLER=env",
    ] {
        assert!(env.contains(want), "{want} missing from {env}");
    }
}

#[tokio::test]
async fn timeout_kills_the_process_and_its_children() {
    let f = Functions::new();
    deploy(
        &f,
        sh(
            "sleepy",
            "sleep 30 & sleep 30",
            json!({"timeoutSeconds": 1}),
        ),
    );
    let started = std::time::Instant::now();
    let e = invoke(&f, "sleepy", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::TIMEOUT);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn concurrency_queue_and_throttling() {
    let f = Functions::new();
    deploy(
        &f,
        sh(
            "one",
            "sleep 1; echo 1",
            json!({"concurrency": 1, "maxQueued": 1}),
        ),
    );
    let (a, b, c) = tokio::join!(
        invoke(&f, "one", json!({})),
        invoke(&f, "one", json!({})),
        invoke(&f, "one", json!({}))
    );
    let mut errors: Vec<String> = [a, b, c]
        .into_iter()
        .filter_map(|o| o.result.err().map(|e| e.error))
        .collect();
    errors.sort();
    // One runs, one waits its turn and runs, the third is refused.
    assert_eq!(errors, vec![names::THROTTLED.to_string()]);
    let metrics = f.metrics_text();
    assert!(
        metrics.contains("sluice_function_throttles_total{function=\"one\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sluice_function_invocations_total{function=\"one\"} 3"),
        "{metrics}"
    );
    assert_eq!(f.logs("one", 10).len(), 3);
}

#[tokio::test]
async fn unknown_function_names_the_deployed_ones() {
    let f = Functions::new();
    deploy(&f, sh("known", "cat", json!({})));
    let e = invoke(&f, "nope", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::NOT_FOUND);
    assert!(e.cause.contains("known"), "{}", e.cause);
}
