//! `sluice source …`: list the source bindings of a server with their live
//! status, and check one's connection from the server.

use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;
use std::process::ExitCode;

use crate::client::{segment, Remote};

#[derive(Subcommand)]
pub enum SourceCommand {
    /// List the sources: kind, connected, lag, counts, last error.
    List,
    /// Check that the server reaches the source's broker (and that its
    /// queue/topics exist, or its schedule parses). Exit 0 when it does, 1 when not.
    Test { name: String },
}

pub fn run(cmd: SourceCommand, remote: &Remote) -> Result<ExitCode> {
    match cmd {
        SourceCommand::List => {
            let v = remote.call("GET", "/api/v1/sources", None)?;
            if remote.json {
                println!("{v}");
                return Ok(ExitCode::SUCCESS);
            }
            let sources = v["sources"].as_array().cloned().unwrap_or_default();
            if sources.is_empty() {
                println!(
                    "no sources (PUT /api/v1/sources/NAME or `sluice apply -f DIR` with sources/)"
                );
            }
            for s in sources {
                let st = &s["status"];
                let text = |v: &Value| match v {
                    Value::Null => "-".to_string(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let state = if s["enabled"] == Value::Bool(false) {
                    "disabled"
                } else if st.is_null() {
                    "not running"
                } else if st["connected"] == Value::Bool(true) {
                    "connected"
                } else {
                    "disconnected"
                };
                println!(
                    "{:<24} {:<6} {:<13} lag={} received={} acked={} deadLettered={} failures={}",
                    text(&s["name"]),
                    text(&s["kind"]),
                    state,
                    text(&st["lag"]),
                    text(&st["received"]),
                    text(&st["acked"]),
                    text(&st["deadLettered"]),
                    text(&st["failures"]),
                );
                if let Some(e) = st["lastError"].as_str() {
                    println!("{:<24} last error: {e}", "");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::Test { name } => {
            let v = remote.call(
                "POST",
                &format!("/api/v1/sources/{}/test", segment(&name)),
                None,
            )?;
            if remote.json {
                println!("{v}");
            }
            let ok = v["ok"] == Value::Bool(true);
            let message = v["message"].as_str().unwrap_or("");
            if !remote.json {
                if ok {
                    println!("ok: {message}");
                } else {
                    println!("failed: {message}");
                }
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
