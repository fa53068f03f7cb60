//! Tests of Choice rules through the public API: parse JSON, then evaluate.

use serde_json::{json, Value};

use super::{parse_branch, ChoiceBranch, Condition};
use crate::error::Problems;

mod eval;
mod parse;

/// Parse a top-level rule that must be valid.
fn branch(rule: Value) -> ChoiceBranch {
    let mut problems = Problems::default();
    let parsed = parse_branch(
        &rule,
        "/States/Check/Choices/0",
        crate::model::QueryLanguage::JsonPath,
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "unexpected problems for {rule}:\n{problems}"
    );
    parsed.expect("a branch when there are no problems")
}

/// Parse a nested rule (no `Next` needed) that must be valid.
fn rule(mut rule: Value) -> Condition {
    rule["Next"] = json!("Done");
    branch(rule).condition
}

/// The problems of an invalid top-level rule, as (pointer, message) pairs.
fn problems(rule: Value) -> Vec<(String, String)> {
    let mut problems = Problems::default();
    let parsed = parse_branch(
        &rule,
        "/States/Check/Choices/0",
        crate::model::QueryLanguage::JsonPath,
        &mut problems,
    );
    assert!(
        parsed.is_none(),
        "a rule with problems must not parse: {rule}"
    );
    assert!(!problems.is_empty(), "expected problems for {rule}");
    problems
        .iter()
        .map(|p| (p.pointer.clone(), p.message.clone()))
        .collect()
}

fn pointers(rule: Value) -> Vec<String> {
    problems(rule).into_iter().map(|(p, _)| p).collect()
}
