//! JSONata as Step Functions uses it: `{% … %}` expressions inside the JSON
//! of a state's fields ([`JTemplate`]), the reserved `$states` variable
//! ([`StatesVar`]), the functions Step Functions adds to JSONata
//! (`functions.rs`), and its runtime errors (`States.QueryEvaluationError`).
//!
//! Expressions are parsed once, when the definition is validated; a state
//! evaluates them against borrowed data.

mod functions;
mod template;

use serde_json::{Map, Value};

use crate::error::{names, StatesError};
use crate::jsonata::{self, Bindings, Env, Limits};
use crate::vars::Variables;
use crate::Random;

pub use template::{JTemplate, JsonataField};

/// The `{% … %}` markers around a JSONata expression in a string field.
pub const OPEN: &str = "{%";
pub const CLOSE: &str = "%}";

/// The expression inside `text` when the whole string is one `{% … %}`.
pub fn expression_text(text: &str) -> Option<&str> {
    text.strip_prefix(OPEN)?.strip_suffix(CLOSE)
}

/// `$states` for one state: its input, and once known its result, its error
/// output and the context object. Values are moved in and taken back out,
/// so building it copies nothing.
#[derive(Debug, Default)]
pub struct StatesVar {
    doc: Value,
}

impl StatesVar {
    /// `$states` with `input` (and `context`, when the workflow reads it).
    pub fn new(input: Value, context: Option<Value>) -> StatesVar {
        let mut map = Map::with_capacity(4);
        map.insert("input".into(), input);
        if let Some(c) = context {
            map.insert("context".into(), c);
        }
        StatesVar {
            doc: Value::Object(map),
        }
    }

    fn map(&mut self) -> &mut Map<String, Value> {
        if !self.doc.is_object() {
            self.doc = Value::Object(Map::new());
        }
        match &mut self.doc {
            Value::Object(m) => m,
            _ => unreachable!("made an object above"),
        }
    }

    /// Set `$states.result` (Task, Parallel and Map, after they ran).
    pub fn set_result(&mut self, result: Value) {
        self.map().insert("result".into(), result);
    }

    /// Set `$states.errorOutput` (in a Catch).
    pub fn set_error_output(&mut self, error: Value) {
        self.map().insert("errorOutput".into(), error);
    }

    /// Change what `$states.context` holds (Map items, task tokens).
    pub fn context_mut(&mut self) -> Option<&mut Value> {
        self.map().get_mut("context")
    }

    pub fn input(&self) -> &Value {
        self.doc.get("input").unwrap_or(&Value::Null)
    }

    pub fn result(&self) -> Option<&Value> {
        self.doc.get("result")
    }

    /// Take the input back out.
    pub fn take_input(&mut self) -> Value {
        self.map().remove("input").unwrap_or(Value::Null)
    }

    /// Take the result back out.
    pub fn take_result(&mut self) -> Option<Value> {
        self.map().remove("result")
    }

    pub fn as_value(&self) -> &Value {
        &self.doc
    }
}

/// What a JSONata expression of a state can read: `$states` and the
/// workflow variables.
pub struct Scope<'a> {
    pub states: &'a StatesVar,
    pub vars: &'a dyn Variables,
}

impl Bindings for Scope<'_> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        if name == "states" {
            return Some(&self.states.doc);
        }
        self.vars.get(name)
    }
}

/// Where an expression is evaluated, for error causes: the state and
/// (when the caller knows it) the id of its `…StateEntered` history event.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    pub state: &'a str,
    pub entered_event: Option<u64>,
}

impl Site<'_> {
    fn prefix(&self) -> String {
        match self.entered_event {
            Some(id) => format!(
                "An error occurred while executing the state '{}' (entered at the event id #{id}).",
                self.state
            ),
            None => format!(
                "An error occurred while executing the state '{}'.",
                self.state
            ),
        }
    }

    /// `States.QueryEvaluationError` with AWS's cause.
    pub fn error(&self, detail: impl std::fmt::Display) -> StatesError {
        StatesError::new(
            names::QUERY_EVALUATION_ERROR,
            format!("{} {detail}", self.prefix()),
        )
    }
}

/// Evaluate one expression for a state field; undefined is an error, as on AWS.
pub fn evaluate(
    expr: &jsonata::Expression,
    field: &str,
    scope: &Scope,
    site: Site,
    now: chrono::DateTime<chrono::Utc>,
    rng: &mut dyn Random,
) -> Result<Value, StatesError> {
    let mut env = Env {
        now,
        rng,
        extensions: functions::EXTENSIONS,
        limits: Limits::default(),
    };
    match expr.evaluate(None, scope, &mut env) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(site.error(format_args!(
            "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
            expr.source().trim()
        ))),
        Err(e) => Err(site.error(format_args!(
            "The JSONata expression '{}' specified for the field '{field}' threw an error during evaluation. {}: {}",
            expr.source().trim(),
            e.code,
            e.message
        ))),
    }
}
