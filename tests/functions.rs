//! Functions as a resource on `sluice serve`: deployed through the REST API
//! and the `sluice function` CLI into the catalog, preloaded with
//! `--functions DIR`, invoked directly and from workflows (the real
//! awslambdaric runtime client for `lambda` functions).

use serde_json::{json, Value};
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{python, Server};

/// A folder with a stdio function (preloaded with --functions) and, in
/// `lambda/`, a Python Lambda handler with a definition that names its
/// code folder relatively.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let functions = dir.join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    std::fs::write(
        functions.join("wrap.json"),
        json!({"name": "wrap", "runtime": "process", "protocol": "stdio",
               "command": ["/bin/sh", "-c", "printf '{\"got\":%s}' \"$(cat)\""]})
        .to_string(),
    )
    .unwrap();
    let lambda = dir.join("lambda");
    std::fs::create_dir_all(lambda.join("code")).unwrap();
    std::fs::write(
        lambda.join("code/app.py"),
        "import os\n\ndef handler(event, context):\n    if event.get('fail'):\n        raise ValueError('bad: ' + str(event['fail']))\n    print('handling', event, flush=True)\n    return {'v': os.environ.get('VERSION_MARK'), 'event': event, 'pid': os.getpid()}\n",
    )
    .unwrap();
    let def = |mark: &str| {
        json!({"name": "pyl", "runtime": "process", "protocol": "lambda",
               "command": [python(), "-m", "awslambdaric", "app.handler"],
               "codeDir": "code", "timeoutSeconds": 20, "env": {"VERSION_MARK": mark}})
    };
    std::fs::write(lambda.join("pyl.json"), def("one").to_string()).unwrap();
    std::fs::write(lambda.join("pyl-2.json"), def("two").to_string()).unwrap();
    (functions, lambda)
}

