//! End-to-end tests of the `sluice` binary's workflow commands: what a user
//! types, what they see, and the exit codes scripts rely on.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_SECRET", "must-not-leak")
        .output()
        .expect("the sluice binary runs")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn path(name: &str) -> String {
    data(name).display().to_string()
}

#[test]
fn validate_accepts_a_valid_workflow() {
    let out = sluice(&["workflow", "validate", &path("double.asl.json")]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn validate_lists_every_problem_as_pointer_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(
        &file,
        json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Next": "Missing", "Parameters": {"x.$": "$.["}},
                "B": {"Type": "Task", "Resource": "sluice:function:f", "End": true, "Retry": [{"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5}]}
            }
        })
        .to_string(),
    )
    .unwrap();
    let out = sluice(&["workflow", "validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pointers: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        pointers,
        vec![
            "/States/A/Next",
            "/States/A/Parameters/x.$",
            "/States/B",
            "/States/B/Retry/0/BackoffRate"
        ],
        "{stdout}"
    );
    assert!(stdout.contains("unreachable"), "{stdout}");
}

#[test]
fn validate_reports_malformed_json_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, "{\"StartAt\": ").unwrap();
    let out = sluice(&["workflow", "validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("/: the definition is not valid JSON"));
}

#[test]
fn run_calls_a_stdio_function_with_a_clean_environment() {
    let out = sluice(&[
        "workflow",
        "run",
        "--local",
        &path("double.asl.json"),
        "--input",
        r#"{"n": 21}"#,
        "--functions",
        &path("functions"),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout_json(&out),
        json!({"n": 21, "result": {"n": 42, "secret": false}})
    );
}

#[test]
fn a_function_error_type_is_the_asl_error_name_so_catch_works() {
    let out = sluice(&[
        "workflow",
        "run",
        "--local",
        &path("double.asl.json"),
        "--input",
        r#"{"n": -1}"#,
        "--functions",
        &path("functions"),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout_json(&out),
        json!({"Error": "ValueError", "Cause": "n must not be negative"})
    );
}

#[test]
fn a_function_past_its_timeout_fails_with_states_timeout() {
    let out = sluice(&[
        "workflow",
        "run",
        "--local",
        &path("sleepy.asl.json"),
        "--functions",
        &path("functions"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout_json(&out)["error"], "States.Timeout");
}

#[test]
fn waits_pass_on_a_virtual_clock() {
    let out = sluice(&[
        "workflow",
        "run",
        "--local",
        &path("long-wait.asl.json"),
        "--input",
        r#"{"seconds": 86400}"#,
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_json(&out), json!({"waited": 86400}));
}

#[test]
fn input_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, r#"{"seconds": 5}"#).unwrap();
    let out = sluice(&[
        "workflow",
        "run",
        "--local",
        &path("long-wait.asl.json"),
        "--input",
        &format!("@{}", input.display()),
    ]);
    assert_eq!(stdout_json(&out), json!({"waited": 5}));
}

#[test]
fn mocked_responses_drive_retry_and_catch() {
    let run = |case: &str| {
        sluice(&[
            "workflow",
            "run",
            "--local",
            &path("charge.asl.json"),
            "--mocks",
            &path("charge.mocks.json"),
            "--test-case",
            case,
        ])
    };
    let ok = run("Approved");
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(stdout_json(&ok), json!({"status": "ok"}));

    let retried = run("DeclinedTwiceThenApproved");
    assert_eq!(
        stdout_json(&retried),
        json!({"status": "ok", "attempts": 3})
    );

    let failed = run("AlwaysDeclined");
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        stdout_json(&failed),
        json!({"error": "PaymentFailed", "cause": "card blocked"})
    );
}

#[test]
fn an_unknown_test_case_names_the_ones_that_exist() {
    let out = sluice(&[
        "workflow",
        "run",
        "--local",
        &path("charge.asl.json"),
        "--mocks",
        &path("charge.mocks.json"),
        "--test-case",
        "Nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Approved"), "{stderr}");
}

#[test]
fn an_unmocked_task_without_functions_fails_with_a_clear_cause() {
    let out = sluice(&["workflow", "run", "--local", &path("charge.asl.json")]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["error"], "PaymentFailed");
    assert!(
        v["cause"]
            .as_str()
            .unwrap()
            .contains("no function named 'charge'"),
        "{v}"
    );
}

#[test]
fn bad_input_json_is_a_usage_error() {
    let out = sluice(&[
        "workflow",
        "run",
        "--local",
        &path("long-wait.asl.json"),
        "--input",
        "{nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--input is not valid JSON"));
}

#[test]
fn help_explains_every_command() {
    for args in [
        vec!["--help"],
        vec!["workflow", "--help"],
        vec!["workflow", "run", "--help"],
        vec!["workflow", "validate", "--help"],
    ] {
        let out = sluice(&args);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: sluice"),
            "{args:?}"
        );
    }
    let run_help =
        String::from_utf8_lossy(&sluice(&["workflow", "run", "--help"]).stdout).to_string();
    for flag in [
        "--local",
        "--input",
        "--functions",
        "--mocks",
        "--test-case",
        "--real-time",
    ] {
        assert!(run_help.contains(flag), "{flag} missing from help");
    }
}

#[test]
fn a_fail_state_without_error_or_cause_prints_neither() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fail.asl.json");
    let def = json!({"StartAt": "Stop", "States": {
        "Stop": {"Type": "Fail"},
    }});
    std::fs::write(&file, def.to_string()).unwrap();
    let out = sluice(&["workflow", "run", "--local", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout_json(&out), json!({"error": null, "cause": null}));

    let def = json!({"StartAt": "Stop", "States": {
        "Stop": {"Type": "Fail", "Error": "Refused"},
    }});
    std::fs::write(&file, def.to_string()).unwrap();
    let out = sluice(&["workflow", "run", "--local", &file.display().to_string()]);
    assert_eq!(
        stdout_json(&out),
        json!({"error": "Refused", "cause": null})
    );
}
