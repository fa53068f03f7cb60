//! The function executors of `sluice serve`: definitions come from the
//! engine's catalog (kind `function`; `--functions DIR` puts a folder's
//! definitions there at start-up), and every change to the catalog is
//! applied to the running executors.

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

use sluice_console::functions::KIND;
use sluice_console::FunctionHost;
use sluice_dsl::function::FunctionDef;
use sluice_engine::Engine;
use sluice_executors::package::PackageStore;
use sluice_executors::{Caller, Deployed, Functions};

/// Put every definition of `dir` into the catalog (a new version only when
/// it changed), with its relative paths made absolute.
pub async fn preload(engine: &Engine, packages: &PackageStore, dir: &Path) -> Result<usize> {
    let loaded = sluice_executors::load_dir(dir)?;
    for d in &loaded {
        if let Some(p) = d
            .def
            .package
            .as_deref()
            .filter(|p| packages.get(p).is_none())
        {
            anyhow::bail!(
                "function '{}' in {} names package {p}, which this server does not have; upload it first (sluice function deploy FILE --package PATH)",
                d.def.name,
                dir.display()
            );
        }
        let body = serde_json::to_value(&d.def).context("encoding a definition")?;
        let body = sluice_executors::absolute_body(
            &body,
            &dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
        );
        engine
            .put_document(KIND, &d.def.name, body)
            .await
            .with_context(|| format!("cannot store function '{}'", d.def.name))?;
    }
    Ok(loaded.len())
}

/// Load every version and alias of `name` from the catalog into the
/// executors; a version with a package runs in the package's folder.
fn sync_one(
    engine: &Engine,
    functions: &Functions,
    packages: &PackageStore,
    name: &str,
) -> Result<()> {
    let versions = engine.document_versions(KIND, name)?;
    if versions.is_empty() {
        functions.remove(name);
        return Ok(());
    }
    let mut deployed = Vec::new();
    for doc in versions {
        match FunctionDef::from_value(&doc.body) {
            Ok(def) => {
                let base = super::packages::base(packages, &def);
                deployed.push(Deployed::new(def, Some(doc.version), &base))
            }
            Err(p) => tracing::warn!(
                function = %name,
                version = doc.version,
                problems = %p,
                "a stored definition is not valid any more; skipped"
            ),
        }
    }
    let aliases: BTreeMap<String, u64> = engine.document_aliases(KIND, name)?.into_iter().collect();
    functions.install(name, deployed, aliases);
    Ok(())
}

fn sync_all(engine: &Engine, functions: &Functions, packages: &PackageStore) -> Result<()> {
    let stored: Vec<String> = engine
        .documents(KIND)?
        .into_iter()
        .map(|d| d.name)
        .collect();
    for name in functions.names() {
        if !stored.contains(&name) {
            functions.remove(&name);
        }
    }
    for name in stored {
        sync_one(engine, functions, packages, &name)?;
    }
    Ok(())
}

/// Load the whole catalog, then follow its changes until the engine stops.
pub fn follow(engine: &Engine, functions: &Functions, packages: &Arc<PackageStore>) -> Result<()> {
    let mut changes = engine.watch_documents();
    sync_all(engine, functions, packages)?;
    let (engine, functions, packages) = (engine.clone(), functions.clone(), packages.clone());
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(change) if change.kind == KIND => {
                    match sync_one(&engine, &functions, &packages, &change.name) {
                        Ok(()) => {
                            tracing::info!(function = %change.name, version = ?change.version, "function reloaded")
                        }
                        Err(e) => {
                            tracing::error!(function = %change.name, error = %e, "cannot load a changed function")
                        }
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    if let Err(e) = sync_all(&engine, &functions, &packages) {
                        tracing::error!(error = %e, "cannot reload the functions");
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(())
}

/// The executors as the console's [`FunctionHost`].
struct Host(Functions);

#[async_trait::async_trait]
impl FunctionHost for Host {
    async fn invoke(&self, name: &str, qualifier: Option<&str>, event: Value) -> Value {
        let caller = Caller {
            request_id: uuid::Uuid::new_v4().to_string(),
            execution_id: String::new(),
            state: String::new(),
        };
        self.0
            .invoke(name, qualifier, &event, &caller, None)
            .await
            .to_json()
    }

    fn logs(&self, name: &str, limit: usize) -> Value {
        serde_json::to_value(self.0.logs(name, limit)).unwrap_or_default()
    }

    fn metrics(&self) -> String {
        self.0.metrics_text()
    }
}

pub fn host(functions: &Functions) -> Arc<dyn FunctionHost> {
    Arc::new(Host(functions.clone()))
}

/// Say at start-up which isolation layers are in force and which are not.
pub fn report_isolation(layers: &[sluice_executors::process::sandbox::Layer]) {
    for l in layers {
        if l.available {
            tracing::info!(layer = l.name, detail = %l.detail, "function isolation");
        } else {
            tracing::warn!(layer = l.name, detail = %l.detail, "function isolation layer unavailable; the others still apply");
        }
    }
}
