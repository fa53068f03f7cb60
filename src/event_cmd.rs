//! `sluice event send` (a CloudEvent to `POST /api/v1/events`), `sluice
//! trigger …` (trigger rules on a server) and `sluice deadletter …` (the
//! dead-letter inbox).

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{describe_error, segment, Remote};
use crate::workflow_cmd::json_arg;

#[derive(Subcommand)]
pub enum EventCommand {
    /// Send one CloudEvent (structured mode) and print what it started.
    Send {
        /// The CloudEvent `type`, e.g. order.created.
        #[arg(long = "type")]
        kind: String,
        /// The CloudEvent `source`, e.g. shop/web.
        #[arg(long)]
        source: String,
        /// The payload: JSON text, or @FILE.
        #[arg(long, default_value = "null")]
        data: String,
        /// The CloudEvent `id`; the same source and id again is a duplicate.
        /// Default: a new UUID.
        #[arg(long)]
        id: Option<String>,
        /// The CloudEvent `subject`.
        #[arg(long)]
        subject: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TriggerCommand {
    /// Store a trigger rule from a file (`{"name","pattern","workflow","input"?}`).
    Put { file: PathBuf },
    /// List trigger rules.
    List,
    /// Show a trigger rule.
    Get { name: String },
    /// Delete a trigger rule.
    Delete { name: String },
}

#[derive(Subcommand)]
pub enum DeadLetterCommand {
    /// List the dead-letter inbox, oldest first.
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Delete one dead letter, or all with --all.
    Delete {
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

fn print(remote: &Remote, v: &Value) {
    if remote.json {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
}

pub fn run_event(cmd: EventCommand, remote: &Remote) -> Result<ExitCode> {
    let EventCommand::Send {
        kind,
        source,
        data,
        id,
        subject,
    } = cmd;
    let mut event = json!({
        "specversion": "1.0",
        "id": id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        "source": source,
        "type": kind,
        "time": chrono::Utc::now().to_rfc3339(),
        "datacontenttype": "application/json",
        "data": json_arg(&data, "--data")?,
    });
    if let Some(s) = subject {
        event["subject"] = json!(s);
    }
    let answer = remote.request_as(
        "POST",
        "/api/v1/events",
        "application/cloudevents+json",
        Some(event.to_string()),
    )?;
    if !(200..300).contains(&answer.status) {
        bail!(describe_error(&answer));
    }
    let result = answer.body["results"][0].clone();
    if remote.json {
        println!("{result}");
    } else {
        let outcome = result["outcome"].as_str().unwrap_or("?");
        match outcome {
            "deadLettered" => {
                println!("dead-lettered: {}", result["reason"].as_str().unwrap_or(""))
            }
            _ => {
                let ids: Vec<&str> = result["executionIds"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                println!(
                    "{outcome} {}: {} execution(s) {}",
                    event["id"].as_str().unwrap_or(""),
                    ids.len(),
                    ids.join(" ")
                );
            }
        }
    }
    Ok(if result["outcome"] == "deadLettered" {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn run_trigger(cmd: TriggerCommand, remote: &Remote) -> Result<ExitCode> {
    match cmd {
        TriggerCommand::Put { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let v: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", file.display()))?;
            let Some(name) = v.get("name").and_then(Value::as_str) else {
                bail!("{} needs a \"name\" field", file.display());
            };
            let answer = remote.call(
                "PUT",
                &format!("/api/v1/triggers/{}", segment(name)),
                Some(text.clone()),
            )?;
            print(remote, &answer);
        }
        TriggerCommand::List => print(remote, &remote.call("GET", "/api/v1/triggers", None)?),
        TriggerCommand::Get { name } => print(
            remote,
            &remote.call("GET", &format!("/api/v1/triggers/{}", segment(&name)), None)?,
        ),
        TriggerCommand::Delete { name } => {
            remote.call(
                "DELETE",
                &format!("/api/v1/triggers/{}", segment(&name)),
                None,
            )?;
            println!("trigger {name}: deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_deadletter(cmd: DeadLetterCommand, remote: &Remote) -> Result<ExitCode> {
    match cmd {
        DeadLetterCommand::List { limit } => print(
            remote,
            &remote.call("GET", &format!("/api/v1/deadletters?limit={limit}"), None)?,
        ),
        DeadLetterCommand::Delete { all: true, .. } => {
            print(remote, &remote.call("DELETE", "/api/v1/deadletters", None)?)
        }
        DeadLetterCommand::Delete { id: Some(id), .. } => {
            remote.call(
                "DELETE",
                &format!("/api/v1/deadletters/{}", segment(&id)),
                None,
            )?;
            println!("dead letter {id}: deleted");
        }
        DeadLetterCommand::Delete { id: None, .. } => {
            bail!("name the dead letter's id, or pass --all")
        }
    }
    Ok(ExitCode::SUCCESS)
}
