//! Identifiers that parse at the edge and print with `Display`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An execution's id: a UUID, unique across workflows. Version 7 (time
/// first, then random): the keys of an execution's record, history and
/// frames then sort by creation, so a burst of starts appends to the end
/// of the store's tree instead of touching leaves all over it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(String);

impl ExecutionId {
    pub fn new() -> Self {
        ExecutionId(uuid::Uuid::now_v7().to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ExecutionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ExecutionId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        uuid::Uuid::parse_str(s)
            .map(|u| ExecutionId(u.to_string()))
            .map_err(|_| format!("'{s}' is not an execution id (a UUID such as 0b6c…-…)"))
    }
}

/// The token of a task parked by `.waitForTaskToken`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    pub fn new(s: impl Into<String>) -> Self {
        TaskToken(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
