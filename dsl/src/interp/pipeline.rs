//! The steps of the ASL I/O pipeline, in the order AWS applies them:
//! InputPath → Parameters → (result) → ResultSelector → ResultPath →
//! OutputPath. Each step is a pure function so the in-memory runner and the
//! durable engine apply exactly the same semantics.

use serde_json::{Map, Value};
use std::borrow::Cow;

use crate::error::{names, StatesError};
use crate::model::{DataPath, ResultPath};
use crate::path::{preview, Docs};
use crate::template::Template;
use crate::Random;

/// `InputPath` (also used for `OutputPath`): `$` passes the value through,
/// `null` gives `{}`, a path selects.
pub fn select<'a>(
    path: &DataPath,
    value: &'a Value,
    docs: Docs<'_>,
    field: &str,
) -> Result<Cow<'a, Value>, StatesError> {
    match path {
        DataPath::Whole => Ok(Cow::Borrowed(value)),
        DataPath::Null => Ok(Cow::Owned(Value::Object(Map::new()))),
        DataPath::Path(p) => match p.lookup(value, docs) {
            Some(v) => Ok(Cow::Owned(v.into_owned())),
            None => Err(StatesError::runtime(match p.document(value, docs) {
                Some(doc) => format!(
                    "Invalid path '{p}' in {field}: the path was not found in {}",
                    preview(doc)
                ),
                None => format!("{field}: {}", p.not_found(value, docs)),
            })),
        },
    }
}

/// [`select`] on a value that may be owned: `$` then passes an owned value
/// through without copying it (the common case on every transition).
pub fn select_cow<'a>(
    path: &DataPath,
    value: Cow<'a, Value>,
    docs: Docs<'_>,
    field: &str,
) -> Result<Cow<'a, Value>, StatesError> {
    match value {
        Cow::Borrowed(v) => select(path, v, docs, field),
        Cow::Owned(v) => match path {
            DataPath::Whole => Ok(Cow::Owned(v)),
            _ => select(path, &v, docs, field).map(|c| Cow::Owned(c.into_owned())),
        },
    }
}

/// `Parameters` / `ResultSelector` / `ItemSelector`: build a new value from a
/// template, or pass the value through when there is none.
pub fn shape(
    template: Option<&Template>,
    value: Cow<'_, Value>,
    docs: Docs<'_>,
    rng: &mut dyn Random,
) -> Result<Value, StatesError> {
    match template {
        None => Ok(value.into_owned()),
        Some(t) => t.evaluate(&value, docs, rng),
    }
}

/// `ResultPath`: combine the state's raw input with its result.
pub fn merge_result(
    path: &ResultPath,
    raw_input: Value,
    result: Value,
) -> Result<Value, StatesError> {
    match path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw_input),
        ResultPath::At(p) => {
            let mut doc = raw_input;
            p.set(&mut doc, result)?;
            Ok(doc)
        }
    }
}

/// The error output a Catcher inserts: `{"Error": …, "Cause": …}`.
pub fn error_output(error: &StatesError) -> Value {
    let mut m = Map::with_capacity(2);
    m.insert("Error".into(), Value::String(error.error.clone()));
    m.insert("Cause".into(), Value::String(error.cause.clone()));
    Value::Object(m)
}

/// Fail with `States.DataLimitExceeded` when `value` serializes to more than
/// `limit` bytes.
pub fn check_size(value: &Value, limit: usize, what: &str) -> Result<(), StatesError> {
    let size = json_size(value, limit);
    if size > limit {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!("The {what} has a size exceeding the maximum number of bytes service limit ({limit} bytes)"),
        ));
    }
    Ok(())
}

/// Length of the compact JSON text of `value`, stopping early once past
/// `limit` (the exact figure no longer matters then).
pub fn json_size(value: &Value, limit: usize) -> usize {
    measure(value, limit).size
}

/// What one walk over a document tells: its size (as [`json_size`]) and
/// whether it is nested deeper than [`crate::depth::MAX_DEPTH`] (the walk
/// does not descend further, so the size then counts only what it saw).
pub struct Measure {
    pub size: usize,
    pub too_deep: bool,
}

/// Size and depth of `value` in one walk, for the check on every output.
pub fn measure(value: &Value, limit: usize) -> Measure {
    fn go(v: &Value, acc: &mut usize, limit: usize, level: usize) -> bool {
        if *acc > limit {
            return true;
        }
        if matches!(v, Value::Array(_) | Value::Object(_)) && level >= crate::depth::MAX_DEPTH {
            return false;
        }
        match v {
            Value::Null => *acc += 4,
            Value::Bool(b) => *acc += if *b { 4 } else { 5 },
            Value::Number(n) => *acc += number_len(n),
            Value::String(s) => *acc += string_len(s),
            Value::Array(items) => {
                *acc += 2 + items.len().saturating_sub(1);
                return items.iter().all(|i| go(i, acc, limit, level + 1));
            }
            Value::Object(map) => {
                *acc += 2 + map.len().saturating_sub(1);
                for (k, v) in map {
                    *acc += string_len(k) + 1;
                    if !go(v, acc, limit, level + 1) {
                        return false;
                    }
                }
            }
        }
        true
    }
    let mut size = 0;
    let within = go(value, &mut size, limit, 0);
    Measure {
        size,
        too_deep: !within,
    }
}

/// Length of a number's JSON text, without allocating it.
fn number_len(n: &serde_json::Number) -> usize {
    /// Counts what is written instead of keeping it.
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    if let Some(u) = n.as_u64() {
        return u.checked_ilog10().map_or(1, |d| d as usize + 1);
    }
    let mut count = Count(0);
    let _ = std::fmt::Write::write_fmt(&mut count, format_args!("{n}"));
    count.0
}

fn string_len(s: &str) -> usize {
    // Bytes a JSON string escape adds to each byte: `\"`, `\\` and the short
    // control escapes add one, other control characters (`\u00XX`) five.
    const EXTRA: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut b = 0;
        while b < 0x20 {
            t[b] = 5;
            b += 1;
        }
        t[b'"' as usize] = 1;
        t[b'\\' as usize] = 1;
        t[b'\n' as usize] = 1;
        t[b'\r' as usize] = 1;
        t[b'\t' as usize] = 1;
        t[0x08] = 1;
        t[0x0c] = 1;
        t
    };
    2 + s.len()
        + s.bytes()
            .map(|b| usize::from(EXTRA[usize::from(b)]))
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_size_matches_serde() {
        let v = json!({"a": [1, 2.5, "x\"y\n", null, true, false, {"b\u{1}": "é"}], "c": {}});
        assert_eq!(json_size(&v, usize::MAX), v.to_string().len());
        let controls: String = (0u8..0x80).map(char::from).collect();
        let text = Value::String(format!("{controls}é\u{2028}"));
        assert_eq!(json_size(&text, usize::MAX), text.to_string().len());
        let numbers = json!([
            0,
            9,
            10,
            99,
            100,
            u64::MAX,
            -1,
            -10,
            i64::MIN,
            0.5,
            -2.25,
            1e300,
            1e-7,
            12345.678
        ]);
        for n in numbers.as_array().into_iter().flatten() {
            assert_eq!(json_size(n, usize::MAX), n.to_string().len(), "{n}");
        }
    }
}
