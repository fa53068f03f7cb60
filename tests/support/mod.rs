//! The harness the end-to-end tests share: a real `sluice serve` on a free
//! loopback port with a temporary store, driven over HTTP and through the
//! CLI, killed when dropped.

// Each test binary uses a different part of this harness.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A running `sluice serve`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    log: PathBuf,
    dir: PathBuf,
    functions: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Server {
    /// `sluice serve --durability process --functions FUNCTIONS` on the
    /// store `DIR/data`; returns once `/healthz` answers 200.
    pub fn start(dir: &Path, functions: &Path) -> Server {
        Server::start_with(dir, functions, &[])
    }

    /// [`start`](Self::start) with more `sluice serve` arguments.
    pub fn start_with(dir: &Path, functions: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let log = dir.join(format!("serve-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--data"])
            .arg(dir.join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--durability", "process", "--functions"])
            .arg(functions)
            .args(extra)
            .env("SLUICE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("the sluice binary starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            dir: dir.to_path_buf(),
            functions: functions.to_path_buf(),
        };
        server.wait_healthy();
        server
    }

    /// `kill -9`, then, `down` later, a new `sluice serve` on the same
    /// store (another port).
    pub fn kill9_and_restart(&mut self, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        *self = Server::start(&self.dir.clone(), &self.functions.clone());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// 503 ("starting") until the store is open, then 200.
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

    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), ureq::Error> {
        let agent = agent();
        let url = format!("{}{path}", self.base);
        let mut res = match (method, body) {
            ("GET", _) => agent.get(&url).call()?,
            ("DELETE", _) => agent.delete(&url).call()?,
            ("PUT", b) => agent
                .put(&url)
                .header("content-type", "application/json")
                .send(b.unwrap_or_default().to_string())?,
            (_, b) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(b.unwrap_or(json!({})).to_string())?,
        };
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string()?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; server log:\n{}", self.log()))
    }

    /// Send raw bytes (an archive) with `content_type`.
    pub fn upload(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let agent = agent();
        let url = format!("{}{path}", self.base);
        let sent = match method {
            "PUT" => agent
                .put(&url)
                .header("content-type", content_type)
                .send(body),
            _ => agent
                .post(&url)
                .header("content-type", content_type)
                .send(body),
        };
        let mut res =
            sent.unwrap_or_else(|e| panic!("{method} {path}: {e}; server log:\n{}", self.log()));
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Poll an execution until it leaves RUNNING.
    pub fn finished(&self, id: &str) -> Value {
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

    /// Runs the CLI against this server; returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .args(["--server", &self.base])
            .output()
            .expect("the sluice binary runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// The Python that has awslambdaric (scripts/test.sh installs it).
pub fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys, awslambdaric; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pip install awslambdaric: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Server {
    /// Every execution of `workflow` (all pages of the listing).
    pub fn executions(&self, workflow: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/executions?workflow={workflow}&limit=1000");
            if let Some(t) = &token {
                path.push_str(&format!("&nextToken={t}"));
            }
            let (status, page) = self.call("GET", &path, None);
            assert_eq!(status, 200, "{page}");
            all.extend(page["executions"].as_array().cloned().unwrap_or_default());
            match page["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => return all,
            }
        }
    }

    /// Polls the executions of `workflow` until `cond(count)` holds;
    /// returns the count. Panics after `secs`.
    pub fn wait_executions(
        &self,
        workflow: &str,
        secs: u64,
        cond: impl Fn(usize) -> bool,
    ) -> usize {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let n = self.executions(workflow).len();
            if cond(n) {
                return n;
            }
            if Instant::now() >= deadline {
                let source = self.try_call("GET", "/api/v1/sources", None);
                panic!(
                    "{workflow}: {n} executions after {secs}s; sources: {source:?}; server log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Where a kill -9 hit the stream of [`stream_through_kills`].
#[derive(Debug, Clone, Copy)]
pub struct Kill {
    /// Executions that existed just before the kill.
    pub executions: usize,
    /// Messages the producer had sent.
    pub sent: usize,
    /// The end of the wave being produced (more than `sent`: mid-stream).
    pub wave_end: usize,
    /// Whether the source was last seen holding messages it had received
    /// but not yet acknowledged (a batch in the engine's hands).
    pub in_flight: bool,
}

/// Messages per second [`stream_through_kills`] produces at.
const PACE_PER_SECOND: u64 = 100;

/// The source's messages received but not acknowledged (nor dead-lettered).
fn in_flight(server: &Server) -> Option<u64> {
    let (_, s) = server
        .try_call("GET", "/api/v1/sources/orders-in", None)
        .ok()?;
    let st = &s["status"];
    let n = |k: &str| st[k].as_u64().unwrap_or(0);
    Some(n("received").saturating_sub(n("acked") + n("deadLettered")))
}

/// Produces messages `0..total` through `send` (on its own thread, at
/// `PACE_PER_SECOND`) into the source of [`orders_from_source`], whose every
/// message starts one `orders` execution, and kills the server with SIGKILL
/// `kills` times while a wave of messages is still being produced and
/// consumed — preferably at an instant the source has a batch in flight —
/// restarting it on the same store each time. Message 0 goes alone first, so
/// the source is known to consume before the stream starts; after each
/// restart the next wave waits until consumption has resumed. Asserts that
/// each kill came while its wave was still being produced. The server stays
/// down for `down` each time. Returns once
/// `total` executions exist (more would be duplicates: the caller checks),
/// or after a minute without them (then some were lost: the caller says which).
pub fn stream_through_kills(
    server: &mut Server,
    total: usize,
    kills: usize,
    down: Duration,
    mut send: impl FnMut(usize) + Send + 'static,
) -> Vec<Kill> {
    let (waves, rx) = mpsc::channel::<std::ops::Range<usize>>();
    let sent = Arc::new(AtomicUsize::new(0));
    let producer = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let gap = Duration::from_millis(10_000 / PACE_PER_SECOND);
            for wave in rx {
                for i in wave {
                    send(i);
                    sent.store(i + 1, Ordering::SeqCst);
                    if (i + 1) % 10 == 0 {
                        std::thread::sleep(gap);
                    }
                }
            }
        })
    };
    waves.send(0..1).unwrap();
    server.wait_executions("orders", 60, |n| n >= 1);
    let wave = (total - 1) / (kills + 1);
    let mut next = 1;
    let mut hits = Vec::new();
    for _ in 0..kills {
        let end = next + wave;
        let base = server.executions("orders").len();
        waves.send(next..end).unwrap();
        server.wait_executions("orders", 60, |n| n >= base + wave / 4);
        // Aim for an instant with a batch in flight; give up after 1 s.
        let aim = Instant::now() + Duration::from_secs(1);
        let mut busy = false;
        while !busy && Instant::now() < aim {
            busy = in_flight(server).is_some_and(|n| n > 0);
        }
        let hit = Kill {
            executions: server.executions("orders").len(),
            sent: sent.load(Ordering::SeqCst),
            wave_end: end,
            in_flight: busy,
        };
        server.kill9_and_restart(down);
        assert!(
            hit.sent < hit.wave_end,
            "the kill came after the wave was produced, not mid-stream: {hit:?}"
        );
        hits.push(hit);
        // The rest of the wave was produced while the server was down:
        // consumption has resumed once executions grow again.
        server.wait_executions("orders", 90, |n| n > hit.executions);
        next = end;
    }
    waves.send(next..total).unwrap();
    drop(waves);
    producer.join().expect("the producer thread");
    // Not asserted here: the caller names what is missing or doubled.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.executions("orders").len() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    hits
}

/// The pipeline the broker kill tests share: a Pass/Succeed workflow
/// `orders`, a trigger rule starting it for every event of type
/// `test.order` (the CloudEvents the tests send) or `test.raw` (what the
/// source wraps raw messages as) with input `{n: data.n, id, type}`, and the
/// source binding `orders-in` (`source` gives its kind and fields).
pub fn orders_from_source(server: &Server, source: Value) {
    let ok = |(status, body): (u16, Value)| assert_eq!(status, 200, "{body}");
    ok(server.call(
        "PUT",
        "/api/v1/workflows/orders",
        Some(json!({"StartAt": "Take", "States": {
            "Take": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"}}})),
    ));
    ok(server.call(
        "PUT",
        "/api/v1/triggers/orders",
        Some(json!({"name": "orders", "workflow": "orders",
            "pattern": {"type": ["test.order", "test.raw"]},
            "input": {"n.$": "$.data.n", "id.$": "$.id", "type.$": "$.type"}})),
    ));
    let mut source = source;
    source["type"] = json!("test.raw");
    ok(server.call("PUT", "/api/v1/sources/orders-in", Some(source)));
}

/// After a stream of `total` distinct messages through
/// [`orders_from_source`]: exactly one `orders` execution per message
/// number `0..total` (none lost, none doubled), each SUCCEEDED, its event
/// id checked by `check(n, input)`; nothing dead-lettered; the source
/// connected again.
pub fn assert_one_execution_per_message(
    server: &Server,
    total: usize,
    check: impl Fn(usize, &Value),
) {
    let executions = server.executions("orders");
    let mut seen = std::collections::BTreeSet::new();
    for e in &executions {
        let n = e["input"]["n"].as_u64().expect("input.n") as usize;
        assert!(seen.insert(n), "message {n} started two executions: {e}");
        check(n, &e["input"]);
    }
    let missing: Vec<usize> = (0..total).filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "messages lost: {missing:?}");
    assert_eq!(
        executions.len(),
        total,
        "one execution per distinct message"
    );
    for e in &executions {
        let done = server.finished(e["executionId"].as_str().unwrap());
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
    }
    let (_, letters) = server.call("GET", "/api/v1/deadletters", None);
    assert_eq!(letters["deadLetters"], json!([]), "nothing dead-lettered");
    let (_, source) = server.call("GET", "/api/v1/sources/orders-in", None);
    assert_eq!(source["status"]["connected"], true, "{source}");
}
