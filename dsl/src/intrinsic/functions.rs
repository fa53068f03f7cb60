//! Evaluation: the dispatcher, the argument checks shared by parse time and
//! run time, and the generic, JSON, string and UUID functions. The array,
//! encoding and math families live in their own files.

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt::Write;

use super::{array, encoding, math, At, Call, Func};
use crate::Random;

/// The evaluated arguments of one call, with where each came from. Values
/// read by a path are borrowed from the input, not copied.
pub(super) struct Args<'a> {
    call: &'a Call,
    values: &'a [Cow<'a, Value>],
}

impl<'a> Args<'a> {
    pub(super) fn at(&self, index: usize) -> At<'a> {
        let src = self.call.args.get(index).map_or("", |a| a.src.as_str());
        At {
            func: self.call.func,
            index,
            src,
        }
    }

    /// Argument `index`; `null` if absent (arity is checked at parse time,
    /// so this only keeps a bad tree from panicking).
    pub(super) fn get(&self, index: usize) -> &'a Value {
        self.values.get(index).map_or(&Value::Null, |v| &**v)
    }

    pub(super) fn len(&self) -> usize {
        self.values.len()
    }
}

/// Run `call` on already evaluated arguments. The error is the cause of a
/// `States.IntrinsicFailure` (or, at parse time, a definition error).
pub(super) fn apply(
    call: &Call,
    values: &[Cow<Value>],
    rng: &mut dyn Random,
) -> Result<Value, String> {
    let args = Args { call, values };
    for (index, v) in values.iter().enumerate() {
        check_arg(args.at(index), v)?;
    }
    match call.func {
        Func::Format => format(&args),
        Func::StringToJson => string_to_json(&args),
        Func::JsonToString => Ok(Value::String(args.get(0).to_string())),
        Func::Array => Ok(Value::Array(values.iter().map(|v| (**v).clone()).collect())),
        Func::ArrayPartition => array::partition(&args),
        Func::ArrayContains => array::contains(&args),
        Func::ArrayRange => array::range(&args),
        Func::ArrayGetItem => array::get_item(&args),
        Func::ArrayLength => array::length(&args),
        Func::ArrayUnique => array::unique(&args),
        Func::Base64Encode => encoding::base64_encode(&args),
        Func::Base64Decode => encoding::base64_decode(&args),
        Func::Hash => encoding::hash(&args),
        Func::JsonMerge => json_merge(&args),
        Func::MathRandom => math::random(&args, rng),
        Func::MathAdd => math::add(&args),
        Func::StringSplit => string_split(&args),
        Func::Uuid => Ok(uuid(rng)),
    }
}

/// Check one argument on its own (type and value). Runs on literal
/// arguments at parse time and on every argument at evaluation.
pub(super) fn check_arg(at: At, v: &Value) -> Result<(), String> {
    match (at.func, at.index) {
        (Func::Format | Func::StringToJson | Func::StringSplit, 0) => string(at, v).map(drop),
        (Func::StringSplit, 1) => delimiters(at, v).map(drop),
        (
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::ArrayLength
            | Func::ArrayUnique,
            0,
        ) => array(at, v).map(drop),
        (Func::ArrayPartition, 1) => array::chunk_size(at, v).map(drop),
        (Func::ArrayRange, 0 | 1) => integer(at, v).map(drop),
        (Func::ArrayRange, 2) => array::step(at, v).map(drop),
        (Func::ArrayGetItem, 1) => array::index(at, v).map(drop),
        (Func::Base64Encode | Func::Base64Decode | Func::Hash, 0) => {
            encoding::text(at, v).map(drop)
        }
        (Func::Hash, 1) => encoding::algorithm(at, v).map(drop),
        (Func::JsonMerge, 0 | 1) => object(at, v).map(drop),
        (Func::JsonMerge, 2) => shallow(at, v),
        (Func::MathRandom, _) => integer(at, v).map(drop),
        (Func::MathAdd, _) => math::addend(at, v).map(drop),
        _ => Ok(()),
    }
}

pub(super) fn string<'v>(at: At, v: &'v Value) -> Result<&'v str, String> {
    v.as_str().ok_or_else(|| at.fail("a string", v))
}

pub(super) fn array<'v>(at: At, v: &'v Value) -> Result<&'v Vec<Value>, String> {
    v.as_array().ok_or_else(|| at.fail("an array", v))
}

fn object<'v>(at: At, v: &'v Value) -> Result<&'v Map<String, Value>, String> {
    v.as_object().ok_or_else(|| at.fail("an object", v))
}

