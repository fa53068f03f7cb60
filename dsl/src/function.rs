//! Function definitions (DESIGN.md, "Function"): what a Task runs, and with
//! which limits. Parsed strictly; the executors issue adds the runtimes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::error::Problems;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Process,
    Wasm,
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// A long-lived process speaking the AWS Lambda Runtime API.
    #[default]
    Lambda,
    /// A fresh process per invocation: event on stdin, result on stdout.
    Stdio,
}

fn default_memory() -> u64 {
    128
}
fn default_timeout() -> u64 {
    30
}
fn default_concurrency() -> u64 {
    10
}
fn default_max_queued() -> u64 {
    100
}
fn default_idle_seconds() -> u64 {
    300
}

/// One function definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionDef {
    /// Unique name; Task states refer to it as `sluice:function:NAME`.
    pub name: String,
    pub runtime: Runtime,
    #[serde(default)]
    pub description: Option<String>,
    /// Memory limit in MiB.
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    /// Wall-clock limit of one invocation, in seconds → `States.Timeout`.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Maximum invocations in flight.
    #[serde(default = "default_concurrency")]
    pub concurrency: u64,
    /// Invocations that may wait for a free slot when `concurrency` are in
    /// flight; one more fails at once with `Sluice.Throttled`.
    #[serde(default = "default_max_queued")]
    pub max_queued: u64,
    /// Warm instances kept ready (`process` + `lambda`).
    #[serde(default)]
    pub provisioned: u64,
    /// Idle warm instances above `provisioned` stop after this many seconds
    /// (scale to zero).
    #[serde(default = "default_idle_seconds")]
    pub idle_seconds: u64,
    /// `process` + `lambda`: the `_HANDLER` variable (e.g. `app.handler`);
    /// defaults to the last word of `command`.
    #[serde(default)]
    pub handler: Option<String>,
    /// Environment of the function (nothing else of the engine's leaks in).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether the sandbox may reach the network.
    #[serde(default)]
    pub network: bool,
    /// `process`: the command line.
    #[serde(default)]
    pub command: Vec<String>,
    /// `process`: the code folder (absolute, or relative to the definition file).
    #[serde(default)]
    pub code_dir: Option<String>,
    /// `process`: `lambda` (default) or `stdio`.
    #[serde(default)]
    pub protocol: Protocol,
    /// `wasm`: path of the WASI command module.
    #[serde(default)]
    pub module: Option<String>,
    /// `http`: the endpoint the event is POSTed to.
    #[serde(default)]
    pub url: Option<String>,
}

impl FunctionDef {
    /// Parse and check a definition; every problem is reported with its pointer.
    pub fn from_value(v: &Value) -> Result<FunctionDef, Problems> {
        let mut problems = Problems::default();
        let def: FunctionDef = match serde_json::from_value(v.clone()) {
            Ok(d) => d,
            Err(e) => {
                let msg = e.to_string();
                let field = msg
                    .split('`')
                    .nth(1)
                    .map(|f| format!("/{f}"))
                    .unwrap_or_default();
                problems.push(
                    field,
                    format!("{msg}; see DESIGN.md \"Function\" for the fields"),
                );
                return Err(problems);
            }
        };
        if crate::resource::ResourceRef::parse(&format!("sluice:function:{}", def.name)).is_err() {
            problems.push(
                "/name",
                "a function name uses letters, digits, '-' and '_' (at most 64)",
            );
        }
        if def.memory_mb == 0 {
            problems.push("/memoryMb", "memoryMb must be at least 1");
        }
        if def.timeout_seconds == 0 {
            problems.push("/timeoutSeconds", "timeoutSeconds must be at least 1");
        }
        if def.idle_seconds == 0 {
            problems.push("/idleSeconds", "idleSeconds must be at least 1");
        }
        if def.concurrency == 0 {
            problems.push("/concurrency", "concurrency must be at least 1");
        }
        match def.runtime {
            Runtime::Process if def.command.is_empty() => problems.push(
                "/command",
                "a process function needs 'command', e.g. [\"python3\", \"handler.py\"]",
            ),
            Runtime::Wasm if def.module.is_none() => {
                problems.push("/module", "a wasm function needs 'module': the .wasm file")
            }
            Runtime::Http if def.url.is_none() => {
                problems.push("/url", "an http function needs 'url'")
            }
            _ => {}
        }
        if problems.is_empty() {
            Ok(def)
        } else {
            Err(problems)
        }
    }
}
