//! `sluice function …`: deploy, invoke and inspect functions on a server.

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sluice_dsl::function::{FunctionDef, PACKAGE_PREFIX};

use crate::client::{describe_error, segment, Remote};
use crate::workflow_cmd::json_arg;

#[derive(Subcommand)]
pub enum FunctionCommand {
    /// Deploy a function definition file (a new version when it changed).
    /// Relative `codeDir` and `module` are relative to the file's folder.
    Deploy {
        file: PathBuf,
        /// Upload this code package first and run the function from it
        /// instead of `codeDir`: a .zip, .tar or .tar.gz file, or a folder
        /// (archived as tar.gz). A wasm `module` is then a path inside it.
        #[arg(long, value_name = "PATH")]
        package: Option<PathBuf>,
    },
    /// Invoke a function directly and print its result (exit 1 and
    /// `{"error","cause"}` when it fails).
    Invoke {
        /// NAME, or NAME:VERSION / NAME:ALIAS.
        name: String,
        /// The event: JSON text, or @FILE.
        #[arg(long, default_value = "{}")]
        payload: String,
    },
    /// Show the last invocations: cold/warm, durations, memory, output.
    Logs {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// List the deployed functions.
    List,
    /// Show a function: its latest definition, versions and aliases.
    Describe { name: String },
    /// Delete a function with all its versions and aliases.
    Delete { name: String },
    /// Point an alias at a version (`sluice:function:NAME:ALIAS`).
    Alias {
        name: String,
        alias: String,
        /// The version the alias points at.
        #[arg(value_name = "VERSION")]
        target: u64,
    },
}

/// Whether a definition's `"package"` names a local archive or folder
/// (which the CLI uploads) rather than a `sha256:` reference.
fn is_local_package(p: &str) -> bool {
    !p.starts_with(PACKAGE_PREFIX)
}

/// The body the server stores for a definition file, with its paths made
/// absolute; with a package — `package` (a path given with `--package`),
/// or a `"package"` in the file that names a local archive or folder
/// (relative to the file) rather than a `sha256:` digest — that package
/// is uploaded first and the body names it by its digest instead of a
/// `codeDir`. Returns the upload's answer too.
pub fn server_body(
    value: &Value,
    file: &Path,
    package: Option<&Path>,
    remote: &Remote,
) -> Result<(Value, Option<Value>)> {
    let folder = file.parent().unwrap_or(Path::new("."));
    let folder = folder
        .canonicalize()
        .unwrap_or_else(|_| folder.to_path_buf());
    let local = value
        .get("package")
        .and_then(Value::as_str)
        .filter(|p| is_local_package(p))
        .map(|p| folder.join(p));
    let Some(path) = package.map(Path::to_path_buf).or(local) else {
        return Ok((sluice_executors::absolute_body(value, &folder), None));
    };
    let uploaded = crate::upload::upload(remote, &path)?;
    let mut body = value.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("codeDir");
        o.insert("package".into(), uploaded["package"].clone());
    }
    Ok((body, Some(uploaded)))
}