#[test]
fn functions_deploy_invoke_version_alias_and_run_in_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let (functions, lambda) = setup(dir.path());
    let server = Server::start(dir.path(), &functions);

    // Preloaded from --functions.
    let (s, list) = server.call("GET", "/api/v1/functions", None);
    assert_eq!(s, 200);
    assert_eq!(list["functions"][0]["name"], "wrap");
    let (s, out) = server.call(
        "POST",
        "/api/v1/functions/wrap/invocations",
        Some(json!({"a": 1})),
    );
    assert_eq!(
        (s, &out["result"]),
        (200, &json!({"got": {"a": 1}})),
        "{out}"
    );

    // Invalid definitions: 400 with JSON pointers, nothing stored.
    let (s, e) = server.call(
        "PUT",
        "/api/v1/functions/bad",
        Some(json!({"name": "bad", "runtime": "process", "memoryMb": 0})),
    );
    assert_eq!(s, 400);
    let pointers: Vec<&str> = e["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/memoryMb") && pointers.contains(&"/command"),
        "{e}"
    );
    let (s, e) = server.call(
        "PUT",
        "/api/v1/functions/rel",
        Some(json!({"name": "rel", "runtime": "process", "command": ["x"], "codeDir": "code"})),
    );
    assert_eq!(
        (s, e["details"][0]["pointer"].as_str()),
        (400, Some("/codeDir")),
        "{e}"
    );
    let (s, e) = server.call(
        "PUT",
        "/api/v1/functions/other",
        Some(json!({"name": "wrap", "runtime": "http", "url": "http://127.0.0.1:1/"})),
    );
    assert_eq!(
        (s, e["details"][0]["pointer"].as_str()),
        (400, Some("/name")),
        "{e}"
    );
    assert_eq!(server.call("GET", "/api/v1/functions/bad", None).0, 404);

    // The CLI deploys a file with a relative codeDir; redeploying the same is idempotent.
    let file = lambda.join("pyl.json");
    let (code, out, err) = server.cli(&["function", "deploy", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("version 1"), "{out}");
    let (_, out, _) = server.cli(&["function", "deploy", file.to_str().unwrap()]);
    assert!(out.contains("version 1"), "{out}");
    let (code, out, err) = server.cli(&["function", "invoke", "pyl", "--payload", r#"{"k": 1}"#]);
    assert_eq!(code, 0, "{out}{err}\n{}", server.log());
    let first: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(first["v"], "one");
    assert_eq!(first["event"], json!({"k": 1}));

    // A function error: exit 1 with the client's error type.
    let (code, out, _) = server.cli(&["function", "invoke", "pyl", "--payload", r#"{"fail": 3}"#]);
    assert_eq!(code, 1);
    let failed: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(failed, json!({"error": "ValueError", "cause": "bad: 3"}));

    // Version 2, an alias on version 1.
    let (code, out, _) = server.cli(&[
        "function",
        "deploy",
        lambda.join("pyl-2.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("version 2"), "{out}");
    let (code, _, err) = server.cli(&["function", "alias", "pyl", "stable", "1"]);
    assert_eq!(code, 0, "{err}");
    // The catalog change reaches the executors asynchronously.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, latest) = server.call("POST", "/api/v1/functions/pyl/invocations", Some(json!({})));
        let (_, stable) = server.call(
            "POST",
            "/api/v1/functions/pyl/invocations?qualifier=stable",
            Some(json!({})),
        );
        if latest["result"]["v"] == "two" && stable["result"]["v"] == "one" {
            assert_eq!(stable["meter"]["version"], "1");
            break;
        }
        assert!(Instant::now() < deadline, "{latest} {stable}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, described) = server.call("GET", "/api/v1/functions/pyl", None);
    assert_eq!(described["version"], 2);
    assert_eq!(described["aliases"], json!({"stable": 1}));
    assert_eq!(
        described["definition"]["codeDir"],
        lambda
            .join("code")
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    );

    // From a workflow: the alias form, and a Catch on the client's error type.
    let workflow = json!({
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "sluice:function:pyl:stable", "ResultPath": "$.called", "Next": "Fail"},
            "Fail": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:pyl",
                     "Parameters": {"fail": "yes"},
                     "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.caught", "Next": "Done"}], "End": true},
            "Done": {"Type": "Pass", "End": true}
        }
    });
    assert_eq!(
        server
            .call("PUT", "/api/v1/workflows/flow", Some(workflow))
            .0,
        200
    );
    let (s, e) = server.call(
        "POST",
        "/api/v1/workflows/flow/executions?wait=30",
        Some(json!({"input": {"x": 1}})),
    );
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    let output: Value = if e["output"].is_string() {
        serde_json::from_str(e["output"].as_str().unwrap()).unwrap()
    } else {
        e["output"].clone()
    };
    assert_eq!(output["called"]["v"], "one");
    assert_eq!(output["caught"]["Error"], "ValueError");

    // Logs and metrics.
    let (code, out, _) = server.cli(&["function", "logs", "pyl", "--limit", "50"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("cold") && out.contains("warm") && out.contains("error ValueError"),
        "{out}"
    );
    assert!(out.contains("out | handling"), "{out}");
    let (s, logs) = server.call("GET", "/api/v1/functions/pyl/logs?limit=2", None);
    assert_eq!((s, logs["logs"].as_array().unwrap().len()), (200, 2));
    let metrics = server.try_call("GET", "/metrics", None).unwrap().1;
    let metrics = metrics.as_str().unwrap_or_default();
    assert!(
        metrics.contains("sluice_function_invocations_total{function=\"pyl\"}"),
        "{metrics}"
    );

    // `function list` and delete.
    let (_, out, _) = server.cli(&["function", "list"]);
    assert!(out.contains("pyl") && out.contains("wrap"), "{out}");
    let (code, _, _) = server.cli(&["function", "delete", "pyl"]);
    assert_eq!(code, 0);
    assert_eq!(server.call("GET", "/api/v1/functions/pyl", None).0, 404);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .call("POST", "/api/v1/functions/pyl/invocations", Some(json!({})))
        .0
        != 404
    {
        assert!(Instant::now() < deadline, "the deleted function still runs");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn apply_deploys_function_folders_with_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (functions, lambda) = setup(dir.path());
    let server = Server::start(dir.path(), &functions);
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("functions")).unwrap();
    std::fs::copy(lambda.join("pyl.json"), project.join("functions/pyl.json")).unwrap();
    std::fs::rename(lambda.join("code"), project.join("functions/code")).unwrap();
    let (code, out, err) = server.cli(&["apply", "-f", project.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (s, out) = server.call(
        "POST",
        "/api/v1/functions/pyl/invocations",
        Some(json!({"z": 1})),
    );
    assert_eq!(s, 200);
    assert_eq!(out["result"]["event"], json!({"z": 1}), "{out}");
}

#[test]
fn workflow_history_keeps_each_tasks_meter_cold_then_warm() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lambda) = setup(dir.path());
    std::fs::remove_file(lambda.join("pyl-2.json")).unwrap();
    let server = Server::start(dir.path(), &lambda);
    let workflow = json!({
        "StartAt": "First",
        "States": {
            "First": {"Type": "Task", "Resource": "sluice:function:pyl", "ResultPath": "$.first", "Next": "Second"},
            "Second": {"Type": "Task", "Resource": "sluice:function:pyl", "ResultPath": "$.second", "End": true}
        }
    });
    assert_eq!(
        server
            .call("PUT", "/api/v1/workflows/twice", Some(workflow))
            .0,
        200
    );
    let (s, e) = server.call(
        "POST",
        "/api/v1/workflows/twice/executions?wait=60",
        Some(json!({"input": {"n": 7}})),
    );
    assert_eq!((s, &e["status"]), (200, &json!("SUCCEEDED")), "{e}");
    let id = e["executionId"].as_str().unwrap();
    let (s, history) = server.call("GET", &format!("/api/v1/executions/{id}/history"), None);
    assert_eq!(s, 200, "{history}");
    let events = history["events"].as_array().unwrap();
    let succeeded = |state: &str| -> &Value {
        let found: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "TaskSucceeded" && e["state"] == state)
            .collect();
        assert_eq!(found.len(), 1, "one TaskSucceeded for {state}: {history}");
        found[0]
    };
    for kind in ["TaskScheduled", "TaskStarted"] {
        let states: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| &e["state"])
            .collect();
        assert_eq!(states, [&json!("First"), &json!("Second")], "{history}");
    }

    let first = &succeeded("First")["meter"];
    let second = &succeeded("Second")["meter"];
    for m in [first, second] {
        assert_eq!(
            (&m["function"], &m["runtime"]),
            (&json!("pyl"), &json!("process")),
            "{m}"
        );
        assert!(m["durationMs"].as_f64().unwrap() > 0.0, "{m}");
        assert!(m["maxMemoryKb"].as_u64().unwrap() > 1024, "{m}");
        assert!(m["gbSeconds"].as_f64().unwrap() > 0.0, "{m}");
    }
    // What the handler printed (the executor reads stdout concurrently with
    // the result, so one call's print may land after its meter is taken).
    assert!(
        [first, second]
            .iter()
            .any(|m| m["stdout"].as_str().unwrap().contains("handling")),
        "{first} {second}"
    );
    assert_eq!(first["cold"], true, "{first}");
    assert!(first["initMs"].as_f64().unwrap() > 0.0, "{first}");
    assert_eq!(second["cold"], false, "{second}");
    assert_eq!(second["initMs"].as_f64(), Some(0.0), "{second}");
    assert_eq!(
        first["instance"], second["instance"],
        "the warm call reuses the cold call's process"
    );
    assert!(first["instance"].as_u64().is_some(), "{first}");
}
