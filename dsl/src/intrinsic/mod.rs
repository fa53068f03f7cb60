//! Intrinsic functions for JSONPath states (`"Key.$": "States.Format('{}', $.x)"`).
//!
//! A call is parsed once, at validation, into a small tree of [`Expr`]s:
//! literals, compiled [`Path`]s and nested calls. Everything that can be known
//! without the input is checked then (function names, argument counts, the
//! types of literal and nested-call arguments, constant values such as a hash
//! algorithm or a chunk size), and calls whose arguments are all literals are
//! evaluated once and folded into a constant. What remains is checked at
//! evaluation and fails with `States.IntrinsicFailure`, as Step Functions does.
//!
//! Behaviour follows AWS's "Intrinsic functions for JSONPath states" page;
//! where that page is silent the choice is documented on the function.

mod array;
mod encoding;
mod functions;
mod math;
mod parse;
#[cfg(test)]
mod tests;

use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

use crate::error::StatesError;
use crate::path::{Docs, Path};
use crate::Random;

/// A compiled intrinsic call, ready to evaluate against many inputs.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    /// The text as written, for messages and round-tripping.
    text: String,
    /// The compiled call, or its value when it was folded at parse time.
    root: Expr,
}

impl Intrinsic {
    /// Parse e.g. `States.Format('Hello {}', $.name)`. The error names the
    /// problem, where it is, and how to fix it.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let root = parse::parse(text)?;
        Ok(Intrinsic {
            text: text.to_string(),
            root,
        })
    }

    /// Evaluate against the state input (`$`) and the context object (`$$`).
    /// A path that finds nothing fails with `States.Runtime`; an argument of
    /// the wrong type or value fails with `States.IntrinsicFailure`.
    pub fn eval(
        &self,
        input: &Value,
        docs: Docs<'_>,
        rng: &mut dyn Random,
    ) -> Result<Value, StatesError> {
        self.root.eval(input, docs, rng).map(Cow::into_owned)
    }

    /// The text this call was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// True when a string value of a `.$` field should be parsed as an intrinsic
/// call rather than as a path: it starts with `States.` and has a `(`.
pub fn looks_like_intrinsic(text: &str) -> bool {
    text.starts_with("States.") && text.contains('(')
}

/// The 18 intrinsic functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

/// The JSON type an argument must have, or a call returns; `Any` when it
/// cannot be known before evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    String,
    Number,
    Bool,
    Array,
    Object,
    Null,
}

impl Kind {
    fn of(v: &Value) -> Kind {
        match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    /// "a string", "an array", … for messages.
    fn article(self) -> &'static str {
        match self {
            Kind::Any => "any JSON value",
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Array => "an array",
            Kind::Object => "an object",
            Kind::Null => "null",
        }
    }
}

impl Func {
    const ALL: [Func; 18] = [
        Func::Format,
        Func::StringToJson,
        Func::JsonToString,
        Func::Array,
        Func::ArrayPartition,
        Func::ArrayContains,
        Func::ArrayRange,
        Func::ArrayGetItem,
        Func::ArrayLength,
        Func::ArrayUnique,
        Func::Base64Encode,
        Func::Base64Decode,
        Func::Hash,
        Func::JsonMerge,
        Func::MathRandom,
        Func::MathAdd,
        Func::StringSplit,
        Func::Uuid,
    ];

    fn name(self) -> &'static str {
        match self {
            Func::Format => "States.Format",
            Func::StringToJson => "States.StringToJson",
            Func::JsonToString => "States.JsonToString",
            Func::Array => "States.Array",
            Func::ArrayPartition => "States.ArrayPartition",
            Func::ArrayContains => "States.ArrayContains",
            Func::ArrayRange => "States.ArrayRange",
            Func::ArrayGetItem => "States.ArrayGetItem",
            Func::ArrayLength => "States.ArrayLength",
            Func::ArrayUnique => "States.ArrayUnique",
            Func::Base64Encode => "States.Base64Encode",
            Func::Base64Decode => "States.Base64Decode",
            Func::Hash => "States.Hash",
            Func::JsonMerge => "States.JsonMerge",
            Func::MathRandom => "States.MathRandom",
            Func::MathAdd => "States.MathAdd",
            Func::StringSplit => "States.StringSplit",
            Func::Uuid => "States.UUID",
        }
    }

    fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Fewest and most arguments (`None`: no upper bound).
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::Array => (0, None),
            Func::Uuid => (0, Some(0)),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, Some(1)),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, Some(2)),
            Func::MathRandom => (2, Some(3)),
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
        }
    }

    /// The type argument `index` (0-based) must have.
    fn param(self, index: usize) -> Kind {
        match (self, index) {
            (Func::Format, 0) => Kind::String,
            (Func::StringToJson, _) => Kind::String,
            (Func::ArrayPartition | Func::ArrayContains | Func::ArrayGetItem, 0) => Kind::Array,
            (Func::ArrayPartition | Func::ArrayGetItem, 1) => Kind::Number,
            (Func::ArrayLength | Func::ArrayUnique, _) => Kind::Array,
            (Func::ArrayRange | Func::MathRandom | Func::MathAdd, _) => Kind::Number,
            (Func::Base64Encode | Func::Base64Decode | Func::Hash | Func::StringSplit, _) => {
                Kind::String
            }
            (Func::JsonMerge, 0 | 1) => Kind::Object,
            (Func::JsonMerge, _) => Kind::Bool,
            _ => Kind::Any,
        }
    }

    /// The type of the value a call returns.
    fn returns(self) -> Kind {
        match self {
            Func::StringToJson | Func::ArrayGetItem => Kind::Any,
            Func::Format
            | Func::JsonToString
            | Func::Base64Encode
            | Func::Base64Decode
            | Func::Hash
            | Func::Uuid => Kind::String,
            Func::Array
            | Func::ArrayPartition
            | Func::ArrayRange
            | Func::ArrayUnique
            | Func::StringSplit => Kind::Array,
            Func::ArrayContains => Kind::Bool,
            Func::ArrayLength | Func::MathRandom | Func::MathAdd => Kind::Number,
            Func::JsonMerge => Kind::Object,
        }
    }

    /// True when the result depends only on the arguments, so a call with
    /// literal arguments can be folded into its value at parse time.
    fn is_pure(self) -> bool {
        !matches!(self, Func::MathRandom | Func::Uuid)
    }

    /// "States.Format, States.StringToJson, …" for the unknown-name message.
    fn list() -> String {
        Func::ALL.map(Func::name).join(", ")
    }
}

