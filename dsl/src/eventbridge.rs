//! EventBridge targets on Sluice's events: a trigger rule created through
//! the EventBridge protocol (`PutRule` + `PutTargets`) gives its target the
//! event in EventBridge's shape (`version`, `id`, `detail-type`, `source`,
//! `account`, `time`, `region`, `resources`, `detail`) — whole, at its
//! `InputPath`, as the constant `Input`, or through the `InputTransformer`
//! (`InputPathsMap` + `InputTemplate` with `<name>` placeholders), as the
//! EventBridge user guide describes them ("Amazon EventBridge input
//! transformation").

use serde_json::{json, Map, Value};

use crate::error::{Problems, StatesError};
use crate::path::{Docs, Path};

/// How a target's input is made from the event.
#[derive(Debug, Clone)]
pub enum TargetInput {
    /// The whole event.
    Event,
    Constant(Value),
    Path(Path),
    Transformer {
        paths: Vec<(String, Path)>,
        template: String,
    },
}

/// The `eventbridge` part of a trigger rule.
#[derive(Debug, Clone)]
pub struct Target {
    pub rule_arn: String,
    pub input: TargetInput,
    /// A Lambda function target (`"function": "NAME[:QUALIFIER]"`): the
    /// workflow started is the one that invokes functions asynchronously,
    /// and its input is `{"FunctionName", "Payload": <the target input>}`.
    pub function: Option<String>,
}

/// Variables every transformer has (the guide's "predefined variables").
const PREDEFINED: [&str; 5] = [
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
];

/// A CloudEvent (as Sluice keeps events) in EventBridge's shape. Events
/// that came in through PutEvents carry `account`, `region` and
/// `resources`; others get the defaults of DESIGN.md's ARNs.
pub fn envelope(event: &Value) -> Value {
    let get = |k: &str, default: Value| event.get(k).cloned().unwrap_or(default);
    let mut out = json!({
        "version": "0",
        "id": get("id", Value::Null),
        "detail-type": get("type", Value::Null),
        "source": get("source", Value::Null),
        "account": get("account", json!("000000000000")),
        "region": get("region", json!("us-east-1")),
        "resources": get("resources", json!([])),
        "detail": get("data", json!({})),
    });
    if let Some(t) = event.get("time") {
        out["time"] = t.clone();
    }
    out
}

fn path(text: &Value, at: &str, problems: &mut Problems) -> Option<Path> {
    match text.as_str().map(Path::parse) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            problems.push(at, e);
            None
        }
        None => {
            problems.push(at, "a JSONPath string such as \"$.detail.id\"");
            None
        }
    }
}

