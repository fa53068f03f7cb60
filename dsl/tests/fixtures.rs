//! Semantic fixtures: every file under `tests/fixtures/valid/<topic>/` is a
//! workflow that must validate and, run with its input against a scripted
//! host, produce the outcome AWS documents; every file under
//! `tests/fixtures/invalid/<topic>/` is a definition that must be refused
//! with exactly the listed problem pointers.
//!
//! Each test collects every failing case before it fails, so one run shows
//! every mismatch (file, expected, actual) rather than stopping at the first.
//! The fixture format is strict: an unknown key anywhere in a fixture's own
//! structure (not inside `definition`, `input` or expected JSON) is reported
//! as a malformed fixture, so a typo cannot silently skip a check.

use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use sluice_dsl::interp::{run, Host, Outcome, RunOptions, TaskCall};
use sluice_dsl::{Random, SplitMix64, StateMachine, StatesError};

/// The suite must keep at least this many cases of each kind.
const MIN_VALID: usize = 150;
const MIN_INVALID: usize = 40;

/// Sleeps and numbers are compared with this tolerance (fractional backoff
/// such as 3 × 1.5 = 4.5 s must match exactly, up to float rounding).
const EPS: f64 = 1e-6;

fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Every `.json` file below `dir`, sorted so reports are stable.
fn json_files(dir: &Path) -> Vec<PathBuf> {
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

fn rel(path: &Path) -> String {
    path.strip_prefix(fixtures_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn load(path: &Path) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("malformed fixture: cannot read: {e}"))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("malformed fixture: the file must hold a JSON object".into()),
        Err(e) => Err(format!("malformed fixture: not JSON: {e}")),
    }
}

/// Check an object's keys: all of `required` present, nothing outside `allowed`.
fn check_keys(
    obj: &Map<String, Value>,
    what: &str,
    required: &[&str],
    allowed: &[&str],
) -> Result<(), String> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "malformed fixture: unknown key '{k}' in {what} (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    for k in required {
        if !obj.contains_key(*k) {
            return Err(format!(
                "malformed fixture: {what} lacks required key '{k}'"
            ));
        }
    }
    Ok(())
}

fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("malformed fixture: {what} must be an object"))
}

fn as_str<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("malformed fixture: {what} must be a string"))
}

fn non_empty_text(obj: &Map<String, Value>, key: &str) -> Result<(), String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        Some(_) => Err(format!(
            "malformed fixture: '{key}' must be a non-empty string"
        )),
        None => Ok(()),
    }
}

