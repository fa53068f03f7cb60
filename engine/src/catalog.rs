//! The catalog: named, versioned JSON documents by kind (`function`,
//! `trigger`, `source`). The single writer stores them, so the machine can
//! react to a change in the same order as everything else; readers read
//! sled directly. Callers validate bodies (with the `dsl` types) before
//! putting them: the catalog stores what it is given.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::error::EngineError;
use crate::runtime::Engine;
use crate::store::{get, keys};

/// One version of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub kind: String,
    pub name: String,
    pub version: u64,
    pub body: Value,
    /// RFC 3339, when this version was stored.
    pub updated_at: String,
}

/// A put or delete, announced once it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentChange {
    pub kind: String,
    pub name: String,
    /// The version now current; `None` when the document was deleted.
    pub version: Option<u64>,
}

/// Per document: its latest version and its aliases.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct DocumentMeta {
    pub latest_version: u64,
    pub aliases: BTreeMap<String, u64>,
}

impl Engine {
    /// `version: None` = the latest.
    pub fn document(
        &self,
        kind: &str,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<Document>, EngineError> {
        let version = match version {
            Some(v) => v,
            None => match get::<DocumentMeta>(self.tree(), &keys::document(kind, name))? {
                Some(meta) => meta.latest_version,
                None => return Ok(None),
            },
        };
        get(self.tree(), &keys::document_version(kind, name, version))
    }

    /// The latest version of each document of `kind`, by name.
    pub fn documents(&self, kind: &str) -> Result<Vec<Document>, EngineError> {
        let prefix = keys::document_prefix(kind);
        let mut out = Vec::new();
        for item in self.tree().scan_prefix(prefix.as_bytes()) {
            let (k, v) = item?;
            let meta: DocumentMeta = serde_json::from_slice(&v)?;
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(doc) = get(
                self.tree(),
                &keys::document_version(kind, &name, meta.latest_version),
            )? {
                out.push(doc);
            }
        }
        Ok(out)
    }

    /// Every stored version of one document, oldest first.
    pub fn document_versions(&self, kind: &str, name: &str) -> Result<Vec<Document>, EngineError> {
        let mut out = Vec::new();
        for v in self
            .tree()
            .scan_prefix(keys::document_version_prefix(kind, name).as_bytes())
            .values()
        {
            out.push(serde_json::from_slice(&v?)?);
        }
        Ok(out)
    }

    pub fn document_alias(
        &self,
        kind: &str,
        name: &str,
        alias: &str,
    ) -> Result<Option<u64>, EngineError> {
        Ok(
            get::<DocumentMeta>(self.tree(), &keys::document(kind, name))?
                .and_then(|m| m.aliases.get(alias).copied()),
        )
    }

    /// A document's aliases and the versions they point at, by alias.
    pub fn document_aliases(
        &self,
        kind: &str,
        name: &str,
    ) -> Result<Vec<(String, u64)>, EngineError> {
        Ok(
            get::<DocumentMeta>(self.tree(), &keys::document(kind, name))?
                .map(|m| m.aliases.into_iter().collect())
                .unwrap_or_default(),
        )
    }

    /// Every put and delete, after it is durable. A slow receiver that
    /// lags loses the oldest changes (`RecvError::Lagged`) and should
    /// reload with [`Engine::documents`].
    pub fn watch_documents(&self) -> tokio::sync::broadcast::Receiver<DocumentChange> {
        self.document_changes().subscribe()
    }
}
