//! Fields that many state types share, in either query language:
//! `QueryLanguage`, `Assign`, `Output`, payload templates, paths, and the
//! rules for which fields belong to which language.

use serde_json::Value;

use super::fields::{kind, Obj};
use super::{DataPath, Dynamic, QueryLanguage, ResultPath, Shape};
use crate::error::Problems;
use crate::query::{expression_text, JTemplate, JsonataField};
use crate::template::Template;

/// The fields that only JSONPath states have, with what a JSONata state
/// uses instead.
const JSONPATH_FIELDS: &[(&str, &str)] = &[
    (
        "InputPath",
        "read the input as $states.input in 'Arguments' or 'Output'",
    ),
    ("OutputPath", "use 'Output'"),
    ("Parameters", "use 'Arguments'"),
    ("ResultSelector", "use 'Output' with $states.result"),
    (
        "ResultPath",
        "use 'Output' (or 'Assign') with $states.result",
    ),
    ("Result", "use 'Output'"),
    ("ItemsPath", "use 'Items'"),
    ("SecondsPath", "use 'Seconds' with a {% … %} expression"),
    ("TimestampPath", "use 'Timestamp' with a {% … %} expression"),
    (
        "TimeoutSecondsPath",
        "use 'TimeoutSeconds' with a {% … %} expression",
    ),
    (
        "HeartbeatSecondsPath",
        "use 'HeartbeatSeconds' with a {% … %} expression",
    ),
    ("ErrorPath", "use 'Error' with a {% … %} expression"),
    ("CausePath", "use 'Cause' with a {% … %} expression"),
    (
        "MaxConcurrencyPath",
        "use 'MaxConcurrency' with a {% … %} expression",
    ),
    (
        "ToleratedFailureCountPath",
        "use 'ToleratedFailureCount' with a {% … %} expression",
    ),
    (
        "ToleratedFailurePercentagePath",
        "use 'ToleratedFailurePercentage' with a {% … %} expression",
    ),
    ("Variable", "use 'Condition' with a {% … %} expression"),
];

/// The fields that only JSONata states have, with the JSONPath equivalent.
const JSONATA_FIELDS: &[(&str, &str)] = &[
    ("Arguments", "use 'Parameters'"),
    ("Output", "use 'OutputPath' or 'ResultSelector'"),
    ("Items", "use 'ItemsPath'"),
    ("Condition", "use 'Variable' with a comparison operator"),
];

/// Report each of `keys` that `obj` has and that only JSONPath states may
/// have; the reported keys are returned so the unknown-field check skips them.
pub(super) fn jsonpath_only(
    obj: &Obj,
    keys: &[&'static str],
    problems: &mut Problems,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    for key in keys {
        if obj.has(key) {
            let hint = JSONPATH_FIELDS
                .iter()
                .find(|(k, _)| k == key)
                .map_or("remove it", |(_, h)| h);
            problems.push(
                obj.at(key),
                format!("'{key}' is a JSONPath field; in a JSONata state {hint}"),
            );
            out.push(*key);
        }
    }
    out
}

/// As [`jsonpath_only`], for fields only JSONata states may have.
pub(super) fn jsonata_only(
    obj: &Obj,
    keys: &[&'static str],
    problems: &mut Problems,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    for key in keys {
        if obj.has(key) {
            let hint = JSONATA_FIELDS
                .iter()
                .find(|(k, _)| k == key)
                .map_or("remove it", |(_, h)| h);
            problems.push(
                obj.at(key),
                format!("'{key}' is a JSONata field; in a JSONPath state {hint}, or set \"QueryLanguage\": \"JSONata\" on the state"),
            );
            out.push(*key);
        }
    }
    out
}

/// Every JSONPath-only field name.
pub(super) fn jsonpath_field_names() -> impl Iterator<Item = &'static str> {
    JSONPATH_FIELDS.iter().map(|(k, _)| *k)
}

/// Every JSONata-only field name.
pub(super) fn jsonata_field_names() -> impl Iterator<Item = &'static str> {
    JSONATA_FIELDS.iter().map(|(k, _)| *k)
}

/// `QueryLanguage` of a state or of the workflow; `inherited` is the
/// workflow's. A JSONPath workflow may have JSONata states, not the reverse.
pub(super) fn query_language(
    obj: &Obj,
    inherited: Option<QueryLanguage>,
    problems: &mut Problems,
) -> QueryLanguage {
    let parent = inherited.unwrap_or_default();
    match obj.string("QueryLanguage", problems) {
        None => parent,
        Some("JSONata") => QueryLanguage::Jsonata,
        Some("JSONPath") => {
            if parent == QueryLanguage::Jsonata {
                problems.push(
                    obj.at("QueryLanguage"),
                    "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for the whole state machine; remove it, or make the workflow JSONPath and set JSONata per state",
                );
            }
            QueryLanguage::JsonPath
        }
        Some(other) => {
            problems.push(
                obj.at("QueryLanguage"),
                format!("unknown QueryLanguage \"{other}\"; use \"JSONPath\" or \"JSONata\""),
            );
            parent
        }
    }
}

