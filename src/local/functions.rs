//! Function definitions loaded from a folder for local runs, run by the
//! same executors as `sluice serve` (process stdio/lambda, wasm, http).

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

use sluice_dsl::StatesError;
use sluice_executors::{names, Caller};

pub struct Functions {
    functions: sluice_executors::Functions,
    http: sluice_executors::http_task::HttpTasks,
    /// Drives warm `lambda` processes, their Runtime API and wasm/http
    /// invocations while the (synchronous) interpreter waits for a result.
    runtime: tokio::runtime::Runtime,
}

impl Functions {
    fn empty() -> Result<Functions> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("cannot start the async runtime for functions")?;
        let (functions, http) = {
            let _inside = runtime.enter();
            (
                sluice_executors::Functions::new(),
                sluice_executors::http_task::HttpTasks::new(),
            )
        };
        Ok(Functions {
            functions,
            http,
            runtime,
        })
    }

    /// No functions: every Task that calls one fails, saying how to add them.
    pub fn none() -> Result<Functions> {
        Self::empty()
    }

    /// Load every `*.json` definition in `dir`; any bad file stops the run
    /// with its problems listed.
    pub fn load(dir: &Path) -> Result<Functions> {
        let f = Self::empty()?;
        for d in sluice_executors::load_dir(dir)? {
            if let Some(p) = &d.def.package {
                anyhow::bail!(
                    "function '{}' runs from package {p}, which only a server keeps (sluice serve); for local runs give it a 'codeDir'",
                    d.def.name
                );
            }
            f.functions.add(d);
        }
        Ok(f)
    }

    /// Run an HTTP Task (`arn:aws:states:::http:invoke`) with `params`.
    pub fn http_invoke(&self, params: &Value, timeout: Option<u64>) -> Result<Value, StatesError> {
        self.runtime
            .block_on(self.http.invoke(params, timeout))
            .map_err(|e| StatesError::new(e.error, e.cause))
    }

    /// Run function `name` on `event`. `idempotency_key` is stable across
    /// re-dispatches of the same task attempt; the function sees it as
    /// `SLUICE_IDEMPOTENCY_KEY` (and as Lambda's request id).
    pub fn invoke(
        &self,
        name: &str,
        qualifier: Option<&str>,
        event: &Value,
        timeout: Option<u64>,
        idempotency_key: &str,
    ) -> Result<Value, StatesError> {
        let caller = Caller {
            request_id: idempotency_key.to_string(),
            execution_id: "local".into(),
            state: String::new(),
        };
        let outcome = self.runtime.block_on(
            self.functions
                .invoke(name, qualifier, event, &caller, timeout),
        );
        if !outcome.meter.stderr.trim().is_empty() {
            tracing::info!(function = %name, stderr = %outcome.meter.stderr.trim(), "function stderr");
        }
        outcome.result.map_err(|e| {
            let mut cause = e.cause;
            if e.error == names::NOT_FOUND {
                cause.push_str("; pass a folder of function definitions with --functions DIR");
            }
            StatesError::new(e.error, cause)
        })
    }
}

/// The `*.json` files directly in `dir`, sorted by name.
pub fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}
