//! `sluice serve` as users run it: the real binary on a loopback port with a
//! temporary store, driven over HTTP, killed with SIGKILL and restarted on
//! the same store, then stopped with SIGTERM.

use serde_json::{json, Value};
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::Server;

/// A stdio function in plain sh: wraps its event as `{"got": EVENT}`.
fn functions_dir(dir: &Path) -> PathBuf {
    let functions = dir.join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let def = json!({
        "name": "wrap",
        "runtime": "process",
        "protocol": "stdio",
        "command": ["sh", "-c", "read -r event; printf '{\"got\": %s}' \"$event\""],
        "timeoutSeconds": 10
    });
    std::fs::write(functions.join("wrap.json"), def.to_string()).unwrap();
    functions
}

#[test]
fn serve_runs_workflows_and_keeps_them_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let functions = functions_dir(dir.path());
    let server = Server::start(dir.path(), &functions);

    let workflow = json!({"StartAt": "Greet", "States": {
        "Greet": {"Type": "Pass", "Parameters": {"msg.$": "States.Format('hi {}', $.name)"}, "Next": "Wrap"},
        "Wrap": {"Type": "Task", "Resource": "sluice:function:wrap", "End": true}
    }});
    let (status, body) = server.call("PUT", "/api/v1/workflows/greet", Some(workflow));
    assert_eq!(
        (status, body),
        (200, json!({"name": "greet", "version": 1}))
    );

    let (status, done) = server.call(
        "POST",
        "/api/v1/workflows/greet/executions?wait=10",
        Some(json!({"input": {"name": "Ada"}})),
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], json!({"got": {"msg": "hi Ada"}}));
    let id = done["executionId"].as_str().unwrap().to_string();

    // An execution that is still waiting when the server dies.
    let sleepy = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 2, "Next": "Wrap"},
        "Wrap": {"Type": "Task", "Resource": "sluice:function:wrap", "End": true}
    }});
    server.call("PUT", "/api/v1/workflows/sleepy", Some(sleepy));
    let (status, started) = server.call(
        "POST",
        "/api/v1/workflows/sleepy/executions",
        Some(json!({"input": {"n": 1}})),
    );
    assert_eq!(status, 201, "{started}");
    let waiting = started["executionId"].as_str().unwrap().to_string();

    drop(server); // SIGKILL: no chance to clean up.

    let server = Server::start(dir.path(), &functions);
    let (status, again) = server.call("GET", &format!("/api/v1/executions/{id}"), None);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, done, "the finished execution is kept as it was");
    let resumed = server.finished(&waiting);
    assert_eq!(resumed["status"], "SUCCEEDED", "{resumed}");
    assert_eq!(resumed["output"], json!({"got": {"n": 1}}));
    let (_, listed) = server.call("GET", "/api/v1/executions?workflow=greet", None);
    assert_eq!(listed["executions"].as_array().unwrap().len(), 1);

    // SIGTERM: a graceful stop with exit code 0.
    let mut server = server;
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "no exit after SIGTERM; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}; log:\n{}", server.log());
    assert!(server.log().contains("shutting down"), "{}", server.log());
}

#[test]
fn cli_manages_aliases_and_deletes_workflows_and_executions() {
    let dir = tempfile::tempdir().unwrap();
    let functions = functions_dir(dir.path());
    let server = Server::start(dir.path(), &functions);
    for n in [1, 2] {
        let def =
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": n, "End": true}}});
        server.call("PUT", "/api/v1/workflows/orders", Some(def));
    }

    let (code, out, err) = server.cli(&["workflow", "alias", "orders", "live", "--route", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("orders:live"), "{out}");
    let (code, out, err) = server.cli(&[
        "execution",
        "start",
        "orders:live",
        "--wait",
        "10",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let done: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (done["version"].clone(), done["output"].clone()),
        (json!(2), json!(2))
    );

    let (code, out, err) = server.cli(&[
        "workflow", "alias", "orders", "live", "--route", "1=50", "--route", "2=40",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("add up to 90"), "{out}{err}");
    let (code, out, _) = server.cli(&["workflow", "describe", "orders"]);
    assert_eq!(code, 0);
    assert!(out.contains("alias      live -> v2 100%"), "{out}");
    let (code, out, _) = server.cli(&["workflow", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("orders") && out.contains("live"), "{out}");

    let id = done["executionId"].as_str().unwrap();
    let (code, out, err) = server.cli(&["execution", "delete", id]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, _) = server.call("GET", &format!("/api/v1/executions/{id}"), None);
    assert_eq!(status, 404);

    let (code, _, _) = server.cli(&["workflow", "alias", "orders", "live", "--delete"]);
    assert_eq!(code, 0);
    let (code, out, err) = server.cli(&["workflow", "delete", "orders"]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, _) = server.call("GET", "/api/v1/workflows/orders", None);
    assert_eq!(status, 404);
    let (code, _, err) = server.cli(&["workflow", "delete", "orders"]);
    assert_ne!(code, 0);
    assert!(err.contains("no workflow named 'orders'"), "{err}");
}

/// `sluice source list|test` and the `sluice:amqp:publish` task resource,
/// against the real RabbitMQ (AMQP_URL, default on 127.0.0.1:5672).
#[test]
fn sources_are_listed_and_tested_and_publish_tasks_reach_rabbitmq() {
    let url = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let dir = tempfile::tempdir().unwrap();
    let functions = functions_dir(dir.path());
    let server = Server::start(dir.path(), &functions);
    let queue = format!("sluice-cli-{}", std::process::id());
    let (status, _) = server.call(
        "PUT",
        "/api/v1/sources/good",
        Some(json!({"kind": "amqp", "url": url, "queue": queue})),
    );
    assert_eq!(status, 200);
    let (status, _) = server.call(
        "PUT",
        "/api/v1/sources/closed",
        Some(json!({"kind": "amqp", "url": "amqp://guest:guest@127.0.0.1:1/%2f", "queue": "q"})),
    );
    assert_eq!(status, 200);

    let (code, out, err) = server.cli(&["source", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("good") && out.contains("closed") && out.contains("amqp"),
        "{out}"
    );
    let (code, out, _) = server.cli(&["source", "test", "closed"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("failed: "), "{out}");

    // A workflow publishes its input (the broker confirms it).
    let wf = json!({"StartAt": "P", "States": {"P": {"Type": "Task",
        "Resource": "sluice:amqp:publish",
        "Parameters": {"url": url, "routingKey": queue, "message.$": "$"}, "End": true}}});
    assert_eq!(server.call("PUT", "/api/v1/workflows/pub", Some(wf)).0, 200);
    // The source runs: it declares its queue and consumes from it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let (code, out, _) = server.cli(&["source", "test", "good"]);
        assert_eq!(code, 0, "{out}");
        if out.contains("1 consumers") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        out.contains(&format!("queue '{queue}'")) && out.contains("1 consumers"),
        "{out}"
    );
    let (_, e) = server.call(
        "POST",
        "/api/v1/workflows/pub/executions?wait=20",
        Some(json!({"input": {"n": 1}})),
    );
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["output"], json!({"exchange": "", "routingKey": queue}));
}
