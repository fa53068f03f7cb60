//! The JSON of a JSONata state's field (`Arguments`, `Output`, `Assign`,
//! `Items`, `ItemSelector`, …): every string that is one `{% … %}` is an
//! expression, everything else is literal. Compiled once at validation; a
//! subtree with no expression is kept as one literal and copied as is.

use serde_json::{Map, Value};

use super::{evaluate, expression_text, Scope, Site};
use crate::error::{pointer_token, Problems, StatesError};
use crate::jsonata::Expression;
use crate::Random;

/// A compiled field value.
#[derive(Debug, Clone)]
pub enum JTemplate {
    Literal(Value),
    Expr(JsonataField),
    Array(Vec<JTemplate>),
    Object(Vec<(String, JTemplate)>),
}

/// One `{% … %}` expression and the field it sits in, as AWS names it in
/// errors (`Output/result`, `Arguments/FunctionName`).
#[derive(Debug, Clone)]
pub struct JsonataField {
    pub expr: Expression,
    pub field: String,
}

impl JTemplate {
    /// Compile `value`, found at JSON pointer `ptr`, naming it `field`
    /// (`Arguments`) in runtime errors. `None` when a problem was recorded.
    pub fn compile(
        value: &Value,
        ptr: &str,
        field: &str,
        problems: &mut Problems,
    ) -> Option<JTemplate> {
        let before = problems.len();
        let t = compile(value, ptr, field, problems);
        (problems.len() == before).then_some(t)
    }

    /// True when the value holds no expression.
    pub fn is_literal(&self) -> bool {
        matches!(self, JTemplate::Literal(_))
    }

    /// The expressions in this template, in document order.
    pub fn expressions(&self) -> Vec<&JsonataField> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a JsonataField>) {
        match self {
            JTemplate::Literal(_) => {}
            JTemplate::Expr(e) => out.push(e),
            JTemplate::Array(items) => items.iter().for_each(|t| t.collect(out)),
            JTemplate::Object(fields) => fields.iter().for_each(|(_, t)| t.collect(out)),
        }
    }

    /// Build the value.
    pub fn evaluate(
        &self,
        scope: &Scope,
        site: Site,
        now: chrono::DateTime<chrono::Utc>,
        rng: &mut dyn Random,
    ) -> Result<Value, StatesError> {
        match self {
            JTemplate::Literal(v) => Ok(v.clone()),
            JTemplate::Expr(e) => evaluate(&e.expr, &e.field, scope, site, now, rng),
            JTemplate::Array(items) => items
                .iter()
                .map(|t| t.evaluate(scope, site, now, rng))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            JTemplate::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (name, t) in fields {
                    out.insert(name.clone(), t.evaluate(scope, site, now, rng)?);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

fn compile(value: &Value, ptr: &str, field: &str, problems: &mut Problems) -> JTemplate {
    if !has_expression(value) {
        half_delimited(value, ptr, problems);
        return JTemplate::Literal(value.clone());
    }
    match value {
        Value::String(s) => match expression_text(s) {
            Some(text) if text.trim().is_empty() => {
                problems.push(
                    ptr,
                    "the JSONata expression is empty: write one between {% and %}",
                );
                JTemplate::Literal(Value::Null)
            }
            Some(text) => match Expression::parse(text) {
                Ok(expr) => JTemplate::Expr(JsonataField {
                    expr,
                    field: field.to_string(),
                }),
                Err(e) => {
                    problems.push(
                        ptr,
                        format!("the JSONata expression '{text}' is not valid: {e}"),
                    );
                    JTemplate::Literal(Value::Null)
                }
            },
            None => JTemplate::Literal(value.clone()),
        },
        Value::Array(items) => JTemplate::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| compile(v, &format!("{ptr}/{i}"), &format!("{field}[{i}]"), problems))
                .collect(),
        ),
        Value::Object(map) => JTemplate::Object(
            map.iter()
                .map(|(k, v)| {
                    let t = compile(
                        v,
                        &format!("{ptr}/{}", pointer_token(k)),
                        &format!("{field}/{k}"),
                        problems,
                    );
                    (k.clone(), t)
                })
                .collect(),
        ),
        other => JTemplate::Literal(other.clone()),
    }
}

/// AWS: "The string must start with {% with no leading spaces, and must
/// end with %} with no trailing spaces. Improperly opening or closing the
/// expression will result in a validation error."
fn half_delimited(value: &Value, ptr: &str, problems: &mut Problems) {
    match value {
        Value::String(s) => {
            let (open, close) = (s.starts_with(super::OPEN), s.ends_with(super::CLOSE));
            if open != close || (open && s.len() < 4) {
                problems.push(
                    ptr,
                    format!("'{s}' opens or closes a JSONata expression but not both: write the whole string as {{% expression %}}, with no spaces outside the delimiters"),
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                half_delimited(v, &format!("{ptr}/{i}"), problems);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                half_delimited(v, &format!("{ptr}/{}", pointer_token(k)), problems);
            }
        }
        _ => {}
    }
}

/// True when some string in `value` is a `{% … %}` expression.
pub(crate) fn has_expression(value: &Value) -> bool {
    match value {
        Value::String(s) => expression_text(s).is_some(),
        Value::Array(items) => items.iter().any(has_expression),
        Value::Object(map) => map.values().any(has_expression),
        _ => false,
    }
}
