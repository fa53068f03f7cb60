//! Catalog commands: put and delete versioned documents, point aliases.

use serde_json::Value;

use super::commands::check_name;
use super::{now_string, Machine};
use crate::catalog::{Document, DocumentMeta};
use crate::error::EngineError;
use crate::store::keys;

/// Kinds the catalog holds; anything else is a programming error upstream,
/// reported rather than stored.
/// `aws-state-machine`: what the Step Functions protocol keeps beside a
/// workflow (role ARN, tags, descriptions); `aws-event-rule`: an
/// EventBridge rule with its targets (its triggers are `trigger`s);
/// `aws-function`: what the Lambda protocol keeps beside a function
/// (runtime name, role, tags).
const KINDS: [&str; 6] = [
    "function",
    "trigger",
    "source",
    "aws-state-machine",
    "aws-event-rule",
    "aws-function",
];

fn check_kind(kind: &str) -> Result<(), EngineError> {
    if KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(EngineError::BadRequest(format!(
            "unknown document kind '{kind}'; use one of {}",
            KINDS.join(", ")
        )))
    }
}

impl Machine<'_> {
    /// A new version when `body` differs from the latest; the latest,
    /// unchanged, when it is the same (so `apply -f` is idempotent).
    pub fn put_document(
        &mut self,
        kind: &str,
        name: &str,
        body: Value,
    ) -> Result<(Document, bool), EngineError> {
        check_kind(kind)?;
        check_name(&format!("{kind} name"), name)?;
        let meta_key = keys::document(kind, name);
        let mut meta: DocumentMeta = self.tx.get(&meta_key)?.unwrap_or_default();
        if meta.latest_version > 0 {
            let latest: Option<Document> =
                self.tx
                    .get(&keys::document_version(kind, name, meta.latest_version))?;
            if let Some(latest) = latest.filter(|d| d.body == body) {
                return Ok((latest, false));
            }
        }
        meta.latest_version += 1;
        let doc = Document {
            kind: kind.to_string(),
            name: name.to_string(),
            version: meta.latest_version,
            body,
            updated_at: now_string(self.now),
        };
        self.tx
            .put(keys::document_version(kind, name, doc.version), &doc)?;
        self.tx.put(meta_key, &meta)?;
        if kind == "trigger" {
            self.triggers_changed();
        }
        Ok((doc, true))
    }

    /// Removes every version and alias; false when there was nothing.
    pub fn delete_document(&mut self, kind: &str, name: &str) -> Result<bool, EngineError> {
        check_kind(kind)?;
        let meta_key = keys::document(kind, name);
        if self.tx.get::<DocumentMeta>(&meta_key)?.is_none() {
            return Ok(false);
        }
        for key in self
            .tx
            .keys_with_prefix(&keys::document_version_prefix(kind, name))?
        {
            self.tx.remove(key);
        }
        self.tx.remove(meta_key);
        if kind == "trigger" {
            self.triggers_changed();
        }
        Ok(true)
    }

    pub fn put_document_alias(
        &mut self,
        kind: &str,
        name: &str,
        alias: &str,
        version: u64,
    ) -> Result<(), EngineError> {
        check_kind(kind)?;
        check_name("alias name", alias)?;
        if alias.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EngineError::BadRequest(format!(
                "alias name '{alias}' is all digits, which reads as a version number; start it with a letter"
            )));
        }
        let meta_key = keys::document(kind, name);
        let mut meta: DocumentMeta = self
            .tx
            .get(&meta_key)?
            .ok_or_else(|| EngineError::NotFound(format!("no {kind} named '{name}'")))?;
        if version == 0 || version > meta.latest_version {
            return Err(EngineError::NotFound(format!(
                "{kind} '{name}' has no version {version}; its versions are 1 to {}",
                meta.latest_version
            )));
        }
        meta.aliases.insert(alias.to_string(), version);
        self.tx.put(meta_key, &meta)
    }

    /// Remove `alias` of a document; the version it pointed at, or `None`
    /// when the document has no such alias.
    pub fn delete_document_alias(
        &mut self,
        kind: &str,
        name: &str,
        alias: &str,
    ) -> Result<Option<u64>, EngineError> {
        check_kind(kind)?;
        let meta_key = keys::document(kind, name);
        let mut meta: DocumentMeta = self
            .tx
            .get(&meta_key)?
            .ok_or_else(|| EngineError::NotFound(format!("no {kind} named '{name}'")))?;
        let Some(version) = meta.aliases.remove(alias) else {
            return Ok(None);
        };
        self.tx.put(meta_key, &meta)?;
        Ok(Some(version))
    }
}
