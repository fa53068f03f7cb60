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
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

mod ast;
mod eval;
pub mod format;
mod functions;
mod lexer;
mod parser;
mod process;
mod regex;
mod signature;
mod tree;
mod value;

pub use functions::Builtin;

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

impl Error {
    /// An error with no position yet.
    pub fn new(code: &'static str, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            position: None,
            token: None,
        }
    }

    /// Set where the error was detected.
    pub fn at(mut self, position: usize) -> Error {
        self.position = Some(position);
        self
    }

    /// Set the token involved (and name it in the message).
    pub fn with_token(mut self, token: impl Into<String>) -> Error {
        let token = token.into();
        self.message = self.message.replace("{token}", &token);
        self.token = Some(token);
        self
    }

    pub(crate) fn or_at(mut self, position: usize) -> Error {
        self.position.get_or_insert(position);
        self
    }

    pub(crate) fn or_token(self, token: &str) -> Error {
        if self.token.is_some() {
            self
        } else {
            self.with_token(token)
        }
    }
}

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
    pub call: ExtensionFn,
}

/// The body of an [`Extension`]: the arguments as JSON (undefined ones are
/// `None`) and the evaluation's environment.
pub type ExtensionFn = fn(&[Option<Value>], &mut Env<'_>) -> Result<Option<Value>, Error>;

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
    root: Arc<ast::Node>,
}

/// Parse and process text into the evaluator's tree.
pub(crate) fn parse_node(text: &str) -> Result<ast::Node, Error> {
    process::Processor::run(parser::Parser::parse(text)?)
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?})", self.text)
    }
}

impl Expression {
    /// Parse `text`; syntax errors carry jsonata-js's codes and positions.
    pub fn parse(text: &str) -> Result<Expression, Error> {
        let root = parse_node(text)?;
        Ok(Expression {
            text: Arc::from(text),
            root: Arc::new(root),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.text
    }

    /// Evaluate against `input` (`None`: undefined). `Ok(None)` is JSONata's
    /// undefined result.
    ///
    /// The result is JSON as `JSON.stringify` would make it from
    /// jsonata-js's result: a function result is undefined, functions
    /// inside objects are left out and inside arrays become `null`; an
    /// infinite number is error D1001.
    pub fn evaluate(
        &self,
        input: Option<&Value>,
        bindings: &dyn Bindings,
        env: &mut Env<'_>,
    ) -> Result<Option<Value>, Error> {
        let asts = eval::Arena::new();
        let values = eval::Arena::new();
        let mut ev = eval::Ev::new(env, bindings, &asts, &values);
        let result = ev.run(&self.root, input);
        ev.release();
        result
    }

    /// Evaluate with JSON in and out, no bindings; for tests and tools.
    pub fn evaluate_json(&self, input: &Value, env: &mut Env<'_>) -> Result<Option<Value>, Error> {
        self.evaluate(Some(input), &(), env)
    }

    /// The `$names` the expression reads that it does not bind itself (by
    /// `:=` or as a lambda parameter) and that are not functions of the
    /// library: what the surroundings must supply.
    pub fn free_variables(&self) -> Vec<String> {
        let mut read = BTreeSet::new();
        let mut bound = BTreeSet::new();
        tree::walk(&self.root, &mut |n| {
            match &n.kind {
                ast::Kind::Var(name, builtin)
                    if builtin.is_none() && !name.is_empty() && name != "$" =>
                {
                    read.insert(name.clone());
                }
                ast::Kind::Bind(name, _) => {
                    bound.insert(name.clone());
                }
                ast::Kind::Lambda(def) => bound.extend(def.params.iter().cloned()),
                _ => {}
            }
            if let Some(ann) = n.ann() {
                bound.extend(ann.focus.iter().cloned());
                bound.extend(ann.index.iter().cloned());
                for s in &ann.stages {
                    if let ast::Stage::Index(name) = s {
                        bound.insert(name.clone());
                    }
                }
            }
            true
        });
        read.difference(&bound).cloned().collect()
    }
}
