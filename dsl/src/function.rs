//! Function definitions (DESIGN.md, "Function"): what a Task runs, and with
//! which limits. Parsed strictly; the executors issue adds the runtimes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::error::Problems;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Process,
    Wasm,
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// A long-lived process speaking the AWS Lambda Runtime API.
    #[default]
    Lambda,
    /// A fresh process per invocation: event on stdin, result on stdout.
    Stdio,
}

fn default_memory() -> u64 {
    128
}
fn default_timeout() -> u64 {
    30
}
fn default_concurrency() -> u64 {
    10
}
fn default_max_queued() -> u64 {
    100
}
fn default_idle_seconds() -> u64 {
    300
}

/// One function definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionDef {
    /// Unique name; Task states refer to it as `sluice:function:NAME`.
    pub name: String,
    pub runtime: Runtime,
    #[serde(default)]
    pub description: Option<String>,
    /// Memory limit in MiB.
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    /// Wall-clock limit of one invocation, in seconds → `States.Timeout`.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Maximum invocations in flight.
    #[serde(default = "default_concurrency")]
    pub concurrency: u64,
    /// Invocations that may wait for a free slot when `concurrency` are in
    /// flight; one more fails at once with `Sluice.Throttled`.
    #[serde(default = "default_max_queued")]
    pub max_queued: u64,
    /// Warm instances kept ready (`process` + `lambda`).
    #[serde(default)]
    pub provisioned: u64,
    /// Idle warm instances above `provisioned` stop after this many seconds
    /// (scale to zero).
    #[serde(default = "default_idle_seconds")]
    pub idle_seconds: u64,
    /// `process` + `lambda`: the `_HANDLER` variable (e.g. `app.handler`);
    /// defaults to the last word of `command`.
    #[serde(default)]
    pub handler: Option<String>,
    /// Environment of the function (nothing else of the engine's leaks in).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether the sandbox may reach the network.
    #[serde(default)]
    pub network: bool,
    /// `process`: the command line.
    #[serde(default)]
    pub command: Vec<String>,
    /// `process`: the code folder (absolute, or relative to the definition file).
    #[serde(default)]
    pub code_dir: Option<String>,
    /// `process`/`wasm`, instead of `codeDir`: a code package uploaded to
    /// the server, `sha256:` and the 64 hex digits of the archive
    /// (`codeSha256` in the upload's answer). Its extracted files are the
    /// code folder, and a `wasm` function's `module` is a path inside it.
    #[serde(default)]
    pub package: Option<String>,
    /// `process`: read-only layers (packages, `sha256:…` as `package`),
    /// mounted at `/opt` in the sandbox as Lambda does (later layers
    /// override earlier ones), at most [`MAX_LAYERS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// `process`: `lambda` (default) or `stdio`.
    #[serde(default)]
    pub protocol: Protocol,
    /// `wasm`: path of the WASI command module.
    #[serde(default)]
    pub module: Option<String>,
    /// `http`: the endpoint the event is POSTed to.
    #[serde(default)]
    pub url: Option<String>,
}

/// Most layers a function may have (Lambda's limit).
pub const MAX_LAYERS: usize = 5;

/// The prefix of a package reference (`"package": "sha256:<hex>"`).
pub const PACKAGE_PREFIX: &str = "sha256:";

/// The hex digest of a package reference `sha256:<64 lowercase hex digits>`,
/// or `None` when `reference` is not one.
pub fn package_digest(reference: &str) -> Option<&str> {
    let hex = reference.strip_prefix(PACKAGE_PREFIX)?;
    is_digest(hex).then_some(hex)
}

