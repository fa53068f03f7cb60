//! `sluice serve` as users run it: the real binary on a loopback port with a
//! temporary store, driven over HTTP, killed with SIGKILL and restarted on
//! the same store, then stopped with SIGTERM.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sluice serve`; killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl Server {
    fn start(dir: &Path, functions: &Path) -> Server {
        let port = free_port();
        let log = dir.join(format!("serve-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--data"])
            .arg(dir.join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--durability", "process", "--functions"])
            .arg(functions)
            .env("SLUICE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("the sluice binary starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_healthy();
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok((200, body)) = self.try_call("GET", "/healthz", None) {
                assert_eq!(body["status"], "ok");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("/healthz never answered; server log:\n{}", self.log());
    }

    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), ureq::Error> {
        let url = format!("{}{path}", self.base);
        let agent = agent();
        let mut res = match (method, body) {
            ("GET", _) => agent.get(&url).call()?,
            ("PUT", Some(b)) => agent
                .put(&url)
                .header("Content-Type", "application/json")
                .send(b.to_string())?,
            ("POST", Some(b)) => agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b.to_string())?,
            (m, b) => panic!("no helper for {m} with {b:?}"),
        };
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string()?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; server log:\n{}", self.log()))
    }

    /// Poll an execution until it leaves RUNNING.
    fn finished(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, e) = self.call("GET", &format!("/api/v1/executions/{id}"), None);
            assert_eq!(status, 200, "{e}");
            if e["status"] != "RUNNING" || Instant::now() > deadline {
                return e;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

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

/// Runs the CLI against `server`; returns (exit code, stdout, stderr).
fn cli(server: &Server, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .args(["--server", &server.base])
        .output()
        .expect("the sluice binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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

    let (code, out, err) = cli(
        &server,
        &["workflow", "alias", "orders", "live", "--route", "2"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("orders:live"), "{out}");
    let (code, out, err) = cli(
        &server,
        &[
            "execution",
            "start",
            "orders:live",
            "--wait",
            "10",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let done: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (done["version"].clone(), done["output"].clone()),
        (json!(2), json!(2))
    );

    let (code, out, err) = cli(
        &server,
        &[
            "workflow", "alias", "orders", "live", "--route", "1=50", "--route", "2=40",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("add up to 90"), "{out}{err}");
    let (code, out, _) = cli(&server, &["workflow", "describe", "orders"]);
    assert_eq!(code, 0);
    assert!(out.contains("alias      live -> v2 100%"), "{out}");
    let (code, out, _) = cli(&server, &["workflow", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("orders") && out.contains("live"), "{out}");

    let id = done["executionId"].as_str().unwrap();
    let (code, out, err) = cli(&server, &["execution", "delete", id]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, _) = server.call("GET", &format!("/api/v1/executions/{id}"), None);
    assert_eq!(status, 404);

    let (code, _, _) = cli(
        &server,
        &["workflow", "alias", "orders", "live", "--delete"],
    );
    assert_eq!(code, 0);
    let (code, out, err) = cli(&server, &["workflow", "delete", "orders"]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, _) = server.call("GET", "/api/v1/workflows/orders", None);
    assert_eq!(status, 404);
    let (code, _, err) = cli(&server, &["workflow", "delete", "orders"]);
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

    let (code, out, err) = cli(&server, &["source", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("good") && out.contains("closed") && out.contains("amqp"),
        "{out}"
    );
    let (code, out, _) = cli(&server, &["source", "test", "closed"]);
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
        let (code, out, _) = cli(&server, &["source", "test", "good"]);
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
