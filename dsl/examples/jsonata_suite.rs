//! Runs the official JSONata test suite (jsonata-js's `test/test-suite`)
//! against `sluice_dsl::jsonata` and prints pass counts per group.
//!
//! ```text
//! cargo run --release -p sluice-dsl --example jsonata_suite -- [SUITE_DIR] [--group NAME] [--verbose]
//! ```
//!
//! `SUITE_DIR` (default: `$JSONATA_SUITE`) is a directory laid out like
//! jsonata-js's `test/test-suite` (`groups/<group>/*.json`, `datasets/`).
//! The suite is third-party and not part of this repository: this is a
//! measurement tool, not a test.
//!
//! How cases map: `bindings` become [`Bindings`]; `depth` becomes
//! `Limits::max_depth` and `timelimit` (ms) becomes `Limits::max_steps` at
//! [`STEPS_PER_MS`]; results are compared as JSON values exactly (numbers
//! by value, so `3` equals `3.0`), as jsonata-js's suite does with
//! `deep.equal`; `unordered` cases compare arrays as multisets; for `code`
//! cases the error code must match, and the token too when one is given.
//!
//! The picture groups (`function-formatNumber`, `function-formatInteger`,
//! `function-parseInteger`, `function-fromMillis`, `function-tomillis`,
//! `function-now`) depend on `jsonata/format/`, written separately; they
//! are reported apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use serde_json::{Map, Value};
use sluice_dsl::jsonata::{Bindings, Env, Expression, Limits};
use sluice_dsl::SplitMix64;

/// Evaluation steps allowed per millisecond of a case's `timelimit`.
const STEPS_PER_MS: u64 = 2_000;
/// Depth for cases without a `depth` (jsonata-js has only the JavaScript stack).
const DEFAULT_DEPTH: usize = 3_000;

const PICTURE_GROUPS: &[&str] = &[
    "function-formatNumber",
    "function-formatInteger",
    "function-parseInteger",
    "function-fromMillis",
    "function-tomillis",
    "function-now",
];

struct MapBindings(Map<String, Value>);

impl Bindings for MapBindings {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

struct Args {
    dir: PathBuf,
    group: Option<String>,
    verbose: bool,
}

fn args() -> Args {
    let mut dir = std::env::var("JSONATA_SUITE").ok().map(PathBuf::from);
    let mut group = None;
    let mut verbose = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--group" => group = it.next(),
            "--verbose" | "-v" => verbose = true,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let Some(dir) = dir else {
        eprintln!(
            "usage: jsonata_suite SUITE_DIR [--group NAME] [--verbose] (or set JSONATA_SUITE)"
        );
        std::process::exit(2);
    };
    Args {
        dir,
        group,
        verbose,
    }
}

/// Read a JSON file. A few cases hold lone UTF-16 surrogates (`"\\ud800"`),
/// which Rust strings cannot: those are read as U+FFFD, so such a case
/// runs (and fails) rather than stopping the run.
fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|_| {
        let fixed = replace_lone_surrogates(&text);
        serde_json::from_str(&fixed).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

fn replace_lone_surrogates(text: &str) -> String {
    let is_surrogate = |s: &str| {
        s.len() == 6
            && s.starts_with("\\u")
            && u16::from_str_radix(&s[2..], 16).is_ok_and(|u| (0xD800..0xE000).contains(&u))
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("\\\\") {
            out.push_str("\\\\");
            i += 2;
            continue;
        }
        let here = rest.get(..6).unwrap_or("");
        if is_surrogate(here) {
            let high = u16::from_str_radix(&here[2..], 16).unwrap_or(0) < 0xDC00;
            let next = rest.get(6..12).unwrap_or("");
            if high && is_surrogate(next) {
                out.push_str(&rest[..12]);
                i += 12;
            } else {
                out.push_str("\\ufffd");
                i += 6;
            }
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// JSON equality with numbers compared by value.
fn same(a: &Value, b: &Value, unordered: bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return false;
            }
            if unordered {
                let mut used = vec![false; y.len()];
                x.iter().all(|xi| {
                    let found = y
                        .iter()
                        .enumerate()
                        .position(|(j, yj)| !used[j] && same(xi, yj, true));
                    if let Some(j) = found {
                        used[j] = true;
                    }
                    found.is_some()
                })
            } else {
                x.iter().zip(y).all(|(p, q)| same(p, q, false))
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same(v, w, unordered)))
        }
        _ => a == b,
    }
}

/// Run one case; `Err` says why it failed.
fn run_case(
    case: &Map<String, Value>,
    group_dir: &Path,
    datasets: &BTreeMap<String, Value>,
) -> Result<(), String> {
    let expr = match (case.get("expr"), case.get("expr-file")) {
        (Some(Value::String(e)), _) => e.clone(),
        (_, Some(Value::String(f))) => {
            std::fs::read_to_string(group_dir.join(f)).map_err(|e| e.to_string())?
        }
        _ => return Err("no expression".into()),
    };
    let data = match case.get("data") {
        Some(d) => Some(d.clone()),
        None => match case.get("dataset") {
            Some(Value::String(name)) => Some(
                datasets
                    .get(name)
                    .cloned()
                    .ok_or(format!("no dataset {name}"))?,
            ),
            _ => None,
        },
    };
    let bindings = MapBindings(match case.get("bindings") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    });
    let mut limits = Limits {
        max_depth: DEFAULT_DEPTH,
        ..Limits::default()
    };
    if let Some(d) = case.get("depth").and_then(Value::as_u64) {
        limits.max_depth = d as usize;
    }
    if let Some(t) = case.get("timelimit").and_then(Value::as_u64) {
        limits.max_steps = t * STEPS_PER_MS;
    }
    let mut rng = SplitMix64(1);
    let mut env = Env {
        now: Utc
            .timestamp_millis_opt(1_700_000_000_000)
            .single()
            .unwrap_or_default(),
        rng: &mut rng,
        extensions: &[],
        limits,
    };
    let outcome =
        Expression::parse(&expr).and_then(|e| e.evaluate(data.as_ref(), &bindings, &mut env));
    let expected_code = case
        .get("code")
        .or_else(|| case.get("error").and_then(|e| e.get("code")))
        .and_then(Value::as_str);
    match (outcome, expected_code) {
        (Err(e), Some(code)) => {
            if e.code != code {
                return Err(format!(
                    "expected error {code}, got {} ({})",
                    e.code, e.message
                ));
            }
            if let Some(Value::String(token)) = case.get("token") {
                if e.token.as_deref() != Some(token.as_str()) {
                    return Err(format!(
                        "error {code}: expected token {token:?}, got {:?}",
                        e.token
                    ));
                }
            }
            Ok(())
        }
        (Err(e), None) => Err(format!("unexpected error {}: {}", e.code, e.message)),
        (Ok(got), Some(code)) => Err(format!("expected error {code}, got {}", show(&got))),
        (Ok(got), None) => {
            if case
                .get("undefinedResult")
                .is_some_and(|u| u == &Value::Bool(true))
            {
                return match got {
                    None => Ok(()),
                    Some(v) => Err(format!("expected undefined, got {v}")),
                };
            }
            let Some(expected) = case.get("result") else {
                return match got {
                    None => Ok(()),
                    Some(v) => Err(format!("no expected result given, got {v}")),
                };
            };
            let unordered = case
                .get("unordered")
                .is_some_and(|u| u == &Value::Bool(true));
            match got {
                Some(v) if same(&v, expected, unordered) => Ok(()),
                other => Err(format!("expected {expected}, got {}", show(&other))),
            }
        }
    }
}

