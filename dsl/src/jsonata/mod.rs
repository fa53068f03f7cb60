//! JSONata (<https://docs.jsonata.org>), version 2.0 semantics as AWS Step
//! Functions runs it (jsonata-js 2.0.6): parsed once into an [`Expression`],
//! evaluated many times against borrowed JSON. Pure: the clock and
//! randomness come from the caller's [`Env`].
//!
//! Written here rather than taken from a crate: `jsonata-rs` 0.3 ties its
//! parsed expression to the arena of one evaluation (so an expression would
//! be parsed again for every execution) and implements only part of the
//! function library (see docs/asl-compatibility.md for its measured pass
//! rate against the official test suite beside this one's).

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

pub mod format;

use crate::Random;

/// A JSONata error, with the code jsonata-js uses (`S0201`, `T2001`, `D3001`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// jsonata-js's error code, e.g. `"T2001"`.
    pub code: &'static str,
    /// What went wrong, in jsonata-js's wording where it has one.
    pub message: String,
    /// Character offset in the expression where it was detected.
    pub position: Option<usize>,
    /// The token involved, when there is one.
    pub token: Option<String>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(p) = self.position {
            write!(f, " (at position {p})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Values the expression can read as `$name` besides its own bindings
/// (Step Functions: `$states` and the workflow variables).
pub trait Bindings {
    fn lookup(&self, name: &str) -> Option<&Value>;
}

/// No outside bindings.
impl Bindings for () {
    fn lookup(&self, _name: &str) -> Option<&Value> {
        None
    }
}

/// A function added to (or replacing one of) the built-in library, such as
/// Step Functions' `$partition` or `$uuid`.
pub struct Extension {
    /// Without the `$`.
    pub name: &'static str,
    /// A JSONata function signature (`"<a<j>n:a>"`), checked before `call`.
    pub signature: &'static str,
    /// Called with the arguments as JSON (undefined arguments are `None`).
    pub call: fn(&[Option<Value>], &mut Env<'_>) -> Result<Option<Value>, Error>,
}

/// Guards against runaway expressions.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of evaluation (recursion) before error `U1001`.
    pub max_depth: usize,
    /// Most evaluation steps before error `U1001`/`D1001`-style abort.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 500,
            max_steps: 10_000_000,
        }
    }
}

/// What one evaluation may use from its surroundings.
pub struct Env<'a> {
    /// `$now()` and `$millis()` (the same instant for the whole evaluation).
    pub now: DateTime<Utc>,
    /// `$random()` and anything else random.
    pub rng: &'a mut dyn Random,
    pub extensions: &'a [Extension],
    pub limits: Limits,
}

/// A parsed JSONata expression: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Expression {
    text: Arc<str>,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?})", self.text)
    }
}

impl Expression {
    /// Parse `text`; syntax errors carry jsonata-js's codes and positions.
    pub fn parse(text: &str) -> Result<Expression, Error> {
        Err(Error {
            code: "S0000",
            message: format!("the JSONata evaluator is not built yet: '{text}'"),
            position: None,
            token: None,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.text
    }

    /// Evaluate against `input` (`None`: undefined). `Ok(None)` is JSONata's
    /// undefined result.
    pub fn evaluate(
        &self,
        _input: Option<&Value>,
        _bindings: &dyn Bindings,
        _env: &mut Env<'_>,
    ) -> Result<Option<Value>, Error> {
        unreachable!("no Expression exists before the evaluator is built")
    }

    /// The `$names` the expression reads that it does not bind itself (by
    /// `:=` or as a lambda parameter) and that are not functions of the
    /// library: what the surroundings must supply.
    pub fn free_variables(&self) -> Vec<String> {
        Vec::new()
    }
}
