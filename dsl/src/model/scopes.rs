//! AWS's scope rule for variables: "a variable assigned in an inner scope
//! cannot have the same name as one assigned in an outer scope" (AWS
//! "Passing data between states with variables", Variable scope). A name
//! belongs to a scope when any state of the scope assigns it — in its
//! `Assign`, a Choice rule's or a catcher's — so the rule is checked on the
//! definition. A Distributed Map's iterations are child executions that see
//! no outer variables, so they are scopes of their own.

use serde_json::Value;
use std::collections::HashMap;

use crate::error::{child_pointer, Problems};

/// Names assigned in the scopes around the one being checked, with the
/// state that assigns each.
type Outer = HashMap<String, String>;

pub(super) fn check(definition: &Value, problems: &mut Problems) {
    walk(definition, "", &Outer::new(), problems);
}

/// Every `(name, pointer)` a state assigns.
fn assigned(state: &Value, ptr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut take = |assign: Option<&Value>, at: String| {
        if let Some(Value::Object(map)) = assign {
            for key in map.keys() {
                let name = key.strip_suffix(".$").unwrap_or(key);
                out.push((name.to_string(), child_pointer(&at, key)));
            }
        }
    };
    take(state.get("Assign"), child_pointer(ptr, "Assign"));
    for list in ["Choices", "Catch"] {
        if let Some(items) = state.get(list).and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                let at = format!("{}/{i}/Assign", child_pointer(ptr, list));
                take(item.get("Assign"), at);
            }
        }
    }
    out
}

fn walk(scope: &Value, ptr: &str, outer: &Outer, problems: &mut Problems) {
    let Some(states) = scope.get("States").and_then(Value::as_object) else {
        return;
    };
    let states_ptr = child_pointer(ptr, "States");
    let mut here = outer.clone();
    for (name, state) in states {
        for (var, at) in assigned(state, &child_pointer(&states_ptr, name)) {
            if let Some(owner) = outer.get(&var) {
                problems.push(
                    at,
                    format!("the variable '{var}' is already assigned in an outer scope (by state '{owner}'); a Parallel branch or Map iteration cannot assign it: choose another name, or pass the value out through the state's output"),
                );
            } else {
                here.entry(var).or_insert_with(|| name.clone());
            }
        }
    }
    for (name, state) in states {
        let at = child_pointer(&states_ptr, name);
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for (i, b) in branches.iter().enumerate() {
                walk(
                    b,
                    &format!("{}/{i}", child_pointer(&at, "Branches")),
                    &here,
                    problems,
                );
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            let Some(p) = state.get(key) else { continue };
            let distributed =
                p.pointer("/ProcessorConfig/Mode").and_then(Value::as_str) == Some("DISTRIBUTED");
            let scope_outer = if distributed {
                Outer::new()
            } else {
                here.clone()
            };
            walk(p, &child_pointer(&at, key), &scope_outer, problems);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(def: Value) -> Vec<String> {
        let mut p = Problems::default();
        check(&def, &mut p);
        p.0.into_iter().map(|p| p.pointer).collect()
    }

    #[test]
    fn inner_scopes_cannot_assign_outer_names() {
        let map = |inner: Value, mode: &str| {
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
                "M": {"Type": "Map", "End": true, "ItemProcessor": {
                    "ProcessorConfig": {"Mode": mode}, "StartAt": "I", "States": {"I": inner}}}}})
        };
        assert_eq!(
            problems(map(
                json!({"Type": "Pass", "Assign": {"x.$": "$"}, "End": true}),
                "INLINE"
            )),
            vec!["/States/M/ItemProcessor/States/I/Assign/x.$"]
        );
        assert!(problems(map(
            json!({"Type": "Pass", "Assign": {"y": 2}, "End": true}),
            "INLINE"
        ))
        .is_empty());
        assert!(problems(map(
            json!({"Type": "Pass", "Assign": {"x": 2}, "End": true}),
            "DISTRIBUTED"
        ))
        .is_empty());
        // Sibling branches may use the same inner name.
        let par = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"inner": 1}, "End": true}}},
            {"StartAt": "C", "States": {"C": {"Type": "Pass", "Assign": {"inner": 2}, "End": true}}}]}}});
        assert!(problems(par).is_empty());
    }
}