impl Target {
    /// Parse `{"ruleArn", "input"?, "inputPath"?, "inputTransformer"?}` at
    /// JSON pointer `ptr`; at most one way of making the input.
    pub fn from_value(v: &Value, ptr: &str, problems: &mut Problems) -> Option<Target> {
        let Some(map) = v.as_object() else {
            problems.push(ptr, "'eventbridge' is an object: {\"ruleArn\", \"input\" | \"inputPath\" | \"inputTransformer\"}");
            return None;
        };
        let rule_arn = map
            .get("ruleArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ways: Vec<&str> = ["input", "inputPath", "inputTransformer"]
            .into_iter()
            .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if ways.len() > 1 {
            problems.push(
                ptr,
                format!(
                    "give one of input, inputPath and inputTransformer, not {}",
                    ways.join(" and ")
                ),
            );
            return None;
        }
        let input = match ways.first().copied() {
            None => TargetInput::Event,
            Some("input") => TargetInput::Constant(map["input"].clone()),
            Some("inputPath") => TargetInput::Path(path(
                &map["inputPath"],
                &format!("{ptr}/inputPath"),
                problems,
            )?),
            _ => transformer(
                &map["inputTransformer"],
                &format!("{ptr}/inputTransformer"),
                problems,
            )?,
        };
        let function = match map.get("function") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) if !f.is_empty() => Some(f.clone()),
            Some(_) => {
                problems.push(
                    format!("{ptr}/function"),
                    "'function' is the name of the target function",
                );
                return None;
            }
        };
        Some(Target {
            rule_arn,
            input,
            function,
        })
    }

    /// The target's input for `event` (a CloudEvent as Sluice keeps it).
    pub fn input_for(&self, event: &Value) -> Result<Value, StatesError> {
        let input = self.target_input(event)?;
        Ok(match &self.function {
            Some(f) => json!({"FunctionName": f, "Payload": input}),
            None => input,
        })
    }

    fn target_input(&self, event: &Value) -> Result<Value, StatesError> {
        let eb = envelope(event);
        let docs = Docs::context(&Value::Null);
        match &self.input {
            TargetInput::Event => Ok(eb),
            TargetInput::Constant(v) => Ok(v.clone()),
            TargetInput::Path(p) => p.lookup(&eb, docs).map(|v| v.into_owned()).ok_or_else(|| {
                StatesError::runtime(format!("the InputPath {p} selects nothing in the event"))
            }),
            TargetInput::Transformer { paths, template } => {
                let mut values: Map<String, Value> = Map::new();
                for (name, p) in paths {
                    let v = p.lookup(&eb, docs).map_or(Value::Null, |v| v.into_owned());
                    values.insert(name.clone(), v);
                }
                let name = self.rule_arn.rsplit('/').next().unwrap_or_default();
                values.insert("aws.events.rule-arn".into(), json!(self.rule_arn));
                values.insert("aws.events.rule-name".into(), json!(name));
                if let Some(t) = eb.get("time") {
                    values.insert("aws.events.event.ingestion-time".into(), t.clone());
                }
                let mut without_detail = eb.clone();
                if let Some(m) = without_detail.as_object_mut() {
                    m.remove("detail");
                }
                values.insert("aws.events.event".into(), without_detail);
                values.insert("aws.events.event.json".into(), eb);
                let trimmed = template.trim_start();
                if trimmed.starts_with('{') || trimmed.starts_with('[') {
                    let text = fill(template, &values, true);
                    serde_json::from_str(&text).map_err(|e| {
                        StatesError::runtime(format!(
                            "the InputTemplate did not make JSON ({e}): {text}"
                        ))
                    })
                } else {
                    Ok(Value::String(fill(template, &values, false)))
                }
            }
        }
    }
}

fn transformer(v: &Value, ptr: &str, problems: &mut Problems) -> Option<TargetInput> {
    let template = match v.get("inputTemplate").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => {
            problems.push(
                format!("{ptr}/inputTemplate"),
                "the InputTemplate is a non-empty string with <name> placeholders",
            );
            return None;
        }
    };
    let mut paths = Vec::new();
    if let Some(map) = v.get("inputPathsMap").and_then(Value::as_object) {
        if map.len() > 100 {
            problems.push(format!("{ptr}/inputPathsMap"), "at most 100 variables");
        }
        for (name, p) in map {
            let at = format!("{ptr}/inputPathsMap/{}", crate::error::pointer_token(name));
            if name.starts_with("aws.") || PREDEFINED.contains(&name.as_str()) {
                problems.push(
                    &at,
                    format!("'{name}' is reserved (names starting with aws. are EventBridge's)"),
                );
                continue;
            }
            paths.push((name.clone(), path(p, &at, problems)?));
        }
    }
    Some(TargetInput::Transformer { paths, template })
}

