//! The functions Step Functions adds to JSONata ("Transforming data with
//! JSONata in Step Functions", "JSONata functions provided by Step
//! Functions"): `$partition`, `$range`, `$hash`, `$random` (replacing
//! JSONata's own, to take a seed), `$uuid` and `$parse`.

use md5::Md5;
use serde_json::{Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::jsonata::{Env, Error, Extension};
use crate::{Random, SplitMix64};

/// Most elements `$range` builds, as for `States.ArrayRange`.
const MAX_RANGE: usize = 1000;

pub(super) const EXTENSIONS: &[Extension] = &[
    Extension {
        name: "partition",
        signature: "<an:a>",
        call: partition,
    },
    Extension {
        name: "range",
        signature: "<nnn?:a>",
        call: range,
    },
    Extension {
        name: "hash",
        signature: "<ss:s>",
        call: hash,
    },
    Extension {
        name: "random",
        signature: "<n?:n>",
        call: random,
    },
    Extension {
        name: "uuid",
        signature: "<:s>",
        call: uuid,
    },
    Extension {
        name: "parse",
        signature: "<s:j>",
        call: parse,
    },
    Extension {
        name: "eval",
        signature: "<sx?:x>",
        call: eval_unsupported,
    },
];

/// "`$eval` is not supported in Step Functions workflows" (AWS): use
/// `$parse` for JSON text.
fn eval_unsupported(_args: &[Option<Value>], _env: &mut Env<'_>) -> Result<Option<Value>, Error> {
    Err(Error {
        code: "T1006",
        message:
            "$eval is not supported in Step Functions workflows; use $parse() to read JSON text"
                .into(),
        position: None,
        token: Some("eval".into()),
    })
}

fn error(message: String) -> Error {
    Error {
        code: "D3137",
        message,
        position: None,
        token: None,
    }
}

fn number(args: &[Option<Value>], i: usize, func: &str) -> Result<Option<f64>, Error> {
    match args.get(i) {
        None | Some(None) => Ok(None),
        Some(Some(v)) => v.as_f64().map(Some).ok_or_else(|| {
            error(format!(
                "argument {} of ${func} must be a number, found {v}",
                i + 1
            ))
        }),
    }
}

fn integer(args: &[Option<Value>], i: usize, func: &str) -> Result<Option<i64>, Error> {
    match number(args, i, func)? {
        None => Ok(None),
        Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => Ok(Some(f as i64)),
        Some(f) => Err(error(format!(
            "argument {} of ${func} must be a whole number, found {f}",
            i + 1
        ))),
    }
}

/// `$partition(array, size)`: consecutive chunks of `size` items; the last
/// may be shorter.
fn partition(args: &[Option<Value>], _env: &mut Env<'_>) -> Result<Option<Value>, Error> {
    let items = match args.first() {
        Some(Some(Value::Array(a))) => a.clone(),
        Some(Some(other)) => vec![other.clone()],
        _ => return Ok(None),
    };
    let size = integer(args, 1, "partition")?.unwrap_or(0);
    if size <= 0 {
        return Err(error(format!(
            "the chunk size of $partition must be a positive whole number, found {size}"
        )));
    }
    let chunks = items
        .chunks(size as usize)
        .map(|c| Value::Array(c.to_vec()))
        .collect();
    Ok(Some(Value::Array(chunks)))
}

/// `$range(start, end, step)`: from `start` to `end` inclusive.
fn range(args: &[Option<Value>], _env: &mut Env<'_>) -> Result<Option<Value>, Error> {
    let (Some(start), Some(end)) = (integer(args, 0, "range")?, integer(args, 1, "range")?) else {
        return Ok(None);
    };
    let step = integer(args, 2, "range")?.unwrap_or(1);
    if step == 0 {
        return Err(error("the step of $range must not be 0".into()));
    }
    let mut out = Vec::new();
    let mut n = start;
    while (step > 0 && n <= end) || (step < 0 && n >= end) {
        if out.len() == MAX_RANGE {
            return Err(error(format!(
                "$range would build more than {MAX_RANGE} numbers; use a larger step or a smaller range"
            )));
        }
        out.push(Value::Number(Number::from(n)));
        n = match n.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    // AWS returns a JSONata sequence, and a sequence of one is its element
    // (recorded: `$range(1, 9, 9)` gives 1).
    if out.len() == 1 {
        return Ok(out.pop());
    }
    Ok(Some(Value::Array(out)))
}

/// `$hash(text, algorithm)`: the lowercase hexadecimal digest.
fn hash(args: &[Option<Value>], _env: &mut Env<'_>) -> Result<Option<Value>, Error> {
    let (Some(Some(Value::String(text))), Some(Some(Value::String(alg)))) =
        (args.first(), args.get(1))
    else {
        return Ok(None);
    };
    let data = text.as_bytes();
    let digest: Vec<u8> = match alg.as_str() {
        "MD5" => Md5::digest(data).to_vec(),
        "SHA-1" => Sha1::digest(data).to_vec(),
        "SHA-256" => Sha256::digest(data).to_vec(),
        "SHA-384" => Sha384::digest(data).to_vec(),
        "SHA-512" => Sha512::digest(data).to_vec(),
        other => {
            return Err(error(format!(
            "'{other}' is not an algorithm of $hash: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
        )))
        }
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Some(Value::String(hex)))
}

/// `$random([seed])`: a number in `[0, 1)`; the same for the same seed.
fn random(args: &[Option<Value>], env: &mut Env<'_>) -> Result<Option<Value>, Error> {
    let value = match integer(args, 0, "random")? {
        Some(seed) => SplitMix64(seed as u64).next_f64(),
        None => env.rng.next_f64(),
    };
    Ok(Number::from_f64(value).map(Value::Number))
}

/// `$uuid()`: a version 4 UUID.
fn uuid(_args: &[Option<Value>], env: &mut Env<'_>) -> Result<Option<Value>, Error> {
    Ok(Some(Value::String(crate::interp::step::uuid(env.rng))))
}

/// `$parse(text)`: the JSON value `text` holds.
fn parse(args: &[Option<Value>], _env: &mut Env<'_>) -> Result<Option<Value>, Error> {
    let Some(Some(Value::String(text))) = args.first() else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| error(format!("$parse: the string is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(f: crate::jsonata::ExtensionFn, args: Vec<Value>) -> Result<Option<Value>, Error> {
        let mut rng = SplitMix64(7);
        let mut env = Env {
            now: chrono::DateTime::UNIX_EPOCH,
            rng: &mut rng,
            extensions: EXTENSIONS,
            limits: Default::default(),
        };
        let args: Vec<Option<Value>> = args.into_iter().map(Some).collect();
        f(&args, &mut env)
    }

    #[test]
    fn partition_and_range() {
        assert_eq!(
            call(partition, vec![json!([1, 2, 3, 4, 5]), json!(2)]).unwrap(),
            Some(json!([[1, 2], [3, 4], [5]]))
        );
        assert_eq!(
            call(range, vec![json!(0), json!(10), json!(2)]).unwrap(),
            Some(json!([0, 2, 4, 6, 8, 10]))
        );
        assert_eq!(
            call(range, vec![json!(3), json!(1), json!(-1)]).unwrap(),
            Some(json!([3, 2, 1]))
        );
        assert!(call(range, vec![json!(0), json!(5000), json!(1)]).is_err());
        assert!(call(partition, vec![json!([1]), json!(0)]).is_err());
    }

    #[test]
    fn hash_parse_random() {
        assert_eq!(
            call(hash, vec![json!("abc"), json!("MD5")]).unwrap(),
            Some(json!("900150983cd24fb0d6963f7d28e17f72"))
        );
        assert!(call(hash, vec![json!("abc"), json!("CRC")]).is_err());
        assert_eq!(
            call(parse, vec![json!("{\"a\": [1]}")]).unwrap(),
            Some(json!({"a": [1]}))
        );
        let a = call(random, vec![json!(42)]).unwrap();
        assert_eq!(a, call(random, vec![json!(42)]).unwrap());
        let x = a.unwrap().as_f64().unwrap();
        assert!((0.0..1.0).contains(&x));
    }
}
