//! Shared set-up of the executors' tests: definitions, the Python that has
//! awslambdaric, and the wasm test module.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

pub fn lambda_def(name: &str, extra: Value) -> Value {
    let mut v = json!({
        "name": name,
        "runtime": "process",
        "protocol": "lambda",
        "command": [python(), "-m", "awslambdaric", "app.handler"],
        "codeDir": fixtures().join("pyfn"),
        "timeoutSeconds": 20,
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// Builds tests/wasm/fn for wasm32-wasip1 (once per test binary) and
/// returns the module's path.
pub fn wasm_module() -> PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasm/fn/Cargo.toml");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
                .join("wasm-fixtures");
            let status = std::process::Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--release",
                    "--target",
                    "wasm32-wasip1",
                    "--manifest-path",
                ])
                .arg(&manifest)
                .arg("--target-dir")
                .arg(&target)
                .env_remove("RUSTFLAGS")
                .status()
                .expect("cargo runs");
            assert!(
                status.success(),
                "building the wasm test module failed (rustup target add wasm32-wasip1)"
            );
            target.join("wasm32-wasip1/release/sluice-test-wasm-fn.wasm")
        })
        .clone()
}
