//! Trigger rules (DESIGN.md, "Trigger rule"): `{ "name", "pattern",
//! "workflow", "input"? }`. The pattern and the input template are compiled
//! here, once; the engine routes events through them.

use serde_json::{Map, Value};

use crate::error::{pointer_token, Problems, StatesError};
use crate::pattern::Pattern;
use crate::template::Template;
use crate::text::json_kind;
use crate::Random;

const FIELDS: &[&str] = &[
    "name",
    "description",
    "pattern",
    "workflow",
    "input",
    "eventbridge",
];

/// A validated trigger rule.
#[derive(Debug, Clone)]
pub struct TriggerRule {
    /// Unique name (1 to 80 letters, digits, `-`, `_`, `.`).
    pub name: String,
    pub description: Option<String>,
    pub pattern: Pattern,
    /// The workflow to start: `NAME`, `NAME:VERSION` or `NAME:ALIAS`.
    pub workflow: String,
    /// Builds the execution input from the event; `None` passes the whole
    /// event (as JSON, `data` holding the payload).
    pub input: Option<Template>,
    /// A rule made through the EventBridge protocol: the workflow's input
    /// is made from the event in EventBridge's shape
    /// ([`crate::eventbridge`]); exclusive with `input`.
    pub eventbridge: Option<crate::eventbridge::Target>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl TriggerRule {
    /// Parse and validate; every problem carries a JSON pointer.
    pub fn from_value(value: &Value) -> Result<TriggerRule, Problems> {
        let mut problems = Problems::default();
        let Value::Object(map) = value else {
            problems.push(
                "",
                format!(
                    "a trigger rule must be a JSON object with \"name\", \"pattern\" and \"workflow\", not {}",
                    json_kind(value)
                ),
            );
            return Err(problems);
        };
        for key in map.keys() {
            if !FIELDS.contains(&key.as_str()) {
                let hint = crate::model::fields::suggest(key, FIELDS)
                    .map(|s| format!("did you mean '{s}'? "))
                    .unwrap_or_default();
                problems.push(
                    format!("/{}", pointer_token(key)),
                    format!(
                        "unknown field '{key}'; {hint}a trigger rule has {}",
                        FIELDS.join(", ")
                    ),
                );
            }
        }
        let name = string(map, "name", &mut problems, "e.g. \"orders-to-fulfil\"");
        if let Some(n) = &name {
            if !valid_name(n) {
                problems.push(
                    "/name",
                    format!(
                        "'{n}' is not a valid name: use 1 to 80 letters, digits, '-', '_' or '.'"
                    ),
                );
            }
        }
        let workflow = string(
            map,
            "workflow",
            &mut problems,
            "the workflow to start: NAME, NAME:VERSION or NAME:ALIAS",
        );
        if let Some(w) = &workflow {
            let base = w.split_once(':').map(|(n, _)| n).unwrap_or(w);
            if !valid_name(base) {
                problems.push(
                    "/workflow",
                    format!("'{w}' does not name a workflow: use NAME, NAME:VERSION or NAME:ALIAS"),
                );
            }
        }
        let description = match map.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                problems.push(
                    "/description",
                    format!("'description' must be a string, not {}", json_kind(other)),
                );
                None
            }
        };
        let pattern = match map.get("pattern") {
            None => {
                problems.push("", "missing field 'pattern': add an event pattern such as {\"type\": [\"order.created\"]}");
                None
            }
            Some(p) => match Pattern::compile(p, "/pattern") {
                Ok(p) => Some(p),
                Err(ps) => {
                    problems.0.extend(ps.0);
                    None
                }
            },
        };
        let input = match map.get("input") {
            None | Some(Value::Null) => None,
            Some(t) => Template::compile(t, "/input", &mut problems),
        };
        let eventbridge = match map.get("eventbridge") {
            None | Some(Value::Null) => None,
            Some(_) if input.is_some() => {
                problems.push(
                    "/eventbridge",
                    "give 'input' or 'eventbridge', not both ('eventbridge' has its own input, inputPath and inputTransformer)",
                );
                None
            }
            Some(t) => crate::eventbridge::Target::from_value(t, "/eventbridge", &mut problems),
        };
        match (name, workflow, pattern) {
            (Some(name), Some(workflow), Some(pattern)) if problems.is_empty() => Ok(TriggerRule {
                name,
                description,
                pattern,
                workflow,
                input,
                eventbridge,
            }),
            _ => Err(problems),
        }
    }

    /// The execution input for an event this rule matched. An error (a
    /// path the event lacks, a failing intrinsic) is the reason the event
    /// goes to the dead-letter inbox.
    pub fn input_for(&self, event: &Value, rng: &mut dyn Random) -> Result<Value, StatesError> {
        if let Some(target) = &self.eventbridge {
            return target.input_for(event);
        }
        match &self.input {
            None => Ok(event.clone()),
            Some(t) => t.evaluate(
                event,
                crate::path::Docs::context(&Value::Object(Map::new())),
                rng,
            ),
        }
    }
}

fn string(
    map: &Map<String, Value>,
    key: &str,
    problems: &mut Problems,
    hint: &str,
) -> Option<String> {
    match map.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        None => {
            problems.push("", format!("missing field '{key}': {hint}"));
            None
        }
        Some(other) => {
            problems.push(
                format!("/{key}"),
                format!(
                    "'{key}' must be a string ({hint}), not {}",
                    json_kind(other)
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rule_builds_the_input_from_the_event() {
        let rule = TriggerRule::from_value(&json!({
            "name": "orders", "workflow": "fulfil:live",
            "pattern": {"type": ["order.created"]},
            "input": {"order.$": "$.data.id", "from.$": "$.source", "fixed": 1}
        }))
        .unwrap();
        let event = json!({"type": "order.created", "source": "shop", "data": {"id": 7}});
        assert!(rule.pattern.matches(&event));
        let input = rule.input_for(&event, &mut crate::SplitMix64(1)).unwrap();
        assert_eq!(input, json!({"order": 7, "from": "shop", "fixed": 1}));
        let e = rule
            .input_for(
                &json!({"source": "x", "data": {}}),
                &mut crate::SplitMix64(1),
            )
            .unwrap_err();
        assert!(e.cause.contains("$.data.id"), "{}", e.cause);
    }

    #[test]
    fn without_input_the_whole_event_is_the_input() {
        let rule = TriggerRule::from_value(
            &json!({"name": "all", "workflow": "w", "pattern": {"source": [{"prefix": ""}]}}),
        )
        .unwrap();
        let event = json!({"source": "a", "data": [1]});
        assert_eq!(
            rule.input_for(&event, &mut crate::SplitMix64(1)).unwrap(),
            event
        );
    }

    #[test]
    fn bad_rules_list_every_problem_with_a_pointer() {
        let e = TriggerRule::from_value(&json!({
            "name": "bad name", "workflow": 3, "patern": {},
            "input": {"x.$": "not a path"}
        }))
        .unwrap_err()
        .to_string();
        for want in [
            "/name: ",
            "/workflow: ",
            "/patern: ",
            "did you mean 'pattern'",
            "missing field 'pattern'",
            "/input/x.$: ",
        ] {
            assert!(e.contains(want), "{want} not in:\n{e}");
        }
        let e = TriggerRule::from_value(
            &json!({"name": "r", "workflow": "w", "pattern": {"type": "x"}}),
        )
        .unwrap_err();
        assert_eq!(e.0[0].pointer, "/pattern/type");
        assert!(TriggerRule::from_value(&json!("rule")).is_err());
    }
}
