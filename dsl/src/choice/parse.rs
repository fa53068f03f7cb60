//! Parsing and validating Choice rules. Every problem is reported with a JSON
//! pointer to the exact field at fault, and parsing carries on after the first
//! one so a user sees all of a rule's problems in one pass.

use crate::text::{edit_distance, json_kind};
use serde_json::Value;

use super::{ChoiceBranch, Condition, Kind, Operand, Pattern, Relation, Test};
use crate::error::{child_pointer, Problems};
use crate::model::fields::Obj;
use crate::model::QueryLanguage;
use crate::path::Path;
use crate::timestamp;

/// Parse one top-level rule at JSON pointer `pointer` (e.g. "/States/Check/Choices/0").
/// Pushes every problem found into `problems` (keep going after the first) and returns None if unusable.
///
/// `Some` is returned only when the rule produced no problem at all.
pub fn parse_branch(
    value: &Value,
    pointer: &str,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<ChoiceBranch> {
    let start = problems.len();
    let condition = match ql {
        QueryLanguage::JsonPath => parse_rule(value, pointer, true, problems),
        QueryLanguage::Jsonata => parse_jsonata_rule(value, pointer, problems),
    };
    let (assign, output) = match value.as_object() {
        Some(_) => {
            let mut p = Problems::default();
            let obj = Obj::new(value, pointer, "a Choice rule", &mut p);
            let assign = obj
                .as_ref()
                .and_then(|o| crate::model::parse_assign(o, ql, problems));
            let output = match ql {
                QueryLanguage::Jsonata => obj
                    .as_ref()
                    .and_then(|o| crate::model::parse_output(o, problems)),
                QueryLanguage::JsonPath => None,
            };
            (assign, output)
        }
        None => (None, None),
    };
    let next = value.as_object().and_then(|rule| match rule.get("Next") {
        Some(Value::String(next)) => Some(next.clone()),
        Some(other) => {
            problems.push(
                field(pointer, "Next"),
                format!("Next must be a string naming the state to run when this rule matches, not {}", json_kind(other)),
            );
            None
        }
        None => {
            problems.push(
                pointer,
                "a rule in Choices needs \"Next\": the name of the state to run when the rule matches",
            );
            None
        }
    });
    if problems.len() > start {
        return None;
    }
    Some(ChoiceBranch {
        condition: condition?,
        next: next?,
        assign,
        output,
    })
}

/// A rule of a JSONata Choice state: `Condition` (a `{% … %}` expression or
/// a literal boolean), `Next`, and optionally `Assign`, `Output`, `Comment`.
fn parse_jsonata_rule(value: &Value, pointer: &str, problems: &mut Problems) -> Option<Condition> {
    let Some(rule) = value.as_object() else {
        problems.push(
            pointer,
            format!(
                "a Choice rule must be a JSON object with 'Condition' and 'Next', not {}",
                json_kind(value)
            ),
        );
        return None;
    };
    for key in rule.keys() {
        match key.as_str() {
            "Condition" | "Next" | "Comment" | "Assign" | "Output" => {}
            "Variable" | "And" | "Or" | "Not" => problems.push(
                field(pointer, key),
                format!("'{key}' is a JSONPath field; in a JSONata state write the test as \"Condition\": \"{{% … %}}\""),
            ),
            other if Operator::from_name(other).is_some() => problems.push(
                field(pointer, key),
                format!("'{key}' is a JSONPath field; in a JSONata state write the test as \"Condition\": \"{{% … %}}\""),
            ),
            other => problems.push(
                field(pointer, key),
                format!("unknown field '{other}' in a JSONata Choice rule; valid fields are: Condition, Next, Assign, Output, Comment"),
            ),
        }
    }
    match rule.get("Condition") {
        None => {
            problems.push(pointer, "a JSONata Choice rule needs 'Condition': a {% … %} expression that gives true or false");
            None
        }
        Some(Value::Bool(b)) => Some(Condition::Constant(*b)),
        Some(Value::String(s)) => match crate::query::expression_text(s) {
            Some(text) => match crate::jsonata::Expression::parse(text) {
                Ok(expr) => Some(Condition::Jsonata(crate::query::JsonataField {
                    expr,
                    field: "Condition".into(),
                })),
                Err(e) => {
                    problems.push(
                        field(pointer, "Condition"),
                        format!("the JSONata expression '{text}' is not valid: {e}"),
                    );
                    None
                }
            },
            None => {
                problems.push(
                    field(pointer, "Condition"),
                    "'Condition' must be a {% … %} expression (or true/false)",
                );
                None
            }
        },
        Some(other) => {
            problems.push(
                field(pointer, "Condition"),
                format!(
                    "'Condition' must be a {{% … %}} expression or a boolean, not {}",
                    json_kind(other)
                ),
            );
            None
        }
    }
}

/// The operator field of a rule, before its operand is checked.
#[derive(Debug, Clone, Copy)]
enum Operator {
    And,
    Or,
    Not,
    String(Relation, bool),
    StringMatches,
    Numeric(Relation, bool),
    BooleanEquals(bool),
    Timestamp(Relation, bool),
    Is(Kind),
}

impl Operator {
    fn from_name(name: &str) -> Option<Operator> {
        match name {
            "And" => return Some(Operator::And),
            "Or" => return Some(Operator::Or),
            "Not" => return Some(Operator::Not),
            "StringMatches" => return Some(Operator::StringMatches),
            "BooleanEquals" => return Some(Operator::BooleanEquals(false)),
            "BooleanEqualsPath" => return Some(Operator::BooleanEquals(true)),
            _ => {}
        }
        if let Some(kind) = Kind::ALL.into_iter().find(|k| k.name() == name) {
            return Some(Operator::Is(kind));
        }
        let (base, path) = match name.strip_suffix("Path") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let relation = |prefix: &str| {
            let rest = base.strip_prefix(prefix)?;
            Relation::ALL.into_iter().find(|r| r.name() == rest)
        };
        if let Some(r) = relation("String") {
            Some(Operator::String(r, path))
        } else if let Some(r) = relation("Numeric") {
            Some(Operator::Numeric(r, path))
        } else {
            relation("Timestamp").map(|r| Operator::Timestamp(r, path))
        }
    }
}

/// Every comparison operator name, in the order the ASL spec lists them.
fn comparison_names() -> Vec<String> {
    let mut names = Vec::new();
    for family in ["String", "Numeric", "Timestamp"] {
        for r in Relation::ALL {
            names.push(format!("{family}{}", r.name()));
            names.push(format!("{family}{}Path", r.name()));
        }
        if family == "String" {
            names.push("StringMatches".to_string());
        }
    }
    names.push("BooleanEquals".to_string());
    names.push("BooleanEqualsPath".to_string());
    names.extend(Kind::ALL.iter().map(|k| k.name().to_string()));
    names
}

fn parse_rule(
    value: &Value,
    pointer: &str,
    top: bool,
    problems: &mut Problems,
) -> Option<Condition> {
    let Some(rule) = value.as_object() else {
        problems.push(
            pointer,
            format!(
                "a Choice rule must be a JSON object (Variable with a comparison operator, or And, Or, Not), not {}",
                json_kind(value)
            ),
        );
        return None;
    };
    let start = problems.len();
    let mut variable = None;
    let mut operators = Vec::new();
    for (key, v) in rule {
        match key.as_str() {
            "Variable" => variable = Some(v),
            "Comment" => {
                if !v.is_string() {
                    problems.push(field(pointer, key), format!("Comment must be a string, not {}", json_kind(v)));
                }
            }
            // A top-level rule's Next and Assign are checked by parse_branch.
            "Next" | "Assign" if top => {}
            "Output" | "Condition" => problems.push(
                field(pointer, key),
                format!("'{key}' is a JSONata field; in a JSONPath Choice rule use 'Variable' with a comparison operator, or set \"QueryLanguage\": \"JSONata\" on the state"),
            ),
            "Next" => problems.push(
                field(pointer, key),
                "Next is allowed only in a top-level rule of Choices, not inside And, Or or Not: remove it and put Next on the enclosing rule",
            ),
            _ => match Operator::from_name(key) {
                Some(op) => operators.push((key.as_str(), op, v)),
                None => problems.push(field(pointer, key), unknown_field(key)),
            },
        }
    }

    let Some(&(name, op, operand)) = operators.first() else {
        let message = if variable.is_some() {
            "this rule has a Variable but no comparison operator: add one, such as \"StringEquals\": \"value\" or \"IsPresent\": true"
        } else {
            "a Choice rule needs either a Variable with one comparison operator (such as \"NumericEquals\") or one of And, Or, Not"
        };
        problems.push(pointer, message);
        if variable.is_some() {
            // Still check it, so its problem is not held back until the next pass.
            parse_variable(variable, "this rule", pointer, problems);
        }
        return None;
    };
    for (extra, _, _) in &operators[1..] {
        problems.push(
            field(pointer, extra),
            format!("a Choice rule holds exactly one operator and this one already has {name}: put each test in its own rule and combine them with And or Or"),
        );
    }

    let op_pointer = field(pointer, name);
    let condition = match op {
        Operator::And | Operator::Or => {
            if variable.is_some() {
                problems.push(
                    field(pointer, "Variable"),
                    format!("a rule with {name} takes no Variable: move it into the nested rules"),
                );
            }
            parse_rule_list(name, operand, &op_pointer, problems).map(|rules| {
                if matches!(op, Operator::And) {
                    Condition::And(rules)
                } else {
                    Condition::Or(rules)
                }
            })
        }
        Operator::Not => {
            if variable.is_some() {
                problems.push(
                    field(pointer, "Variable"),
                    "a rule with Not takes no Variable: move it into the negated rule",
                );
            }
            if operand.is_object() {
                parse_rule(operand, &op_pointer, false, problems)
                    .map(|rule| Condition::Not(Box::new(rule)))
            } else {
                problems.push(
                    &op_pointer,
                    format!(
                        "Not takes a single Choice rule (a JSON object), not {}; to negate several rules, wrap them in And or Or inside Not",
                        json_kind(operand)
                    ),
                );
                None
            }
        }
        _ => {
            let variable = parse_variable(variable, name, pointer, problems);
            let test = parse_test(op, name, operand, &op_pointer, problems);
            variable
                .zip(test)
                .map(|(variable, test)| Condition::Compare { variable, test })
        }
    };
    if problems.len() > start {
        None
    } else {
        condition
    }
}

fn parse_rule_list(
    name: &str,
    value: &Value,
    pointer: &str,
    problems: &mut Problems,
) -> Option<Vec<Condition>> {
    match value {
        Value::Array(items) if !items.is_empty() => {
            // Parse every element before giving up, so all their problems are reported.
            let rules: Vec<_> = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_rule(item, &format!("{pointer}/{i}"), false, problems))
                .collect();
            rules.into_iter().collect()
        }
        Value::Array(_) => {
            problems.push(
                pointer,
                format!("{name} must list at least one Choice rule"),
            );
            None
        }
        other => {
            problems.push(
                pointer,
                format!(
                    "{name} must be a non-empty array of Choice rules, not {}",
                    json_kind(other)
                ),
            );
            None
        }
    }
}

