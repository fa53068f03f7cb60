//! Checks on the shape of one scope: every `Next` names a state of the same
//! scope, every state is reachable from `StartAt`, and the scope can end.
//!
//! These read the raw JSON rather than the parsed states, so they run in full
//! even when some states have other problems: one bad field never hides a
//! dangling `Next` or an unreachable state elsewhere.

use serde_json::{Map, Value};
use std::collections::HashSet;

use crate::error::{pointer_token, Problems};

/// Every state a state may go to next, with the field (relative pointer)
/// that names it.
fn successors(state: &Value) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    if let Some(n) = state.get("Next").and_then(Value::as_str) {
        out.push(("Next".to_string(), n));
    }
    if let Some(d) = state.get("Default").and_then(Value::as_str) {
        out.push(("Default".to_string(), d));
    }
    for field in ["Choices", "Catch"] {
        if let Some(items) = state.get(field).and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                if let Some(n) = item.get("Next").and_then(Value::as_str) {
                    out.push((format!("{field}/{i}/Next"), n));
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
    for (name, s) in states {
        for (field, target) in successors(s) {
            if !states.contains_key(target) {
                problems.push(
                    format!("{}/{field}", state_ptr(name)),
                    format!(
                        "'{target}' is not a state in this scope; a transition can only go to a state in the same 'States' object (Parallel branches and Map iterators are separate scopes)"
                    ),
                );
            }
        }
    }
    let Some(start_at) = start_at.filter(|s| states.contains_key(*s)) else {
        return;
    };
    let mut seen = HashSet::new();
    let mut stack = vec![start_at];
    while let Some(name) = stack.pop() {
        let Some(s) = states.get(name) else { continue };
        if seen.insert(name) {
            stack.extend(successors(s).into_iter().map(|(_, t)| t));
        }
    }
    for name in states.keys() {
        if !seen.contains(name.as_str()) {
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
