//! The fixture file format: strict parsing (an unknown key is an error, so a
//! typo cannot silently skip a check) into the cases the harness runs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sluice_dsl::interp::RunOptions;
use sluice_dsl::StatesError;

use super::host::Response;

pub fn check_keys(
    obj: &Map<String, Value>,
    what: &str,
    required: &[&str],
    allowed: &[&str],
) -> Result<(), String> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "malformed fixture: unknown key '{k}' in {what} (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    for k in required {
        if !obj.contains_key(*k) {
            return Err(format!(
                "malformed fixture: {what} lacks required key '{k}'"
            ));
        }
    }
    Ok(())
}

pub fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("malformed fixture: {what} must be an object"))
}

pub fn as_str<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("malformed fixture: {what} must be a string"))
}

pub fn non_empty_text(obj: &Map<String, Value>, key: &str) -> Result<(), String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        Some(_) => Err(format!(
            "malformed fixture: '{key}' must be a non-empty string"
        )),
        None => Ok(()),
    }
}

/// One task call the fixture expects; unset fields are not compared.
pub struct ExpectedCall {
    pub state: String,
    pub payload: Option<Value>,
    pub retry_count: Option<u64>,
}

/// How the run must end.
pub enum Expected {
    Output(Value),
    Error {
        error: String,
        cause_contains: Option<String>,
    },
}

/// A parsed valid fixture.
pub struct ValidCase {
    pub definition: Value,
    pub input: Value,
    pub options: RunOptions,
    pub seed: u64,
    pub tasks: HashMap<String, Vec<Response>>,
    pub expected: Expected,
    pub sleeps: Option<Vec<f64>>,
    pub sleeps_between: Option<Vec<(f64, f64)>>,
    pub calls: Option<Vec<ExpectedCall>>,
}

pub fn parse_options(v: Option<&Value>, options: &mut RunOptions) -> Result<u64, String> {
    let Some(v) = v else { return Ok(0) };
    let o = as_object(v, "'options'")?;
    check_keys(
        o,
        "'options'",
        &[],
        &[
            "payloadLimit",
            "executionName",
            "stateMachineName",
            "startTime",
            "seed",
        ],
    )?;
    if let Some(n) = o.get("payloadLimit") {
        options.payload_limit = n
            .as_u64()
            .ok_or("malformed fixture: options.payloadLimit must be a whole number")?
            as usize;
    }
    if let Some(s) = o.get("executionName") {
        options.execution_name = as_str(s, "options.executionName")?.to_string();
    }
    if let Some(s) = o.get("stateMachineName") {
        options.state_machine_name = as_str(s, "options.stateMachineName")?.to_string();
    }
    if let Some(s) = o.get("startTime") {
        let t = DateTime::parse_from_rfc3339(as_str(s, "options.startTime")?)
            .map_err(|e| format!("malformed fixture: options.startTime: {e}"))?;
        options.start_time = t.with_timezone(&Utc);
    }
    match o.get("seed") {
        None => Ok(0),
        Some(s) => s
            .as_u64()
            .ok_or_else(|| "malformed fixture: options.seed must be a whole number".to_string()),
    }
}

pub fn parse_tasks(v: Option<&Value>) -> Result<HashMap<String, Vec<Response>>, String> {
    let mut out = HashMap::new();
    let Some(v) = v else { return Ok(out) };
    for (state, list) in as_object(v, "'tasks'")? {
        let list = list
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| format!("malformed fixture: tasks.{state} must be a non-empty array"))?;
        let mut answers = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let what = format!("tasks.{state}[{i}]");
            let r = as_object(r, &what)?;
            if r.len() != 1 {
                return Err(format!(
                    "malformed fixture: {what} must have exactly one of Return, Throw"
                ));
            }
            check_keys(r, &what, &[], &["Return", "Throw"])?;
            if let Some(v) = r.get("Return") {
                answers.push(Response::Return(v.clone()));
            } else if let Some(t) = r.get("Throw") {
                let t = as_object(t, &format!("{what}.Throw"))?;
                check_keys(t, &format!("{what}.Throw"), &["Error"], &["Error", "Cause"])?;
                let error = as_str(&t["Error"], "Throw.Error")?.to_string();
                let cause = match t.get("Cause") {
                    Some(c) => as_str(c, "Throw.Cause")?.to_string(),
                    None => String::new(),
                };
                answers.push(Response::Throw(StatesError { error, cause }));
            }
        }
        out.insert(state.clone(), answers);
    }
    Ok(out)
}

