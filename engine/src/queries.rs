//! The read side: executions, history and workflows straight from sled
//! (the single writer never blocks readers).

use crate::api::{Execution, ExecutionPage, ListFilter, VersionInfo, Workflow};
use crate::error::EngineError;
use crate::history::HistoryEvent;
use crate::records::{ExecutionRecord, VersionRecord, WorkflowMeta};
use crate::runtime::Engine;
use crate::store::{get, history_events, history_events_text, keys, num};

/// Largest page of executions.
pub const MAX_PAGE: usize = 1000;

impl Engine {
    pub fn execution(&self, id: &str) -> Result<Execution, EngineError> {
        get::<ExecutionRecord>(self.tree(), &keys::execution(id))
            .inspect_err(|e| {
                if let EngineError::Corrupt { key, .. } = e {
                    self.report_corrupt(key);
                }
            })?
            .map(|r| r.execution)
            .ok_or_else(|| {
                let key = keys::execution(id);
                match self.tree().contains_key(keys::quarantine(&key).as_bytes()) {
                    Ok(true) => EngineError::Corrupt {
                        key,
                        reason: "it did not parse when it was read".into(),
                    },
                    _ => EngineError::NotFound(format!("no execution with id {id}")),
                }
            })
    }

    /// The child executions `id` started (Distributed Map items, Tasks'
    /// `startExecution`), oldest first, at most `limit`.
    pub fn children(&self, id: &str, limit: usize) -> Result<Vec<Execution>, EngineError> {
        self.execution(id)?;
        let mut out = Vec::new();
        for k in self
            .tree()
            .scan_prefix(keys::children_prefix(id).as_bytes())
            .keys()
        {
            if out.len() >= limit {
                break;
            }
            let k = k?;
            let child = String::from_utf8_lossy(&k);
            if let Some(child) = child.rsplit('/').next() {
                if let Ok(e) = self.execution(child) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    pub fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, EngineError> {
        if let Some(express) = self.express_history(id)? {
            return Ok(express);
        }
        let mut out = Vec::new();
        for v in self
            .tree()
            .scan_prefix(keys::history_prefix(id).as_bytes())
            .values()
        {
            out.extend(history_events(&v?)?);
        }
        Ok(out)
    }

    /// The history as the JSON text `{"events": […]}`, copied from the
    /// stored events without parsing them (they are stored as the API shows
    /// them): a 1,000-event history costs a key scan, not 1,000 parses.
    pub fn history_json(&self, id: &str) -> Result<Vec<u8>, EngineError> {
        if let Some(text) = self.express_history_text(id) {
            return Ok([&b"{\"events\":["[..], &text, b"]}"].concat());
        }
        if let Some(express) = self.express_history(id)? {
            return Ok(serde_json::to_vec(
                &serde_json::json!({ "events": express }),
            )?);
        }
        let mut out = b"{\"events\":[".to_vec();
        for (i, v) in self
            .tree()
            .scan_prefix(keys::history_prefix(id).as_bytes())
            .values()
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(history_events_text(&v?));
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }

    /// Executions, newest first, read from the listing indexes that match
    /// the filter (see `indexes.rs`): a page costs `limit` record reads, and
    /// without a workflow two seeks per workflow, whatever the store holds. `next_token` is the
    /// listing's label and the index suffix to continue below.
    pub fn list_executions(&self, filter: &ListFilter) -> Result<ExecutionPage, EngineError> {
        let limit = filter.limit.unwrap_or(100);
        if limit == 0 || limit > MAX_PAGE {
            return Err(EngineError::BadRequest(format!(
                "limit must be from 1 to {MAX_PAGE}"
            )));
        }
        let (workflow, status) = (filter.workflow.as_deref(), filter.status);
        // Bounds and tokens are on the `ms/id` suffix of the index keys; a
        // token starts with the listing's label, so another listing refuses it.
        let label = keys::listing_label(workflow, status);
        let lower = filter
            .started_after_ms
            .map(|ms| num(ms.max(0) as u64))
            .unwrap_or_default();
        // '~' sorts after every digit, so this is just past every suffix.
        let mut upper = filter
            .started_before_ms
            .map(|ms| num(ms.max(0) as u64))
            .unwrap_or_else(|| "~".to_string());
        if let Some(t) = &filter.next_token {
            match t.strip_prefix(&label) {
                Some(rest) => upper = upper.min(rest.to_string()),
                None => {
                    return Err(EngineError::BadRequest(
                        "nextToken is not one this server returned for these filters; start again without it".into(),
                    ))
                }
            }
        }
        let mut executions: Vec<(String, Execution)> = Vec::new();
        let mut next_token = None;
        if lower >= upper {
            return Ok(ExecutionPage {
                executions: Vec::new(),
                next_token,
            });
        }
        let prefixes = crate::indexes::listing_prefixes(self.tree(), workflow, status)?;
        for suffix in crate::indexes::newest_first(self.tree(), &prefixes, &lower, &upper) {
            let suffix = suffix?;
            let Some(id) = suffix.rsplit('/').next() else {
                continue;
            };
            let Ok(execution) = self.execution(id) else {
                continue;
            };
            if executions.len() == limit {
                // The next page continues below the last entry of this one.
                next_token = executions.last().map(|(k, _)| format!("{label}{k}"));
                break;
            }
            executions.push((suffix, execution));
        }
        Ok(ExecutionPage {
            executions: executions.into_iter().map(|(_, e)| e).collect(),
            next_token,
        })
    }

    /// How many executions match, counted on the listing indexes (keys
    /// only). An execution whose record was set aside as corrupt (`q/e/ID`)
    /// is not counted: its index keys stay (its workflow and start time
    /// were in the record that no longer parses), as they do for the
    /// listings, which skip it too.
    pub fn count_executions(
        &self,
        workflow: Option<&str>,
        status: Option<crate::api::Status>,
    ) -> Result<u64, EngineError> {
        let set_aside = self.set_aside_executions()?;
        let mut n = 0;
        for prefix in crate::indexes::listing_prefixes(self.tree(), workflow, status)? {
            for k in self.tree().scan_prefix(prefix.as_bytes()).keys() {
                let k = k?;
                if !set_aside.is_empty() && self.is_set_aside(&set_aside, &k)? {
                    continue;
                }
                n += 1;
            }
        }
        Ok(n)
    }

    /// The ids of the executions whose record is under `q/e/` (usually none).
    fn set_aside_executions(&self) -> Result<std::collections::HashSet<Vec<u8>>, EngineError> {
        let prefix = keys::quarantine(&keys::execution(""));
        let mut out = std::collections::HashSet::new();
        for k in self.tree().scan_prefix(prefix.as_bytes()).keys() {
            out.insert(k?[prefix.len()..].to_vec());
        }
        Ok(out)
    }

    /// Whether the index key `k` (`…/STARTED/ID`) names a set-aside
    /// execution that no new record has replaced.
    fn is_set_aside(
        &self,
        set_aside: &std::collections::HashSet<Vec<u8>>,
        k: &[u8],
    ) -> Result<bool, EngineError> {
        let id = k.rsplit(|&b| b == b'/').next().unwrap_or(k);
        if !set_aside.contains(id) {
            return Ok(false);
        }
        let id = String::from_utf8_lossy(id);
        Ok(!self.tree().contains_key(keys::execution(&id).as_bytes())?)
    }

    pub fn workflow(&self, name: &str) -> Result<Workflow, EngineError> {
        let meta: WorkflowMeta = get(self.tree(), &keys::workflow(name))?
            .ok_or_else(|| EngineError::NotFound(format!("no workflow named '{name}'")))?;
        let latest: VersionRecord = get(self.tree(), &keys::version(name, meta.latest_version))?
            .ok_or_else(|| {
                EngineError::Storage(format!("workflow '{name}' lost its latest version"))
            })?;
        let versions = (1..=meta.latest_version)
            .filter(|v| meta.has_version(*v))
            .collect();
        let created_at = match meta.created_at {
            Some(at) => at,
            None => get::<VersionRecord>(self.tree(), &keys::version(name, 1))?
                .map_or_else(|| latest.created_at.clone(), |v| v.created_at),
        };
        Ok(Workflow {
            name: meta.name,
            kind: meta.kind,
            latest_version: meta.latest_version,
            versions,
            aliases: meta.aliases,
            definition: latest.definition,
            updated_at: meta.updated_at,
            created_at,
        })
    }

    /// Every version of a workflow, oldest first.
    pub fn workflow_versions(&self, name: &str) -> Result<Vec<VersionInfo>, EngineError> {
        let versions = self.workflow(name)?.versions;
        let mut out = Vec::new();
        for v in versions {
            let key = keys::version(name, v);
            let rec: VersionRecord =
                get(self.tree(), &key)?.ok_or_else(|| EngineError::Corrupt {
                    key,
                    reason: "the version record is missing".into(),
                })?;
            out.push(VersionInfo {
                version: v,
                definition: rec.definition,
                created_at: rec.created_at,
            });
        }
        Ok(out)
    }

    /// The execution named `name` of `workflow` (names are unique per
    /// workflow; an execution started without one is named by its id).
    pub fn execution_named(&self, workflow: &str, name: &str) -> Result<Execution, EngineError> {
        let id: String = get(self.tree(), &keys::name(workflow, name))?.ok_or_else(|| {
            EngineError::NotFound(format!(
                "workflow '{workflow}' has no execution named '{name}'"
            ))
        })?;
        self.execution(&id)
    }

    /// One version with its deploy time, deleted or not: an execution
    /// still names the version it ran.
    pub fn workflow_version_info(
        &self,
        name: &str,
        version: u64,
    ) -> Result<VersionInfo, EngineError> {
        get::<VersionRecord>(self.tree(), &keys::version(name, version))?
            .map(|rec| VersionInfo {
                version,
                definition: rec.definition,
                created_at: rec.created_at,
            })
            .ok_or_else(|| {
                EngineError::NotFound(format!("workflow '{name}' has no version {version}"))
            })
    }

    /// One version's definition (deleted versions too, see
    /// [`Engine::workflow_version_info`]).
    pub fn workflow_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<serde_json::Value, EngineError> {
        self.workflow_version_info(name, version)
            .map(|v| v.definition)
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
