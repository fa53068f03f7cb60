//! Definition → [`StateMachine`]: the top level and scopes (branches,
//! iterators). Per-state parsing lives in `parse_states.rs`, graph checks in
//! `graph.rs`.

use serde_json::Value;
use std::borrow::Cow;

use super::fields::{kind, Obj};
use super::parse_common::query_language;
use super::{graph, parse_states, QueryLanguage, Scope, StateMachine, MAX_STATE_NAME_LEN};
use crate::error::{child_pointer, Problems};

const TOP_FIELDS: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "TimeoutSeconds",
    "Version",
    "QueryLanguage",
];

/// `definition` is kept in the machine as written: moved when the caller
/// gives it away (`from_json`), copied when it is borrowed (`from_value`).
pub(super) fn state_machine(definition: Cow<'_, Value>) -> Result<StateMachine, Problems> {
    let value = &*definition;
    let mut problems = Problems::default();
    let Some(obj) = Obj::new(value, "", "a workflow definition", &mut problems) else {
        return Err(problems);
    };
    obj.unknown_fields(TOP_FIELDS, "the workflow definition", &mut problems);
    let comment = obj.string("Comment", &mut problems).map(str::to_string);
    let ql = query_language(&obj, None, &mut problems);
    if let Some(v) = obj.string("Version", &mut problems) {
        if v != "1.0" {
            problems.push(
                obj.at("Version"),
                format!("'Version' must be \"1.0\", found \"{v}\""),
            );
        }
    }
    let timeout_seconds = obj.integer("TimeoutSeconds", 1, 99_999_999, &mut problems);
    let scope = scope(&obj, "the workflow", ql, &mut problems);
    if problems.is_empty() {
        super::scopes::check(value, &mut problems);
    }
    if !problems.is_empty() {
        problems.0.sort();
        problems.0.dedup();
        return Err(problems);
    }
    let scope = scope.expect("a scope is returned when no problem was found");
    let uses_context = mentions_context(value);
    let uses_variables = assigns(&scope);
    let definition = definition.into_owned();
    Ok(StateMachine {
        comment,
        scope,
        timeout_seconds,
        uses_context,
        uses_variables,
        definition,
    })
}

/// True when some key or string of the definition contains `$$` or
/// `states.context`: the same answer as searching its JSON text (no other
/// JSON token can hold them, and serialization keeps them as they are),
/// without serializing it.
fn mentions_context(value: &Value) -> bool {
    // A plain byte scan: `str::contains` sets up a substring searcher per
    // call, which costs more than these short strings.
    fn has(s: &str) -> bool {
        let b = s.as_bytes();
        b.windows(2).any(|w| w == b"$$") || b.windows(14).any(|w| w == b"states.context")
    }
    match value {
        Value::String(s) => has(s),
        Value::Array(items) => items.iter().any(mentions_context),
        Value::Object(map) => map.iter().any(|(k, v)| has(k) || mentions_context(v)),
        _ => false,
    }
}

/// True when some state (or catcher, or Choice rule) of `scope`, or of a
/// scope inside it, assigns variables.
fn assigns(scope: &Scope) -> bool {
    use super::StateKind;
    scope.states.iter().any(|s| {
        s.assign.is_some()
            || match &s.kind {
                StateKind::Task(t) => t.result.catch.iter().any(|c| c.assign.is_some()),
                StateKind::Parallel(p) => {
                    p.result.catch.iter().any(|c| c.assign.is_some())
                        || p.branches.iter().any(assigns)
                }
                StateKind::Map(m) => {
                    m.result.catch.iter().any(|c| c.assign.is_some()) || assigns(&m.processor)
                }
                StateKind::Choice(c) => c.choices.iter().any(|b| b.assign.is_some()),
                _ => false,
            }
    })
}

/// Parse `StartAt` and `States` of `obj` (the top level, a Parallel branch or
/// a Map iterator) and check its graph.
pub(super) fn scope(
    obj: &Obj,
    what: &str,
    workflow_ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<Scope> {
    let start_at = obj.required_string("StartAt", what, problems);
    let states_ptr = obj.at("States");
    let Some(states_value) = obj.get("States") else {
        problems.push(
            &obj.ptr,
            format!("{what} is missing the required field 'States' (an object of named states)"),
        );
        return None;
    };
    let Value::Object(map) = states_value else {
        problems.push(
            &states_ptr,
            format!(
                "'States' must be an object of named states, found {}",
                kind(states_value)
            ),
        );
        return None;
    };
    if map.is_empty() {
        problems.push(&states_ptr, "'States' must contain at least one state");
        return None;
    }
    let before = problems.len();
    let mut states = Vec::with_capacity(map.len());
    for (name, v) in map {
        let ptr = child_pointer(&states_ptr, name);
        if name.is_empty() || name.chars().count() > MAX_STATE_NAME_LEN {
            problems.push(
                &ptr,
                format!("a state name must be 1 to {MAX_STATE_NAME_LEN} characters long"),
            );
        }
        if let Some(state) = parse_states::state(name, v, &ptr, workflow_ql, problems) {
            states.push(state);
        }
    }
    graph::check(start_at, map, &states_ptr, problems);
    let start_at = start_at?;
    if !map.contains_key(start_at) {
        problems.push(
            obj.at("StartAt"),
            format!(
                "StartAt names '{start_at}', which is not a state in 'States'; use one of: {}",
                names(map)
            ),
        );
    }
    (problems.len() == before).then(|| Scope::new(start_at.to_string(), states))
}

fn names(map: &serde_json::Map<String, Value>) -> String {
    let mut list: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
    if map.len() > 10 {
        list.push("…");
    }
    list.join(", ")
}