/// JSON equality where numbers compare by value (`110` equals `110.0`) and
/// object key order does not matter.
fn json_eq(a: &Value, b: &Value) -> bool {
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
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 600 {
        format!("{}…", s.chars().take(600).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------- host

/// One scripted answer of a Task state.
#[derive(Clone)]
enum Response {
    Return(Value),
    Throw(StatesError),
}

/// A Task invocation as the host saw it.
struct SeenCall {
    state: String,
    payload: Value,
    retry_count: u32,
}

/// The test host: a virtual clock that only `sleep` moves, SplitMix64
/// randomness, scripted task answers, and a record of sleeps and calls.
struct TestHost {
    now: DateTime<Utc>,
    rng: SplitMix64,
    tasks: HashMap<String, Vec<Response>>,
    used: HashMap<String, usize>,
    sleeps: Vec<f64>,
    calls: Vec<SeenCall>,
}

impl Host for TestHost {
    fn invoke(&mut self, call: &TaskCall) -> Result<Value, StatesError> {
        self.calls.push(SeenCall {
            state: call.state.to_string(),
            payload: call.payload.clone(),
            retry_count: call.retry_count,
        });
        let Some(list) = self.tasks.get(call.state) else {
            // No script: the task echoes its payload.
            return Ok(call.payload.clone());
        };
        let n = self.used.entry(call.state.to_string()).or_insert(0);
        // Answers are consumed in invocation order; the last one repeats.
        let answer = list[(*n).min(list.len() - 1)].clone();
        *n += 1;
        match answer {
            Response::Return(v) => Ok(v),
            Response::Throw(e) => Err(e),
        }
    }

    fn sleep(&mut self, seconds: f64) {
        self.sleeps.push(seconds);
        if seconds.is_finite() && seconds > 0.0 {
            let nanos = (seconds.min(1.0e9) * 1.0e9) as i64;
            if let Some(t) = self.now.checked_add_signed(Duration::nanoseconds(nanos)) {
                self.now = t;
            }
        }
    }

    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }

    fn random(&mut self) -> &mut dyn Random {
        &mut self.rng
    }
}

// ---------------------------------------------------------------- valid cases

struct ExpectedCall {
    state: String,
    payload: Option<Value>,
    retry_count: Option<u64>,
}

enum Expected {
    Output(Value),
    Error {
        error: String,
        cause_contains: Option<String>,
    },
}

struct ValidCase {
    definition: Value,
    input: Value,
    options: RunOptions,
    seed: u64,
    tasks: HashMap<String, Vec<Response>>,
    expected: Expected,
    sleeps: Option<Vec<f64>>,
    sleeps_between: Option<Vec<(f64, f64)>>,
    calls: Option<Vec<ExpectedCall>>,
}

fn parse_options(v: Option<&Value>, options: &mut RunOptions) -> Result<u64, String> {
    let Some(v) = v else { return Ok(0) };
    let o = as_object(v, "'options'")?;
    check_keys(
        o,
        "'options'",
        &[],
        &[
            "payloadLimit",
            "executionName",
            "stateMachineName",
            "startTime",
            "seed",
        ],
    )?;
    if let Some(n) = o.get("payloadLimit") {
        options.payload_limit = n
            .as_u64()
            .ok_or("malformed fixture: options.payloadLimit must be a whole number")?
            as usize;
    }
    if let Some(s) = o.get("executionName") {
        options.execution_name = as_str(s, "options.executionName")?.to_string();
    }
    if let Some(s) = o.get("stateMachineName") {
        options.state_machine_name = as_str(s, "options.stateMachineName")?.to_string();
    }
    if let Some(s) = o.get("startTime") {
        let t = DateTime::parse_from_rfc3339(as_str(s, "options.startTime")?)
            .map_err(|e| format!("malformed fixture: options.startTime: {e}"))?;
        options.start_time = t.with_timezone(&Utc);
    }
    match o.get("seed") {
        None => Ok(0),
        Some(s) => s
            .as_u64()
            .ok_or_else(|| "malformed fixture: options.seed must be a whole number".to_string()),
    }
}

fn parse_tasks(v: Option<&Value>) -> Result<HashMap<String, Vec<Response>>, String> {
    let mut out = HashMap::new();
    let Some(v) = v else { return Ok(out) };
    for (state, list) in as_object(v, "'tasks'")? {
        let list = list
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| format!("malformed fixture: tasks.{state} must be a non-empty array"))?;
        let mut answers = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let what = format!("tasks.{state}[{i}]");
            let r = as_object(r, &what)?;
            if r.len() != 1 {
                return Err(format!(
                    "malformed fixture: {what} must have exactly one of Return, Throw"
                ));
            }
            check_keys(r, &what, &[], &["Return", "Throw"])?;
            if let Some(v) = r.get("Return") {
                answers.push(Response::Return(v.clone()));
            } else if let Some(t) = r.get("Throw") {
                let t = as_object(t, &format!("{what}.Throw"))?;
                check_keys(t, &format!("{what}.Throw"), &["Error"], &["Error", "Cause"])?;
                let error = as_str(&t["Error"], "Throw.Error")?.to_string();
                let cause = match t.get("Cause") {
                    Some(c) => as_str(c, "Throw.Cause")?.to_string(),
                    None => String::new(),
                };
                answers.push(Response::Throw(StatesError { error, cause }));
            }
        }
        out.insert(state.clone(), answers);
    }
    Ok(out)
}

