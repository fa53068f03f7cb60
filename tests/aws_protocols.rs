//! The AWS wire protocols through their real clients: tests/aws/*.py drive
//! a real `sluice serve` with boto3 and the AWS CLI (PyPI; scripts/test.sh
//! installs them), pointed at it with `endpoint_url` and nothing else
//! changed. Each script prints one line per behaviour and exits non-zero
//! naming the ones that failed.

mod support;

use serde_json::json;
use std::path::Path;
use std::process::Command;
use support::Server;

/// The functions the scripts' workflows call: `echo` answers with its
/// input, `boom` fails.
fn functions(dir: &Path) -> std::path::PathBuf {
    let functions = dir.join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    std::fs::write(
        functions.join("echo.json"),
        json!({"name": "echo", "runtime": "process", "protocol": "stdio", "command": ["/bin/cat"]})
            .to_string(),
    )
    .unwrap();
    std::fs::write(
        functions.join("boom.json"),
        json!({"name": "boom", "runtime": "process", "protocol": "stdio",
               "command": ["/bin/sh", "-c", "echo '{\"errorType\":\"Boom\",\"errorMessage\":\"it broke\"}'; exit 1"]})
        .to_string(),
    )
    .unwrap();
    functions
}

fn run_script(script: &str, server: &Server) {
    let out = Command::new("python3")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/aws")
                .join(script),
        )
        .env("SLUICE_ENDPOINT", &server.base)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
}

#[test]
fn step_functions_clients_work_unmodified() {
    let dir = tempfile::tempdir().unwrap();
    let functions = functions(dir.path());
    let server = Server::start(dir.path(), &functions);
    run_script("stepfunctions.py", &server);
}

#[test]
fn eventbridge_clients_work_unmodified() {
    let dir = tempfile::tempdir().unwrap();
    let functions = functions(dir.path());
    let server = Server::start(dir.path(), &functions);
    run_script("eventbridge.py", &server);
}

#[test]
fn lambda_clients_work_unmodified() {
    let dir = tempfile::tempdir().unwrap();
    let functions = functions(dir.path());
    let server = Server::start(dir.path(), &functions);
    run_script("lambda_api.py", &server);
}

#[test]
fn with_auth_signatures_are_checked_and_roles_apply() {
    let dir = tempfile::tempdir().unwrap();
    let functions = functions(dir.path());
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        json!({"tokens": [
            {"name": "ops", "role": "admin", "token": "ops-secret-token-0123456789"},
            {"name": "viewer", "role": "read", "token": "viewer-secret-token-0123456789"}]})
        .to_string(),
    )
    .unwrap();
    let server = Server::start_with(
        dir.path(),
        &functions,
        &["--auth", tokens.to_str().unwrap()],
    );
    run_script("sigv4.py", &server);
}
