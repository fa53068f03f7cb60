//! The read side: executions, history and workflows straight from sled
//! (the single writer never blocks readers).

use crate::api::{Execution, ExecutionPage, ListFilter, Workflow};
use crate::error::EngineError;
use crate::history::HistoryEvent;
use crate::records::{ExecutionRecord, VersionRecord, WorkflowMeta};
use crate::runtime::Engine;
use crate::store::{get, keys};

/// Largest page of executions.
pub const MAX_PAGE: usize = 1000;

impl Engine {
    pub fn execution(&self, id: &str) -> Result<Execution, EngineError> {
        get::<ExecutionRecord>(self.tree(), &keys::execution(id))?
            .map(|r| r.execution)
            .ok_or_else(|| EngineError::NotFound(format!("no execution with id {id}")))
    }

    pub fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, EngineError> {
        self.execution(id)?;
        let mut out = Vec::new();
        for v in self
            .tree()
            .scan_prefix(keys::history_prefix(id).as_bytes())
            .values()
        {
            out.push(serde_json::from_slice(&v?)?);
        }
        Ok(out)
    }

    /// Executions, newest first. `next_token` is the index key to continue
    /// below.
    pub fn list_executions(&self, filter: &ListFilter) -> Result<ExecutionPage, EngineError> {
        let limit = filter.limit.unwrap_or(100);
        if limit == 0 || limit > MAX_PAGE {
            return Err(EngineError::BadRequest(format!(
                "limit must be from 1 to {MAX_PAGE}"
            )));
        }
        let upper = match &filter.next_token {
            Some(t) if t.starts_with("i/") => t.clone(),
            Some(_) => {
                return Err(EngineError::BadRequest(
                    "nextToken is not one this server returned".into(),
                ))
            }
            None => "i0".to_string(), // just past every "i/…" key
        };
        let mut executions = Vec::new();
        let mut next_token = None;
        for item in self.tree().range("i/".as_bytes()..upper.as_bytes()).rev() {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            if let Some(w) = &filter.workflow {
                let workflow: String = serde_json::from_slice(&v)?;
                if &workflow != w {
                    continue;
                }
            }
            let Some(id) = key.rsplit('/').next() else {
                continue;
            };
            let Ok(execution) = self.execution(id) else {
                continue;
            };
            if filter.status.is_some_and(|s| s != execution.status) {
                continue;
            }
            if executions.len() == limit {
                // The next page continues below the last entry of this one.
                next_token = executions
                    .last()
                    .map(|(k, _): &(String, Execution)| k.clone());
                break;
            }
            executions.push((key, execution));
        }
        Ok(ExecutionPage {
            executions: executions.into_iter().map(|(_, e)| e).collect(),
            next_token,
        })
    }

    pub fn workflow(&self, name: &str) -> Result<Workflow, EngineError> {
        let meta: WorkflowMeta = get(self.tree(), &keys::workflow(name))?
            .ok_or_else(|| EngineError::NotFound(format!("no workflow named '{name}'")))?;
        let latest: VersionRecord = get(self.tree(), &keys::version(name, meta.latest_version))?
            .ok_or_else(|| {
                EngineError::Storage(format!("workflow '{name}' lost its latest version"))
            })?;
        Ok(Workflow {
            name: meta.name,
            latest_version: meta.latest_version,
            versions: (1..=meta.latest_version).collect(),
            aliases: meta.aliases,
            definition: latest.definition,
            updated_at: meta.updated_at,
        })
    }

    /// One version's definition.
    pub fn workflow_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<serde_json::Value, EngineError> {
        get::<VersionRecord>(self.tree(), &keys::version(name, version))?
            .map(|v| v.definition)
            .ok_or_else(|| {
                EngineError::NotFound(format!("workflow '{name}' has no version {version}"))
            })
    }

    pub fn workflows(&self) -> Result<Vec<Workflow>, EngineError> {
        let mut out = Vec::new();
        for k in self.tree().scan_prefix(b"w/").keys() {
            let k = k?;
            out.push(self.workflow(&String::from_utf8_lossy(&k[2..]))?);
        }
        Ok(out)
    }
}
