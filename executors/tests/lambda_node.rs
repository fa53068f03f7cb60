//! `process` + `protocol: "lambda"` with Node's official runtime interface
//! client (npm `aws-lambda-ric`, unmodified; `npm ci` in tests/node-ric)
//! and a handler in JavaScript (tests/node-ric/app.js).

mod common;

use common::*;
use serde_json::json;
use sluice_executors::Functions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ric_cold_then_warm_with_context_and_errors() {
    let f = Functions::new();
    deploy(&f, node_lambda_def("nodefn", json!({})));

    let first = f
        .invoke(
            "nodefn",
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
    assert_eq!(r1["requestId"], "req-1");
    assert_eq!(r1["functionName"], "nodefn");
    assert_eq!(
        r1["arn"],
        "arn:aws:lambda:local:000000000000:function:nodefn"
    );
    assert_eq!(r1["memoryMb"], "256");
    let remaining = r1["remainingMs"].as_u64().unwrap();
    assert!(remaining > 10_000 && remaining <= 20_000, "{remaining}");
    let logs = format!("{}{}", first.meter.stdout, first.meter.stderr);
    assert!(logs.contains("handled 1"), "{logs:?}");

    // Warm: the same process serves the next invocation.
    let second = f
        .invoke("nodefn", None, &json!({"n": 2}), &caller("req-2"), None)
        .await;
    assert!(!second.meter.cold);
    let r2 = second.result.unwrap();
    assert_eq!(r2["pid"], r1["pid"]);
    assert_eq!(r2["requestId"], "req-2");

    // The thrown error's name is the ASL error name; the process stays warm.
    let e = f
        .invoke(
            "nodefn",
            None,
            &json!({"fail": "card declined"}),
            &caller("req-3"),
            None,
        )
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, "OrderRejected", "{e}");
    assert!(e.cause.contains("rejected: card declined"), "{e}");
    let third = invoke(&f, "nodefn", json!({"n": 3})).await;
    assert!(!third.meter.cold);
    assert_eq!(third.result.unwrap()["pid"], r1["pid"]);
}
