//! Function definitions from a folder of `*.json` files (`--functions DIR`).

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

use sluice_dsl::function::FunctionDef;

use crate::Deployed;

/// Every `*.json` definition directly in `dir`, sorted by file name; a bad
/// file or a name defined twice fails the whole load with the file named.
/// Relative `codeDir` and `module` paths are relative to the file's folder.
pub fn load_dir(dir: &Path) -> Result<Vec<Deployed>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out: Vec<Deployed> = Vec::new();
    for file in files {
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
        if out.iter().any(|d| d.def.name == def.name) {
            anyhow::bail!(
                "function '{}' is defined twice (again in {})",
                def.name,
                file.display()
            );
        }
        let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        out.push(Deployed::new(def, None, &base));
    }
    Ok(out)
}

/// A definition file's body as the server stores it: a `process`
/// function's `codeDir` (default: the file's folder `base`) and a `wasm`
/// `module` made absolute, so the server needs no notion of the file.
/// A function with a `package` is left alone: its code is the package's.
pub fn absolute_body(body: &Value, base: &Path) -> Value {
    let mut body = body.clone();
    if body.get("package").is_some_and(|p| !p.is_null()) {
        return body;
    }
    let absolute = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let runtime = body
        .get("runtime")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(obj) = body.as_object_mut() {
        if runtime == "process" {
            let dir = match obj.get("codeDir").and_then(Value::as_str) {
                Some(d) => absolute(d),
                None => base.to_path_buf(),
            };
            obj.insert("codeDir".into(), Value::String(dir.display().to_string()));
        }
        if let Some(m) = obj.get("module").and_then(Value::as_str).map(absolute) {
            obj.insert("module".into(), Value::String(m.display().to_string()));
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::absolute_body;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn a_serialised_definition_without_a_package_gets_its_folder_as_code_dir() {
        // A FunctionDef serialises a missing package as null.
        let def = json!({"name": "f", "runtime": "process", "command": ["python3", "f.py"],
                         "codeDir": null, "package": null});
        let body = absolute_body(&def, Path::new("/srv/fns"));
        assert_eq!(body["codeDir"], "/srv/fns");
        let packaged = json!({"name": "f", "runtime": "process", "package": "sha256:ab"});
        assert!(absolute_body(&packaged, Path::new("/srv/fns"))
            .get("codeDir")
            .is_none());
    }
}
