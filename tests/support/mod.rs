//! The harness the end-to-end tests share: a real `sluice serve` on a free
//! loopback port with a temporary store, driven over HTTP and through the
//! CLI, killed when dropped.

// Each test binary uses a different part of this harness.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sluice serve`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    log: PathBuf,
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
        };
        server.wait_healthy();
        server
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