fn show(v: &Option<Value>) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "undefined".into(),
    }
}

fn cases_of(path: &Path) -> Vec<Map<String, Value>> {
    match read_json(path) {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        Value::Object(m) => vec![m],
        _ => Vec::new(),
    }
}

fn main() {
    let args = args();
    // deep recursion cases need more stack than the main thread's default
    let handle = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || run(args))
        .expect("spawn the suite thread");
    let ok = handle.join().unwrap_or(false);
    std::process::exit(if ok { 0 } else { 1 });
}

fn run(args: Args) -> bool {
    let suite = &args.dir;
    let mut datasets = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(suite.join("datasets")) {
        for e in entries.flatten() {
            let p = e.path();
            if let Some(name) = p.file_stem().and_then(|s| s.to_str()) {
                datasets.insert(name.to_string(), read_json(&p));
            }
        }
    }
    let mut groups: Vec<PathBuf> = std::fs::read_dir(suite.join("groups"))
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    groups.sort();
    let (mut total, mut passed, mut core_total, mut core_passed) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for gdir in groups {
        let group = gdir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        if args.group.as_deref().is_some_and(|g| g != group) {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&gdir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let (mut gt, mut gp) = (0, 0);
        for f in files {
            let name = f
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            for (i, case) in cases_of(&f).into_iter().enumerate() {
                gt += 1;
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_case(&case, &gdir, &datasets)
                }))
                .unwrap_or_else(|_| Err("PANIC".into()));
                match r {
                    Ok(()) => gp += 1,
                    Err(why) => {
                        let expr = case
                            .get("expr")
                            .and_then(Value::as_str)
                            .unwrap_or("<expr-file>");
                        failures.push(format!("{group}/{name}#{i}: {expr}\n    {why}"));
                    }
                }
            }
        }
        println!("{group:40} {gp:4}/{gt:4}");
        total += gt;
        passed += gp;
        if !PICTURE_GROUPS.contains(&group.as_str()) {
            core_total += gt;
            core_passed += gp;
        }
    }
    if args.verbose {
        println!("\nFailing cases:");
        for f in &failures {
            println!("{f}");
        }
    }
    let pct = |p: usize, t: usize| {
        if t == 0 {
            0.0
        } else {
            100.0 * p as f64 / t as f64
        }
    };
    println!(
        "\nall cases: {passed}/{total} passed ({:.1}%)",
        pct(passed, total)
    );
    println!(
        "excluding picture groups: {core_passed}/{core_total} passed ({:.1}%)",
        pct(core_passed, core_total)
    );
    passed == total
}
