//! Choice rules of a Choice state (JSONPath query language).
//!
//! A Choice state's `Choices` array holds top-level rules, each with a `Next`.
//! A rule is either a boolean expression (`And`, `Or`, `Not` over nested rules,
//! which must not have `Next`) or a data test: a `Variable` path and exactly one
//! comparison operator (`StringEquals`, `NumericLessThanPath`, `IsPresent`, …).
//!
//! Rules are parsed once, when the definition is validated, into [`Condition`]:
//! paths are compiled, literal timestamps parsed and `StringMatches` patterns
//! split, so evaluating a rule per execution only reads the input.
//!
//! Semantics follow the ASL specification and the AWS Choice state docs:
//! - a value of the wrong type makes a comparison false (never an error);
//! - strings compare like Java's `String.compareTo` (UTF-16 code units), as
//!   the AWS docs point to; numbers compare numerically (`1 == 1.0`);
//!   timestamps compare as instants, whatever their offsets;
//! - a `Variable` (or a `…Path` operand) that selects nothing fails the state
//!   with `States.Runtime`; only `IsPresent` turns that into an answer. The
//!   other `Is*` operators also fail, as the spec singles out `IsPresent`
//!   alone ("if the Variable-field Path fails to match anything in the input
//!   no exception is thrown") — so guard them with `IsPresent` inside `And`,
//!   which stops at the first false rule.

mod eval;
mod matches;
mod parse;

use chrono::{DateTime, FixedOffset};
use serde_json::Number;
use std::fmt;

use crate::path::Path;

pub use matches::Pattern;
pub use parse::parse_branch;

/// One entry of a Choice state's `Choices` array: a top-level rule with its `Next`.
#[derive(Debug, Clone)]
pub struct ChoiceBranch {
    pub condition: Condition,
    /// Name of the state to run when `condition` holds.
    pub next: String,
    /// `Assign` of the rule: variables set when it is the one taken.
    pub assign: Option<crate::model::Shape>,
    /// `Output` of a JSONata rule: the state's output when it is taken.
    pub output: Option<crate::query::JTemplate>,
}

/// A compiled Choice rule.
#[derive(Debug, Clone)]
pub enum Condition {
    /// True when every rule is true; stops at the first false one.
    And(Vec<Condition>),
    /// True when any rule is true; stops at the first true one.
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// A data test: the value at `variable` checked by one operator.
    Compare {
        variable: Path,
        test: Test,
    },
    /// `Condition` of a JSONata rule: an expression that must give a boolean.
    Jsonata(crate::query::JsonataField),
    /// `"Condition": true` (or false), written literally.
    Constant(bool),
}

/// The operator of a data-test rule, with its operand.
#[derive(Debug, Clone)]
pub enum Test {
    /// `String{Equals,LessThan,…}[Path]`.
    String(Relation, Operand<String>),
    /// `StringMatches`: `*` wildcards (there is no `…Path` form).
    StringMatches(Pattern),
    /// `Numeric{Equals,LessThan,…}[Path]`.
    Numeric(Relation, Operand<Number>),
    /// `BooleanEquals[Path]`.
    BooleanEquals(Operand<bool>),
    /// `Timestamp{Equals,LessThan,…}[Path]`.
    Timestamp(Relation, Operand<DateTime<FixedOffset>>),
    /// `IsNull`, `IsPresent`, `IsNumeric`, … with the expected answer.
    Is(Kind, bool),
}

/// How a value is compared with the operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

/// The right-hand side of a comparison: a literal from the definition, or a
/// path (the `…Path` operators) read from the input or context at run time.
#[derive(Debug, Clone)]
pub enum Operand<T> {
    Literal(T),
    Path(Path),
}

/// What an `Is*` operator asks about the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

impl Relation {
    pub(crate) const ALL: [Relation; 5] = [
        Relation::Equals,
        Relation::LessThan,
        Relation::GreaterThan,
        Relation::LessThanEquals,
        Relation::GreaterThanEquals,
    ];

