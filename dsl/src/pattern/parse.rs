//! From pattern JSON to conjunctions of field conditions. `$or` is expanded
//! here (disjunctive normal form), so matching and indexing only ever see
//! "all of these fields" lists.

use serde_json::{Map, Value};

use super::cond::{AnythingBut, Cidr, Cond, Range, Wildcard};
use crate::error::{pointer_token, Problems};
use crate::text::json_kind;

/// Most alternatives one pattern may expand to through `$or`.
pub const MAX_ALTERNATIVES: usize = 1024;

/// One field of a conjunction: the event value at `path` must satisfy one of `conds`.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub path: Vec<String>,
    pub conds: Vec<Cond>,
    /// The field's pattern as written, for messages.
    pub shown: String,
}

/// All fields must match.
pub(crate) type Conj = Vec<Field>;

const OPERATORS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "wildcard",
];

pub(crate) fn pattern(value: &Value, ptr: &str, problems: &mut Problems) -> Vec<Conj> {
    let Value::Object(map) = value else {
        problems.push(
            ptr,
            format!(
                "a pattern must be a JSON object of field names, not {}; for example {{\"type\": [\"order.created\"]}}",
                json_kind(value)
            ),
        );
        return Vec::new();
    };
    if map.is_empty() {
        problems.push(
            ptr,
            "the pattern is empty; name at least one field, e.g. {\"source\": [{\"prefix\": \"\"}]} to match every event",
        );
        return Vec::new();
    }
    object(map, &mut Vec::new(), ptr, problems)
}

/// A top-level field under its CloudEvents name: EventBridge's
/// `detail-type` is the event's `type`, its `detail` the event's `data`,
/// so a pattern written for EventBridge matches Sluice's events.
fn alias(top: bool, key: &str) -> String {
    match key {
        "detail-type" if top => "type".into(),
        "detail" if top => "data".into(),
        _ => key.to_string(),
    }
}

fn object(
    map: &Map<String, Value>,
    path: &mut Vec<String>,
    ptr: &str,
    problems: &mut Problems,
) -> Vec<Conj> {
    let mut conjs: Vec<Conj> = vec![Vec::new()];
    for (key, v) in map {
        let at = format!("{ptr}/{}", pointer_token(key));
        let alternatives: Vec<Conj> = if key == "$or" {
            or(v, path, &at, problems)
        } else {
            path.push(alias(path.is_empty(), key));
            let alts = match v {
                Value::Object(inner) if inner.is_empty() => {
                    problems.push(&at, format!("'{key}' is an empty object; give it fields, or an array of values to match"));
                    Vec::new()
                }
                Value::Object(inner) => object(inner, path, &at, problems),
                Value::Array(items) => leaf(items, path, &at, problems)
                    .map(|f| vec![vec![f]])
                    .unwrap_or_default(),
                other => {
                    problems.push(
                        &at,
                        format!(
                            "the value of '{key}' must be an array of values to match (e.g. [{}]) or an object of nested fields, not {}",
                            other, json_kind(other)
                        ),
                    );
                    Vec::new()
                }
            };
            path.pop();
            alts
        };
        if alternatives.is_empty() {
            return Vec::new(); // a problem was recorded
        }
        if conjs.len() * alternatives.len() > MAX_ALTERNATIVES {
            problems.push(
                &at,
                format!("the pattern expands to more than {MAX_ALTERNATIVES} alternatives through $or; split it into several rules"),
            );
            return Vec::new();
        }
        let mut product = Vec::with_capacity(conjs.len() * alternatives.len());
        for c in &conjs {
            for a in &alternatives {
                let mut both = c.clone();
                both.extend(a.iter().cloned());
                product.push(both);
            }
        }
        conjs = product;
    }
    conjs
}

fn or(v: &Value, path: &mut Vec<String>, at: &str, problems: &mut Problems) -> Vec<Conj> {
    let items = match v {
        Value::Array(items) if items.len() >= 2 => items,
        _ => {
            problems.push(at, "'$or' takes an array of at least two pattern objects, e.g. [{\"a\": [1]}, {\"b\": [2]}]");
            return Vec::new();
        }
    };
    let before = problems.len();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ptr = format!("{at}/{i}");
        match item {
            Value::Object(m) if !m.is_empty() => out.extend(object(m, path, &ptr, problems)),
            other => problems.push(
                ptr,
                format!(
                    "each '$or' alternative must be a non-empty pattern object, not {}",
                    json_kind(other)
                ),
            ),
        }
    }
    if problems.len() > before {
        return Vec::new();
    }
    out
}

fn leaf(items: &[Value], path: &[String], at: &str, problems: &mut Problems) -> Option<Field> {
    if items.is_empty() {
        problems.push(at, "an empty array matches nothing; list at least one value, e.g. [\"a\"] or [{\"exists\": true}]");
        return None;
    }
    let before = problems.len();
    let mut conds = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ptr = format!("{at}/{i}");
        match item {
            Value::Array(_) => problems.push(
                ptr,
                "a nested array cannot be matched; list the values directly in the field's array",
            ),
            Value::Object(m) => {
                if let Some(c) = operator(m, &ptr, problems) {
                    conds.push(c)
                }
            }
            scalar => conds.push(Cond::Exact(scalar.clone())),
        }
    }
    (problems.len() == before).then(|| Field {
        path: path.to_vec(),
        conds,
        shown: crate::path::preview(&Value::Array(items.to_vec())),
    })
}