fn parse_variable(
    variable: Option<&Value>,
    operator: &str,
    pointer: &str,
    problems: &mut Problems,
) -> Option<Path> {
    match variable {
        None => {
            problems.push(
                pointer,
                format!("{operator} needs a \"Variable\" field: the path of the value to test, such as \"$.status\""),
            );
            None
        }
        Some(Value::String(text)) => match Path::parse(text) {
            Ok(path) => Some(path),
            Err(e) => {
                problems.push(field(pointer, "Variable"), e);
                None
            }
        },
        Some(other) => {
            problems.push(
                field(pointer, "Variable"),
                format!(
                    "Variable must be a string holding a path such as \"$.status\", not {}",
                    json_kind(other)
                ),
            );
            None
        }
    }
}

fn parse_test(
    op: Operator,
    name: &str,
    value: &Value,
    pointer: &str,
    problems: &mut Problems,
) -> Option<Test> {
    build_test(op, name, value)
        .map_err(|message| problems.push(pointer, message))
        .ok()
}

/// The test for operator `op` (named `name`) with operand `value`, or the
/// message explaining what the operand should be.
fn build_test(op: Operator, name: &str, value: &Value) -> Result<Test, String> {
    match op {
        Operator::String(r, true) | Operator::Numeric(r, true) | Operator::Timestamp(r, true) => {
            let path = parse_operand_path(name, value)?;
            Ok(match op {
                Operator::String(..) => Test::String(r, Operand::Path(path)),
                Operator::Numeric(..) => Test::Numeric(r, Operand::Path(path)),
                _ => Test::Timestamp(r, Operand::Path(path)),
            })
        }
        Operator::BooleanEquals(true) => parse_operand_path(name, value).map(|p| Test::BooleanEquals(Operand::Path(p))),
        Operator::String(r, false) => match value {
            Value::String(s) => Ok(Test::String(r, Operand::Literal(s.clone()))),
            other => Err(format!(
                "{name} compares with a string, not {}; to compare numbers use Numeric{}",
                json_kind(other),
                r.name()
            )),
        },
        Operator::StringMatches => match value {
            Value::String(s) => Pattern::parse(s).map(Test::StringMatches),
            other => Err(format!(
                "StringMatches takes a string pattern where '*' matches any characters, such as \"log-*.txt\", not {}",
                json_kind(other)
            )),
        },
        Operator::Numeric(r, false) => match value {
            Value::Number(n) => Ok(Test::Numeric(r, Operand::Literal(n.clone()))),
            Value::String(_) => Err(format!(
                "{name} compares with a number, not a string: write the number without quotes, or use String{} to compare text",
                r.name()
            )),
            other => Err(format!("{name} compares with a number, such as 10 or 2.5, not {}", json_kind(other))),
        },
        Operator::BooleanEquals(false) => match value {
            Value::Bool(b) => Ok(Test::BooleanEquals(Operand::Literal(*b))),
            other => Err(format!("BooleanEquals compares with true or false (without quotes), not {}", json_kind(other))),
        },
        Operator::Timestamp(r, false) => match value {
            Value::String(s) => timestamp::parse(s).map(|t| Test::Timestamp(r, Operand::Literal(t))).ok_or_else(|| {
                format!(
                    "'{s}' is not a timestamp: use RFC 3339 with an uppercase 'T' and an uppercase 'Z' or a numeric offset, such as \"2016-03-14T01:59:00Z\""
                )
            }),
            other => Err(format!(
                "{name} compares with a timestamp string such as \"2016-03-14T01:59:00Z\", not {}",
                json_kind(other)
            )),
        },
        Operator::Is(kind) => match value {
            Value::Bool(b) => Ok(Test::Is(kind, *b)),
            other => Err(format!("{name} takes true or false (without quotes), not {}", json_kind(other))),
        },
        Operator::And | Operator::Or | Operator::Not => Err(format!("{name} is not a comparison operator")),
    }
}