pub fn run(cmd: FunctionCommand, remote: &Remote) -> Result<ExitCode> {
    match cmd {
        FunctionCommand::Deploy { file, package } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", file.display()))?;
            // Checked before anything is uploaded; a package path in the
            // file stands for the digest it will have.
            let mut checked = value.clone();
            let local = checked
                .get("package")
                .and_then(Value::as_str)
                .is_some_and(is_local_package);
            if package.is_some() || local {
                if let Some(o) = checked.as_object_mut() {
                    o.remove("codeDir");
                    o.insert(
                        "package".into(),
                        json!(format!("sha256:{}", "0".repeat(64))),
                    );
                }
            }
            if let Err(problems) = FunctionDef::from_value(&checked) {
                eprintln!(
                    "{} is not a valid function definition:\n{problems}",
                    file.display()
                );
                return Ok(ExitCode::from(1));
            }
            let name = value["name"].as_str().unwrap_or_default().to_string();
            let (body, uploaded) = server_body(&value, &file, package.as_deref(), remote)?;
            if let (Some(p), false) = (&uploaded, remote.json) {
                println!(
                    "package {}: {} bytes ({}), {} files",
                    p["package"].as_str().unwrap_or("-"),
                    p["codeSize"],
                    p["format"].as_str().unwrap_or("-"),
                    p["files"]
                );
            }
            let answer = remote.call(
                "PUT",
                &format!("/api/v1/functions/{}", segment(&name)),
                Some(body.to_string()),
            )?;
            if remote.json {
                println!("{answer}");
            } else {
                println!("function {name}: version {}", answer["version"]);
            }
            Ok(ExitCode::SUCCESS)
        }
        FunctionCommand::Invoke { name, payload } => {
            let event = json_arg(&payload, "--payload")?;
            let (name, qualifier) = match name.split_once(':') {
                Some((n, q)) => (n.to_string(), Some(q.to_string())),
                None => (name, None),
            };
            let mut path = format!("/api/v1/functions/{}/invocations", segment(&name));
            if let Some(q) = qualifier {
                path.push_str(&format!("?qualifier={}", segment(&q)));
            }
            let answer = remote.request("POST", &path, Some(event.to_string()))?;
            if !(200..300).contains(&answer.status) {
                eprintln!("{}", describe_error(&answer));
                return Ok(ExitCode::from(if answer.status == 429 { 1 } else { 2 }));
            }
            let b = answer.body;
            if remote.json {
                println!("{b}");
            } else if b.get("error").is_some() {
                println!("{}", json!({"error": b["error"], "cause": b["cause"]}));
            } else {
                println!("{}", b["result"]);
            }
            Ok(if b.get("error").is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        FunctionCommand::Logs { name, limit } => {
            let answer = remote.call(
                "GET",
                &format!("/api/v1/functions/{}/logs?limit={limit}", segment(&name)),
                None,
            )?;
            if remote.json {
                println!("{answer}");
                return Ok(ExitCode::SUCCESS);
            }
            for m in answer["logs"].as_array().into_iter().flatten() {
                print_log(m);
            }
            Ok(ExitCode::SUCCESS)
        }
        FunctionCommand::List => {
            let answer = remote.call("GET", "/api/v1/functions", None)?;
            if remote.json {
                println!("{answer}");
            } else {
                for f in answer["functions"].as_array().into_iter().flatten() {
                    println!(
                        "{:<24} v{:<4} {:<8} {}",
                        f["name"].as_str().unwrap_or("-"),
                        f["version"],
                        f["runtime"].as_str().unwrap_or("-"),
                        f["updatedAt"].as_str().unwrap_or("-")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FunctionCommand::Describe { name } => {
            let answer = remote.call(
                "GET",
                &format!("/api/v1/functions/{}", segment(&name)),
                None,
            )?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        FunctionCommand::Delete { name } => {
            remote.call(
                "DELETE",
                &format!("/api/v1/functions/{}", segment(&name)),
                None,
            )?;
            println!("function {name}: deleted");
            Ok(ExitCode::SUCCESS)
        }
        FunctionCommand::Alias {
            name,
            alias,
            target: version,
        } => {
            let answer = remote.call(
                "PUT",
                &format!(
                    "/api/v1/functions/{}/aliases/{}",
                    segment(&name),
                    segment(&alias)
                ),
                Some(json!({"version": version}).to_string()),
            )?;
            if remote.json {
                println!("{answer}");
            } else {
                println!("function {name}: alias {alias} -> version {version}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_log(m: &Value) {
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let memory = m["maxMemoryKb"]
        .as_u64()
        .map_or("-".to_string(), |k| format!("{} MiB", k / 1024));
    println!(
        "{} {} v{} {} init {:.1} ms, run {:.1} ms, memory {memory}, {}",
        s("startedAt"),
        s("requestId"),
        s("version"),
        if m["cold"].as_bool() == Some(true) {
            "cold"
        } else {
            "warm"
        },
        m["initMs"].as_f64().unwrap_or(0.0),
        m["durationMs"].as_f64().unwrap_or(0.0),
        m["error"]
            .as_str()
            .map_or("ok".to_string(), |e| format!("error {e}")),
    );
    for (k, label) in [("stdout", "out"), ("stderr", "err")] {
        for line in m[k].as_str().unwrap_or_default().lines() {
            println!("  {label} | {line}");
        }
    }
}
