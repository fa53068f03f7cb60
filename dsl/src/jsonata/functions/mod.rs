//! The function library. Built-ins are an enum resolved when a name is
//! parsed (or looked up), with compile-time signatures: nothing is built
//! per evaluation.

pub(crate) mod array;
pub(crate) mod datetime;
pub(crate) mod hof;
pub(crate) mod numeric;
pub(crate) mod object;
pub(crate) mod regex;
pub(crate) mod string;

use std::rc::Rc;

use super::eval::{Ev, Res};
use super::signature::Signature;
use super::value::{Array, Frame, Val, V};
use super::Error;

macro_rules! builtins {
    ($( $variant:ident = $name:literal, $sig:literal, $arity:literal; )*) => {
        /// A function of the JSONata library.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Builtin { $( $variant, )* }

        impl Builtin {
            /// The built-in called `$name`.
            pub fn from_name(name: &str) -> Option<Builtin> {
                match name {
                    $( $name => Some(Builtin::$variant), )*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self { $( Builtin::$variant => $name, )* }
            }

            pub(crate) fn signature(self) -> Signature {
                match self { $( Builtin::$variant => const { Signature::of($sig) }, )* }
            }

            /// The number of parameters of jsonata-js's implementation
            /// (what higher-order functions pass it).
            pub(crate) fn arity(self) -> usize {
                match self { $( Builtin::$variant => $arity, )* }
            }
        }
    };
}

builtins! {
    Sum = "sum", "<a<n>:n>", 1;
    Count = "count", "<a:n>", 1;
    Max = "max", "<a<n>:n>", 1;
    Min = "min", "<a<n>:n>", 1;
    Average = "average", "<a<n>:n>", 1;
    String = "string", "<x-b?:s>", 1;
    Substring = "substring", "<s-nn?:s>", 3;
    SubstringBefore = "substringBefore", "<s-s:s>", 2;
    SubstringAfter = "substringAfter", "<s-s:s>", 2;
    Lowercase = "lowercase", "<s-:s>", 1;
    Uppercase = "uppercase", "<s-:s>", 1;
    Length = "length", "<s-:n>", 1;
    Trim = "trim", "<s-:s>", 1;
    Pad = "pad", "<s-ns?:s>", 3;
    Match = "match", "<s-f<s:o>n?:a<o>>", 3;
    Contains = "contains", "<s-(sf):b>", 2;
    Replace = "replace", "<s-(sf)(sf)n?:s>", 4;
    Split = "split", "<s-(sf)n?:a<s>>", 3;
    Join = "join", "<a<s>s?:s>", 2;
    FormatNumber = "formatNumber", "<n-so?:s>", 3;
    FormatBase = "formatBase", "<n-n?:s>", 2;
    FormatInteger = "formatInteger", "<n-s:s>", 2;
    ParseInteger = "parseInteger", "<s-s:n>", 2;
    Number = "number", "<(nsb)-:n>", 1;
    Floor = "floor", "<n-:n>", 1;
    Ceil = "ceil", "<n-:n>", 1;
    Round = "round", "<n-n?:n>", 2;
    Abs = "abs", "<n-:n>", 1;
    Sqrt = "sqrt", "<n-:n>", 1;
    Power = "power", "<n-n:n>", 2;
    Random = "random", "<:n>", 0;
    Boolean = "boolean", "<x-:b>", 1;
    Not = "not", "<x-:b>", 1;
    Map = "map", "<af>", 2;
    Zip = "zip", "<a+>", 0;
    Filter = "filter", "<af>", 2;
    Single = "single", "<af?>", 2;
    Reduce = "reduce", "<afj?:j>", 3;
    Sift = "sift", "<o-f?:o>", 2;
    Keys = "keys", "<x-:a<s>>", 1;
    Lookup = "lookup", "<x-s:x>", 2;
    Append = "append", "<xx:a>", 2;
    Exists = "exists", "<x:b>", 1;
    Spread = "spread", "<x-:a<o>>", 1;
    Merge = "merge", "<a<o>:o>", 1;
    Reverse = "reverse", "<a:a>", 1;
    Each = "each", "<o-f:a>", 2;
    Error = "error", "<s?:x>", 1;
    Assert = "assert", "<bs?:x>", 2;
    Type = "type", "<x:s>", 1;
    Sort = "sort", "<af?:a>", 2;
    Shuffle = "shuffle", "<a:a>", 1;
    Distinct = "distinct", "<x:x>", 1;
    Base64Encode = "base64encode", "<s-:s>", 1;
    Base64Decode = "base64decode", "<s-:s>", 1;
    EncodeUrlComponent = "encodeUrlComponent", "<s-:s>", 1;
    EncodeUrl = "encodeUrl", "<s-:s>", 1;
    DecodeUrlComponent = "decodeUrlComponent", "<s-:s>", 1;
    DecodeUrl = "decodeUrl", "<s-:s>", 1;
    Eval = "eval", "<sx?:x>", 2;
    ToMillis = "toMillis", "<s-s?:n>", 2;
    FromMillis = "fromMillis", "<n-s?s?:s>", 3;
    Clone = "clone", "<(oa)-:o>", 1;
    Now = "now", "<s?s?:s>", 2;
    Millis = "millis", "<:n>", 0;
}

/// Run a built-in on arguments already checked against its signature.
pub(crate) fn call<'a>(
    ev: &mut Ev<'a, '_, '_>,
    b: Builtin,
    args: Vec<V<'a>>,
    input: &V<'a>,
    env: &Rc<Frame<'a>>,
) -> Res<'a> {
    let args_len = args.len();
    let mut args = args.into_iter();
    let mut next = move || args.next().flatten();
    use Builtin as B;
    match b {
        B::Sum | B::Count | B::Max | B::Min | B::Average => numeric::aggregate(b, next()),
        B::Number => numeric::number(next()),
        B::Floor | B::Ceil | B::Abs | B::Sqrt => numeric::unary(b, next()),
        B::Round => {
            let (v, p) = (next(), next());
            numeric::round_fn(v, p)
        }
        B::Power => {
            let (v, p) = (next(), next());
            numeric::power(v, p)
        }
        B::Random => Ok(Some(Val::Num(ev.env.rng.next_f64()))),
        B::FormatBase => {
            let (v, r) = (next(), next());
            numeric::format_base(v, r)
        }
        B::FormatNumber | B::FormatInteger | B::ParseInteger => {
            let (a, b2, c) = (next(), next(), next());
            datetime::picture(b, a, b2, c)
        }
        B::ToMillis | B::FromMillis | B::Now | B::Millis => {
            let (a, b2, c) = (next(), next(), next());
            datetime::call(ev, b, a, b2, c)
        }
        B::String => {
            let (v, pretty) = (next(), next());
            string::string_fn(v, pretty)
        }
        B::Substring
        | B::SubstringBefore
        | B::SubstringAfter
        | B::Lowercase
        | B::Uppercase
        | B::Length
        | B::Trim
        | B::Pad
        | B::Join
        | B::Base64Encode
        | B::Base64Decode
        | B::EncodeUrlComponent
        | B::EncodeUrl
        | B::DecodeUrlComponent
        | B::DecodeUrl => {
            let (a, b2, c) = (next(), next(), next());
            string::call(b, a, b2, c)
        }
        B::Match | B::Contains | B::Replace | B::Split => {
            let (a, b2, c, d) = (next(), next(), next(), next());
            regex::call(ev, b, a, b2, c, d, env)
        }
        B::Boolean => Ok(boolean(&next())?.map(Val::Bool)),
        B::Not => Ok(boolean(&next())?.map(|b| Val::Bool(!b))),
        B::Exists => Ok(Some(Val::Bool(next().is_some()))),
        B::Type => Ok(next().map(|v| Val::str(type_name(&v)))),
        B::Error => {
            let msg = next();
            Err(Error::new(
                "D3137",
                msg.as_ref()
                    .and_then(|m| m.as_str())
                    .unwrap_or("$error() function evaluated"),
            ))
        }
        B::Assert => {
            let (cond, msg) = (next(), next());
            if matches!(cond, Some(Val::Bool(true))) {
                Ok(None)
            } else {
                Err(Error::new(
                    "D3141",
                    msg.as_ref()
                        .and_then(|m| m.as_str())
                        .unwrap_or("$assert() statement failed"),
                ))
            }
        }
        B::Map | B::Filter | B::Single | B::Reduce | B::Sift | B::Each | B::Sort => {
            let (a, b2, c) = (next(), next(), next());
            hof::call(ev, b, a, b2, c, env)
        }
        B::Zip => {
            let rest: Vec<V<'a>> = (0..args_len).map(|_| next()).collect();
            Ok(Some(array::zip(rest)))
        }
        B::Append => {
            let (a, b2) = (next(), next());
            Ok(append(a, b2))
        }
        B::Reverse | B::Shuffle | B::Distinct => array::call(ev, b, next()),
        B::Keys | B::Lookup | B::Spread | B::Merge | B::Clone => {
            let (a, b2) = (next(), next());
            object::call(b, a, b2)
        }
        B::Eval => {
            let (expr, focus) = (next(), next());
            object::eval_fn(ev, expr, focus, input, env)
        }
    }
}