fn parse_operand_path(name: &str, value: &Value) -> Result<Path, String> {
    match value {
        Value::String(text) => Path::parse(text).map_err(|e| format!("{name} takes a path to the value to compare with: {e}")),
        other => Err(format!(
            "{name} takes a path to the value to compare with, such as \"$.limit\" or \"$$.Execution.Input.limit\", not {}; to compare with a constant, drop the 'Path' suffix",
            json_kind(other)
        )),
    }
}

fn unknown_field(key: &str) -> String {
    if key == "Condition" {
        return "Condition belongs to JSONata Choice rules; in a JSONPath rule write a Variable with a comparison operator, such as \"Variable\": \"$.n\", \"NumericGreaterThan\": 1".to_string();
    }
    let comparisons = comparison_names();
    let candidates = ["Variable", "Next", "Comment", "And", "Or", "Not"]
        .into_iter()
        .chain(comparisons.iter().map(String::as_str));
    let hint = closest(key, candidates)
        .map(|c| format!("did you mean '{c}'? "))
        .unwrap_or_default();
    let listed: Vec<&str> = comparisons
        .iter()
        .map(String::as_str)
        .filter(|n| !n.ends_with("Path"))
        .collect();
    format!(
        "unknown field '{key}' in a Choice rule; {hint}a rule holds Variable, Next (top level only), Comment, \
         and exactly one operator: And, Or, Not, {}, or the 'Path' form of a comparison \
         (such as StringEqualsPath; not StringMatches or the Is* tests)",
        listed.join(", ")
    )
}

