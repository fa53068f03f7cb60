//! The console in headless Chromium: a real `sluice serve` with a workflow
//! that fails in a state and a 200-state workflow with a 1,000-event
//! execution, checked by the playwright-core scripts in tests/browser/.
//! Needs /usr/bin/chromium and tests/browser/node_modules (scripts/test.sh
//! installs both: ensure_chromium, ensure_playwright). Screenshots go to
//! test-artifacts/browser/.

use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let functions = dir.join("functions");
        std::fs::create_dir_all(&functions).unwrap();
        let charge = json!({
            "name": "charge", "runtime": "process", "protocol": "stdio", "timeoutSeconds": 10,
            "command": ["sh", "-c", "cat >/dev/null; printf '{\"errorType\": \"PaymentDeclined\", \"errorMessage\": \"the card was declined\"}'; exit 1"]
        });
        std::fs::write(functions.join("charge.json"), charge.to_string()).unwrap();
        let log = dir.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--durability", "process", "--data"])
            .arg(dir.join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--functions"])
            .arg(&functions)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the sluice binary starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        // 503 ("starting") until the store is open, then 200.
        while !agent()
            .get(format!("{}/healthz", server.base))
            .call()
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(Instant::now() < deadline, "no /healthz: {}", server.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut res = match method {
            "GET" => agent().get(&url).call(),
            "PUT" => agent()
                .put(&url)
                .header("content-type", "application/json")
                .send(body.to_string()),
            _ => agent()
                .post(&url)
                .header("content-type", "application/json")
                .send(body.to_string()),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()));
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn deploy(&self, name: &str, definition: Value) {
        let (status, body) = self.call("PUT", &format!("/api/v1/workflows/{name}"), definition);
        assert_eq!(status, 200, "{body}");
    }

    /// Start and wait for the end.
    fn run(&self, workflow: &str, input: Value) -> Value {
        let (status, e) = self.call(
            "POST",
            &format!("/api/v1/workflows/{workflow}/executions?wait=60"),
            json!({ "input": input }),
        );
        assert_eq!(status, 200, "{e}");
        e
    }
}

fn checkout() -> Value {
    json!({"StartAt": "Validate", "States": {
        "Validate": {"Type": "Pass", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "sluice:function:charge", "Next": "Ship"},
        "Ship": {"Type": "Pass", "End": true}
    }})
}

/// 200 states: 40 Choice diamonds, a Map over the input's items (3 inner
/// states), a Parallel of two 2-state branches, and a tail of Pass states.
fn big() -> (Value, Vec<String>) {
    let mut states = Map::new();
    let mut names = Vec::new();
    fn add(states: &mut Map<String, Value>, names: &mut Vec<String>, name: String, v: Value) {
        names.push(name.clone());
        states.insert(name, v);
    }
    const SEGMENTS: usize = 40;
    for k in 0..SEGMENTS {
        let next = if k + 1 < SEGMENTS {
            format!("P{:02}", k + 1)
        } else {
            "Fan".into()
        };
        add(
            &mut states,
            &mut names,
            format!("P{k:02}"),
            json!({"Type": "Pass", "Next": format!("C{k:02}")}),
        );
        add(
            &mut states,
            &mut names,
            format!("C{k:02}"),
            json!({"Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericGreaterThan": k, "Next": format!("L{k:02}")}],
            "Default": format!("R{k:02}")}),
        );
        add(
            &mut states,
            &mut names,
            format!("L{k:02}"),
            json!({"Type": "Pass", "Next": next}),
        );
        add(
            &mut states,
            &mut names,
            format!("R{k:02}"),
            json!({"Type": "Pass", "Next": next}),
        );
    }
    add(
        &mut states,
        &mut names,
        "Fan".into(),
        json!({"Type": "Map", "ItemsPath": "$.items", "ResultPath": null,
        "ItemProcessor": {"StartAt": "I1", "States": {
            "I1": {"Type": "Pass", "Next": "I2"}, "I2": {"Type": "Pass", "Next": "I3"}, "I3": {"Type": "Pass", "End": true}}},
        "Next": "Both"}),
    );
    for inner in ["I1", "I2", "I3"] {
        names.push(inner.into());
    }
    add(
        &mut states,
        &mut names,
        "Both".into(),
        json!({"Type": "Parallel", "ResultPath": null, "Branches": [
        {"StartAt": "A1", "States": {"A1": {"Type": "Pass", "Next": "A2"}, "A2": {"Type": "Pass", "End": true}}},
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "B2"}, "B2": {"Type": "Pass", "End": true}}}],
        "Next": "T00"}),
    );
    for inner in ["A1", "A2", "B1", "B2"] {
        names.push(inner.into());
    }
    let tail = 200 - names.len();
    for t in 0..tail {
        let v = if t + 1 < tail {
            json!({"Type": "Pass", "Next": format!("T{:02}", t + 1)})
        } else {
            json!({"Type": "Succeed"})
        };
        add(&mut states, &mut names, format!("T{t:02}"), v);
    }
    assert_eq!(names.len(), 200);
    (json!({"StartAt": "P00", "States": states}), names)
}

