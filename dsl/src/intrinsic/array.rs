//! Array intrinsics: ArrayPartition, ArrayContains, ArrayRange,
//! ArrayGetItem, ArrayLength and ArrayUnique (States.Array is trivial and
//! lives in the dispatcher).

use serde_json::{Number, Value};
use std::collections::HashSet;

use super::functions::{array, integer, Args};
use super::At;

/// AWS: "The new array can contain up to 1000 elements."
pub(super) const MAX_RANGE: i128 = 1000;

/// AWS: "a non-zero, positive integer for the second argument representing
/// the chunk size" (non-integers are rounded).
pub(super) fn chunk_size(at: At, v: &Value) -> Result<usize, String> {
    let n = integer(at, v)?;
    if n < 1 {
        return Err(at.fail("a positive integer (the chunk size)", v));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// AWS: "You must specify a non-zero value for the third argument."
pub(super) fn step(at: At, v: &Value) -> Result<i64, String> {
    let n = integer(at, v)?;
    if n == 0 {
        return Err(at.fail("a non-zero integer (the step between elements)", v));
    }
    Ok(n)
}

/// An array index: a whole number from 0. AWS documents no rounding here,
/// so a fraction is refused rather than guessed at.
pub(super) fn index(at: At, v: &Value) -> Result<u64, String> {
    let whole = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..1.8e19).contains(f))
                .map(|f| f as u64)
        }),
        _ => None,
    };
    whole.ok_or_else(|| {
        at.fail(
            "a whole number from 0 (the index of an item; 0 is the first)",
            v,
        )
    })
}

pub(super) fn partition(args: &Args) -> Result<Value, String> {
    let items = array(args.at(0), args.get(0))?;
    let size = chunk_size(args.at(1), args.get(1))?;
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

pub(super) fn contains(args: &Args) -> Result<Value, String> {
    let items = array(args.at(0), args.get(0))?;
    let wanted = args.get(1);
    Ok(Value::Bool(items.iter().any(|item| json_eq(item, wanted))))
}

/// `States.ArrayRange(first, last, step)`: from `first` to `last`
/// inclusive. A negative step counts down; a step that moves away from
/// `last` gives `[]` (AWS documents neither case).
pub(super) fn range(args: &Args) -> Result<Value, String> {
    let first = integer(args.at(0), args.get(0))?;
    let last = integer(args.at(1), args.get(1))?;
    let step = step(args.at(2), args.get(2))?;
    let span = i128::from(last) - i128::from(first);
    let count = if span == 0 || (span > 0) == (step > 0) {
        span / i128::from(step) + 1
    } else {
        0
    };
    if count > MAX_RANGE {
        return Err(format!(
            "States.ArrayRange({first}, {last}, {step}) would make {count} elements, but an array made by States.ArrayRange can hold at most {MAX_RANGE}: narrow the range or raise the step"
        ));
    }
    let items = (0..count)
        .map(|k| {
            Value::Number(Number::from(
                (i128::from(first) + k * i128::from(step)) as i64,
            ))
        })
        .collect();
    Ok(Value::Array(items))
}

pub(super) fn get_item(args: &Args) -> Result<Value, String> {
    let items = array(args.at(0), args.get(0))?;
    let i = index(args.at(1), args.get(1))?;
    let found = usize::try_from(i).ok().and_then(|i| items.get(i));
    found.cloned().ok_or_else(|| {
        let valid = match items.len() {
            0 => "the array is empty".to_string(),
            n => format!("valid indexes are 0 to {}", n - 1),
        };
        format!(
            "{} is index {i}, which is out of range for an array of {} item(s): {valid}",
            args.at(1),
            items.len()
        )
    })
}

pub(super) fn length(args: &Args) -> Result<Value, String> {
    let items = array(args.at(0), args.get(0))?;
    Ok(Value::Number(Number::from(items.len() as u64)))
}

/// Removes repeated values, keeping the first of each in order. Values are
/// compared as JSON (object key order and `1` vs `1.0` do not matter).
pub(super) fn unique(args: &Args) -> Result<Value, String> {
    let items = array(args.at(0), args.get(0))?;
    let mut seen = HashSet::with_capacity(items.len());
    let mut kept = Vec::new();
    for item in items {
        let mut key = String::new();
        canonical(item, &mut key);
        if seen.insert(key) {
            kept.push(item.clone());
        }
    }
    Ok(Value::Array(kept))
}

/// JSON equality: numbers by value, objects regardless of key order.
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn num_eq(x: &Number, y: &Number) -> bool {
    if x.is_f64() || y.is_f64() {
        return x.as_f64() == y.as_f64();
    }
    match (x.as_i64(), y.as_i64()) {
        (Some(p), Some(q)) => p == q,
        _ => x.as_u64().is_some() && x.as_u64() == y.as_u64(),
    }
}

/// A text form that is equal for values `json_eq` calls equal: object keys
/// sorted, whole floats written as integers.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e18 => {
                out.push_str(&(f as i64).to_string())
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(k) {
                    canonical(item, out);
                }
                out.push(',');
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}
