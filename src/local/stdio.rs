//! The `stdio` protocol: a fresh process per invocation, the event as JSON on
//! stdin, the result as JSON on stdout; a non-zero exit is an error.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice_dsl::error::names;
use sluice_dsl::function::FunctionDef;
use sluice_dsl::StatesError;

/// Largest stdout or stderr kept from one invocation.
const OUTPUT_CAP: usize = 6 * 1024 * 1024;

fn tail(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    let start = s.char_indices().rev().nth(500).map(|(i, _)| i).unwrap_or(0);
    s[start..].to_string()
}

pub fn invoke(
    def: &FunctionDef,
    code_dir: &Path,
    event: &Value,
    timeout_seconds: u64,
    idempotency_key: &str,
) -> Result<Value, StatesError> {
    let fail = |cause: String| StatesError::new(names::TASK_FAILED, cause);
    let (program, args) = def
        .command
        .split_first()
        .ok_or_else(|| fail("the function has no command".into()))?;
    // A clean environment: the function sees its own variables, not the engine's.
    let mut child = Command::new(program)
        .args(args)
        .current_dir(code_dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("AWS_LAMBDA_FUNCTION_NAME", &def.name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", def.memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("LAMBDA_TASK_ROOT", code_dir)
        .env("SLUICE_IDEMPOTENCY_KEY", idempotency_key)
        .env("AWS_LAMBDA_REQUEST_ID", idempotency_key)
        .envs(&def.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot start function '{}' ({program}): {e}",
                def.name
            ))
        })?;
    let input = event.to_string();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(OUTPUT_CAP as u64).read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stderr).take(OUTPUT_CAP as u64).read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(timeout_seconds);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StatesError::new(
                    names::TIMEOUT,
                    format!(
                        "function '{}' did not finish within {timeout_seconds} s and was stopped",
                        def.name
                    ),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => {
                return Err(fail(format!(
                    "waiting for function '{}' failed: {e}",
                    def.name
                )))
            }
        }
    };
    let _ = writer.join();
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if !err.is_empty() {
        tracing::info!(function = %def.name, stderr = %tail(&err), "function stderr");
    }
    if !status.success() {
        // Lambda's error shape on stdout names the error (Catch on "ValueError" works).
        if let Ok(v) = serde_json::from_slice::<Value>(&out) {
            if let Some(kind) = v.get("errorType").and_then(Value::as_str) {
                let message = v
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                return Err(StatesError::new(kind, message));
            }
        }
        return Err(fail(format!(
            "function '{}' exited with {status}: {}",
            def.name,
            tail(&err)
        )));
    }
    if out.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&out).map_err(|e| {
        fail(format!(
            "function '{}' printed output that is not JSON ({e}): {}",
            def.name,
            tail(&out)
        ))
    })
}
