//! The Linux sandbox of `process` functions, each layer proven by a
//! function that tries to break it. Needs root (CI runs as root).

mod common;

use common::*;
use serde_json::json;
use sluice_executors::{names, Functions};

fn sandboxed() -> Functions {
    let f = Functions::new();
    let layers = f.enable_isolation();
    let missing: Vec<&str> = layers
        .iter()
        .filter(|l| !l.available)
        .map(|l| l.name)
        .collect();
    assert!(
        missing.is_empty(),
        "isolation layers unavailable here: {missing:?}"
    );
    f
}

const LOOK_AROUND: &str = r#"
import json, os, socket, sys
event = json.load(sys.stdin)
out = {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(), "host": socket.gethostname(),
       "env": sorted(os.environ), "root": sorted(os.listdir("/")),
       "besideCode": sorted(os.listdir(os.path.dirname(os.getcwd()))),
       "uidMap": open("/proc/self/uid_map").read().split()}
try:
    open(event["secret"]).read(); out["secret"] = "read"
except OSError as e:
    out["secret"] = type(e).__name__
try:
    open(os.path.join(os.getcwd(), "written"), "w"); out["codeDir"] = "writable"
except OSError as e:
    out["codeDir"] = type(e).__name__
open("/tmp/scratch", "w").write("ok"); out["tmp"] = open("/tmp/scratch").read()
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", event["port"])); out["engine"] = "connected"
except OSError as e:
    out["engine"] = type(e).__name__
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_files_network_uid_and_environment() {
    std::env::set_var("SLUICE_TEST_SECRET", "hunter2");
    // The engine's "data directory" and its port.
    let data = tempfile::Builder::new().tempdir_in("/var/tmp").unwrap();
    let secret = data.path().join("store.db");
    std::fs::write(&secret, "engine data").unwrap();
    std::fs::set_permissions(
        data.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let engine = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = engine.local_addr().unwrap().port();
    let event = json!({"secret": secret, "port": port});

    let f = sandboxed();
    deploy(&f, py_stdio("look", LOOK_AROUND, json!({})));
    let out = invoke(&f, "look", event.clone()).await;
    let r = out
        .result
        .unwrap_or_else(|e| panic!("{e}; stderr {}", out.meter.stderr));
    assert_eq!(
        (r["uid"].as_u64(), r["gid"].as_u64()),
        (Some(65534), Some(65534)),
        "{r}"
    );
    assert_eq!(r["pid"], 1, "not in a PID namespace of its own: {r}");
    assert_eq!(
        r["uidMap"],
        json!(["65534", "65534", "1"]),
        "not in a user namespace of its own: {r}"
    );
    assert_eq!(r["host"], "sluice");
    assert_eq!(
        r["secret"], "FileNotFoundError",
        "the engine's data is visible: {r}"
    );
    assert_eq!(r["codeDir"], "OSError", "the code folder is writable: {r}");
    assert_eq!(r["tmp"], "ok");
    assert_ne!(
        r["engine"], "connected",
        "the engine's port is reachable: {r}"
    );
    assert!(!r["env"].to_string().contains("SLUICE_TEST_SECRET"), "{r}");
    let root: Vec<&str> = r["root"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Only the system folders, /tmp, /proc, /dev and the path to the code folder.
    assert!(
        !root.contains(&"root") && !root.contains(&"var") && !root.contains(&"home"),
        "{root:?}"
    );
    assert_eq!(
        r["besideCode"],
        json!(["fixtures"]),
        "more than the code folder is visible: {r}"
    );

    // "network": true gives the host's network back (and only that).
    deploy(&f, py_stdio("net", LOOK_AROUND, json!({"network": true})));
    let r = invoke(&f, "net", event).await.result.unwrap();
    assert_eq!(r["engine"], "connected", "{r}");
    assert_eq!(r["secret"], "FileNotFoundError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_time_and_process_limits() {
    let f = sandboxed();
    deploy(
        &f,
        py_stdio(
            "hog",
            "x = bytearray(256 << 20); print(len(x))",
            json!({"memoryMb": 64}),
        ),
    );
    let e = invoke(&f, "hog", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::MEMORY_EXCEEDED, "{e}");

    deploy(
        &f,
        py_stdio("spin", "while True: pass", json!({"timeoutSeconds": 1})),
    );
    let started = std::time::Instant::now();
    let e = invoke(&f, "spin", json!({})).await.result.unwrap_err();
    assert_eq!(e.error, names::TIMEOUT, "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    assert_fork_bomb_contained(&f).await;
    // The host still starts processes, and the function still runs.
    deploy(&f, py_stdio("fine", "print('{\"ok\": true}')", json!({})));
    assert_eq!(
        invoke(&f, "fine", json!({})).await.result.unwrap(),
        json!({"ok": true})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_processes_are_sandboxed_and_still_reach_the_runtime_api() {
    let f = sandboxed();
    // The real awslambdaric, without network: the Runtime API listener is
    // created inside the sandbox's network namespace.
    deploy(&f, lambda_def("sbx", json!({})));
    let first = invoke(&f, "sbx", json!({"n": 1})).await;
    let r = first
        .result
        .unwrap_or_else(|e| panic!("{e}; stderr {}", first.meter.stderr));
    assert_eq!(r["echo"], json!({"n": 1}));
    assert_eq!(r["pid"], 1, "not in a PID namespace of its own: {r}");
    let second = invoke(&f, "sbx", json!({"n": 2})).await;
    assert!(!second.meter.cold);
    assert_eq!(second.result.unwrap()["echo"], json!({"n": 2}));
    let e = invoke(&f, "sbx", json!({"fail": 1}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, "ValueError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_runtime_client_runs_sandboxed() {
    let f = sandboxed();
    // A binary under the build folder, run as uid 65534 with no network:
    // its folder is bound read-only, the Runtime API is served inside.
    deploy(&f, rust_lambda_def("rsbx", json!({})));
    let first = invoke(&f, "rsbx", json!({"n": 1})).await;
    let r = first
        .result
        .unwrap_or_else(|e| panic!("{e}; stderr {}", first.meter.stderr));
    assert_eq!(r["echo"], json!({"n": 1}));
    assert_eq!(r["pid"], 1, "not in a PID namespace of its own: {r}");
    assert_eq!(r["functionName"], "rsbx");
    let second = invoke(&f, "rsbx", json!({"n": 2})).await;
    assert!(!second.meter.cold);
    assert_eq!(second.result.unwrap()["echo"], json!({"n": 2}));
    let e = invoke(&f, "rsbx", json!({"fail": 1}))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.error, "OrderRejected");
}
