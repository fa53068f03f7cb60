//! The sandbox's fallbacks where there are no cgroups: memory limited by
//! `RLIMIT_AS`, processes by `RLIMIT_NPROC`. Forced here with
//! `SLUICE_SANDBOX_CGROUPS=off` (its own test binary, as the isolation is
//! probed once per process). Needs root (CI runs as root).

mod common;

use common::*;
use serde_json::json;
use sluice_executors::{names, Functions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cgroups_memory_and_processes_are_limited_by_rlimits() {
    // The only test in this binary, so nothing else reads the environment
    // while it is set, and it is set before the isolation is probed.
    std::env::set_var("SLUICE_SANDBOX_CGROUPS", "off");
    let f = Functions::new();
    let layers = f.enable_isolation();
    let memory = layers.iter().find(|l| l.name == "memory limit").unwrap();
    assert!(
        memory.detail.contains("RLIMIT_AS") && memory.detail.contains("turned off"),
        "{memory:?}"
    );
    let pids = layers.iter().find(|l| l.name == "process limit").unwrap();
    assert!(pids.detail.contains("RLIMIT_NPROC"), "{pids:?}");

    // Python: the allocation is refused (MemoryError), not the interpreter.
    deploy(
        &f,
        py_stdio(
            "hog",
            "import sys, json; n = json.load(sys.stdin)['mb']; \
             x = bytearray(n << 20); print(json.dumps({'allocated': len(x)}))",
            json!({"memoryMb": 64}),
        ),
    );
    let e = invoke(&f, "hog", json!({"mb": 1024}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, names::MEMORY_EXCEEDED, "{e}");
    assert!(e.cause.contains("64 MiB"), "{e}");
    // Within its limit the same function runs.
    let r = invoke(&f, "hog", json!({"mb": 32})).await.result.unwrap();
    assert_eq!(r, json!({"allocated": 32 << 20}));

    // A static Rust binary that grows until an allocation fails (Rust's
    // allocation error handler prints and aborts).
    deploy(
        &f,
        json!({"name": "grow", "runtime": "process", "protocol": "stdio",
            "command": [static_echo_binary()], "codeDir": fixtures(),
            "memoryMb": 64, "timeoutSeconds": 10}),
    );
    let out = invoke(&f, "grow", json!({"grow": 1})).await;
    let e = out.result.unwrap_err();
    assert_eq!(e.error, names::MEMORY_EXCEEDED, "{e}");
    assert!(
        out.meter.stderr.contains("memory allocation of"),
        "{}",
        out.meter.stderr
    );
    // A function that fails otherwise keeps its own error name.
    let e = invoke(&f, "grow", json!({"fail": 1}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, "ValueError", "{e}");

    // The real awslambdaric: its handler's MemoryError is the memory limit,
    // and the warm process (which survives it) serves the next invocation.
    deploy(&f, lambda_def("pyhog", json!({"memoryMb": 64})));
    let e = invoke(&f, "pyhog", json!({"allocateMb": 1024}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, names::MEMORY_EXCEEDED, "{e}");
    assert!(e.cause.contains("MemoryError"), "{e}");
    let next = invoke(&f, "pyhog", json!({"allocateMb": 8})).await;
    assert!(!next.meter.cold, "the instance was replaced");
    assert_eq!(next.result.unwrap()["allocated"], json!(8 << 20));
    let e = invoke(&f, "pyhog", json!({"fail": 1}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, "ValueError", "{e}");

    // RLIMIT_NPROC contains a fork bomb.
    assert_fork_bomb_contained(&f).await;
}
