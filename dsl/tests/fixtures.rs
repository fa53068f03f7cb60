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

mod fixture_support;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{Map, Value};
use sluice_dsl::interp::{run, Outcome};
use sluice_dsl::StateMachine;

use fixture_support::format::{
    as_object, as_str, check_keys, non_empty_text, parse_valid, Expected,
};
use fixture_support::host::TestHost;
use fixture_support::{fixtures_root, json_eq, json_files, load, rel, show, EPS};

/// The suite must keep at least this many cases of each kind.
const MIN_VALID: usize = 150;
const MIN_INVALID: usize = 40;

/// Run one valid case; `Err` lists every way it differs from the expectation.
fn check_valid(file: &Map<String, Value>) -> Result<(), String> {
    let case = parse_valid(file)?;
    let machine = StateMachine::from_value(&case.definition).map_err(|p| {
        format!(
            "definition was refused but must validate:\n      {}",
            p.to_string().replace('\n', "\n      ")
        )
    })?;
    let mut host = TestHost::new(case.options.start_time, case.seed, case.tasks.clone());
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