fn parse_numbers(v: &Value, what: &str) -> Result<Vec<f64>, String> {
    v.as_array()
        .ok_or_else(|| format!("malformed fixture: {what} must be an array"))?
        .iter()
        .map(|n| {
            n.as_f64()
                .ok_or_else(|| format!("malformed fixture: {what} must hold numbers"))
        })
        .collect()
}

fn parse_valid(file: &Map<String, Value>) -> Result<ValidCase, String> {
    check_keys(
        file,
        "a valid fixture",
        &["description", "source", "definition", "expect"],
        &[
            "description",
            "source",
            "definition",
            "input",
            "options",
            "tasks",
            "expect",
        ],
    )?;
    non_empty_text(file, "description")?;
    non_empty_text(file, "source")?;
    let mut options = RunOptions::default();
    let seed = parse_options(file.get("options"), &mut options)?;
    let tasks = parse_tasks(file.get("tasks"))?;
    let e = as_object(&file["expect"], "'expect'")?;
    check_keys(
        e,
        "'expect'",
        &[],
        &[
            "output",
            "error",
            "causeContains",
            "sleeps",
            "sleepsBetween",
            "calls",
        ],
    )?;
    let expected = match (e.get("output"), e.get("error")) {
        (Some(o), None) if !e.contains_key("causeContains") => Expected::Output(o.clone()),
        (None, Some(err)) => Expected::Error {
            error: as_str(err, "expect.error")?.to_string(),
            cause_contains: e.get("causeContains").map(|c| as_str(c, "expect.causeContains")).transpose()?.map(String::from),
        },
        _ => return Err("malformed fixture: 'expect' needs exactly one of 'output', 'error' (causeContains only with error)".into()),
    };
    let sleeps = e
        .get("sleeps")
        .map(|v| parse_numbers(v, "expect.sleeps"))
        .transpose()?;
    let sleeps_between = match e.get("sleepsBetween") {
        None => None,
        Some(v) => {
            let pairs = v
                .as_array()
                .ok_or("malformed fixture: expect.sleepsBetween must be an array")?;
            let mut out = Vec::new();
            for p in pairs {
                match parse_numbers(p, "expect.sleepsBetween[i]")?.as_slice() {
                    [lo, hi] if lo <= hi => out.push((*lo, *hi)),
                    _ => return Err("malformed fixture: each sleepsBetween entry must be [lo, hi] with lo <= hi".into()),
                }
            }
            Some(out)
        }
    };
    let calls = match e.get("calls") {
        None => None,
        Some(v) => {
            let list = v
                .as_array()
                .ok_or("malformed fixture: expect.calls must be an array")?;
            let mut out = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let what = format!("expect.calls[{i}]");
                let c = as_object(c, &what)?;
                check_keys(c, &what, &["state"], &["state", "payload", "retryCount"])?;
                out.push(ExpectedCall {
                    state: as_str(&c["state"], "calls[].state")?.to_string(),
                    payload: c.get("payload").cloned(),
                    retry_count: match c.get("retryCount") {
                        None => None,
                        Some(n) => Some(
                            n.as_u64()
                                .ok_or("malformed fixture: retryCount must be a whole number")?,
                        ),
                    },
                });
            }
            Some(out)
        }
    };
    Ok(ValidCase {
        definition: file["definition"].clone(),
        input: file
            .get("input")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
        options,
        seed,
        tasks,
        expected,
        sleeps,
        sleeps_between,
        calls,
    })
}

