//! Cold start of a static binary as a `process` function with
//! `protocol: "stdio"` (a fresh process per invocation), in the full Linux
//! sandbox (`cargo bench -p sluice-executors --bench cold_start`;
//! `-- --quick` does a tenth of the work).
//!
//! The binary is tests/wasm/fn (the wasm test module's source) built for the
//! host with `+crt-static`: it echoes its event, so the whole invocation is
//! start-up. Side by side in one run:
//! - the baseline: a bare fork+exec of the same binary (std `Command`,
//!   event on stdin, result read from stdout, waited for);
//! - sluice without the sandbox: `Functions::invoke` (clean environment,
//!   process group, watchdog, metering);
//! - sluice with the sandbox (`Functions::enable_isolation`): cgroups
//!   created and removed per invocation, new mount/PID/IPC/UTS/network/user
//!   namespaces, the read-only root, the uid change. It needs root; the
//!   bench prints which layers are in force and measures what there is.
//!
//! Target (issue 4): cold start in the full sandbox p50 ≤ 10 ms.

mod support;

use serde_json::json;
use sluice_executors::{Caller, Deployed, Functions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

fn def(name: &str, binary: &Path) -> Deployed {
    let def = sluice_dsl::function::FunctionDef::from_value(&json!({
        "name": name, "runtime": "process", "protocol": "stdio",
        "command": [binary], "codeDir": binary.parent().unwrap(),
        "timeoutSeconds": 10, "memoryMb": 128, "concurrency": 16,
    }))
    .expect("a valid definition");
    Deployed::new(def, None, Path::new("/"))
}

fn main() {
    header("executors: cold start of a static binary (stdio)");
    let binary = builds::static_echo_binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let event = json!({"n": 1});
    let n = scaled(2_000);

    print_columns();
    let bare = {
        let (binary, input) = (binary.clone(), event.to_string());
        closed_loop_blocking(1, n, move |_| {
            let mut child = Command::new(&binary)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("the binary starts");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success() && out.stdout.starts_with(b"{\"echo\""));
        })
    };
    print_row("baseline: bare fork+exec of the binary", &bare);

    let invoke = |functions: Functions| {
        move |_i: usize| {
            let functions = functions.clone();
            async move {
                let out = functions
                    .invoke("echo", None, &json!({"n": 1}), &Caller::default(), None)
                    .await;
                let r = out
                    .result
                    .unwrap_or_else(|e| panic!("{e}; stderr {}", out.meter.stderr));
                assert_eq!(r, json!({"echo": {"n": 1}}));
            }
        }
    };
    let plain = runtime.block_on(async {
        let f = Functions::new();
        f.add(def("echo", &binary));
        closed_loop(1, n, invoke(f)).await
    });
    print_row("sluice stdio, no sandbox", &plain);

    let (sandboxed, missing) = runtime.block_on(async {
        let f = Functions::new();
        let layers = f.enable_isolation();
        let missing: Vec<&str> = layers
            .iter()
            .filter(|l| !l.available)
            .map(|l| l.name)
            .collect();
        for l in &layers {
            println!(
                "  sandbox layer {:<18} {}: {}",
                l.name,
                if l.available { "on " } else { "OFF" },
                l.detail
            );
        }
        f.add(def("echo", &binary));
        (closed_loop(1, n, invoke(f)).await, missing)
    });
    let label = if missing.is_empty() {
        "sluice stdio, full sandbox".to_string()
    } else {
        format!("sluice stdio, sandbox without {}", missing.join(", "))
    };
    print_row(&label, &sandboxed);
    let sandboxed2 = runtime.block_on(async {
        let f = Functions::new();
        f.enable_isolation();
        f.add(def("echo", &binary));
        closed_loop(2, n, invoke(f)).await
    });
    print_row(&format!("{label}, 2 in flight"), &sandboxed2);

    print_ratio(
        "p50 full sandbox ÷ bare fork+exec",
        sandboxed.p50().as_secs_f64(),
        bare.p50().as_secs_f64(),
    );
    print_ratio(
        "p50 no sandbox ÷ bare fork+exec",
        plain.p50().as_secs_f64(),
        bare.p50().as_secs_f64(),
    );
    verdict(
        "cold start in the full sandbox p50 ≤ 10 ms",
        missing.is_empty() && sandboxed.p50() <= Duration::from_millis(10),
        format!(
            "{}{}",
            fmt(sandboxed.p50()),
            if missing.is_empty() {
                String::new()
            } else {
                format!(" (layers off here: {})", missing.join(", "))
            }
        ),
    );
    println!("load average at the end: {}", load());
}
