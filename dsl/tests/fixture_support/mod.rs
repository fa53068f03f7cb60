//! Shared pieces of the fixture harness (`tests/fixtures.rs`): finding and
//! loading fixture files, the fixture format, and the scripted test host.

pub mod format;
pub mod host;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Sleeps and numbers are compared with this tolerance (fractional backoff
/// such as 3 × 1.5 = 4.5 s must match exactly, up to float rounding).
pub const EPS: f64 = 1e-6;

pub fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Every `.json` file below `dir`, sorted so reports are stable.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn rel(path: &Path) -> String {
    path.strip_prefix(fixtures_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

pub fn load(path: &Path) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("malformed fixture: cannot read: {e}"))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("malformed fixture: the file must hold a JSON object".into()),
        Err(e) => Err(format!("malformed fixture: not JSON: {e}")),
    }
}

/// JSON equality where numbers compare by value (`110` equals `110.0`) and
/// object key order does not matter.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => match (x.as_f64(), y.as_f64()) {
                    (Some(f), Some(g)) => (f - g).abs() <= 1e-9 * f.abs().max(g.abs()).max(1.0),
                    _ => false,
                },
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A compact rendering for reports, cut so one huge value cannot hide the rest.
pub fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 600 {
        format!("{}…", s.chars().take(600).collect::<String>())
    } else {
        s
    }
}
