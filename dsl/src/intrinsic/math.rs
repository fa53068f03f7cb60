//! Math intrinsics: MathAdd and MathRandom.

use serde_json::{Number, Value};

use super::functions::{integer, Args};
use super::At;
use crate::{Random, SplitMix64};

/// An argument of States.MathAdd. AWS: "You must specify integer values in
/// the range of -2147483648 and 2147483647" (non-integers are rounded).
pub(super) fn addend(at: At, v: &Value) -> Result<i64, String> {
    let n = integer(at, v)?;
    if i32::try_from(n).is_err() {
        return Err(at.fail("an integer from -2147483648 to 2147483647", v));
    }
    Ok(n)
}

/// The sum of two 32-bit integers always fits in an i64, so it is returned
/// exactly (no 32-bit wrap-around).
pub(super) fn add(args: &Args) -> Result<Value, String> {
    let a = addend(args.at(0), args.get(0))?;
    let b = addend(args.at(1), args.get(1))?;
    Ok(Value::Number(Number::from(a + b)))
}

/// `States.MathRandom(start, end[, seed])`: an integer in `[start, end)`.
/// With a seed the result depends only on the arguments, as AWS promises
/// ("if you use this function with the same seed value, it will return
/// identical numbers"); without one it comes from the caller's `rng`.
pub(super) fn random(args: &Args, rng: &mut dyn Random) -> Result<Value, String> {
    let start = integer(args.at(0), args.get(0))?;
    let end = integer(args.at(1), args.get(1))?;
    if start >= end {
        return Err(format!(
            "States.MathRandom needs start < end (start is included, end is not), but start is {start} and end is {end}: raise end above start"
        ));
    }
    let draw = if args.len() > 2 {
        let seed = integer(args.at(2), args.get(2))?;
        SplitMix64(seed as u64).next_u64()
    } else {
        rng.next_u64()
    };
    // span ≤ 2^64 - 1, so it fits a u128 and the modulo stays in range; the
    // bias of a plain modulo is below 2^-64 × span and ignored.
    let span = (i128::from(end) - i128::from(start)) as u128;
    let offset = u128::from(draw) % span;
    let value = i128::from(start) + offset as i128;
    Ok(Value::Number(Number::from(value as i64)))
}
