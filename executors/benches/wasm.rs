//! `wasm` functions: warm start latency and trivial invocations per second
//! (`cargo bench -p sluice-executors --bench wasm`; `-- --quick` does a
//! tenth of the work).
//!
//! The module is tests/wasm/fn (a Rust WASI command that echoes its event),
//! built by the bench. Side by side in one run:
//! - sluice: `Functions::invoke` of the compiled module (a fresh instance
//!   from the pooling allocator per invocation, event on stdin, result on
//!   stdout, limits and metering), one at a time and with 2 and 8 in
//!   flight; and `wasm::Prepared::invoke`, the instance alone;
//! - the baseline: the `wasmtime` CLI running the same module, precompiled
//!   (`wasmtime compile`, then `wasmtime run --allow-precompiled`) and not.
//!   When `wasmtime` is not on PATH (nor in ~/.cargo/bin) the bench says so
//!   and reports sluice's figures alone: `cargo install wasmtime-cli
//!   --locked` builds it (slow: a release build of wasmtime).
//!
//! Targets (issue 4): warm start p50 ≤ 100 µs; ≥ 5,000 trivial invocations/s.

mod support;

use serde_json::json;
use sluice_executors::{wasm, Caller, Deployed, Functions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

fn wasmtime_cli() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("wasmtime"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/wasmtime"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// One `wasmtime run` of the module with `event` on stdin.
fn cli_run(cli: &Path, args: &[&str], module: &Path, event: &[u8]) {
    let mut child = Command::new(cli)
        .arg("run")
        .args(args)
        .arg(module)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("wasmtime starts");
    child.stdin.take().unwrap().write_all(event).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.starts_with(b"{\"echo\""),
        "wasmtime run failed: {out:?}"
    );
}

fn main() {
    header("executors: wasm");
    let module = builds::wasm_module();
    let event = json!({"n": 1});
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let functions = runtime.block_on(async { Functions::new() });
    let def = sluice_dsl::function::FunctionDef::from_value(&json!({
        "name": "echo", "runtime": "wasm", "module": module,
        "timeoutSeconds": 5, "concurrency": 64,
    }))
    .expect("a valid definition");
    functions.add(Deployed::new(def.clone(), None, Path::new("/")));

    let invoke = {
        let functions = functions.clone();
        move |_i: usize| {
            let functions = functions.clone();
            async move {
                let out = functions
                    .invoke("echo", None, &json!({"n": 1}), &Caller::default(), None)
                    .await;
                assert_eq!(out.result.unwrap(), json!({"echo": {"n": 1}}));
            }
        }
    };
    let cold = runtime.block_on(async {
        let out = functions
            .invoke("echo", None, &event, &Caller::default(), None)
            .await;
        out.result.expect("the module runs");
        out.meter.init_ms
    });
    println!("first invocation compiles the module: {cold:.1} ms (not in the figures)");

    print_columns();
    let n = scaled(20_000);
    // Warm-up, then the cases.
    runtime.block_on(closed_loop(1, n / 10, invoke.clone()));
    let seq = runtime.block_on(closed_loop(1, n, invoke.clone()));
    print_row("sluice Functions::invoke, 1 in flight (warm start)", &seq);
    let c2 = runtime.block_on(closed_loop(2, n, invoke.clone()));
    print_row("sluice Functions::invoke, 2 in flight", &c2);
    let c8 = runtime.block_on(closed_loop(8, n, invoke.clone()));
    print_row("sluice Functions::invoke, 8 in flight", &c8);

    let prepared = std::sync::Arc::new(
        wasm::WasmEngine::shared()
            .and_then(|e| e.prepare(&module))
            .expect("the module compiles"),
    );
    let instance_only = {
        let (prepared, def) = (prepared.clone(), def.clone());
        closed_loop_blocking(1, n, move |_| {
            let (r, _) = prepared.invoke(&def, &json!({"n": 1}), Duration::from_secs(5));
            r.expect("the module runs");
        })
    };
    print_row(
        "sluice wasm::Prepared::invoke (instance only), 1",
        &instance_only,
    );

    let best = [&seq, &c2, &c8]
        .iter()
        .map(|s| s.per_second())
        .fold(0.0, f64::max);
    let event_bytes = event.to_string().into_bytes();
    match wasmtime_cli() {
        None => println!(
            "baseline: the wasmtime CLI is not installed (not on PATH nor in ~/.cargo/bin), \
             so there is no baseline in this run; `cargo install wasmtime-cli --locked` \
             builds it (a release build of wasmtime: slow)"
        ),
        Some(cli) => {
            let version = Command::new(&cli)
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            println!("baseline: {} ({version})", cli.display());
            let dir = tempfile::tempdir().unwrap();
            let cwasm = dir.path().join("fn.cwasm");
            let status = Command::new(&cli)
                .arg("compile")
                .arg(&module)
                .arg("-o")
                .arg(&cwasm)
                .status()
                .unwrap();
            assert!(status.success(), "wasmtime compile failed");
            let m = scaled(500);
            let (c, e) = (cli.clone(), event_bytes.clone());
            let pre = closed_loop_blocking(1, m, move |_| {
                cli_run(&c, &["--allow-precompiled"], &cwasm, &e)
            });
            print_row("wasmtime run --allow-precompiled fn.cwasm, 1", &pre);
            let (c, e, md) = (cli.clone(), event_bytes.clone(), module.clone());
            let plain = closed_loop_blocking(1, m, move |_| cli_run(&c, &[], &md, &e));
            print_row("wasmtime run fn.wasm, 1", &plain);
            let cwasm = dir.path().join("fn.cwasm");
            let (c, e) = (cli.clone(), event_bytes.clone());
            let pre2 = closed_loop_blocking(2, m, move |_| {
                cli_run(&c, &["--allow-precompiled"], &cwasm, &e)
            });
            print_row("wasmtime run --allow-precompiled fn.cwasm, 2", &pre2);
            print_ratio(
                "p50 sluice warm start ÷ wasmtime CLI (precompiled)",
                seq.p50().as_secs_f64(),
                pre.p50().as_secs_f64(),
            );
            print_ratio(
                "invocations/s sluice (best) ÷ wasmtime CLI (precompiled, best)",
                best,
                pre.per_second().max(pre2.per_second()),
            );
        }
    }
    print_ratio(
        "p50 Functions::invoke ÷ Prepared::invoke (what dispatch adds)",
        seq.p50().as_secs_f64(),
        instance_only.p50().as_secs_f64(),
    );
    verdict(
        "warm start p50 ≤ 100 µs",
        seq.p50() <= Duration::from_micros(100),
        fmt(seq.p50()),
    );
    verdict(
        "≥ 5,000 trivial invocations/s",
        best >= 5000.0,
        format!("{best:.0}/s"),
    );
    println!("load average at the end: {}", load());
}