/// Run one valid case; `Err` lists every way it differs from the expectation.
fn check_valid(file: &Map<String, Value>) -> Result<(), String> {
    let case = parse_valid(file)?;
    let machine = StateMachine::from_value(&case.definition).map_err(|p| {
        format!(
            "definition was refused but must validate:\n      {}",
            p.to_string().replace('\n', "\n      ")
        )
    })?;
    let mut host = TestHost {
        now: case.options.start_time,
        rng: SplitMix64(case.seed),
        tasks: case.tasks.clone(),
        used: HashMap::new(),
        sleeps: Vec::new(),
        calls: Vec::new(),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run(&machine, case.input.clone(), &case.options, &mut host)
    }))
    .map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
        format!("the interpreter panicked: {}", msg.unwrap_or_default())
    })?;
    let mut diffs = Vec::new();
    match (&case.expected, &outcome) {
        (Expected::Output(want), Outcome::Succeeded(got)) => {
            if !json_eq(want, got) {
                diffs.push(format!(
                    "output\n      expected: {}\n      actual:   {}",
                    show(want),
                    show(got)
                ));
            }
        }
        (Expected::Output(want), Outcome::Failed(e)) => {
            diffs.push(format!(
                "expected success with {}\n      actual: failed {}: {}",
                show(want),
                e.error,
                e.cause
            ));
        }
        (Expected::Error { error, .. }, Outcome::Succeeded(got)) => {
            diffs.push(format!(
                "expected failure {error}\n      actual: succeeded with {}",
                show(got)
            ));
        }
        (
            Expected::Error {
                error,
                cause_contains,
            },
            Outcome::Failed(e),
        ) => {
            if &e.error != error {
                diffs.push(format!(
                    "error\n      expected: {error}\n      actual:   {} (cause: {})",
                    e.error, e.cause
                ));
            }
            if let Some(c) = cause_contains {
                if !e.cause.to_lowercase().contains(&c.to_lowercase()) {
                    diffs.push(format!(
                        "cause should contain '{c}'\n      actual cause: {}",
                        e.cause
                    ));
                }
            }
        }
    }
    // A zero-length sleep is not observable time; only positive sleeps count.
    let slept: Vec<f64> = host.sleeps.iter().copied().filter(|s| *s > 0.0).collect();
    if let Some(want) = &case.sleeps {
        let same =
            want.len() == slept.len() && want.iter().zip(&slept).all(|(a, b)| (a - b).abs() <= EPS);
        if !same {
            diffs.push(format!(
                "sleeps\n      expected: {want:?}\n      actual:   {slept:?}"
            ));
        }
    }
    if let Some(bounds) = &case.sleeps_between {
        let ok = bounds.len() == slept.len()
            && bounds
                .iter()
                .zip(&slept)
                .all(|((lo, hi), s)| *s >= lo - EPS && *s <= hi + EPS);
        if !ok {
            diffs.push(format!(
                "sleeps within bounds\n      expected: {bounds:?}\n      actual:   {slept:?}"
            ));
        }
    }
    if let Some(want) = &case.calls {
        let got: Vec<String> = host
            .calls
            .iter()
            .map(|c| format!("{} retry={} {}", c.state, c.retry_count, show(&c.payload)))
            .collect();
        let same = want.len() == host.calls.len()
            && want.iter().zip(&host.calls).all(|(w, c)| {
                w.state == c.state
                    && w.payload.as_ref().is_none_or(|p| json_eq(p, &c.payload))
                    && w.retry_count.is_none_or(|n| n == u64::from(c.retry_count))
            });
        if !same {
            let want: Vec<String> = want
                .iter()
                .map(|w| {
                    let rc = w
                        .retry_count
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "*".into());
                    let p = w.payload.as_ref().map(show).unwrap_or_else(|| "*".into());
                    format!("{} retry={rc} {p}", w.state)
                })
                .collect();
            diffs.push(format!(
                "task calls\n      expected: [\n        {}\n      ]\n      actual: [\n        {}\n      ]",
                want.join("\n        "),
                got.join("\n        ")
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n    "))
    }
}

// ---------------------------------------------------------------- invalid cases

fn check_invalid(file: &Map<String, Value>) -> Result<(), String> {
    check_keys(
        file,
        "an invalid fixture",
        &["description", "definition", "problems"],
        &["description", "source", "definition", "problems"],
    )?;
    non_empty_text(file, "description")?;
    non_empty_text(file, "source")?;
    let list = file["problems"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or("malformed fixture: 'problems' must be a non-empty array")?;
    let mut expected: Vec<(String, Option<String>)> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let what = format!("problems[{i}]");
        let p = as_object(p, &what)?;
        check_keys(p, &what, &["pointer"], &["pointer", "contains"])?;
        let pointer = as_str(&p["pointer"], "problems[].pointer")?.to_string();
        let contains = p
            .get("contains")
            .map(|c| as_str(c, "problems[].contains"))
            .transpose()?
            .map(String::from);
        expected.push((pointer, contains));
    }
    let problems = match catch_unwind(AssertUnwindSafe(|| {
        StateMachine::from_value(&file["definition"])
    })) {
        Err(_) => return Err("validation panicked".into()),
        Ok(Ok(_)) => return Err("the definition validated, but it must be refused".into()),
        Ok(Err(p)) => p,
    };
    let actual: BTreeSet<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
    let wanted: BTreeSet<&str> = expected.iter().map(|(p, _)| p.as_str()).collect();
    let mut diffs = Vec::new();
    if actual != wanted {
        diffs.push(format!(
            "problem pointers\n      expected: {wanted:?}\n      actual:   {actual:?}\n      reported:\n        {}",
            problems.to_string().replace('\n', "\n        ")
        ));
    }
    for (pointer, contains) in &expected {
        let Some(c) = contains else { continue };
        let found = problems
            .iter()
            .any(|p| p.pointer == *pointer && p.message.to_lowercase().contains(&c.to_lowercase()));
        if !found && actual.contains(pointer.as_str()) {
            let msgs: Vec<&str> = problems
                .iter()
                .filter(|p| p.pointer == *pointer)
                .map(|p| p.message.as_str())
                .collect();
            diffs.push(format!(
                "message at '{pointer}' should contain '{c}'\n      actual: {msgs:?}"
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n    "))
    }
}

// ---------------------------------------------------------------- tests

/// Run `check` on every fixture of a kind; panic once with every failure.
fn run_all(kind: &str, check: fn(&Map<String, Value>) -> Result<(), String>) -> usize {
    let files = json_files(&fixtures_root().join(kind));
    let mut failures = Vec::new();
    for path in &files {
        if let Err(msg) = load(path).and_then(|f| check(&f)) {
            failures.push(format!("  {}\n    {msg}", rel(path)));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{} of {} {kind} fixtures failed:\n\n{}\n\n({} of {} {kind} fixtures failed)",
            failures.len(),
            files.len(),
            failures.join("\n\n"),
            failures.len(),
            files.len()
        );
    }
    files.len()
}

#[test]
fn valid_fixtures_run_as_aws_documents() {
    run_all("valid", check_valid);
}

#[test]
fn invalid_fixtures_are_refused_with_every_problem() {
    run_all("invalid", check_invalid);
}

#[test]
fn the_suite_is_large_enough_and_well_formed() {
    let root = fixtures_root();
    let valid = json_files(&root.join("valid"));
    let invalid = json_files(&root.join("invalid"));
    let mut problems = Vec::new();
    if valid.len() < MIN_VALID {
        problems.push(format!(
            "only {} valid fixtures; at least {MIN_VALID} are required",
            valid.len()
        ));
    }
    if invalid.len() < MIN_INVALID {
        problems.push(format!(
            "only {} invalid fixtures; at least {MIN_INVALID} are required",
            invalid.len()
        ));
    }
    // Format checks that do not depend on the interpreter, so a malformed
    // fixture is reported even while the implementation is failing cases.
    for path in &valid {
        if let Err(e) = load(path).and_then(|f| parse_valid(&f).map(|_| ())) {
            problems.push(format!("{}: {e}", rel(path)));
        }
    }
    for path in &invalid {
        let checked = load(path).and_then(|f| {
            check_keys(
                &f,
                "an invalid fixture",
                &["description", "definition", "problems"],
                &["description", "source", "definition", "problems"],
            )
        });
        if let Err(e) = checked {
            problems.push(format!("{}: {e}", rel(path)));
        }
    }
    for path in valid.iter().chain(&invalid) {
        let topic_depth = path
            .strip_prefix(&root)
            .map(|p| p.components().count())
            .unwrap_or(0);
        if topic_depth != 3 {
            problems.push(format!(
                "{}: fixtures live at <valid|invalid>/<topic>/<case>.json",
                rel(path)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "fixture suite problems:\n  {}",
        problems.join("\n  ")
    );
}
