//! Checks on the shape of one scope: every `Next` names a state of the same
//! scope, every state is reachable from `StartAt`, and the scope can end.
//!
//! These read the raw JSON rather than the parsed states, so they run in full
//! even when some states have other problems: one bad field never hides a
//! dangling `Next` or an unreachable state elsewhere.

use serde_json::{Map, Value};
use std::collections::HashMap;

use crate::error::{pointer_token, Problems};

/// The field of a state that names a successor, relative to the state;
/// rendered only when a problem is reported.
#[derive(Clone, Copy)]
enum Via {
    Field(&'static str),
    /// `Choices/0/Next`, `Catch/2/Next`.
    Item(&'static str, usize),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Field(name) => f.write_str(name),
            Via::Item(list, i) => write!(f, "{list}/{i}/Next"),
        }
    }
}

/// Every state a state may go to next, with the field that names it.
fn successors(state: &Value) -> Vec<(Via, &str)> {
    let mut out = Vec::new();
    for field in ["Next", "Default"] {
        if let Some(n) = state.get(field).and_then(Value::as_str) {
            out.push((Via::Field(field), n));
        }
    }
    for field in ["Choices", "Catch"] {
        if let Some(items) = state.get(field).and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                if let Some(n) = item.get("Next").and_then(Value::as_str) {
                    out.push((Via::Item(field, i), n));
                }
            }
        }
    }
    out
}

fn is_terminal(state: &Value) -> bool {
    state.get("End") == Some(&Value::Bool(true))
        || matches!(
            state.get("Type").and_then(Value::as_str),
            Some("Succeed" | "Fail")
        )
}

pub(super) fn check(
    start_at: Option<&str>,
    states: &Map<String, Value>,
    states_ptr: &str,
    problems: &mut Problems,
) {
    let state_ptr = |name: &str| format!("{states_ptr}/{}", pointer_token(name));
    // Each state's successors, read once and shared by both checks.
    let edges: Vec<(&str, Vec<(Via, &str)>)> = states
        .iter()
        .map(|(name, s)| (name.as_str(), successors(s)))
        .collect();
    let position: HashMap<&str, usize> = edges
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, i))
        .collect();
    for (name, out) in &edges {
        for (field, target) in out {
            if !position.contains_key(target) {
                problems.push(
                    format!("{}/{field}", state_ptr(name)),
                    format!(
                        "'{target}' is not a state in this scope; a transition can only go to a state in the same 'States' object (Parallel branches and Map iterators are separate scopes)"
                    ),
                );
            }
        }
    }
    let Some((start_at, start)) = start_at.and_then(|s| position.get(s).map(|&i| (s, i))) else {
        return;
    };
    let mut seen = vec![false; edges.len()];
    let mut stack = vec![start];
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut seen[i], true) {
            stack.extend(
                edges[i]
                    .1
                    .iter()
                    .filter_map(|(_, t)| position.get(t).copied()),
            );
        }
    }
    for ((name, _), seen) in edges.iter().zip(&seen) {
        if !seen {
            problems.push(
                state_ptr(name),
                format!(
                    "state '{name}' is unreachable: no Next, Default, Choice or Catch leads to it from StartAt '{start_at}'; connect it or remove it"
                ),
            );
        }
    }
    if !states.values().any(is_terminal) {
        problems.push(
            states_ptr,
            "no terminal state: add \"End\": true to a state, or a Succeed or Fail state, so executions can finish",
        );
    }
}
