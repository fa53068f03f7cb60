//! EventBridge-style event patterns, applied to a CloudEvent as JSON
//! (attributes at the top level, the payload under `data`).
//!
//! A pattern is compiled once ([`Pattern::compile`]) into conjunctions of
//! field conditions (`$or` expanded); [`Pattern::explain`] says which field
//! failed and why, and a [`PatternSet`] matches one event against many
//! patterns at once through an index.
//!
//! Why not a matching-automaton crate: `quamina` (the Rust port, 0.7) was
//! checked. It lacks `$or`, `anything-but` with `suffix`/`wildcard`/
//! `equals-ignore-case`, and cannot say which field of a pattern failed,
//! which `sluice rule test` must; it also needs a newer compiler than the
//! workspace's `rust-version`. Patterns here are small, so a hand-written
//! matcher with an exact-value index (see `index.rs`) keeps matching flat as
//! rules grow, with semantics and error messages we control.

mod cond;
mod index;
mod parse;
#[cfg(test)]
mod tests;

use serde_json::Value;
use std::fmt;

use crate::error::{pointer_token, Problems};
use cond::Cond;
pub use index::PatternSet;
pub use parse::MAX_ALTERNATIVES;
use parse::{Conj, Field};

/// A compiled event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The event matches when any of these matches (more than one only
    /// through `$or`).
    conjs: Vec<Conj>,
}

/// Why an event did not match: the first field that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// JSON pointer into the event (`/data/amount`).
    pub pointer: String,
    pub reason: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.reason)
    }
}

impl Pattern {
    /// Compile the pattern found at JSON pointer `ptr` ("" for a document
    /// of its own); every problem carries a pointer and names the fix.
    pub fn compile(value: &Value, ptr: &str) -> Result<Pattern, Problems> {
        let mut problems = Problems::default();
        let conjs = parse::pattern(value, ptr, &mut problems);
        if problems.is_empty() {
            Ok(Pattern { conjs })
        } else {
            Err(problems)
        }
    }

    pub fn matches(&self, event: &Value) -> bool {
        self.conjs.iter().any(|c| conj_matches(c, event))
    }

    /// `Ok` on a match; otherwise the first field that failed (of the first
    /// alternative when the pattern has several through `$or`).
    pub fn explain(&self, event: &Value) -> Result<(), Mismatch> {
        let mut first = None;
        for conj in &self.conjs {
            match conj.iter().find(|f| !field_matches(f, event)) {
                None => return Ok(()),
                Some(f) => {
                    first.get_or_insert_with(|| mismatch(f, event));
                }
            }
        }
        let mut m = first.expect("a compiled pattern has at least one alternative");
        if self.conjs.len() > 1 {
            m.reason = format!(
                "{} (none of the {} $or alternatives matched; this is the first one's first failing field)",
                m.reason,
                self.conjs.len()
            );
        }
        Err(m)
    }
}

fn conj_matches(conj: &Conj, event: &Value) -> bool {
    conj.iter().all(|f| field_matches(f, event))
}

/// Calls `f` on every leaf value at `path`, going through arrays on the way
/// (an array of objects matches when any element does); stops when `f` says
/// true. Returns (something was at the path, `f` said true).
fn visit(v: &Value, path: &[String], f: &mut dyn FnMut(&Value) -> bool) -> (bool, bool) {
    match (v, path.split_first()) {
        (Value::Array(items), _) => {
            let mut present = false;
            for item in items {
                let (p, hit) = visit(item, path, f);
                present |= p;
                if hit {
                    return (true, true);
                }
            }
            (present, false)
        }
        (Value::Object(map), Some((key, rest))) => match map.get(key) {
            Some(child) => visit(child, rest, f),
            None => (false, false),
        },
        (_, Some(_)) => (false, false), // a scalar where an object was expected
        (Value::Object(_), None) => (true, false), // not a leaf: nothing to compare
        (leaf, None) => (true, f(leaf)),
    }
}

fn field_matches(field: &Field, event: &Value) -> bool {
    let (present, hit) = visit(event, &field.path, &mut |leaf| {
        field.conds.iter().any(|c| c.test(leaf))
    });
    hit || (!present && field.conds.iter().any(|c| matches!(c, Cond::Exists(false))))
}

fn mismatch(field: &Field, event: &Value) -> Mismatch {
    let pointer: String = field
        .path
        .iter()
        .map(|s| format!("/{}", pointer_token(s)))
        .collect();
    let mut values = Vec::new();
    let (present, _) = visit(event, &field.path, &mut |leaf| {
        values.push(crate::path::preview(leaf));
        false
    });
    let reason = if !present {
        format!(
            "the event has no field {pointer}; the pattern wants {}",
            field.shown
        )
    } else if values.is_empty() {
        format!(
            "{pointer} is an object, not a value; match its fields instead (the pattern wants {})",
            field.shown
        )
    } else {
        if values.len() == 1 {
            format!("the value {} does not match {}", values[0], field.shown)
        } else {
            format!(
                "none of the values {} matches {}",
                values.join(", "),
                field.shown
            )
        }
    };
    Mismatch { pointer, reason }
}
