//! Numeric functions and aggregates.

use super::Builtin;
use crate::jsonata::eval::Res;
use crate::jsonata::value::{format_number, Val, V};
use crate::jsonata::Error;

fn num(v: &V<'_>) -> Option<f64> {
    v.as_ref().and_then(|v| v.as_num())
}

pub(crate) fn aggregate<'a>(b: Builtin, arr: V<'a>) -> Res<'a> {
    let Some(arr) = arr else {
        return Ok(match b {
            Builtin::Count => Some(Val::Num(0.0)),
            _ => None,
        });
    };
    let mut nums = Vec::with_capacity(arr.len());
    arr.for_each_item(|v| nums.push(v.as_num().unwrap_or(f64::NAN)));
    Ok(match b {
        Builtin::Count => Some(Val::Num(arr.len() as f64)),
        Builtin::Sum => Some(Val::Num(nums.iter().sum())),
        _ if nums.is_empty() => None,
        Builtin::Max => Some(Val::Num(
            nums.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )),
        Builtin::Min => Some(Val::Num(nums.iter().copied().fold(f64::INFINITY, f64::min))),
        _ => Some(Val::Num(nums.iter().sum::<f64>() / nums.len() as f64)),
    })
}

/// `$number`: numbers as they are, JSON-like decimal strings and
/// `0x`/`0o`/`0b` literals parsed, booleans as 1/0.
pub(crate) fn number<'a>(v: V<'a>) -> Res<'a> {
    let Some(v) = v else { return Ok(None) };
    let n = match &v {
        Val::Num(n) => Some(*n),
        Val::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Val::Str(s) => parse_number(s),
        _ => None,
    };
    match n {
        Some(n) => Ok(Some(Val::Num(n))),
        None => Err(Error::new(
            "D3030",
            format!(
                "Unable to cast value to a number: {}",
                super::string::stringify(&v, false).unwrap_or_default()
            ),
        )),
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let decimal = (|| {
        if !digits(&mut i) {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if !digits(&mut i) {
                return false;
            }
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            if !digits(&mut i) {
                return false;
            }
        }
        i == b.len()
    })();
    if decimal {
        return s.parse::<f64>().ok().filter(|n| n.is_finite());
    }
    let radix = |prefix: [u8; 2], radix: u32| -> Option<f64> {
        let rest = s.strip_prefix(prefix[0] as char)?;
        let rest = rest
            .strip_prefix(prefix[1] as char)
            .or_else(|| rest.strip_prefix(prefix[1].to_ascii_uppercase() as char))?;
        if rest.is_empty() || !rest.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        Some(rest.chars().fold(0.0, |acc, c| {
            acc * radix as f64 + c.to_digit(radix).unwrap_or(0) as f64
        }))
    };
    radix([b'0', b'x'], 16)
        .or_else(|| radix([b'0', b'o'], 8))
        .or_else(|| radix([b'0', b'b'], 2))
}

pub(crate) fn unary<'a>(b: Builtin, v: V<'a>) -> Res<'a> {
    let Some(n) = num(&v) else { return Ok(None) };
    Ok(Some(Val::Num(match b {
        Builtin::Floor => n.floor(),
        Builtin::Ceil => n.ceil(),
        Builtin::Abs => n.abs(),
        _ => {
            if n < 0.0 {
                return Err(Error::new(
                    "D3060",
                    format!(
                        "The sqrt function cannot be applied to a negative number: {}",
                        format_number(n)
                    ),
                ));
            }
            n.sqrt()
        }
    })))
}

pub(crate) fn power<'a>(v: V<'a>, e: V<'a>) -> Res<'a> {
    let (Some(b), Some(e)) = (num(&v), num(&e)) else {
        return Ok(None);
    };
    let r = js_pow(b, e);
    if !r.is_finite() {
        return Err(Error::new(
            "D3061",
            format!(
                "The power function has resulted in a value that cannot be represented as a JSON number: base={}, exponent={}",
                format_number(b),
                format_number(e)
            ),
        ));
    }
    Ok(Some(Val::Num(r)))
}

