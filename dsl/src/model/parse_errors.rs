//! `Retry` and `Catch` of Task, Parallel and Map states.

use serde_json::Value;

use super::fields::{kind, Obj};
use super::parse_common::{assign, jsonata_only, jsonpath_only, output, result_path};
use super::QueryLanguage;
use crate::error::{names, Problems};
use crate::retry::{Catcher, Jitter, Retrier};

fn error_equals(obj: &Obj, what: &str, problems: &mut Problems) -> Option<Vec<String>> {
    let Some(v) = obj.get("ErrorEquals") else {
        problems.push(&obj.ptr, format!("{what} needs 'ErrorEquals': a non-empty array of error names such as [\"States.ALL\"]"));
        return None;
    };
    // The pointer is built only for a problem.
    let ptr = || obj.at("ErrorEquals");
    let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
        problems.push(ptr(), "'ErrorEquals' must be a non-empty array of error names such as [\"States.TaskFailed\"]");
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(s) if !s.is_empty() => out.push(s.to_string()),
            _ => problems.push(
                format!("{}/{i}", ptr()),
                "each error name must be a non-empty string",
            ),
        }
    }
    if out.iter().any(|e| e == names::ALL) && items.len() > 1 {
        problems.push(
            ptr(),
            "\"States.ALL\" must appear alone in 'ErrorEquals'; it already matches every error",
        );
    }
    Some(out)
}

/// True when an `ErrorEquals` list holds `States.ALL`.
fn has_all(errors: &Option<Vec<String>>) -> bool {
    errors
        .as_ref()
        .is_some_and(|e| e.iter().any(|x| x == names::ALL))
}

/// `States.ALL` must be in the last retrier/catcher: any after it could never
/// run. `has_all` tells, per entry of `obj[key]`, whether it lists it.
fn check_all_last(has_all: &[bool], obj: &Obj, key: &str, problems: &mut Problems) {
    let n = has_all.len();
    for (i, all) in has_all.iter().enumerate() {
        if i + 1 < n && *all {
            problems.push(
                format!("{}/{i}/ErrorEquals", obj.at(key)),
                "the entry with \"States.ALL\" must be the last one; entries after it can never match",
            );
        }
    }
}

fn list<'a>(obj: &Obj<'a>, key: &str, problems: &mut Problems) -> Vec<(String, &'a Value)> {
    match obj.get(key) {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let at = obj.at(key);
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{at}/{i}"), v))
                .collect()
        }
        Some(other) => {
            problems.push(
                obj.at(key),
                format!("'{key}' must be an array, found {}", kind(other)),
            );
            Vec::new()
        }
    }
}

pub(super) fn retriers(obj: &Obj, problems: &mut Problems) -> Vec<Retrier> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (ptr, v) in list(obj, "Retry", problems) {
        let Some(r) = Obj::new(v, &ptr, "a retrier", problems) else {
            errors.push(false);
            continue;
        };
        r.unknown_fields(
            &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ],
            "a retrier",
            problems,
        );
        let ee = error_equals(&r, "a retrier", problems);
        errors.push(has_all(&ee));
        let d = Retrier::default();
        let jitter = match r.string("JitterStrategy", problems) {
            None | Some("NONE") => Jitter::None,
            Some("FULL") => Jitter::Full,
            Some(other) => {
                problems.push(
                    r.at("JitterStrategy"),
                    format!("unknown JitterStrategy \"{other}\"; use \"FULL\" or \"NONE\""),
                );
                Jitter::None
            }
        };
        let retrier = Retrier {
            error_equals: ee.unwrap_or_default(),
            interval_seconds: r
                .integer("IntervalSeconds", 1, 99_999_999, problems)
                .unwrap_or(d.interval_seconds),
            max_attempts: r
                .integer("MaxAttempts", 0, 99_999_999, problems)
                .unwrap_or(d.max_attempts),
            backoff_rate: r
                .number("BackoffRate", 1.0, f64::MAX, problems)
                .unwrap_or(d.backoff_rate),
            max_delay_seconds: r.integer("MaxDelaySeconds", 1, 31_622_400, problems),
            jitter,
        };
        out.push(retrier);
    }
    check_all_last(&errors, obj, "Retry", problems);
    out
}

pub(super) fn catchers(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Vec<Catcher> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (ptr, v) in list(obj, "Catch", problems) {
        let Some(c) = Obj::new(v, &ptr, "a catcher", problems) else {
            errors.push(false);
            continue;
        };
        let allowed: &[&str] = match ql {
            QueryLanguage::JsonPath => &["ErrorEquals", "ResultPath", "Next", "Comment", "Assign"],
            QueryLanguage::Jsonata => &["ErrorEquals", "Output", "Next", "Comment", "Assign"],
        };
        let reported = match ql {
            QueryLanguage::JsonPath => jsonata_only(&c, &["Output"], problems),
            QueryLanguage::Jsonata => jsonpath_only(&c, &["ResultPath"], problems),
        };
        c.unknown_fields_except(allowed, &reported, "a catcher", problems);
        let ee = error_equals(&c, "a catcher", problems);
        errors.push(has_all(&ee));
        let next = c.required_string("Next", "a catcher", problems);
        let rp = match ql {
            QueryLanguage::JsonPath => result_path(&c, problems),
            QueryLanguage::Jsonata => Default::default(),
        };
        let assign = assign(&c, ql, problems);
        let output = match ql {
            QueryLanguage::Jsonata => output(&c, problems),
            QueryLanguage::JsonPath => None,
        };
        if let (Some(ee), Some(next)) = (ee, next) {
            out.push(Catcher {
                assign,
                output,
                error_equals: ee,
                result_path: rp,
                next: next.to_string(),
            });
        }
    }
    check_all_last(&errors, obj, "Catch", problems);
    out
}
