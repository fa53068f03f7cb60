//! A small blocking HTTP client for the CLI verbs that talk to a server.

use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde_json::Value;

/// Where the server is, and how to print its answers.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// The Sluice server.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8080",
        env = "SLUICE_SERVER"
    )]
    pub server: String,
    /// The API token when the server runs with `--auth`.
    #[arg(long, global = true, env = "SLUICE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON instead of a human summary.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A server answer: its status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Remote {
    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(330)))
            .build()
            .into()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }

    /// Send a request; `body` is JSON text.
    pub fn request(&self, method: &str, path: &str, body: Option<String>) -> Result<Answer> {
        self.request_as(method, path, "application/json", body)
    }

    /// Like [`Remote::request`], with another JSON media type
    /// (`application/cloudevents+json`).
    pub fn request_as(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<String>,
    ) -> Result<Answer> {
        self.send(method, path, content_type, body.map(String::into_bytes))
    }

    /// Send raw bytes (an archive) with their media type; an error status
    /// becomes an error that shows the server's message.
    pub fn upload(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value> {
        let answer = self.send(method, path, content_type, Some(body))?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        Err(anyhow!(describe_error(&answer)))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer> {
        let url = self.url(path);
        let agent = self.agent();
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let auth = bearer.as_deref().unwrap_or("");
        let sent = match (method, body) {
            ("GET", _) => agent.get(&url).header("authorization", auth).call(),
            ("DELETE", _) => agent.delete(&url).header("authorization", auth).call(),
            ("PUT", b) => agent
                .put(&url)
                .header("authorization", auth)
                .header("content-type", content_type)
                .send(b.unwrap_or_default()),
            (_, b) => agent
                .post(&url)
                .header("authorization", auth)
                .header("content-type", content_type)
                .send(b.unwrap_or_else(|| b"{}".to_vec())),
        };
        let mut response = sent.map_err(|e| {
            anyhow!("cannot reach the Sluice server at {} ({e}); start it with `sluice serve` or pass --server URL", self.server)
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .context("reading the server's answer")?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer { status, body })
    }

    /// Like [`Remote::request`], turning an error status into an error that
    /// shows the server's message (and each problem of an invalid definition).
    pub fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<Value> {
        let answer = self.request(method, path, body)?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        Err(anyhow!(describe_error(&answer)))
    }
}

/// A readable rendering of an error answer `{"code","message","details"}`.
pub fn describe_error(answer: &Answer) -> String {
    let b = &answer.body;
    let mut text = match (
        b.get("code").and_then(Value::as_str),
        b.get("message").and_then(Value::as_str),
    ) {
        (Some(code), Some(message)) => format!("{message} ({code}, HTTP {})", answer.status),
        _ => format!("the server answered HTTP {}: {b}", answer.status),
    };
    if let Some(details) = b.get("details").and_then(Value::as_array) {
        for d in details {
            match (
                d.get("pointer").and_then(Value::as_str),
                d.get("message").and_then(Value::as_str),
            ) {
                (Some(p), Some(m)) => {
                    text.push_str(&format!("\n{}: {m}", if p.is_empty() { "/" } else { p }))
                }
                _ => text.push_str(&format!("\n{d}")),
            }
        }
    }
    text
}

/// Percent-encode one path segment (names are restricted, ids are UUIDs,
/// but tokens may carry anything).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
