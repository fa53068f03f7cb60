//! The records the engine's API returns (DESIGN.md, "REST"); serialized
//! as the REST API shows them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

use crate::ids::ExecutionId;

/// An execution's status (`GET /api/v1/executions/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        self != Status::Running
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "RUNNING" => Status::Running,
            "SUCCEEDED" => Status::Succeeded,
            "FAILED" => Status::Failed,
            "TIMED_OUT" => Status::TimedOut,
            "ABORTED" => Status::Aborted,
            _ => {
                return Err(format!(
                    "unknown status '{s}'; use RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"
                ))
            }
        })
    }
}

/// One execution as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub execution_id: ExecutionId,
    pub workflow: String,
    /// The workflow version this execution is pinned to.
    pub version: u64,
    /// The execution's name (unique per workflow; the id when none was given).
    pub name: String,
    pub status: Status,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// RFC 3339, milliseconds.
    pub started_at: String,
    pub stopped_at: Option<String>,
    /// How many times the execution was redriven.
    #[serde(default)]
    pub redrive_count: u32,
    /// The execution that started this one: set for the child executions
    /// of a Distributed Map and of `startExecution` tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
}

/// Where a child execution comes from (`Execution::parent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentLink {
    pub execution_id: String,
    /// The Map or Task state of the parent that started it.
    pub state: String,
    /// The item's index, for a Distributed Map's child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The map run it belongs to (a Distributed Map's child).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run_id: Option<String>,
}

/// `POST /api/v1/workflows/{name}/executions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    #[serde(default)]
    pub input: Value,
    /// Makes the start idempotent: the same name and input return the same execution.
    #[serde(default)]
    pub name: Option<String>,
}

/// A filter for listing executions, newest first.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub workflow: Option<String>,
    pub status: Option<Status>,
    /// 1 to 1000; default 100.
    pub limit: Option<usize>,
    /// From the previous page.
    pub next_token: Option<String>,
    /// Only executions started at or after this time (ms since the epoch).
    pub started_after_ms: Option<i64>,
    /// Only executions started before this time (ms since the epoch).
    pub started_before_ms: Option<i64>,
}

/// One page of executions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPage {
    pub executions: Vec<Execution>,
    pub next_token: Option<String>,
}

/// A workflow's type, fixed when it is first deployed (Step Functions'
/// `type`): `STANDARD` (the default) or `EXPRESS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowType {
    #[default]
    Standard,
    Express,
}

impl WorkflowType {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowType::Standard => "STANDARD",
            WorkflowType::Express => "EXPRESS",
        }
    }
}

impl fmt::Display for WorkflowType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkflowType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "STANDARD" => Ok(WorkflowType::Standard),
            "EXPRESS" => Ok(WorkflowType::Express),
            _ => Err(format!(
                "unknown workflow type '{s}'; use STANDARD or EXPRESS"
            )),
        }
    }
}

/// A deployed workflow version (`PUT /api/v1/workflows/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub name: String,
    pub version: u64,
}

/// A workflow with its versions and aliases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    pub name: String,
    /// Fixed at creation.
    #[serde(rename = "type", default)]
    pub kind: WorkflowType,
    pub latest_version: u64,
    pub versions: Vec<u64>,
    /// Alias name → routes (version, weight in percent).
    pub aliases: std::collections::BTreeMap<String, Vec<AliasRoute>>,
    pub definition: Value,
    pub updated_at: String,
    /// When the workflow was first deployed.
    #[serde(default)]
    pub created_at: String,
}

/// One version of a workflow: its number, definition and deploy time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub version: u64,
    pub definition: Value,
    pub created_at: String,
}

/// One route of an alias: a version and the share of starts it receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRoute {
    pub version: u64,
    /// Percent, 1 to 100; the routes of an alias add up to 100.
    pub weight: u32,
}