/// The template with each `<name>` of `values` filled in. A JSON template
/// (`json`): inside a string as text (strings as they are, other values as
/// JSON, escaped for the string), elsewhere as JSON, a variable the event
/// lacks being `null` (empty inside a string). A text template: every value
/// as text. Unknown `<…>` stay as written.
fn fill(template: &str, values: &Map<String, Value>, json: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_string = !json;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '\\' && in_string && json {
            let n = rest.chars().nth(1).map_or(1, |n| 1 + n.len_utf8());
            out.push_str(&rest[..n]);
            rest = &rest[n..];
            continue;
        }
        if c == '"' && json {
            in_string = !in_string;
        }
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let name = &rest[1..end];
                let known = values.contains_key(name) || PREDEFINED.contains(&name);
                if known && !name.contains(['<', '"']) {
                    let v = values.get(name).cloned().unwrap_or(Value::Null);
                    if in_string {
                        let text = match &v {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        if json {
                            let escaped = Value::String(text).to_string();
                            out.push_str(&escaped[1..escaped.len() - 1]);
                        } else {
                            out.push_str(&text);
                        }
                    } else {
                        out.push_str(&v.to_string());
                    }
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Value {
        json!({"specversion": "1.0", "id": "e-1", "source": "shop", "type": "order.placed",
               "time": "2026-12-04T00:00:00Z", "data": {"instance": "i-123", "state": "running", "n": 7}})
    }

    fn target(v: Value) -> Target {
        let mut problems = Problems::default();
        let t = Target::from_value(&v, "/eventbridge", &mut problems);
        assert!(problems.is_empty(), "{problems}");
        t.unwrap()
    }

    #[test]
    fn the_whole_event_in_eventbridge_shape() {
        let v = target(json!({"ruleArn": "arn:aws:events:r:0:rule/r1"}))
            .input_for(&event())
            .unwrap();
        assert_eq!(v["detail-type"], "order.placed");
        assert_eq!(v["detail"]["n"], 7);
        assert_eq!(
            (v["version"].as_str(), v["account"].as_str()),
            (Some("0"), Some("000000000000"))
        );
    }

    #[test]
    fn a_function_target_gets_the_input_as_its_payload() {
        let t =
            target(json!({"ruleArn": "x", "inputPath": "$.detail.n", "function": "resize:live"}));
        assert_eq!(
            t.input_for(&event()).unwrap(),
            json!({"FunctionName": "resize:live", "Payload": 7})
        );
    }

    #[test]
    fn input_path_and_constant_input() {
        let t = target(json!({"ruleArn": "x", "inputPath": "$.detail.n"}));
        assert_eq!(t.input_for(&event()).unwrap(), json!(7));
        let t = target(json!({"ruleArn": "x", "input": {"fixed": true}}));
        assert_eq!(t.input_for(&event()).unwrap(), json!({"fixed": true}));
        assert!(target(json!({"ruleArn": "x", "inputPath": "$.nope"}))
            .input_for(&event())
            .is_err());
    }

    #[test]
    fn transformer_fills_placeholders_as_the_guide_shows() {
        let t = target(
            json!({"ruleArn": "arn:aws:events:r:0:rule/watch", "inputTransformer": {
            "inputPathsMap": {"instance": "$.detail.instance", "status": "$.detail.state", "n": "$.detail.n", "gone": "$.detail.gone"},
            "inputTemplate": "{\"myInstance\": <instance>, \"myStatus\": \"<instance> is in state \\\"<status>\\\"\", \"n\": <n>, \"gone\": <gone>, \"rule\": \"<aws.events.rule-name>\"}"}}),
        );
        assert_eq!(
            t.input_for(&event()).unwrap(),
            json!({"myInstance": "i-123", "myStatus": "i-123 is in state \"running\"", "n": 7, "gone": null, "rule": "watch"})
        );
        let text = target(json!({"ruleArn": "x", "inputTransformer": {
            "inputPathsMap": {"instance": "$.detail.instance"}, "inputTemplate": "instance <instance> is up <unknown>"}}));
        assert_eq!(
            text.input_for(&event()).unwrap(),
            json!("instance i-123 is up <unknown>")
        );
    }

    #[test]
    fn problems_name_the_field() {
        let mut problems = Problems::default();
        Target::from_value(
            &json!({"input": 1, "inputPath": "$"}),
            "/eventbridge",
            &mut problems,
        );
        assert!(
            problems.to_string().contains("one of input, inputPath"),
            "{problems}"
        );
        let mut problems = Problems::default();
        Target::from_value(
            &json!({"inputTransformer": {"inputPathsMap": {"aws.x": "$.a", "bad": "nope"}, "inputTemplate": "<bad>"}}),
            "/eventbridge",
            &mut problems,
        );
        let text = problems.to_string();
        assert!(
            text.contains("/eventbridge/inputTransformer/inputPathsMap/aws.x"),
            "{text}"
        );
        assert!(
            text.contains("/eventbridge/inputTransformer/inputPathsMap/bad"),
            "{text}"
        );
    }
}