fn node_script(script: &str, envs: &[(&str, String)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    if !matches!(script, "layout.test.mjs" | "exec-model.test.mjs") {
        needs_browser(&browser_dir);
    }
    run_node(root, &browser_dir, script, envs);
}

fn needs_browser(browser_dir: &Path) {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/test.sh (ensure_chromium) or apt-get install chromium"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: run scripts/test.sh (ensure_playwright) or npm ci --prefix tests/browser"
    );
}

fn run_node(root: &Path, browser_dir: &Path, script: &str, envs: &[(&str, String)]) {
    let mut cmd = Command::new("node");
    cmd.arg(browser_dir.join(script))
        .current_dir(browser_dir)
        .env("ARTIFACTS", root.join("test-artifacts/browser"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("node runs");
    // Bounded: a hung browser must not hang the test run.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{script} failed ({status})");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{script} did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The graph layout alone, in node: no overlaps, every state placed once,
/// on 300 states with loops and nested groups.
#[test]
fn the_graph_layout_places_every_state_without_overlaps() {
    node_script("layout.test.mjs", &[]);
}

/// The colour of each state from its history (retried, caught, failed,
/// running, not reached), in node.
#[test]
fn each_state_is_coloured_by_what_its_history_says() {
    node_script("exec-model.test.mjs", &[]);
}

#[test]
fn the_console_shows_a_failed_execution_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    server.deploy("checkout", checkout());
    let failed = server.run("checkout", json!({"order": "o-1"}));
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["error"], "PaymentDeclined", "{failed}");
    let (definition, names) = big();
    server.deploy("big", definition);
    let items: Vec<Value> = (0..100).map(|i| json!({"i": i})).collect();
    let perf = server.run("big", json!({"n": 20, "items": items}));
    assert_eq!(perf["status"], "SUCCEEDED", "{perf}");
    let id = |e: &Value| e["executionId"].as_str().unwrap().to_string();
    node_script(
        "console.test.mjs",
        &[
            ("SLUICE_URL", server.base.clone()),
            ("FAILED_EXECUTION", id(&failed)),
            ("FAILED_STATE", "Charge".into()),
            ("FAILED_ERROR", "PaymentDeclined".into()),
            ("STATES", json!(["Validate", "Charge", "Ship"]).to_string()),
            ("PERF_EXECUTION", id(&perf)),
            ("PERF_STATES", names.len().to_string()),
        ],
    );
}

/// Variables per state and a Distributed Map's child executions, linked
/// both ways, in a real browser.
#[test]
fn the_console_shows_variables_and_links_child_executions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    server.deploy(
        "fan",
        json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"greeting": "hello", "count": 2}, "Next": "Fan"},
            "Fan": {"Type": "Map", "Items": [1, 2, 3], "End": true, "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}}}
        }}),
    );
    let e = server.run("fan", json!({}));
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["output"], json!([1, 2, 3]), "{e}");
    node_script(
        "variables.test.mjs",
        &[
            (
                "PARENT_EXECUTION",
                e["executionId"].as_str().unwrap().to_string(),
            ),
            ("SLUICE_URL", server.base.clone()),
        ],
    );
}

/// Runs once `PUT /api/v1/triggers/{name}` and `POST /api/v1/events` exist
/// (issue 5); until then the server answers the probe with 404 and this
/// test says so and stops there.
#[test]
fn a_test_event_sent_from_the_console_starts_an_execution_seen_live() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    server.deploy(
        "on-order",
        json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 2, "Next": "Done"}, "Done": {"Type": "Succeed"}}}),
    );
    let rule = json!({"name": "x", "pattern": {"type": ["browser.order"]}, "workflow": "on-order"});
    let (status, body) = server.call("PUT", "/api/v1/triggers/x", rule);
    if status == 404 {
        eprintln!("SKIPPED: PUT /api/v1/triggers/x answered 404 (trigger rules, issue 5, are not on this branch)");
        return;
    }
    assert!(
        (200..300).contains(&status),
        "PUT /api/v1/triggers/x: {status} {body}"
    );
    node_script(
        "events.test.mjs",
        &[
            ("SLUICE_URL", server.base.clone()),
            ("EVENT_TYPE", "browser.order".into()),
        ],
    );
}

/// With --auth the console sends the browser to the login page, and the
/// token typed there opens the page it came from (cookie session).
#[test]
fn the_console_signs_in_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let token = "browser-admin-0123456789";
    std::fs::write(
        &tokens,
        json!({"tokens": [{"name": "ops", "role": "admin", "token": token}]}).to_string(),
    )
    .unwrap();
    let server = Server::start(dir.path(), &["--auth", tokens.to_str().unwrap()]);
    node_script(
        "login.test.mjs",
        &[("SLUICE_URL", server.base.clone()), ("TOKEN", token.into())],
    );
}
