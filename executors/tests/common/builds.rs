//! The test functions that are programs of their own, built with cargo
//! once per test or bench binary, each into a folder of its own under
//! `CARGO_TARGET_DIR` (so the outer build's lock is not contended). Shared
//! by the tests (`common`), the benches and the workspace's chaos harness
//! (`tests/chaos`), the last two through `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The executors crate's folder, whichever crate includes this file (the
/// executors or the workspace root).
fn executors_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    if here.join("tests/wasm/fn").is_dir() {
        here.to_path_buf()
    } else {
        here.join("executors")
    }
}

fn manifest(project: &str) -> PathBuf {
    executors_dir()
        .join("tests")
        .join(project)
        .join("Cargo.toml")
}

/// `$CARGO_TARGET_DIR/NAME` (or `target/NAME` of the workspace).
pub fn target_dir(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| executors_dir().join("../target"))
        .join(name)
}

/// `cargo build --release` of a test project; panics with the fix when it fails.
fn cargo_build(project: &str, target: &Path, extra: &[&str], rustflags: &str, hint: &str) {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(manifest(project))
        .arg("--target-dir")
        .arg(target)
        .args(extra)
        .env("RUSTFLAGS", rustflags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building tests/{project} failed{hint}");
}

/// The host's target triple (`rustc -vV`).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .trim()
        .to_string()
}

/// tests/wasm/fn for wasm32-wasip1: the wasm test module's path.
pub fn wasm_module() -> PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let target = target_dir("wasm-fixtures");
            cargo_build(
                "wasm/fn",
                &target,
                &["--target", "wasm32-wasip1"],
                "",
                " (rustup target add wasm32-wasip1)",
            );
            target.join("wasm32-wasip1/release/sluice-test-wasm-fn.wasm")
        })
        .clone()
}

/// The same program as the wasm module (tests/wasm/fn), built for the host
/// and statically linked (`+crt-static`): a `stdio` function that needs no
/// file of the host to start.
pub fn static_echo_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let target = target_dir("static-fixtures");
            let triple = host_triple();
            cargo_build(
                "wasm/fn",
                &target,
                &["--target", &triple],
                "-C target-feature=+crt-static",
                " (a static build needs the C library's static archive: libc6-dev)",
            );
            target.join(&triple).join("release/sluice-test-wasm-fn")
        })
        .clone()
}

/// tests/lambda-rs/fn: a handler on the official Rust runtime client
/// (`lambda_runtime` from crates.io); the executable's path.
pub fn lambda_rs_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let target = target_dir("lambda-rs-fn");
            cargo_build(
                "lambda-rs/fn",
                &target,
                &["--locked"],
                "",
                " (it needs crates.io, or the crates in the cargo cache)",
            );
            target.join("release/sluice-test-lambda-rs-fn")
        })
        .clone()
}
