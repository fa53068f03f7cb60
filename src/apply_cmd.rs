//! `sluice apply -f DIR`: send a folder of definitions to a server —
//! workflows/, functions/, sources/ and triggers/ (infrastructure as code).

use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;

use crate::client::{segment, Remote};

/// The folders `apply` reads, the REST collection each goes to, and how a
/// definition's name is found (workflows are named after their file).
const KINDS: &[(&str, &str)] = &[
    ("workflows", "workflows"),
    ("functions", "functions"),
    ("sources", "sources"),
    ("triggers", "triggers"),
];

pub fn run(dir: &Path, remote: &Remote) -> Result<ExitCode> {
    let mut applied = 0;
    let mut failed = 0;
    let mut found_folder = false;
    for (folder, collection) in KINDS {
        let path = dir.join(folder);
        if !path.is_dir() {
            continue;
        }
        found_folder = true;
        for file in crate::local::json_files(&path)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let value: serde_json::Value = match serde_json::from_str(&text) {
                // The server has no notion of this folder: paths go absolute,
                // and a package named by a local path is uploaded.
                Ok(v) if *folder == "functions" => {
                    match crate::function_cmd::server_body(&v, &file, None, remote) {
                        Ok((body, _)) => body,
                        Err(e) => {
                            eprintln!("{}: {e:#}", file.display());
                            failed += 1;
                            continue;
                        }
                    }
                }
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{}: not valid JSON: {e}", file.display());
                    failed += 1;
                    continue;
                }
            };
            let name = if *folder == "workflows" {
                crate::workflow_cmd::machine_name(&file)
            } else {
                match value.get("name").and_then(|n| n.as_str()) {
                    Some(n) => n.to_string(),
                    None => {
                        eprintln!("{}: needs a \"name\" field", file.display());
                        failed += 1;
                        continue;
                    }
                }
            };
            match remote.call(
                "PUT",
                &format!("/api/v1/{collection}/{}", segment(&name)),
                Some(value.to_string()),
            ) {
                Ok(answer) => {
                    applied += 1;
                    if remote.json {
                        println!("{answer}");
                    } else {
                        let version = answer
                            .get("version")
                            .map(|v| format!(" (version {v})"))
                            .unwrap_or_default();
                        println!("{folder}/{name}{version}: applied");
                    }
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("{}: {e:#}", file.display());
                }
            }
        }
    }
    if !found_folder {
        anyhow::bail!(
            "{} has none of the folders workflows/, functions/, sources/, triggers/",
            dir.display()
        );
    }
    eprintln!("{applied} applied, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