/// One argument as written, and what it compiled to.
#[derive(Debug, Clone)]
struct Arg {
    /// Source text (`$.x`, `'abc'`, `States.Array(1)`), quoted in messages.
    src: String,
    expr: Expr,
}

#[derive(Debug, Clone)]
enum Expr {
    Literal(Value),
    Path(Path),
    Call(Box<Call>),
}

#[derive(Debug, Clone)]
struct Call {
    func: Func,
    args: Vec<Arg>,
    /// For `States.Format` with a literal template: the text between its
    /// unescaped `{}` placeholders. Escaped braces (`\{\}`) are already
    /// plain text here, which is why the template is split by the parser.
    template: Option<Vec<String>>,
}

impl Expr {
    /// The value of an argument: literals and path results are borrowed
    /// (a call such as `States.ArrayLength($.items)` never copies the array).
    fn eval<'v>(
        &'v self,
        input: &'v Value,
        docs: Docs<'v>,
        rng: &mut dyn Random,
    ) -> Result<Cow<'v, Value>, StatesError> {
        match self {
            Expr::Literal(v) => Ok(Cow::Borrowed(v)),
            Expr::Path(p) => p.select_cow(input, docs),
            Expr::Call(call) => call.eval(input, docs, rng).map(Cow::Owned),
        }
    }
}

impl Call {
    fn eval(
        &self,
        input: &Value,
        docs: Docs<'_>,
        rng: &mut dyn Random,
    ) -> Result<Value, StatesError> {
        // Most calls take at most four arguments: keep them on the stack
        // rather than allocating a vector per call.
        const INLINE: usize = 4;
        static NULL: Value = Value::Null;
        let n = self.args.len();
        if n <= INLINE {
            let mut values: [Cow<Value>; INLINE] = std::array::from_fn(|_| Cow::Borrowed(&NULL));
            for (i, slot) in values.iter_mut().enumerate().take(n) {
                *slot = self.arg(i, input, docs, rng)?;
            }
            return functions::apply(self, &values[..n], rng).map_err(StatesError::intrinsic);
        }
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(self.arg(i, input, docs, rng)?);
        }
        functions::apply(self, &values, rng).map_err(StatesError::intrinsic)
    }

    /// Evaluate argument `i`; a path that finds nothing names the argument.
    fn arg<'v>(
        &'v self,
        i: usize,
        input: &'v Value,
        docs: Docs<'v>,
        rng: &mut dyn Random,
    ) -> Result<Cow<'v, Value>, StatesError> {
        let Some(arg) = self.args.get(i) else {
            return Ok(Cow::Owned(Value::Null));
        };
        arg.expr.eval(input, docs, rng).map_err(|e| {
            if matches!(arg.expr, Expr::Path(_)) {
                let cause = format!(
                    "{} argument {} ({}): {}",
                    self.func.name(),
                    i + 1,
                    arg.src,
                    e.cause
                );
                StatesError::new(e.error, cause)
            } else {
                e
            }
        })
    }
}

/// Where an argument sits, for messages: `States.MathAdd argument 2 ($.step)`.
#[derive(Debug, Clone, Copy)]
struct At<'a> {
    func: Func,
    /// 0-based position.
    index: usize,
    src: &'a str,
}

impl At<'_> {
    /// "States.X argument N (src) must be WHAT, but got PREVIEW".
    fn fail(&self, what: &str, got: &Value) -> String {
        format!("{self} must be {what}, but got {}", describe(got))
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} argument {} ({})",
            self.func.name(),
            self.index + 1,
            self.src
        )
    }
}

/// A short rendering of a value with its type: `"abc" (a string)`.
fn describe(v: &Value) -> String {
    format!("{} ({})", crate::path::preview(v), Kind::of(v).article())
}
