//! Evaluating compiled Choice rules against a state's effective input and the
//! context object. Pure: reads both documents, never changes them.

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

use super::{Condition, Kind, Operand, Test};
use crate::error::StatesError;
use crate::path::{Docs, Path};
use crate::timestamp;

impl Condition {
    /// Evaluate the rule. `input` is what `$` reads, `context` what `$$` reads.
    ///
    /// Fails with `States.Runtime` when a `Variable` or `…Path` operand selects
    /// nothing, except that `IsPresent` then simply answers.
    pub fn evaluate(&self, input: &Value, docs: Docs<'_>) -> Result<bool, StatesError> {
        match self {
            Condition::And(rules) => {
                for rule in rules {
                    if !rule.evaluate(input, docs)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(rules) => {
                for rule in rules {
                    if rule.evaluate(input, docs)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(rule) => Ok(!rule.evaluate(input, docs)?),
            Condition::Constant(b) => Ok(*b),
            // Evaluated with the state's `$states` by `interp::step`, which
            // never passes one here.
            Condition::Jsonata(e) => Err(StatesError::runtime(format!(
                "the JSONata condition '{}' needs its state's $states",
                e.expr.source()
            ))),
            Condition::Compare { variable, test } => match variable.lookup(input, docs) {
                Some(value) => test.apply(&value, input, docs),
                None => match test {
                    Test::Is(Kind::Present, expected) => Ok(!expected),
                    _ => Err(invalid_path(variable)),
                },
            },
        }
    }
}

impl Test {
    /// Apply the operator to the value the `Variable` selected.
    fn apply(&self, value: &Value, input: &Value, docs: Docs<'_>) -> Result<bool, StatesError> {
        Ok(match self {
            Test::String(relation, operand) => {
                let operand = resolve(operand, input, docs, |v| v.as_str().map(str::to_owned))?;
                match (value.as_str(), operand) {
                    (Some(s), Some(o)) => relation.holds(compare_strings(s, &o)),
                    _ => false,
                }
            }
            Test::StringMatches(pattern) => value.as_str().is_some_and(|s| pattern.matches(s)),
            Test::Numeric(relation, operand) => {
                let operand = resolve(operand, input, docs, |v| v.as_number().cloned())?;
                match (value.as_number(), operand) {
                    (Some(n), Some(o)) => {
                        compare_numbers(n, &o).is_some_and(|ord| relation.holds(ord))
                    }
                    _ => false,
                }
            }
            Test::BooleanEquals(operand) => {
                let operand = resolve(operand, input, docs, Value::as_bool)?;
                match (value.as_bool(), operand) {
                    (Some(b), Some(o)) => b == *o,
                    _ => false,
                }
            }
            Test::Timestamp(relation, operand) => {
                let operand = resolve(operand, input, docs, as_timestamp)?;
                match (as_timestamp(value), operand) {
                    // DateTime<FixedOffset> orders by instant, whatever the offsets.
                    (Some(t), Some(o)) => relation.holds(t.cmp(&*o)),
                    _ => false,
                }
            }
            Test::Is(kind, expected) => {
                let is = match kind {
                    Kind::Null => value.is_null(),
                    Kind::Present => true,
                    Kind::Numeric => value.is_number(),
                    Kind::String => value.is_string(),
                    Kind::Boolean => value.is_boolean(),
                    Kind::Timestamp => as_timestamp(value).is_some(),
                };
                is == *expected
            }
        })
    }
}

/// The operand's value (a literal is borrowed, not copied), or `None` when a
/// `…Path` operand selects a value of the wrong type — which makes the
/// comparison false, not an error.
fn resolve<'a, T: Clone>(
    operand: &'a Operand<T>,
    input: &Value,
    docs: Docs<'_>,
    convert: impl Fn(&Value) -> Option<T>,
) -> Result<Option<Cow<'a, T>>, StatesError> {
    match operand {
        Operand::Literal(t) => Ok(Some(Cow::Borrowed(t))),
        Operand::Path(path) => {
            let found = path.lookup(input, docs).ok_or_else(|| invalid_path(path))?;
            Ok(convert(&found).map(Cow::Owned))
        }
    }
}

fn invalid_path(path: &Path) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    ))
}

fn as_timestamp(v: &Value) -> Option<DateTime<FixedOffset>> {
    v.as_str().and_then(timestamp::parse)
}

/// Java's `String.compareTo`, which the AWS docs name as the rule: compare
/// UTF-16 code units. This differs from Rust's byte order only for characters
/// above U+FFFF against U+E000..=U+FFFF.
fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Numeric order with `1 == 1.0`; integers compare exactly, anything with a
/// fraction or exponent as binary64 (the precision the ASL spec promises).
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_order_like_java() {
        assert_eq!(compare_strings("a", "b"), Ordering::Less);
        assert_eq!(compare_strings("ab", "a"), Ordering::Greater);
        assert_eq!(compare_strings("B", "a"), Ordering::Less);
        // U+1F600 is a surrogate pair (0xD83D…) in UTF-16, so it sorts below U+FF5E.
        assert_eq!(compare_strings("\u{1F600}", "\u{FF5E}"), Ordering::Less);
    }

    #[test]
    fn numbers_compare_numerically() {
        let n = |v: Value| v.as_number().cloned().expect("number");
        assert_eq!(
            compare_numbers(&n(1.into()), &n(serde_json::json!(1.0))),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare_numbers(&n(serde_json::json!(-1)), &n(serde_json::json!(u64::MAX))),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers(&n(serde_json::json!(2.5)), &n(serde_json::json!(2))),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_numbers(&n(serde_json::json!(1e2)), &n(serde_json::json!(100))),
            Some(Ordering::Equal)
        );
    }
}