/// jsonata-js's `boolean` (undefined stays undefined).
pub(crate) fn boolean(v: &V<'_>) -> Result<Option<bool>, Error> {
    let Some(v) = v else { return Ok(None) };
    Ok(Some(match v {
        Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => {
            if n.is_nan() {
                false
            } else {
                super::eval::finite(*n)? != 0.0
            }
        }
        Val::Str(s) => !s.is_empty(),
        Val::JArr(_) | Val::Arr(_) | Val::Tuples(_) => match v.len() {
            0 => false,
            1 => boolean(&v.item(0))?.unwrap_or(false),
            _ => {
                let mut any = false;
                for i in 0..v.len() {
                    if boolean(&v.item(i))?.unwrap_or(false) {
                        any = true;
                    }
                }
                any
            }
        },
        Val::JObj(_) | Val::Obj(_) => v.obj_len() > 0,
        // functions reach the library wrapped as JavaScript functions
        Val::Func(_) => false,
    }))
}

/// Truthiness for conditions and predicates (undefined is false).
pub(crate) fn truthy(v: &V<'_>) -> Result<bool, Error> {
    Ok(boolean(v)?.unwrap_or(false))
}

/// jsonata-js's `append`: either side may be undefined; arrays are
/// concatenated into a new (plain) array.
pub(crate) fn append<'a>(a: V<'a>, b: V<'a>) -> V<'a> {
    let (a, b) = match (a, b) {
        (None, b) => return b,
        (a, None) => return a,
        (Some(a), Some(b)) => (a, b),
    };
    let mut items = Vec::with_capacity(a.len().max(1) + b.len().max(1));
    for v in [a, b] {
        if v.is_array() {
            v.for_each_item(|x| items.push(x));
        } else {
            items.push(v);
        }
    }
    Some(Val::Arr(Rc::new(Array::plain(items))))
}

pub(crate) fn type_name(v: &Val<'_>) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Num(_) => "number",
        Val::Str(_) => "string",
        Val::Bool(_) => "boolean",
        Val::JArr(_) | Val::Arr(_) | Val::Tuples(_) => "array",
        Val::Func(_) => "function",
        Val::JObj(_) | Val::Obj(_) => "object",
    }
}

/// The string argument at hand, or undefined.
pub(crate) fn text<'v>(v: &'v V<'_>) -> Option<&'v str> {
    v.as_ref().and_then(|v| v.as_str())
}
