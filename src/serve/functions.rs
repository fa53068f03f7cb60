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
pub async fn preload(
    engine: &Engine,
    functions: &Functions,
    packages: &PackageStore,
    dir: &Path,
) -> Result<usize> {
    let loaded = sluice_executors::load_dir(dir)?;
    for d in &loaded {
        if let Some((pointer, message)) = functions.refusal(&d.def) {
            anyhow::bail!("{} ({pointer}): {message}", dir.display());
        }
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
        if let Some(l) = d.def.layers.iter().find(|l| packages.get(l).is_none()) {
            anyhow::bail!(
                "function '{}' in {} has layer {l}, which this server does not have; upload it first (POST /api/v1/packages)",
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
                let layers = super::packages::layers(packages, &def);
                let mut d = Deployed::new(def, Some(doc.version), &base);
                d.layers = layers;
                deployed.push(d)
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

    fn refusal(&self, def: &sluice_dsl::function::FunctionDef) -> Option<(String, String)> {
        self.0.refusal(def).map(|(p, m)| (p.to_string(), m))
    }

    fn lambda_command(&self, runtime: &str, handler: &str) -> Result<Vec<String>, String> {
        sluice_executors::lambda::runtimes::Runtimes::found().command(runtime, handler)
    }
}

pub fn host(functions: &Functions) -> Arc<dyn FunctionHost> {
    Arc::new(Host(functions.clone()))
}

/// Switch the sandbox of process functions on (refusing to start where a
/// required layer is missing) or, with `--isolation off`, to the fallback
/// limits, with a warning.
pub fn set_isolation(functions: &Functions, on: bool) -> Result<()> {
    use sluice_executors::process::sandbox::Isolation;
    if !on {
        tracing::warn!(
            "--isolation off: process functions run without a sandbox (the engine's files, \
             network, processes and uid are in their reach); only memory, process and CPU \
             limits and the end of every process an invocation started are enforced, and \
             functions must say \"network\": true. Do not run untrusted code"
        );
        report_isolation(&functions.run_unisolated());
        return Ok(());
    }
    let missing = Isolation::get()
        .missing()
        .iter()
        .map(|l| format!("{} ({})", l.name, l.detail))
        .collect::<Vec<_>>();
    if !missing.is_empty() {
        anyhow::bail!(
            "--isolation on (the default) cannot sandbox process functions on this machine: \
             missing {}. Run sluice as root on Linux with namespaces (sluice doctor lists the \
             layers), or pass --isolation off to run functions unisolated",
            missing.join("; ")
        );
    }
    report_isolation(&functions.enable_isolation());
    Ok(())
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