    /// The operator-name suffix, as in `NumericLessThanEquals`.
    pub fn name(self) -> &'static str {
        match self {
            Relation::Equals => "Equals",
            Relation::LessThan => "LessThan",
            Relation::GreaterThan => "GreaterThan",
            Relation::LessThanEquals => "LessThanEquals",
            Relation::GreaterThanEquals => "GreaterThanEquals",
        }
    }

    /// Whether `ordering` (value compared with operand) satisfies the relation.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Relation::Equals => ordering == Equal,
            Relation::LessThan => ordering == Less,
            Relation::GreaterThan => ordering == Greater,
            Relation::LessThanEquals => ordering != Greater,
            Relation::GreaterThanEquals => ordering != Less,
        }
    }
}

impl Kind {
    pub(crate) const ALL: [Kind; 6] = [
        Kind::Null,
        Kind::Present,
        Kind::Numeric,
        Kind::String,
        Kind::Boolean,
        Kind::Timestamp,
    ];

    /// The operator name, as in `IsNumeric`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "IsNull",
            Kind::Present => "IsPresent",
            Kind::Numeric => "IsNumeric",
            Kind::String => "IsString",
            Kind::Boolean => "IsBoolean",
            Kind::Timestamp => "IsTimestamp",
        }
    }
}

impl<T> Operand<T> {
    fn suffix(&self) -> &'static str {
        match self {
            Operand::Literal(_) => "",
            Operand::Path(_) => "Path",
        }
    }
}

impl Test {
    /// The ASL operator name of this test (`StringEqualsPath`, `IsNull`, …),
    /// for messages and execution history.
    pub fn operator(&self) -> String {
        match self {
            Test::String(r, o) => format!("String{}{}", r.name(), o.suffix()),
            Test::StringMatches(_) => "StringMatches".to_string(),
            Test::Numeric(r, o) => format!("Numeric{}{}", r.name(), o.suffix()),
            Test::BooleanEquals(o) => format!("BooleanEquals{}", o.suffix()),
            Test::Timestamp(r, o) => format!("Timestamp{}{}", r.name(), o.suffix()),
            Test::Is(k, _) => k.name().to_string(),
        }
    }
}

impl fmt::Display for Condition {
    /// A compact one-line rendering, e.g. `($.a NumericLessThan 3 And Not($.b IsNull true))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, rules: &[Condition], op: &str| {
            f.write_str("(")?;
            for (i, r) in rules.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{r}")?;
            }
            f.write_str(")")
        };
        match self {
            Condition::And(rules) => join(f, rules, "And"),
            Condition::Or(rules) => join(f, rules, "Or"),
            Condition::Not(rule) => write!(f, "Not({rule})"),
            Condition::Jsonata(e) => write!(f, "{{% {} %}}", e.expr.source()),
            Condition::Constant(b) => write!(f, "{b}"),
            Condition::Compare { variable, test } => {
                let operand = match test {
                    Test::String(_, Operand::Literal(s)) => {
                        serde_json::Value::from(s.as_str()).to_string()
                    }
                    Test::StringMatches(p) => serde_json::Value::from(p.as_str()).to_string(),
                    Test::Numeric(_, Operand::Literal(n)) => n.to_string(),
                    Test::BooleanEquals(Operand::Literal(b)) | Test::Is(_, b) => b.to_string(),
                    Test::Timestamp(_, Operand::Literal(t)) => format!("\"{}\"", t.to_rfc3339()),
                    Test::String(_, Operand::Path(p))
                    | Test::Numeric(_, Operand::Path(p))
                    | Test::BooleanEquals(Operand::Path(p))
                    | Test::Timestamp(_, Operand::Path(p)) => p.to_string(),
                };
                write!(f, "{variable} {} {operand}", test.operator())
            }
        }
    }
}

#[cfg(test)]
mod tests;
