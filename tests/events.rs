//! Events end to end with the real `sluice serve`: trigger rules start
//! executions from CloudEvents posted in structured, binary and batch mode;
//! duplicates start nothing; poison events are dead-lettered with their
//! reason; and after a kill -9 mid-stream, re-posting what was not
//! acknowledged starts exactly one execution per event and rule.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
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
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl Server {
    fn start(dir: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let log = dir.join(format!("serve-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--data"])
            .arg(dir.join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--durability", "process"])
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
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok((200, _)) = server.send("GET", "/healthz", "", None) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("/healthz never answered; log:\n{}", server.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A request with a content type and extra headers.
    fn send_with(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<(u16, Value), ureq::Error> {
        let url = format!("{}{path}", self.base);
        let a = agent();
        let mut res = match method {
            "GET" => a.get(&url).call()?,
            "DELETE" => a.delete(&url).call()?,
            m => {
                let mut r = if m == "PUT" {
                    a.put(&url)
                } else {
                    a.post(&url)
                };
                r = r.header("Content-Type", content_type);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.send(body.unwrap_or_default())?
            }
        };
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string()?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        ct: &str,
        body: Option<String>,
    ) -> Result<(u16, Value), ureq::Error> {
        self.send_with(method, path, ct, &[], body)
    }

    fn call(&self, method: &str, path: &str, ct: &str, body: Option<Value>) -> (u16, Value) {
        self.send(method, path, ct, body.map(|b| b.to_string()))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; log:\n{}", self.log()))
    }

    fn json(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, v) = self.call(method, path, "application/json", Some(body));
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    fn get(&self, path: &str) -> Value {
        let (status, v) = self.call("GET", path, "", None);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    fn post_events(&self, ct: &str, body: Value) -> Vec<Value> {
        let (status, v) = self.call("POST", "/api/v1/events", ct, Some(body));
        assert_eq!(status, 200, "{v}");
        v["results"].as_array().unwrap().clone()
    }
}

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

fn ce(id: &str, kind: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "shop/web", "type": kind, "datacontenttype": "application/json", "data": data})
}

fn setup(server: &Server) {
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    server.json("PUT", "/api/v1/workflows/fulfil", pass.clone());
    server.json("PUT", "/api/v1/workflows/audit", pass);
    let v = server.json(
        "PUT",
        "/api/v1/triggers/orders",
        json!({"name": "orders", "workflow": "fulfil",
               "pattern": {"type": ["order.created"], "data": {"total": [{"numeric": [">", 0]}]}},
               "input": {"order.$": "$.data.order", "total.$": "$.data.total", "via": "trigger"}}),
    );
    assert_eq!(v, json!({"name": "orders", "version": 1}));
    server.json(
        "PUT",
        "/api/v1/triggers/audit-all",
        json!({"name": "audit-all", "workflow": "audit", "pattern": {"source": [{"prefix": "shop/"}]}}),
    );
}

fn ids(result: &Value) -> Vec<String> {
    result["executionIds"]
        .as_array()
        .unwrap_or_else(|| panic!("no executionIds in {result}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The fulfil execution among these, and its input.
fn fulfil_input(server: &Server, execution_ids: &[String]) -> Value {
    execution_ids
        .iter()
        .map(|id| server.get(&format!("/api/v1/executions/{id}")))
        .find(|e| e["workflow"] == "fulfil")
        .map(|e| e["input"].clone())
        .expect("a fulfil execution")
}

#[test]
fn events_in_three_modes_start_templated_executions_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    setup(&server);
    assert_eq!(
        server.get("/api/v1/triggers")["triggers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        server.get("/api/v1/triggers/orders")["definition"]["workflow"],
        "fulfil"
    );

    // Structured: fans out to both rules.
    let r = server.post_events(
        STRUCTURED,
        ce("s1", "order.created", json!({"order": "A1", "total": 10})),
    );
    assert_eq!(r[0]["outcome"], "accepted", "{r:?}");
    let started = ids(&r[0]);
    assert_eq!(started.len(), 2);
    assert_eq!(
        fulfil_input(&server, &started),
        json!({"order": "A1", "total": 10, "via": "trigger"})
    );

    // The same event again starts nothing and names the executions it started.
    let again = server.post_events(
        STRUCTURED,
        ce("s1", "order.created", json!({"order": "A1", "total": 10})),
    );
    assert_eq!(again[0]["outcome"], "duplicate");
    assert_eq!(ids(&again[0]), started);

    // Binary: attributes in ce-* headers, the data is the body.
    let (status, v) = server
        .send_with(
            "POST",
            "/api/v1/events",
            "application/json",
            &[
                ("ce-specversion", "1.0"),
                ("ce-id", "b1"),
                ("ce-source", "shop/app"),
                ("ce-type", "order.created"),
            ],
            Some(json!({"order": "B1", "total": 3}).to_string()),
        )
        .unwrap();
    assert_eq!(status, 200, "{v}");
    let b = &v["results"][0];
    assert_eq!(b["id"], "b1");
    assert_eq!(
        fulfil_input(&server, &ids(b)),
        json!({"order": "B1", "total": 3, "via": "trigger"})
    );

    // Batch: one outcome per event, in order; a zero total matches only the audit rule.
    let r = server.post_events(
        BATCH,
        json!([
            ce("k1", "order.created", json!({"order": "K1", "total": 1})),
            ce("k2", "order.created", json!({"order": "K2", "total": 0}))
        ]),
    );
    assert_eq!((r[0]["id"].clone(), ids(&r[0]).len()), (json!("k1"), 2));
    assert_eq!((r[1]["id"].clone(), ids(&r[1]).len()), (json!("k2"), 1));

    // A poison event (no data.order for the template) is dead-lettered with its reason.
    let r = server.post_events(STRUCTURED, ce("p1", "order.created", json!({"total": 5})));
    assert_eq!(r[0]["outcome"], "deadLettered");
    let reason = r[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("orders") && reason.contains("$.data.order"),
        "{reason}"
    );
    let letters = server.get("/api/v1/deadletters");
    let letter = &letters["deadLetters"][0];
    assert_eq!(letter["reason"], reason);
    assert_eq!(letter["event"]["id"], "p1");
    let (status, _) = server.call(
        "DELETE",
        &format!("/api/v1/deadletters/{}", letter["id"].as_str().unwrap()),
        "",
        None,
    );
    assert_eq!(status, 204);
    assert!(server.get("/api/v1/deadletters")["deadLetters"]
        .as_array()
        .unwrap()
        .is_empty());

    // Spec 1.0 required attributes: a clear 400 naming the attribute.
    let (status, v) = server.call(
        "POST",
        "/api/v1/events",
        STRUCTURED,
        Some(json!({"specversion": "1.0", "source": "s", "type": "t"})),
    );
    assert_eq!(status, 400);
    assert!(v["message"].as_str().unwrap().contains("'id'"), "{v}");
    let (status, v) = server
        .send_with(
            "POST",
            "/api/v1/events",
            "application/json",
            &[
                ("ce-specversion", "1.0"),
                ("ce-id", "x"),
                ("ce-source", "s"),
            ],
            Some("{}".into()),
        )
        .unwrap();
    assert_eq!(status, 400);
    assert!(v["message"].as_str().unwrap().contains("'type'"), "{v}");
    let (status, v) = server.call(
        "POST",
        "/api/v1/events",
        BATCH,
        Some(json!([ce("ok", "t", json!(1)), {"specversion": "1.0", "id": "2", "type": "t"}])),
    );
    assert_eq!(status, 400);
    assert!(
        v["message"].as_str().unwrap().contains("event 1")
            && v["message"].as_str().unwrap().contains("'source'"),
        "{v}"
    );
    // An invalid rule is refused with pointers.
    let (status, v) = server.call(
        "PUT",
        "/api/v1/triggers/bad",
        "application/json",
        Some(json!({"workflow": "w", "pattern": {"type": "x"}})),
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["details"][0]["pointer"], "/pattern/type");

    let metrics = server.call("GET", "/metrics", "", None).1;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("sluice_events_received_total 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sluice_events_duplicate_total 1"),
        "{metrics}"
    );

    // Deleting a rule stops its fan-out.
    let (status, _) = server.call("DELETE", "/api/v1/triggers/audit-all", "", None);
    assert_eq!(status, 204);
    let r = server.post_events(
        STRUCTURED,
        ce("s2", "order.created", json!({"order": "A2", "total": 1})),
    );
    assert_eq!(ids(&r[0]).len(), 1);
}

#[test]
fn the_cli_applies_triggers_and_sends_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let defs = dir.path().join("defs");
    std::fs::create_dir_all(defs.join("workflows")).unwrap();
    std::fs::create_dir_all(defs.join("triggers")).unwrap();
    std::fs::write(
        defs.join("workflows/fulfil.json"),
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        defs.join("triggers/orders.json"),
        json!({"name": "orders", "workflow": "fulfil", "pattern": {"type": ["order.created"]}, "input": {"order.$": "$.data.order"}}).to_string(),
    )
    .unwrap();
    let sluice = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .args(["--server", &server.base])
            .output()
            .unwrap()
    };
    let out = sluice(&["apply", "-f", defs.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let out = sluice(&[
        "event",
        "send",
        "--type",
        "order.created",
        "--source",
        "cli",
        "--id",
        "c1",
        "--data",
        r#"{"order": 9}"#,
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outcome"], "accepted");
    assert_eq!(fulfil_input(&server, &ids(&result)), json!({"order": 9}));
    let out = sluice(&[
        "event",
        "send",
        "--type",
        "order.created",
        "--source",
        "cli",
        "--id",
        "c2",
        "--data",
        "{}",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a dead-lettered event exits 1: {out:?}"
    );
    let out = sluice(&["deadletter", "list", "--json"]);
    let letters: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(letters["deadLetters"][0]["event"]["id"], "c2");
    let out = sluice(&["trigger", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["triggers"][0]["name"], "orders");
}

#[test]
fn after_kill_9_reposting_unacknowledged_events_starts_each_exactly_once_per_rule() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    setup(&server);
    const N: usize = 120;
    let event = |i: usize| {
        ce(
            &format!("e{i}"),
            "order.created",
            json!({"order": format!("o{i}"), "total": 1 + i}),
        )
    };
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let poster = {
        let acked = acked.clone();
        let base = server.base.clone();
        std::thread::spawn(move || {
            for chunk in (0..N).collect::<Vec<_>>().chunks(4) {
                let batch: Vec<Value> = chunk.iter().map(|&i| event(i)).collect();
                let sent = agent()
                    .post(&format!("{base}/api/v1/events"))
                    .header("Content-Type", BATCH)
                    .send(Value::Array(batch).to_string());
                match sent {
                    Ok(r) if r.status() == 200 => acked.lock().unwrap().extend_from_slice(chunk),
                    _ => return, // the server died under us
                }
            }
        })
    };
    // Kill once some, not all, events are acknowledged.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < N / 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(server); // SIGKILL
    poster.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        !acked.is_empty() && acked.len() < N,
        "killed mid-stream: {} acked",
        acked.len()
    );

    let server = Server::start(dir.path());
    let unacked: Vec<Value> = (0..N).filter(|i| !acked.contains(i)).map(event).collect();
    for chunk in unacked.chunks(10) {
        let results = server.post_events(BATCH, Value::Array(chunk.to_vec()));
        for r in results {
            assert_ne!(r["outcome"], "deadLettered", "{r}");
            assert_eq!(ids(&r).len(), 2, "{r}");
        }
    }
    // An acknowledged event posted again is a duplicate.
    let r = server.post_events(STRUCTURED, event(acked[0]));
    assert_eq!(r[0]["outcome"], "duplicate");

    let mut per_workflow: HashMap<String, Vec<String>> = HashMap::new();
    let page = server.get("/api/v1/executions?limit=1000");
    for e in page["executions"].as_array().unwrap() {
        let order = match e["workflow"].as_str().unwrap() {
            "fulfil" => e["input"]["order"].as_str().unwrap().to_string(),
            _ => e["input"]["data"]["order"].as_str().unwrap().to_string(),
        };
        per_workflow
            .entry(e["workflow"].as_str().unwrap().into())
            .or_default()
            .push(order);
    }
    for wf in ["fulfil", "audit"] {
        let mut orders = per_workflow.remove(wf).unwrap_or_default();
        orders.sort();
        let mut want: Vec<String> = (0..N).map(|i| format!("o{i}")).collect();
        want.sort();
        assert_eq!(orders, want, "{wf}: one execution per event");
    }
}