pub(super) fn data_path(obj: &Obj, key: &str, problems: &mut Problems) -> DataPath {
    match obj.get(key) {
        None => DataPath::Whole,
        Some(Value::Null) => DataPath::Null,
        Some(_) => obj
            .path(key, problems)
            .map(DataPath::Path)
            .unwrap_or_default(),
    }
}

pub(super) fn result_path(obj: &Obj, problems: &mut Problems) -> ResultPath {
    match obj.get("ResultPath") {
        None => ResultPath::Replace,
        Some(Value::Null) => ResultPath::Discard,
        Some(_) => match obj.reference_path("ResultPath", problems) {
            Some(p) if *p.root() == crate::path::Root::Context => {
                problems.push(obj.at("ResultPath"), "ResultPath cannot write into the context object ('$$'); use a path starting with '$'");
                ResultPath::Replace
            }
            Some(p) if p.variable().is_some() => {
                problems.push(obj.at("ResultPath"), "ResultPath cannot write into a variable; use a path starting with '$.' and set variables with 'Assign'");
                ResultPath::Replace
            }
            Some(p) if p.steps().is_some_and(|s| s.is_empty()) => ResultPath::Replace,
            Some(p) => ResultPath::At(p),
            None => ResultPath::Replace,
        },
    }
}

/// A JSONPath payload template (`Parameters`, `ResultSelector`, …).
pub(super) fn template(obj: &Obj, key: &str, problems: &mut Problems) -> Option<Template> {
    let v = obj.get(key)?;
    Template::compile(v, &obj.at(key), problems)
}

/// A JSONata field value (`Arguments`, `Output`, `Items`, …).
pub(super) fn jtemplate(obj: &Obj, key: &str, problems: &mut Problems) -> Option<JTemplate> {
    let v = obj.get(key)?;
    JTemplate::compile(v, &obj.at(key), key, problems)
}

/// `Parameters` (JSONPath) or `Arguments` (JSONata), by the state's language.
pub(super) fn payload(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<Shape> {
    match ql {
        QueryLanguage::JsonPath => template(obj, "Parameters", problems).map(Shape::Path),
        QueryLanguage::Jsonata => jtemplate(obj, "Arguments", problems).map(Shape::Jsonata),
    }
}

/// `Output` of a JSONata state or catcher.
pub(super) fn output(obj: &Obj, problems: &mut Problems) -> Option<JTemplate> {
    jtemplate(obj, "Output", problems)
}

/// `Assign`: an object whose keys name variables (in JSONPath, `name.$`
/// keys take their value from a path or an intrinsic).
pub(super) fn assign(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<Shape> {
    let v = obj.get("Assign")?;
    let ptr = obj.at("Assign");
    let Value::Object(map) = v else {
        problems.push(
            &ptr,
            format!(
                "'Assign' must be an object of variable names and values, found {}",
                kind(v)
            ),
        );
        return None;
    };
    let before = problems.len();
    for key in map.keys() {
        let name = match ql {
            QueryLanguage::JsonPath => key.strip_suffix(".$").unwrap_or(key),
            QueryLanguage::Jsonata => key.as_str(),
        };
        if let Err(e) = crate::vars::check_name(name) {
            problems.push(crate::error::child_pointer(&ptr, key), e);
        }
    }
    let shape = match ql {
        QueryLanguage::JsonPath => Template::compile(v, &ptr, problems).map(Shape::Path),
        QueryLanguage::Jsonata => {
            JTemplate::compile(v, &ptr, "Assign", problems).map(Shape::Jsonata)
        }
    };
    if problems.len() > before {
        return None;
    }
    shape
}

/// The expression of a string field holding `{% … %}`, for fields that take
/// either a literal or an expression (`TimeoutSeconds`, `Error`, …).
pub(super) fn expression(obj: &Obj, key: &str, problems: &mut Problems) -> Option<JsonataField> {
    let text = obj.get(key)?.as_str().and_then(expression_text)?;
    match crate::jsonata::Expression::parse(text) {
        Ok(expr) => Some(JsonataField {
            expr,
            field: key.to_string(),
        }),
        Err(e) => {
            problems.push(
                obj.at(key),
                format!("the JSONata expression '{text}' is not valid: {e}"),
            );
            None
        }
    }
}

/// True when `obj[key]` is a `{% … %}` string.
pub(super) fn is_expression(obj: &Obj, key: &str) -> bool {
    obj.get(key)
        .and_then(Value::as_str)
        .and_then(expression_text)
        .is_some()
}

/// A whole number given literally, by path (JSONPath `…Path` field), or by
/// expression (JSONata), e.g. `TimeoutSeconds` / `TimeoutSecondsPath`.
pub(super) fn dynamic_int(
    obj: &Obj,
    key: &str,
    path_key: &str,
    min: u64,
    max: u64,
    problems: &mut Problems,
) -> Option<Dynamic<u64>> {
    if obj.has(key) && obj.has(path_key) {
        problems.push(
            &obj.ptr,
            format!("use either '{key}' or '{path_key}', not both"),
        );
        return None;
    }
    if obj.has(path_key) {
        return obj.path(path_key, problems).map(Dynamic::Path);
    }
    if is_expression(obj, key) {
        return expression(obj, key, problems).map(Dynamic::Jsonata);
    }
    obj.integer(key, min, max, problems).map(Dynamic::Fixed)
}