pub fn parse_numbers(v: &Value, what: &str) -> Result<Vec<f64>, String> {
    v.as_array()
        .ok_or_else(|| format!("malformed fixture: {what} must be an array"))?
        .iter()
        .map(|n| {
            n.as_f64()
                .ok_or_else(|| format!("malformed fixture: {what} must hold numbers"))
        })
        .collect()
}

pub fn parse_valid(file: &Map<String, Value>) -> Result<ValidCase, String> {
    check_keys(
        file,
        "a valid fixture",
        &["description", "source", "definition", "expect"],
        &[
            "description",
            "source",
            "definition",
            "input",
            "options",
            "tasks",
            "expect",
        ],
    )?;
    non_empty_text(file, "description")?;
    non_empty_text(file, "source")?;
    let mut options = RunOptions::default();
    let seed = parse_options(file.get("options"), &mut options)?;
    let tasks = parse_tasks(file.get("tasks"))?;
    let e = as_object(&file["expect"], "'expect'")?;
    check_keys(
        e,
        "'expect'",
        &[],
        &[
            "output",
            "error",
            "causeContains",
            "sleeps",
            "sleepsBetween",
            "calls",
        ],
    )?;
    let expected = match (e.get("output"), e.get("error")) {
        (Some(o), None) if !e.contains_key("causeContains") => Expected::Output(o.clone()),
        (None, Some(err)) => Expected::Error {
            error: as_str(err, "expect.error")?.to_string(),
            cause_contains: e.get("causeContains").map(|c| as_str(c, "expect.causeContains")).transpose()?.map(String::from),
        },
        _ => return Err("malformed fixture: 'expect' needs exactly one of 'output', 'error' (causeContains only with error)".into()),
    };
    let sleeps = e
        .get("sleeps")
        .map(|v| parse_numbers(v, "expect.sleeps"))
        .transpose()?;
    let sleeps_between = match e.get("sleepsBetween") {
        None => None,
        Some(v) => {
            let pairs = v
                .as_array()
                .ok_or("malformed fixture: expect.sleepsBetween must be an array")?;
            let mut out = Vec::new();
            for p in pairs {
                match parse_numbers(p, "expect.sleepsBetween[i]")?.as_slice() {
                    [lo, hi] if lo <= hi => out.push((*lo, *hi)),
                    _ => return Err("malformed fixture: each sleepsBetween entry must be [lo, hi] with lo <= hi".into()),
                }
            }
            Some(out)
        }
    };
    let calls = match e.get("calls") {
        None => None,
        Some(v) => {
            let list = v
                .as_array()
                .ok_or("malformed fixture: expect.calls must be an array")?;
            let mut out = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let what = format!("expect.calls[{i}]");
                let c = as_object(c, &what)?;
                check_keys(c, &what, &["state"], &["state", "payload", "retryCount"])?;
                out.push(ExpectedCall {
                    state: as_str(&c["state"], "calls[].state")?.to_string(),
                    payload: c.get("payload").cloned(),
                    retry_count: match c.get("retryCount") {
                        None => None,
                        Some(n) => Some(
                            n.as_u64()
                                .ok_or("malformed fixture: retryCount must be a whole number")?,
                        ),
                    },
                });
            }
            Some(out)
        }
    };
    Ok(ValidCase {
        definition: file["definition"].clone(),
        input: file
            .get("input")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
        options,
        seed,
        tasks,
        expected,
        sleeps,
        sleeps_between,
        calls,
    })
}