/// `Math.pow`, which differs from `powf` for a base of ±1 and an
/// infinite or NaN exponent (NaN in JavaScript).
fn js_pow(b: f64, e: f64) -> f64 {
    if e.is_nan() || (b.abs() == 1.0 && e.is_infinite()) {
        return f64::NAN;
    }
    b.powf(e)
}

/// `Math.round`: halves go up.
fn js_round(x: f64) -> f64 {
    let f = x.floor();
    if x - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

/// Shift the decimal point by printing and re-reading, as jsonata-js does
/// to avoid the error of multiplying by a power of ten.
fn shift(x: f64, by: f64) -> f64 {
    let s = format_number(x);
    let (m, e) = match s.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<f64>().unwrap_or(0.0)),
        None => (s, 0.0),
    };
    format!("{m}e{}", format_number(e + by))
        .parse()
        .unwrap_or(f64::NAN)
}

/// `$round`: round half to even, at `precision` decimal places.
pub(crate) fn round(x: f64, precision: Option<f64>) -> f64 {
    let precision = precision.filter(|p| *p != 0.0 && !p.is_nan());
    let mut arg = x;
    if let Some(p) = precision {
        arg = shift(arg, p);
    }
    let mut result = js_round(arg);
    if (result - arg).abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    if let Some(p) = precision {
        result = shift(result, -p);
    }
    if result == 0.0 {
        result = 0.0;
    }
    result
}

pub(crate) fn round_fn<'a>(v: V<'a>, p: V<'a>) -> Res<'a> {
    let Some(n) = num(&v) else { return Ok(None) };
    Ok(Some(Val::Num(round(n, num(&p)))))
}

/// `$formatBase(n, radix)`: `Number.prototype.toString(radix)` of the
/// rounded number.
pub(crate) fn format_base<'a>(v: V<'a>, r: V<'a>) -> Res<'a> {
    let Some(n) = num(&v) else { return Ok(None) };
    let n = round(n, None);
    let radix = num(&r).map_or(10.0, |r| round(r, None));
    if !(2.0..=36.0).contains(&radix) {
        return Err(Error::new(
            "D3100",
            format!(
                "The radix of the formatBase function must be between 2 and 36.  It was given {}",
                format_number(radix)
            ),
        ));
    }
    Ok(Some(Val::string(to_radix(n, radix as u32))))
}

fn to_radix(n: f64, radix: u32) -> String {
    if radix == 10 || !n.is_finite() {
        return format_number(n);
    }
    let mut v = n.abs();
    let mut digits = Vec::new();
    if v < 1.0 {
        digits.push('0');
    }
    while v >= 1.0 {
        let d = v % radix as f64;
        digits.push(std::char::from_digit(d as u32, radix).unwrap_or('0'));
        v = (v - d) / radix as f64;
    }
    if n < 0.0 {
        digits.push('-');
    }
    digits.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_to_even() {
        assert_eq!(round(2.5, None), 2.0);
        assert_eq!(round(3.5, None), 4.0);
        assert_eq!(round(-2.5, None), -2.0);
        assert_eq!(round(1.2345, Some(2.0)), 1.23);
        assert_eq!(round(1.255, Some(2.0)), 1.26);
        assert_eq!(round(12345.0, Some(-2.0)), 12300.0);
        assert_eq!(round(0.49999999999999994, None), 0.0);
    }

    #[test]
    fn numbers_from_strings() {
        assert_eq!(parse_number("-1.5e2"), Some(-150.0));
        assert_eq!(parse_number("0x1F"), Some(31.0));
        assert_eq!(parse_number("0b101"), Some(5.0));
        assert_eq!(parse_number("1."), None);
        assert_eq!(parse_number(" 1"), None);
        assert_eq!(parse_number("1e400"), None);
    }

    #[test]
    fn radix() {
        assert_eq!(to_radix(255.0, 16), "ff");
        assert_eq!(to_radix(-5.0, 2), "-101");
        assert_eq!(to_radix(0.0, 2), "0");
    }
}