/// Whether `hex` is a SHA-256 digest in lowercase hex (64 digits).
pub fn is_digest(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `p` is a relative path that stays inside its base folder (no
/// `..`), as a `module` inside a package must be.
fn stays_inside(p: &str) -> bool {
    let path = std::path::Path::new(p);
    !path.is_absolute()
        && path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

impl FunctionDef {
    /// The hex digest of `package`, when it is a valid reference.
    pub fn package_digest(&self) -> Option<&str> {
        self.package.as_deref().and_then(package_digest)
    }

    /// Parse and check a definition; every problem is reported with its pointer.
    pub fn from_value(v: &Value) -> Result<FunctionDef, Problems> {
        let mut problems = Problems::default();
        let def: FunctionDef = match serde_json::from_value(v.clone()) {
            Ok(d) => d,
            Err(e) => {
                let msg = e.to_string();
                let field = msg
                    .split('`')
                    .nth(1)
                    .map(|f| format!("/{f}"))
                    .unwrap_or_default();
                problems.push(
                    field,
                    format!("{msg}; see DESIGN.md \"Function\" for the fields"),
                );
                return Err(problems);
            }
        };
        if crate::resource::ResourceRef::parse(&format!("sluice:function:{}", def.name)).is_err() {
            problems.push(
                "/name",
                "a function name uses letters, digits, '-' and '_' (at most 64)",
            );
        }
        if def.memory_mb == 0 {
            problems.push("/memoryMb", "memoryMb must be at least 1");
        }
        if def.timeout_seconds == 0 {
            problems.push("/timeoutSeconds", "timeoutSeconds must be at least 1");
        }
        if def.idle_seconds == 0 {
            problems.push("/idleSeconds", "idleSeconds must be at least 1");
        }
        if def.concurrency == 0 {
            problems.push("/concurrency", "concurrency must be at least 1");
        }
        match def.runtime {
            Runtime::Process if def.command.is_empty() => problems.push(
                "/command",
                "a process function needs 'command', e.g. [\"python3\", \"handler.py\"]",
            ),
            Runtime::Wasm if def.module.is_none() => {
                problems.push("/module", "a wasm function needs 'module': the .wasm file")
            }
            Runtime::Http if def.url.is_none() => {
                problems.push("/url", "an http function needs 'url'")
            }
            _ => {}
        }
        if let Some(reference) = &def.package {
            check_package(&def, reference, &mut problems);
        }
        if !def.layers.is_empty() && def.runtime != Runtime::Process {
            problems.push(
                "/layers",
                "layers are for process functions (stdio and lambda)",
            );
        }
        if def.layers.len() > MAX_LAYERS {
            problems.push(
                "/layers",
                format!("a function has at most {MAX_LAYERS} layers; merge some into one package"),
            );
        }
        for (i, layer) in def.layers.iter().enumerate() {
            if package_digest(layer).is_none() {
                problems.push(
                    format!("/layers/{i}"),
                    format!("'{layer}' is not a package reference; give \"sha256:\" and the 64 hex digits of an uploaded archive"),
                );
            }
        }
        if problems.is_empty() {
            Ok(def)
        } else {
            Err(problems)
        }
    }
}

/// `package` is a valid reference, the only code source, and a wasm
/// `module` is a path inside it.
fn check_package(def: &FunctionDef, reference: &str, problems: &mut Problems) {
    if package_digest(reference).is_none() {
        problems.push(
            "/package",
            format!("'{reference}' is not a package reference: give 'sha256:' and the 64 lowercase hex digits the upload answered as codeSha256"),
        );
    }
    match def.runtime {
        Runtime::Http => problems.push(
            "/package",
            "an http function runs no code of its own; remove 'package'",
        ),
        Runtime::Process if def.code_dir.is_some() => problems.push(
            "/package",
            "give either 'codeDir' or 'package', not both: the package's files are the code folder",
        ),
        Runtime::Wasm => {
            if let Some(m) = def.module.as_deref().filter(|m| !stays_inside(m)) {
                problems.push(
                    "/module",
                    format!("with 'package', 'module' is a path inside the package such as 'fn.wasm', not '{m}'"),
                );
            }
        }
        Runtime::Process => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn pointers(v: Value) -> Vec<String> {
        match FunctionDef::from_value(&v) {
            Ok(_) => vec![],
            Err(p) => p.iter().map(|p| p.pointer.clone()).collect(),
        }
    }

    #[test]
    fn a_package_reference_replaces_code_dir() {
        let def = FunctionDef::from_value(&json!({"name": "f", "runtime": "process",
            "command": ["python3", "app.py"], "protocol": "stdio", "package": DIGEST}))
        .unwrap();
        assert_eq!(def.package_digest(), Some(&DIGEST[7..]));
        let wasm =
            json!({"name": "w", "runtime": "wasm", "module": "bin/fn.wasm", "package": DIGEST});
        assert!(pointers(wasm).is_empty());
    }

    #[test]
    fn bad_package_references_name_the_field() {
        let base = |extra: Value| {
            let mut v = json!({"name": "f", "runtime": "process", "command": ["x"]});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        assert_eq!(
            pointers(base(json!({"package": "sha256:ABC"}))),
            ["/package"]
        );
        assert_eq!(
            pointers(base(json!({"package": &DIGEST[7..]}))),
            ["/package"]
        );
        assert_eq!(
            pointers(base(json!({"package": DIGEST, "codeDir": "/srv/fn"}))),
            ["/package"]
        );
        assert_eq!(
            pointers(
                json!({"name": "h", "runtime": "http", "url": "http://x/", "package": DIGEST})
            ),
            ["/package"]
        );
        for module in ["/abs/fn.wasm", "../fn.wasm", "a/../../fn.wasm"] {
            assert_eq!(
                pointers(
                    json!({"name": "w", "runtime": "wasm", "module": module, "package": DIGEST})
                ),
                ["/module"],
                "{module}"
            );
        }
    }
}