/// The candidate nearest to `key` by edit distance (ignoring case), when it
/// is close enough to be a likely typo.
fn closest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let key_lower = key.to_lowercase();
    let (distance, best) = candidates
        .map(|c| (edit_distance(&key_lower, &c.to_lowercase()), c))
        .min_by_key(|&(d, _)| d)?;
    let limit = (key.chars().count() / 3).clamp(1, 3);
    (distance <= limit).then_some(best)
}

fn field(pointer: &str, key: &str) -> String {
    child_pointer(pointer, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_round_trip() {
        for name in comparison_names() {
            assert!(Operator::from_name(&name).is_some(), "{name}");
        }
        // Ten String/Numeric/Timestamp forms each, StringMatches, BooleanEquals[Path], six Is* tests.
        assert_eq!(comparison_names().len(), 3 * 10 + 1 + 2 + 6);
        for bad in [
            "StringMatchesPath",
            "IsNullPath",
            "NumericEqual",
            "Path",
            "StringPath",
            "stringequals",
        ] {
            assert!(Operator::from_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn suggestions() {
        let names = comparison_names();
        let pick = |k: &str| closest(k, names.iter().map(String::as_str).chain(["Variable"]));
        assert_eq!(pick("StringEqual"), Some("StringEquals"));
        assert_eq!(pick("numericlessthan"), Some("NumericLessThan"));
        assert_eq!(pick("variable"), Some("Variable"));
        assert_eq!(pick("IsPresnt"), Some("IsPresent"));
        assert_eq!(pick("Foo"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
