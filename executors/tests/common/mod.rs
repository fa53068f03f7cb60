//! Shared set-up of the executors' tests: definitions, the Python that has
//! awslambdaric, and the test functions that are built with cargo
//! ([`builds`]).

#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod builds;
pub use builds::*;

use sluice_dsl::function::FunctionDef;
use sluice_executors::{Caller, Deployed, Functions, Outcome};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn def(v: Value) -> FunctionDef {
    FunctionDef::from_value(&v).unwrap_or_else(|p| panic!("bad test definition: {p}"))
}

pub fn deploy(functions: &Functions, v: Value) {
    functions.add(Deployed::new(def(v), None, &fixtures()));
}

pub fn caller(id: &str) -> Caller {
    Caller {
        request_id: id.to_string(),
        execution_id: "exec-1".into(),
        state: "Work".into(),
    }
}

pub async fn invoke(functions: &Functions, name: &str, event: Value) -> Outcome {
    functions
        .invoke(
            name,
            None,
            &event,
            &caller(&uuid::Uuid::new_v4().to_string()),
            None,
        )
        .await
}

/// The Python interpreter with awslambdaric installed (scripts/test.sh
/// installs it); absolute, because functions get a clean PATH.
pub fn python() -> String {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys, awslambdaric; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "python3 with awslambdaric is needed (pip install awslambdaric): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .clone()
}

/// `base` with the fields of `extra` set over it.
pub fn with(mut base: Value, extra: Value) -> Value {
    for (k, x) in extra.as_object().unwrap() {
        base[k] = x.clone();
    }
    base
}

/// A `lambda` function on the Python runtime client (tests/fixtures/pyfn).
pub fn lambda_def(name: &str, extra: Value) -> Value {
    let v = json!({
        "name": name,
        "runtime": "process",
        "protocol": "lambda",
        "command": [python(), "-m", "awslambdaric", "app.handler"],
        "codeDir": fixtures().join("pyfn"),
        "timeoutSeconds": 20,
    });
    with(v, extra)
}

/// Node's runtime interface client, installed by `npm ci` in
/// tests/node-ric (scripts/test.sh does it): its entry point.
pub fn node_ric() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node-ric");
    let entry = dir.join("node_modules/aws-lambda-ric/bin/index.mjs");
    assert!(
        entry.is_file()
            && dir
                .join("node_modules/aws-lambda-ric/dist/rapid-client.node")
                .is_file(),
        "Node's aws-lambda-ric is not installed: run `npm ci` in {} \
         (it builds native code: g++ make cmake autoconf automake libtool libcurl4-openssl-dev)",
        dir.display()
    );
    entry
}

/// `node` from PATH, absolute (functions get a clean PATH).
pub fn node() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
        .expect("node is needed (apt-get install nodejs)")
}

/// A `lambda` function on Node's runtime client (tests/node-ric/app.js).
pub fn node_lambda_def(name: &str, extra: Value) -> Value {
    let entry = node_ric();
    let v = json!({
        "name": name,
        "runtime": "process",
        "protocol": "lambda",
        "command": [node(), entry, "app.handler"],
        "codeDir": entry.ancestors().nth(4).unwrap(),
        "timeoutSeconds": 20,
        "memoryMb": 256,
    });
    with(v, extra)
}

/// A `lambda` function on the Rust runtime client (tests/lambda-rs/fn).
pub fn rust_lambda_def(name: &str, extra: Value) -> Value {
    let binary = lambda_rs_binary();
    let v = json!({
        "name": name,
        "runtime": "process",
        "protocol": "lambda",
        "command": [binary],
        "codeDir": binary.parent().unwrap(),
        "timeoutSeconds": 20,
        "memoryMb": 256,
    });
    with(v, extra)
}

/// A `stdio` function running a Python script with the system's python3.
pub fn py_stdio(name: &str, script: &str, extra: Value) -> Value {
    let v = json!({"name": name, "runtime": "process", "protocol": "stdio",
        "command": ["/usr/bin/python3", "-c", script], "codeDir": fixtures(), "timeoutSeconds": 10});
    with(v, extra)
}

/// Forks (children that sleep) until refused or 5,000 children; prints
/// `{"forked": N, "error": WHY_IT_STOPPED}`.
const FORK_BOMB: &str = r#"
import json, os, time
n = 0
err = None
try:
    while n < 5000:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    err = str(e)
print(json.dumps({"forked": n, "error": err}))
"#;

/// Runs a fork bomb as a function and asserts that it was stopped before
/// the sandbox's 128 processes.
pub async fn assert_fork_bomb_contained(functions: &Functions) {
    deploy(functions, py_stdio("bomb", FORK_BOMB, json!({})));
    let out = invoke(functions, "bomb", json!({})).await;
    let r = out
        .result
        .unwrap_or_else(|e| panic!("{e}; stderr {}", out.meter.stderr));
    let forked = r["forked"].as_u64().unwrap();
    assert!(forked < 128, "the fork bomb was not contained: {r}");
    assert!(r["error"].is_string(), "{r}");
}