fn operator(m: &Map<String, Value>, ptr: &str, problems: &mut Problems) -> Option<Cond> {
    let mut it = m.iter();
    let (Some((op, arg)), None) = (it.next(), it.next()) else {
        problems.push(
            ptr,
            format!(
                "a matching object holds exactly one operator, one of {}",
                OPERATORS.join(", ")
            ),
        );
        return None;
    };
    let at = format!("{ptr}/{}", pointer_token(op));
    let mut bad = |msg: String| {
        problems.push(at.clone(), msg);
        None
    };
    match op.as_str() {
        "prefix" | "suffix" => {
            let (text, ignore_case) = match arg {
                Value::String(s) => (s.clone(), false),
                Value::Object(o) if o.len() == 1 && o.get("equals-ignore-case").is_some_and(Value::is_string) => {
                    (o["equals-ignore-case"].as_str().unwrap_or_default().to_lowercase(), true)
                }
                _ => return bad(format!("'{op}' takes a string, or {{\"equals-ignore-case\": \"text\"}}")),
            };
            Some(if op == "prefix" {
                Cond::Prefix { text, ignore_case }
            } else {
                Cond::Suffix { text, ignore_case }
            })
        }
        "equals-ignore-case" => match arg {
            Value::String(s) => Some(Cond::IgnoreCase(s.to_lowercase())),
            _ => bad("'equals-ignore-case' takes a string".into()),
        },
        "anything-but" => anything_but(arg).map(Cond::AnythingBut).or_else(|| {
            bad("'anything-but' takes a string, a number, a non-empty array of strings or numbers, or one of {\"prefix\": \"…\"}, {\"suffix\": \"…\"}, {\"equals-ignore-case\": \"…\" or [\"…\"]}, {\"wildcard\": \"…\" or [\"…\"]}".into())
        }),
        "numeric" => numeric(arg).map(Cond::Numeric).map_err(bad).ok(),
        "exists" => match arg {
            Value::Bool(b) => Some(Cond::Exists(*b)),
            _ => bad("'exists' takes true or false".into()),
        },
        "cidr" => match arg.as_str().and_then(Cidr::parse) {
            Some(c) => Some(Cond::Cidr(c)),
            None => bad("'cidr' takes an IPv4 or IPv6 network such as \"10.0.0.0/24\" or \"2001:db8::/32\"".into()),
        },
        "wildcard" => match arg {
            Value::String(s) => Wildcard::parse(s).map(Cond::Wildcard).map_err(bad).ok(),
            _ => bad("'wildcard' takes a string such as \"*.png\"".into()),
        },
        other => {
            let hint = crate::model::fields::suggest(other, OPERATORS)
                .map(|s| format!("did you mean '{s}'? "))
                .unwrap_or_default();
            bad(format!("unknown operator '{other}'; {hint}use one of {}", OPERATORS.join(", ")))
        }
    }
}

fn anything_but(arg: &Value) -> Option<AnythingBut> {
    let strings = |v: &Value| -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![s.to_lowercase()]),
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .map(|x| x.as_str().map(str::to_lowercase))
                .collect(),
            _ => None,
        }
    };
    match arg {
        Value::String(_) | Value::Number(_) => Some(AnythingBut::Values(vec![arg.clone()])),
        Value::Array(a) if !a.is_empty() && a.iter().all(|x| x.is_string() || x.is_number()) => {
            Some(AnythingBut::Values(a.clone()))
        }
        Value::Object(o) if o.len() == 1 => {
            let (k, v) = o.iter().next()?;
            match k.as_str() {
                "prefix" => Some(AnythingBut::Prefix(v.as_str()?.to_string())),
                "suffix" => Some(AnythingBut::Suffix(v.as_str()?.to_string())),
                "equals-ignore-case" => strings(v).map(AnythingBut::IgnoreCase),
                "wildcard" => {
                    let raw: Vec<&str> = match v {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) if !a.is_empty() => {
                            a.iter().map(Value::as_str).collect::<Option<_>>()?
                        }
                        _ => return None,
                    };
                    raw.into_iter()
                        .map(|s| Wildcard::parse(s).ok())
                        .collect::<Option<Vec<_>>>()
                        .map(AnythingBut::Wildcard)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn numeric(arg: &Value) -> Result<Range, String> {
    const HELP: &str = "'numeric' takes one or two comparisons, e.g. [\">\", 0, \"<=\", 5] or [\"=\", 3]; operators are =, <, <=, >, >=";
    let Value::Array(items) = arg else {
        return Err(HELP.into());
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(HELP.into());
    }
    let mut range = Range::default();
    for pair in items.chunks(2) {
        let (Some(op), Some(n)) = (pair[0].as_str(), pair[1].as_f64()) else {
            return Err(HELP.into());
        };
        let slot = match op {
            "=" => {
                if items.len() != 2 {
                    return Err(
                        "'=' cannot be combined with another comparison in 'numeric'".into(),
                    );
                }
                range.lower = Some((n, true));
                range.upper = Some((n, true));
                continue;
            }
            ">" | ">=" => &mut range.lower,
            "<" | "<=" => &mut range.upper,
            _ => return Err(HELP.into()),
        };
        if slot.is_some() {
            return Err(
                "'numeric' takes at most one lower bound (> or >=) and one upper bound (< or <=)"
                    .into(),
            );
        }
        *slot = Some((n, op.ends_with('=')));
    }
    if let (Some((lo, _)), Some((hi, _))) = (range.lower, range.upper) {
        if lo > hi {
            return Err(format!(
                "the 'numeric' range is empty: the lower bound {lo} is above the upper bound {hi}"
            ));
        }
    }
    Ok(range)
}
