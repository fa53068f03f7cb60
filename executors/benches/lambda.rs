//! `process` functions with `protocol: "lambda"`: warm invoke overhead and
//! invocations per second over the Runtime API, and cold starts
//! (`cargo bench -p sluice-executors --bench lambda`; `-- --quick` does a
//! tenth of the work).
//!
//! The function is tests/lambda-rs/fn, a handler on the official Rust
//! runtime client (`lambda_runtime`), built by the bench: a client that is
//! not itself the bottleneck. Its handler does next to nothing, so the
//! whole invocation is overhead: the engine-side dispatch, the long-polled
//! `invocation/next` answer, the client's `response` POST and its 202.
//!
//! Floors, in the same run:
//! - a direct in-process call of the same handler work (parse the event,
//!   build the answer, serialize it): what the invocation would cost with
//!   no process boundary at all;
//! - a bare HTTP/1.1 round trip between two processes on loopback: this
//!   bench (reqwest, keep-alive) POSTing the event to a copy of itself
//!   running an axum echo server. The Runtime API needs at least one such
//!   round trip per invocation.
//!
//! Targets (issue 4): warm invoke overhead p50 ≤ 1 ms; ≥ 2,000 invocations/s.

mod support;

use serde_json::{json, Value};
use sluice_executors::{Caller, Deployed, Functions};
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;
use support::*;

const ECHO_SERVER: &str = "SLUICE_BENCH_ECHO_SERVER";

/// The child: an axum server that answers every POST with its body.
fn echo_server() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        let app = axum::Router::new().route(
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move { body }),
        );
        axum::serve(listener, app).await.unwrap();
    });
}

/// What the test handler does with an event, without the process around it.
fn handler_work(event: &[u8], request_id: &str) -> Vec<u8> {
    let payload: Value = serde_json::from_slice(event).unwrap();
    let answer = json!({
        "echo": payload,
        "pid": std::process::id(),
        "requestId": request_id,
        "deadlineMs": 0,
        "remainingMs": 0,
        "arn": "arn:aws:lambda:local:000000000000:function:rs",
        "traceId": "Root=1-0-0",
        "functionName": "rs",
        "memoryMb": 128,
        "version": "$LATEST",
    });
    serde_json::to_vec(&answer).unwrap()
}

fn def(name: &str, binary: &Path) -> Deployed {
    let def = sluice_dsl::function::FunctionDef::from_value(&json!({
        "name": name, "runtime": "process", "protocol": "lambda",
        "command": [binary], "codeDir": binary.parent().unwrap(),
        "timeoutSeconds": 30, "concurrency": 16,
    }))
    .expect("a valid definition");
    Deployed::new(def, None, Path::new("/"))
}

fn main() {
    if std::env::var_os(ECHO_SERVER).is_some() {
        return echo_server();
    }
    header("executors: lambda protocol (Rust runtime client)");
    let binary = builds::lambda_rs_binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let functions = runtime.block_on(async { Functions::new() });

    print_columns();
    // Cold starts: a new function (so a new process) each time.
    let cold_n = scaled(100);
    let inits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let cold = {
        let (f, b, inits) = (functions.clone(), binary.clone(), inits.clone());
        runtime.block_on(closed_loop(1, cold_n, move |i| {
            let (f, b, inits) = (f.clone(), b.clone(), inits.clone());
            async move {
                let name = format!("cold{i}");
                f.add(def(&name, &b));
                let out = f
                    .invoke(&name, None, &json!({"n": i}), &Caller::default(), None)
                    .await;
                out.result.expect("the function answers");
                assert!(out.meter.cold);
                let init = Duration::from_secs_f64(out.meter.init_ms / 1000.0);
                inits.lock().unwrap().push(init);
                // Its process is stopped.
                f.remove(&name);
            }
        }))
    };
    print_row(
        "sluice cold start: process start + init + first invocation",
        &cold,
    );
    let init = Samples {
        latencies: std::mem::take(&mut *inits.lock().unwrap()),
        elapsed: cold.elapsed,
    };
    print_row(
        "  of which the client's init (start to invocation/next)",
        &init,
    );

    functions.add(def("warm", &binary));
    let invoke = {
        let functions = functions.clone();
        move |i: usize| {
            let functions = functions.clone();
            async move {
                let caller = Caller {
                    request_id: format!("r{i}"),
                    ..Caller::default()
                };
                let out = functions
                    .invoke("warm", None, &json!({"n": 1}), &caller, None)
                    .await;
                let r = out.result.expect("the function answers");
                assert_eq!(r["echo"], json!({"n": 1}));
            }
        }
    };
    let n = scaled(10_000);
    runtime.block_on(closed_loop(1, n / 10, invoke.clone()));
    let seq = runtime.block_on(closed_loop(1, n, invoke.clone()));
    print_row("sluice warm invoke, 1 in flight (1 process)", &seq);
    let mut best = seq.per_second();
    for c in [2, 4] {
        // Warm up the extra instances first.
        runtime.block_on(closed_loop(c, n / 10, invoke.clone()));
        let s = runtime.block_on(closed_loop(c, n, invoke.clone()));
        print_row(
            &format!("sluice warm invoke, {c} in flight ({c} processes)"),
            &s,
        );
        best = best.max(s.per_second());
    }

    // Floor 1: the handler's work, in process.
    let event = json!({"n": 1}).to_string().into_bytes();
    let direct = {
        let event = event.clone();
        closed_loop_blocking(1, n, move |i| {
            std::hint::black_box(handler_work(&event, &format!("r{i}")));
        })
    };
    print_row(
        "floor: direct in-process call of the handler's work",
        &direct,
    );

    // Floor 2: one HTTP round trip to another process.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(ECHO_SERVER, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the echo server starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = format!("http://127.0.0.1:{}/echo", line.trim());
    let client = reqwest::Client::new();
    let round_trip = {
        let (client, url, event) = (client.clone(), url.clone(), event.clone());
        move |_i: usize| {
            let (client, url, event) = (client.clone(), url.clone(), event.clone());
            async move {
                let r = client.post(&url).body(event).send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
            }
        }
    };
    runtime.block_on(closed_loop(1, n / 10, round_trip.clone()));
    let http1 = runtime.block_on(closed_loop(1, n, round_trip.clone()));
    print_row("floor: bare HTTP round trip to another process, 1", &http1);
    let http4 = runtime.block_on(closed_loop(4, n, round_trip));
    print_row("floor: bare HTTP round trip to another process, 4", &http4);
    let _ = child.kill();
    let _ = child.wait();

    print_ratio(
        "p50 warm invoke ÷ bare HTTP round trip",
        seq.p50().as_secs_f64(),
        http1.p50().as_secs_f64(),
    );
    print_ratio(
        "p50 warm invoke ÷ direct call",
        seq.p50().as_secs_f64(),
        direct.p50().as_secs_f64(),
    );
    print_ratio(
        "invocations/s (best) ÷ HTTP round trips/s (best)",
        best,
        http1.per_second().max(http4.per_second()),
    );
    verdict(
        "warm invoke overhead p50 ≤ 1 ms",
        seq.p50() <= Duration::from_millis(1),
        fmt(seq.p50()),
    );
    verdict(
        "≥ 2,000 invocations/s",
        best >= 2000.0,
        format!("{best:.0}/s"),
    );
    println!("load average at the end: {}", load());
}
