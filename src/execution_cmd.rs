//! `sluice execution …`: start, inspect, stop and redrive executions on a server.

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::process::ExitCode;

use crate::client::{describe_error, segment, Remote};
use crate::workflow_cmd::json_arg;

#[derive(Subcommand)]
pub enum ExecutionCommand {
    /// Start an execution of a deployed workflow (NAME, NAME:VERSION or NAME:ALIAS).
    Start {
        workflow: String,
        /// Input: JSON text, or @FILE.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Execution name: starting again with the same name and input
        /// returns the same execution.
        #[arg(long)]
        name: Option<String>,
        /// Wait up to this many seconds for the execution to end and print it.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// Show an execution: status, input, output, error.
    Describe { id: String },
    /// List executions, newest first.
    List {
        #[arg(long)]
        workflow: Option<String>,
        /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
        #[arg(long)]
        status: Option<String>,
        /// 1 to 1000.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// From the previous page's output.
        #[arg(long)]
        next_token: Option<String>,
    },
    /// Show an execution's history, event by event.
    History { id: String },
    /// Stop a running execution (it becomes ABORTED).
    Stop {
        id: String,
        #[arg(long)]
        error: Option<String>,
        #[arg(long)]
        cause: Option<String>,
    },
    /// Resume a FAILED, TIMED_OUT or ABORTED execution from where it stopped.
    Redrive { id: String },
    /// Delete an execution that has ended, with its history.
    Delete { id: String },
}

fn print_execution(e: &Value) {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    println!("execution  {}", s("executionId"));
    println!(
        "workflow   {} (version {})",
        s("workflow"),
        e.get("version").unwrap_or(&Value::Null)
    );
    println!("status     {}", s("status"));
    println!("started    {}", s("startedAt"));
    if e.get("stoppedAt").is_some_and(|v| !v.is_null()) {
        println!("stopped    {}", s("stoppedAt"));
    }
    println!("input      {}", e.get("input").unwrap_or(&Value::Null));
    if e.get("output").is_some_and(|v| !v.is_null()) {
        println!("output     {}", e["output"]);
    }
    if e.get("error").is_some_and(|v| !v.is_null()) {
        println!("error      {}", s("error"));
        println!("cause      {}", s("cause"));
    }
}

pub fn run(cmd: ExecutionCommand, remote: &Remote) -> Result<ExitCode> {
    let out = |v: &Value, human: &dyn Fn(&Value)| {
        if remote.json {
            println!("{v}");
        } else {
            human(v);
        }
    };
    match cmd {
        ExecutionCommand::Start {
            workflow,
            input,
            name,
            wait,
        } => {
            let mut body = json!({ "input": json_arg(&input, "--input")? });
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            let path = match wait {
                Some(s) => format!(
                    "/api/v1/workflows/{}/executions?wait={s}",
                    segment(&workflow)
                ),
                None => format!("/api/v1/workflows/{}/executions", segment(&workflow)),
            };
            let answer = remote.request("POST", &path, Some(body.to_string()))?;
            if !(200..300).contains(&answer.status) {
                bail!(describe_error(&answer));
            }
            let finished = answer.body.get("status").is_some();
            out(&answer.body, &|v| {
                if finished {
                    print_execution(v)
                } else {
                    println!("{}", v["executionId"].as_str().unwrap_or_default());
                }
            });
            let failed = answer
                .body
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s != "SUCCEEDED");
            return Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
        ExecutionCommand::Describe { id } => {
            let v = remote.call("GET", &format!("/api/v1/executions/{}", segment(&id)), None)?;
            out(&v, &print_execution);
        }
        ExecutionCommand::List {
            workflow,
            status,
            limit,
            next_token,
        } => {
            let mut query = vec![format!("limit={limit}")];
            if let Some(w) = workflow {
                query.push(format!("workflow={}", segment(&w)));
            }
            if let Some(s) = status {
                query.push(format!("status={}", segment(&s)));
            }
            if let Some(t) = next_token {
                query.push(format!("nextToken={}", segment(&t)));
            }
            let v = remote.call(
                "GET",
                &format!("/api/v1/executions?{}", query.join("&")),
                None,
            )?;
            out(&v, &|v| {
                for e in v["executions"].as_array().into_iter().flatten() {
                    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("-");
                    println!(
                        "{}  {:<9}  {}  {}",
                        s("executionId"),
                        s("status"),
                        s("startedAt"),
                        s("workflow")
                    );
                }
                if let Some(t) = v.get("nextToken").and_then(Value::as_str) {
                    println!("more: --next-token {t}");
                }
            });
        }
        ExecutionCommand::History { id } => {
            let v = remote.call(
                "GET",
                &format!("/api/v1/executions/{}/history", segment(&id)),
                None,
            )?;
            out(&v, &|v| {
                for e in v["events"].as_array().into_iter().flatten() {
                    let mut detail = e.clone();
                    if let Some(m) = detail.as_object_mut() {
                        for k in ["id", "previousEventId", "timestamp", "type"] {
                            m.remove(k);
                        }
                    }
                    println!(
                        "{:>4}  {}  {:<28} {}",
                        e["id"],
                        e["timestamp"].as_str().unwrap_or_default(),
                        e["type"].as_str().unwrap_or_default(),
                        detail
                    );
                }
            });
        }
        ExecutionCommand::Stop { id, error, cause } => {
            let body = json!({ "error": error, "cause": cause }).to_string();
            let v = remote.call(
                "POST",
                &format!("/api/v1/executions/{}/stop", segment(&id)),
                Some(body),
            )?;
            out(&v, &print_execution);
        }
        ExecutionCommand::Redrive { id } => {
            let v = remote.call(
                "POST",
                &format!("/api/v1/executions/{}/redrive", segment(&id)),
                None,
            )?;
            out(&v, &print_execution);
        }
        ExecutionCommand::Delete { id } => {
            remote.call(
                "DELETE",
                &format!("/api/v1/executions/{}", segment(&id)),
                None,
            )?;
            println!("deleted execution {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
