//! `process` + `protocol: "lambda"` with the real Python runtime client
//! (awslambdaric from PyPI) speaking the Runtime API.

mod common;

use common::*;
use serde_json::json;
use sluice_engine::{Executor, TaskInvocation};
use sluice_executors::{names, Functions};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awslambdaric_cold_then_warm_with_context_and_errors() {
    std::env::set_var("SLUICE_TEST_SECRET", "hunter2");
    let f = Functions::new();
    deploy(&f, lambda_def("py", json!({"env": {"GREETING": "hi"}})));

    let first = f
        .invoke("py", None, &json!({"n": 1}), &caller("req-1"), None)
        .await;
    let r1 = first
        .result
        .clone()
        .unwrap_or_else(|e| panic!("{e}; stderr {}", first.meter.stderr));
    assert!(first.meter.cold);
    assert!(first.meter.init_ms > 0.0);
    assert_eq!(r1["echo"], json!({"n": 1}));
    assert_eq!(r1["requestId"], "req-1");
    assert_eq!(r1["functionName"], "py");
    assert_eq!(r1["arn"], "arn:aws:lambda:local:000000000000:function:py");
    assert_eq!(r1["handlerVar"], "app.handler");
    assert_eq!(r1["custom"], "hi");
    assert_eq!(r1["secret"], json!(null), "the engine's environment leaked");
    let remaining = r1["remainingMs"].as_u64().unwrap();
    assert!(remaining > 10_000 && remaining <= 20_000, "{remaining}");
    assert!(
        first.meter.stdout.contains("handled 1"),
        "{:?}",
        first.meter.stdout
    );

    // Warm: the same process answers.
    let second = f
        .invoke("py", None, &json!({"n": 2}), &caller("req-2"), None)
        .await;
    let r2 = second.result.unwrap();
    assert!(!second.meter.cold);
    assert_eq!(r2["pid"], r1["pid"]);
    // (Python flushes its stdout when it likes, so a late line of the first
    // call may still land here; the second call's own line must.)
    assert!(
        second.meter.stdout.contains("handled 2"),
        "{:?}",
        second.meter.stdout
    );

    // The client's errorType is the ASL error name; the process stays warm.
    let failed = f
        .invoke("py", None, &json!({"fail": 42}), &caller("req-3"), None)
        .await;
    let e = failed.result.unwrap_err();
    assert_eq!(e.error, "ValueError");
    assert!(e.cause.contains("bad value: 42"), "{}", e.cause);
    let third = invoke(&f, "py", json!({"n": 3})).await.result.unwrap();
    assert_eq!(third["pid"], r1["pid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_instance_and_the_next_call_starts_cold() {
    let f = Functions::new();
    deploy(&f, lambda_def("slow", json!({"timeoutSeconds": 2})));
    let warm = invoke(&f, "slow", json!({})).await.result.unwrap();
    let e = invoke(&f, "slow", json!({"sleep": 30}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, names::TIMEOUT);
    let after = invoke(&f, "slow", json!({})).await;
    assert!(after.meter.cold);
    assert_ne!(after.result.unwrap()["pid"], warm["pid"]);
    // The killed process is gone.
    let pid = warm["pid"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_is_reported_with_the_clients_error_type() {
    let f = Functions::new();
    let mut v = lambda_def("broken", json!({"timeoutSeconds": 10}));
    v["command"] = json!([python(), "-m", "awslambdaric", "broken.handler"]);
    deploy(&f, v);
    let e = invoke(&f, "broken", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, "RuntimeError", "{e}");
    assert!(e.cause.contains("cannot initialise"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_instances_are_warm_and_idle_ones_are_reaped() {
    let f = Functions::new();
    deploy(
        &f,
        lambda_def(
            "prov",
            json!({"provisioned": 1, "idleSeconds": 1, "concurrency": 3}),
        ),
    );
    f.maintain_now().await;
    assert_eq!(f.warm_instances("prov"), 1);
    // Give the provisioned process time to finish its init.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = invoke(&f, "prov", json!({})).await;
    assert!(!first.meter.cold, "a provisioned instance was not warm");

    // Scale up: three at once need two more instances.
    let (a, b, c) = tokio::join!(
        invoke(&f, "prov", json!({"sleep": 0.5})),
        invoke(&f, "prov", json!({"sleep": 0.5})),
        invoke(&f, "prov", json!({"sleep": 0.5}))
    );
    let pids: std::collections::BTreeSet<String> = [a, b, c]
        .iter()
        .map(|o| o.result.as_ref().unwrap()["pid"].to_string())
        .collect();
    assert_eq!(pids.len(), 3);
    assert_eq!(f.warm_instances("prov"), 3);
    // Scale down to `provisioned` after idleSeconds.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    f.maintain_now().await;
    assert_eq!(f.warm_instances("prov"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_resolves_the_task_resource_forms() {
    let f = Functions::new();
    deploy(&f, lambda_def("arnfn", json!({})));
    let task = |resource: &str, payload| TaskInvocation {
        resource: resource.into(),
        payload,
        idempotency_key: "e/1/0".into(),
        task_token: None,
        timeout_seconds: None,
        execution_id: "e".into(),
        state: "S".into(),
    };
    let r = Executor::invoke(&f, task("sluice:function:arnfn", json!({"a": 1})))
        .await
        .unwrap();
    assert_eq!(r["echo"], json!({"a": 1}));
    // The idempotency key, made safe for the Runtime API's URLs.
    assert_eq!(r["requestId"], "e-1-0");
    let r = Executor::invoke(
        &f,
        task(
            "arn:aws:lambda:us-east-1:123456789012:function:arnfn",
            json!({"b": 2}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r["echo"], json!({"b": 2}));
    let r = Executor::invoke(
        &f,
        task(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "arnfn", "Payload": {"c": 3}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r["Payload"]["echo"], json!({"c": 3}));
    assert_eq!(r["StatusCode"], 200);
    let e = Executor::invoke(&f, task("sluice:function:arnfn:nosuch", json!({})))
        .await
        .unwrap_err();
    assert_eq!(e.error, names::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_invocation_of_an_instance_started_for_it_is_cold_even_if_init_finished_first() {
    use sluice_executors::lambda::{Pool, Spec};
    let d = def(lambda_def("py", json!({})));
    let spec = Spec {
        code_dir: d.code_dir.clone().expect("codeDir").into(),
        def: d,
        version: "$LATEST".into(),
        env: Vec::new(),
        isolation: None,
        opt: None,
    };
    // A pool started on demand: the invocation waits for the init.
    let pool = Pool::new(spec.clone());
    let (r, report) = pool
        .invoke(&json!({"n": 1}), "req-1", Duration::from_secs(20))
        .await;
    r.unwrap();
    assert!(report.cold && report.init_ms > 0.0, "{report:?}");
    let (_, report) = pool
        .invoke(&json!({"n": 2}), "req-2", Duration::from_secs(20))
        .await;
    assert!(
        !report.cold,
        "the second invocation reuses the warm instance"
    );

    // An instance started for an invocation whose runtime is already
    // waiting for work when the invocation is handed over: still cold.
    let mut instance = sluice_executors::lambda::Instance::start(&spec)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // the runtime's init is done
    let (r, report, _) = instance
        .invoke(&spec, &json!({"n": 3}), "req-3", Duration::from_secs(20))
        .await;
    r.unwrap();
    assert!(report.cold && report.init_ms > 0.0, "{report:?}");
}
