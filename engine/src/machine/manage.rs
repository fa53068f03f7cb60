//! Management commands: aliases, and deleting workflows and executions.

use std::collections::BTreeSet;

use super::commands::check_name;
use super::Machine;
use crate::api::{AliasRoute, Status};
use crate::error::EngineError;
use crate::records::{ExecutionRecord, WorkflowMeta};
use crate::store::keys;

/// Most routes per alias (Step Functions allows two: a canary and the rest).
pub const MAX_ALIAS_ROUTES: usize = 2;

impl Machine<'_> {
    fn workflow_meta(&mut self, name: &str) -> Result<WorkflowMeta, EngineError> {
        self.tx
            .get(&keys::workflow(name))?
            .ok_or_else(|| EngineError::NotFound(format!("no workflow named '{name}'")))
    }

    /// Create or replace an alias routing starts to one or two versions.
    pub fn put_alias(
        &mut self,
        workflow: &str,
        alias: &str,
        routes: Vec<AliasRoute>,
    ) -> Result<(), EngineError> {
        check_name("alias name", alias)?;
        if alias.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EngineError::BadRequest(format!(
                "alias name '{alias}' is all digits, which reads as a version number in \
                 '{workflow}:{alias}'; start it with a letter"
            )));
        }
        let mut meta = self.workflow_meta(workflow)?;
        if routes.is_empty() || routes.len() > MAX_ALIAS_ROUTES {
            return Err(EngineError::BadRequest(format!(
                "/routes: give 1 or {MAX_ALIAS_ROUTES} routes, e.g. \
                 [{{\"version\": 2, \"weight\": 90}}, {{\"version\": 3, \"weight\": 10}}]"
            )));
        }
        let mut versions = BTreeSet::new();
        for (i, r) in routes.iter().enumerate() {
            if r.version >= 1 && r.version <= meta.latest_version && !meta.has_version(r.version) {
                return Err(EngineError::BadRequest(format!(
                    "/routes/{i}/version: version {} of workflow '{workflow}' was deleted",
                    r.version
                )));
            }
            if r.version == 0 || r.version > meta.latest_version {
                return Err(EngineError::BadRequest(format!(
                    "/routes/{i}/version: workflow '{workflow}' has no version {}; its versions are 1 to {}",
                    r.version, meta.latest_version
                )));
            }
            if r.weight == 0 || r.weight > 100 {
                return Err(EngineError::BadRequest(format!(
                    "/routes/{i}/weight: {} is not a percentage; use 1 to 100",
                    r.weight
                )));
            }
            if !versions.insert(r.version) {
                return Err(EngineError::BadRequest(format!(
                    "/routes/{i}/version: version {} is routed twice; give each version once",
                    r.version
                )));
            }
        }
        let total: u32 = routes.iter().map(|r| r.weight).sum();
        if total != 100 {
            return Err(EngineError::BadRequest(format!(
                "/routes: the weights add up to {total}; make them add up to 100"
            )));
        }
        meta.aliases.insert(alias.to_string(), routes);
        meta.updated_at = super::now_string(self.now);
        self.tx.put(keys::workflow(workflow), &meta)
    }

    /// False when there was no such alias.
    pub fn delete_alias(&mut self, workflow: &str, alias: &str) -> Result<bool, EngineError> {
        let mut meta = self.workflow_meta(workflow)?;
        if meta.aliases.remove(alias).is_none() {
            return Ok(false);
        }
        meta.updated_at = super::now_string(self.now);
        self.tx.put(keys::workflow(workflow), &meta)?;
        Ok(true)
    }

    /// Delete one version, as Step Functions' DeleteStateMachineVersion:
    /// it leaves the listings and can no longer be started by number or
    /// routed by an alias; executions that run it go on. False when there
    /// is no such version (or it was deleted before). An alias that routes
    /// to it makes this a conflict.
    pub fn delete_version(&mut self, workflow: &str, version: u64) -> Result<bool, EngineError> {
        let mut meta = self.workflow_meta(workflow)?;
        if !meta.has_version(version) {
            return Ok(false);
        }
        if version == meta.latest_version {
            // Every deploy is a version here: the latest is the workflow's
            // definition, which a deploy of the same definition or a
            // publish would name again.
            return Err(EngineError::Conflict(format!(
                "version {version} is the latest of workflow '{workflow}', its current definition; \
                 deploy a new definition first, then delete this version"
            )));
        }
        if let Some(alias) = meta
            .aliases
            .iter()
            .find(|(_, routes)| routes.iter().any(|r| r.version == version))
            .map(|(a, _)| a)
        {
            return Err(EngineError::Conflict(format!(
                "version {version} of workflow '{workflow}' is routed by the alias '{alias}'; \
                 point the alias at another version (or delete it) first"
            )));
        }
        meta.deleted_versions.insert(version);
        meta.updated_at = super::now_string(self.now);
        self.tx.put(keys::workflow(workflow), &meta)?;
        Ok(true)
    }

    /// Remove a workflow with all its versions and aliases. Its executions
    /// stay readable; a RUNNING one makes this a conflict (stop it first).
    pub fn delete_workflow(&mut self, workflow: &str) -> Result<(), EngineError> {
        let meta = self.workflow_meta(workflow)?;
        let mut running = 0usize;
        let mut example = None;
        for key in self.tx.keys_with_prefix("r/")? {
            let id = &key[2..];
            let rec: Option<ExecutionRecord> = match self.executions.get(id) {
                Some(r) => Some(r.clone()),
                None => self.tx.get(&keys::execution(id))?,
            };
            if rec.is_some_and(|r| r.execution.workflow == workflow) {
                running += 1;
                example.get_or_insert_with(|| id.to_string());
            }
        }
        if let Some(id) = example {
            return Err(EngineError::Conflict(format!(
                "workflow '{workflow}' has {running} RUNNING execution(s), e.g. {id}; \
                 stop them (POST /api/v1/executions/{{id}}/stop) before deleting it"
            )));
        }
        for v in 1..=meta.latest_version {
            self.tx.remove(keys::version(workflow, v));
        }
        self.tx.remove(keys::workflow(workflow));
        self.forget_definitions(workflow);
        Ok(())
    }

    /// Remove an execution that has ended, with its history and frames.
    pub fn delete_execution(&mut self, id: &str) -> Result<(), EngineError> {
        let rec = self.execution(id)?.clone();
        if rec.status() == Status::Running {
            return Err(EngineError::Conflict(format!(
                "execution {id} is RUNNING; stop it (POST /api/v1/executions/{id}/stop) before deleting it"
            )));
        }
        self.executions.remove(id);
        let e = &rec.execution;
        let prefixes = [
            keys::history_prefix(id),
            keys::frame_prefix(id),
            keys::variables_prefix(id),
            keys::children_prefix(id),
        ];
        for prefix in prefixes.into_iter().chain(keys::map_prefixes(id)) {
            for key in self.tx.keys_with_prefix(&prefix)? {
                self.tx.remove(key);
            }
        }
        // The name is freed only if it still points at this execution.
        let name_key = keys::name(&e.workflow, &e.name);
        if self.tx.get::<String>(&name_key)?.as_deref() == Some(id) {
            self.tx.remove(name_key);
        }
        let committed = self.committed_status.get(id).copied();
        crate::indexes::remove(&mut self.tx, &rec, committed);
        self.tx.remove(keys::execution(id));
        Ok(())
    }
}

impl Machine<'_> {
    /// Set aside a record that does not parse: its bytes move to
    /// `q/KEY`, so readers and recovery stop meeting it; an execution's
    /// running marker goes with its record. False when the record parses
    /// (again) or is gone.
    pub fn quarantine(&mut self, key: &str) -> Result<bool, EngineError> {
        let Some(bytes) = self.tx.get_raw(key)? else {
            return Ok(false);
        };
        if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
            return Ok(false);
        }
        tracing::error!(
            key,
            "a stored record does not parse; it is set aside under q/"
        );
        self.tx.put_raw(keys::quarantine(key), bytes);
        self.tx.remove(key.to_string());
        if let Some(id) = key.strip_prefix("e/") {
            self.tx.remove(keys::running(id));
            self.executions.remove(id);
        }
        Ok(true)
    }
}
