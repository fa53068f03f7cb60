//! The harness's side of the wire: HTTP calls to the server, and the server
//! itself (`sluice serve --durability power` on a fixed port and store,
//! started again after each kill).

use serde_json::{json, Value};
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// `METHOD path` with a JSON body; the status and the JSON answer (or its
/// text), or the transport error (the server is down).
pub fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let agent = agent();
    let content_type = if path == "/api/v1/events" {
        "application/cloudevents+json"
    } else {
        "application/json"
    };
    let mut res = match method {
        "GET" => agent.get(&url).call(),
        "PUT" => agent
            .put(&url)
            .header("content-type", "application/json")
            .send(body.unwrap_or_default().to_string()),
        _ => agent
            .post(&url)
            .header("content-type", content_type)
            .send(body.unwrap_or(json!({})).to_string()),
    }
    .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// Every execution of `workflow`, all pages of the listing.
pub fn executions(port: u16, workflow: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/executions?workflow={workflow}&limit=1000");
        if let Some(t) = &token {
            path.push_str(&format!("&nextToken={t}"));
        }
        let (status, page) = call(port, "GET", &path, None).expect("the server answers");
        assert_eq!(status, 200, "{page}");
        all.extend(page["executions"].as_array().cloned().unwrap_or_default());
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return all,
        }
    }
}

pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    pub functions: PathBuf,
    /// Every start's stderr, appended (shown when the books do not balance).
    pub log: PathBuf,
}

impl Server {
    pub fn start(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--durability", "power", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data")
            .arg(&self.data)
            .arg("--functions")
            .arg(&self.functions)
            .env("SLUICE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sluice serve starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(call(self.port, "GET", "/healthz", None), Ok((200, _))) {
            assert!(Instant::now() < deadline, "sluice serve did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The last `bytes` of the servers' stderr.
    pub fn log_tail(&self, bytes: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(bytes);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.reap();
    }
}