/// An integer argument. AWS: "If you specify a non-integer value …, Step
/// Functions will round it off to the nearest integer". Step Functions runs
/// on the JVM, so halves round up as `Math.round` does (2.5 → 3, -2.5 → -2).
pub(super) fn integer(at: At, v: &Value) -> Result<i64, String> {
    let Value::Number(n) = v else {
        return Err(at.fail("an integer", v));
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let rounded = (n.as_f64().unwrap_or(f64::NAN) + 0.5).floor();
    // i64::MIN and i64::MAX + 1 are exact in f64; this keeps the cast lossless.
    if rounded.is_finite()
        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&rounded)
    {
        Ok(rounded as i64)
    } else {
        Err(at.fail("an integer within the 64-bit range", v))
    }
}

/// The `deep` flag of `States.JsonMerge`. AWS: "Currently, Step Functions
/// only supports the shallow merging mode; therefore, you must specify the
/// boolean value as false."
fn shallow(at: At, v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(false) => Ok(()),
        Value::Bool(true) => Err(format!(
            "{at} asks for a deep merge, which Step Functions does not support: pass false (shallow merge, where keys of the second object replace those of the first)"
        )),
        _ => Err(at.fail("false (only shallow merging is supported)", v)),
    }
}

/// `States.Format`: each `{}` of the template is replaced by the next value.
/// A literal template was split by the parser (so `\{\}` stays text); a
/// template read from a path is split at every `{}`.
fn format(args: &Args) -> Result<Value, String> {
    let split;
    let pieces: &[String] = match &args.call.template {
        Some(pieces) => pieces,
        None => {
            let template = string(args.at(0), args.get(0))?;
            split = template.split("{}").map(str::to_string).collect::<Vec<_>>();
            &split
        }
    };
    let values = args.values.get(1..).unwrap_or_default();
    let holes = pieces.len().saturating_sub(1);
    if holes != values.len() {
        return Err(format!(
            "States.Format template {} has {holes} '{{}}' placeholder(s) but {} value(s) follow it: pass one value per placeholder",
            describe_template(args),
            values.len()
        ));
    }
    let mut out = String::with_capacity(pieces.iter().map(String::len).sum::<usize>() + 16 * holes);
    for (i, piece) in pieces.iter().enumerate() {
        out.push_str(piece);
        if let Some(v) = values.get(i) {
            render(v, &mut out);
        }
    }
    Ok(Value::String(out))
}

fn describe_template(args: &Args) -> String {
    let at = args.at(0);
    match args.get(0) {
        Value::String(s) if !at.src.starts_with('\'') => {
            format!("{} = {}", at.src, Value::String(s.clone()))
        }
        _ => at.src.to_string(),
    }
}

/// How `States.Format` prints a value. Strings are inserted as they are;
/// arrays and objects print the way Step Functions' JVM runtime prints them
/// (`[a, b]`, `{k=v, k2=v2}`, strings inside unquoted), as observed by
/// LocalStack's recordings of AWS; other scalars print as JSON.
fn render(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render(item, out);
            }
            out.push('}');
        }
        // Scalars print as compact JSON, written in place.
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn string_to_json(args: &Args) -> Result<Value, String> {
    let at = args.at(0);
    let text = string(at, args.get(0))?;
    // AWS gives null for an empty or blank string (recorded), not an error.
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| {
        format!(
            "{at} must be a string holding JSON text, but parsing {} failed: {e}",
            args.get(0)
        )
    })
}

/// Shallow merge: the second object's keys replace the first's, nested
/// objects are not merged (AWS's documented example).
fn json_merge(args: &Args) -> Result<Value, String> {
    let mut merged = object(args.at(0), args.get(0))?.clone();
    for (k, v) in object(args.at(1), args.get(1))? {
        merged.insert(k.clone(), v.clone());
    }
    shallow(args.at(2), args.get(2))?;
    Ok(Value::Object(merged))
}

fn delimiters<'v>(at: At, v: &'v Value) -> Result<&'v str, String> {
    let d = string(at, v)?;
    if d.is_empty() {
        return Err(format!(
            "{at} is empty: give at least one delimiting character, e.g. ','"
        ));
    }
    Ok(d)
}

/// AWS splits at every character of the delimiter string ("This.is+a" with
/// ".+" gives three parts). Empty parts are dropped, as AWS does for
/// repeated delimiters (per LocalStack's recordings).
fn string_split(args: &Args) -> Result<Value, String> {
    let text = string(args.at(0), args.get(0))?;
    let delims = delimiters(args.at(1), args.get(1))?;
    let parts = text
        .split(|c| delims.contains(c))
        .filter(|p| !p.is_empty())
        .map(|p| Value::String(p.to_string()))
        .collect();
    Ok(Value::Array(parts))
}

/// A version 4 UUID from 16 bytes of the caller's randomness.
fn uuid(rng: &mut dyn Random) -> Value {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Value::String(id.hyphenated().to_string())
}
