//! Function definitions loaded from a folder for local runs.

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sluice_dsl::error::names;
use sluice_dsl::function::{FunctionDef, Protocol, Runtime};
use sluice_dsl::StatesError;

/// A function and the folder its relative paths are resolved against.
struct Loaded {
    def: FunctionDef,
    code_dir: PathBuf,
}

#[derive(Default)]
pub struct Functions {
    by_name: BTreeMap<String, Loaded>,
}

impl Functions {
    /// Load every `*.json` definition in `dir`; any bad file stops the run
    /// with its problems listed.
    pub fn load(dir: &Path) -> Result<Functions> {
        let mut by_name = BTreeMap::new();
        for file in json_files(dir)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", file.display()))?;
            let def = FunctionDef::from_value(&value).map_err(|p| {
                anyhow::anyhow!(
                    "{} is not a valid function definition:\n{p}",
                    file.display()
                )
            })?;
            let base = file.parent().unwrap_or(Path::new("."));
            let code_dir = match &def.code_dir {
                Some(d) if Path::new(d).is_absolute() => PathBuf::from(d),
                Some(d) => base.join(d),
                None => base.to_path_buf(),
            };
            if let Some(previous) = by_name.insert(def.name.clone(), Loaded { def, code_dir }) {
                anyhow::bail!(
                    "function '{}' is defined twice (again in {})",
                    previous.def.name,
                    file.display()
                );
            }
        }
        Ok(Functions { by_name })
    }

    /// Run function `name` on `event`. `idempotency_key` is stable across
    /// re-dispatches of the same task attempt; the function sees it as
    /// `SLUICE_IDEMPOTENCY_KEY` (and as Lambda's request id).
    pub fn invoke(
        &self,
        name: &str,
        event: &Value,
        timeout: Option<u64>,
        idempotency_key: &str,
    ) -> Result<Value, StatesError> {
        let Some(f) = self.by_name.get(name) else {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            return Err(StatesError::new(
                names::TASK_FAILED,
                format!(
                    "no function named '{name}'{}; pass a folder of function definitions with --functions DIR",
                    if known.is_empty() { String::new() } else { format!(" (known: {})", known.join(", ")) }
                ),
            ));
        };
        let timeout = timeout
            .unwrap_or(f.def.timeout_seconds)
            .min(f.def.timeout_seconds);
        match (f.def.runtime, f.def.protocol) {
            (Runtime::Process, Protocol::Stdio) => super::stdio::invoke(&f.def, &f.code_dir, event, timeout, idempotency_key),
            (runtime, protocol) => Err(StatesError::new(
                names::TASK_FAILED,
                format!(
                    "function '{name}' uses runtime {runtime:?} ({protocol:?}), which --local runs do not start; local runs start process functions with \"protocol\": \"stdio\", or mock the state with --mocks"
                ),
            )),
        }
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
