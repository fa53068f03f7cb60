//! Parsing of each state type, with AWS's field rules for both query
//! languages. Map states are in `parse_distributed.rs`, Retry and Catch in
//! `parse_errors.rs`, fields shared by many states in `parse_common.rs`.

use serde_json::Value;

use super::fields::{kind, Obj};
use super::parse::scope;
use super::parse_common::*;
use super::parse_errors::{catchers, retriers};
use super::*;
use crate::choice::parse_branch;
use crate::error::Problems;
use crate::intrinsic::{looks_like_intrinsic, Intrinsic};

const TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];
const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const IO: &[&str] = &["InputPath", "OutputPath"];
const FLOW: &[&str] = &["Next", "End"];
const RESULT: &[&str] = &["ResultSelector", "ResultPath", "Retry", "Catch"];
const J_RESULT: &[&str] = &["Output", "Assign", "Retry", "Catch"];
const TASK: &[&str] = &[
    "Resource",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Credentials",
];
const TASK_PATHS: &[&str] = &["Parameters", "TimeoutSecondsPath", "HeartbeatSecondsPath"];
pub(super) const MAP: &[&str] = &[
    "Iterator",
    "ItemProcessor",
    "ItemSelector",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "Label",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];
const MAP_PATHS: &[&str] = &[
    "ItemsPath",
    "Parameters",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];

/// The fields a state type accepts in a query language.
fn allowed(ty: &str, ql: QueryLanguage) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(40);
    out.extend_from_slice(COMMON);
    let groups: &[&[&'static str]] = match (ql, ty) {
        (QueryLanguage::JsonPath, "Pass") => {
            &[IO, FLOW, &["Parameters", "ResultPath", "Result", "Assign"]]
        }
        (QueryLanguage::JsonPath, "Task") => &[IO, FLOW, RESULT, TASK, TASK_PATHS, &["Assign"]],
        (QueryLanguage::JsonPath, "Choice") => &[IO, &["Choices", "Default", "Assign"]],
        (QueryLanguage::JsonPath, "Wait") => &[
            IO,
            FLOW,
            &[
                "Seconds",
                "Timestamp",
                "SecondsPath",
                "TimestampPath",
                "Assign",
            ],
        ],
        (QueryLanguage::JsonPath, "Succeed") => &[IO],
        (QueryLanguage::JsonPath, "Fail") => &[&["Error", "ErrorPath", "Cause", "CausePath"]],
        (QueryLanguage::JsonPath, "Parallel") => {
            &[IO, FLOW, RESULT, &["Parameters", "Branches", "Assign"]]
        }
        (QueryLanguage::JsonPath, _) => &[IO, FLOW, RESULT, MAP, MAP_PATHS, &["Assign"]],
        (QueryLanguage::Jsonata, "Pass") => &[FLOW, &["Output", "Assign"]],
        (QueryLanguage::Jsonata, "Task") => &[FLOW, J_RESULT, TASK, &["Arguments"]],
        (QueryLanguage::Jsonata, "Choice") => &[&["Choices", "Default", "Output", "Assign"]],
        (QueryLanguage::Jsonata, "Wait") => &[FLOW, &["Seconds", "Timestamp", "Output", "Assign"]],
        (QueryLanguage::Jsonata, "Succeed") => &[&["Output"]],
        (QueryLanguage::Jsonata, "Fail") => &[&["Error", "Cause"]],
        (QueryLanguage::Jsonata, "Parallel") => &[FLOW, J_RESULT, &["Arguments", "Branches"]],
        (QueryLanguage::Jsonata, _) => &[FLOW, J_RESULT, MAP, &["Items"]],
    };
    for group in groups {
        out.extend_from_slice(group);
    }
    out
}

/// Report the fields of the other query language (they get a specific
/// message); returns them so the unknown-field check skips them.
fn other_language_fields(
    obj: &Obj,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> Vec<&'static str> {
    let present: Vec<&'static str> = match ql {
        QueryLanguage::JsonPath => jsonata_field_names().filter(|k| obj.has(k)).collect(),
        QueryLanguage::Jsonata => jsonpath_field_names().filter(|k| obj.has(k)).collect(),
    };
    match ql {
        QueryLanguage::JsonPath => jsonata_only(obj, &present, problems),
        QueryLanguage::Jsonata => jsonpath_only(obj, &present, problems),
    }
}

fn state_type<'a>(name: &str, obj: &'a Obj, problems: &mut Problems) -> Option<&'a str> {
    match obj.get("Type") {
        None => {
            problems.push(
                &obj.ptr,
                format!(
                    "state '{name}' is missing 'Type'; use one of: {}",
                    TYPES.join(", ")
                ),
            );
            None
        }
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => Some(t.as_str()),
        Some(other) => {
            problems.push(
                obj.at("Type"),
                format!(
                    "unknown state type {}; use one of: {}",
                    crate::path::preview(other),
                    TYPES.join(", ")
                ),
            );
            None
        }
    }
}

/// Parse one state; `workflow_ql` is the workflow's `QueryLanguage`.
pub(super) fn state(
    name: &str,
    value: &Value,
    ptr: &str,
    workflow_ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<State> {
    let obj = Obj::new(value, ptr, format_args!("state '{name}'"), problems)?;
    let ty = state_type(name, &obj, problems)?;
    let before = problems.len();
    let ql = query_language(&obj, Some(workflow_ql), problems);
    let reported = other_language_fields(&obj, ql, problems);
    let fields = allowed(ty, ql);
    obj.unknown_fields_except(&fields, &reported, format_args!("a {ty} state"), problems);
    let comment = obj.string("Comment", problems).map(str::to_string);
    let (input_path, output_path) = match ql {
        QueryLanguage::JsonPath => (
            data_path(&obj, "InputPath", problems),
            data_path(&obj, "OutputPath", problems),
        ),
        QueryLanguage::Jsonata => (DataPath::Whole, DataPath::Whole),
    };
    let output = match ql {
        QueryLanguage::Jsonata if ty != "Fail" => super::parse_common::output(&obj, problems),
        _ => None,
    };
    let assign = match ty {
        "Succeed" | "Fail" => None,
        _ => assign(&obj, ql, problems),
    };
    let transition = match ty {
        "Choice" | "Succeed" | "Fail" => None,
        _ => transition(&obj, ty, problems),
    };
    let kind = match ty {
        "Pass" => pass(&obj, ql, problems).map(StateKind::Pass),
        "Task" => task(&obj, ql, problems).map(StateKind::Task),
        "Choice" => choice(&obj, ql, problems).map(StateKind::Choice),
        "Wait" => wait(&obj, ql, problems).map(StateKind::Wait),
        "Succeed" => Some(StateKind::Succeed),
        "Fail" => fail(&obj, ql, problems).map(StateKind::Fail),
        "Parallel" => parallel(&obj, ql, workflow_ql, problems).map(StateKind::Parallel),
        _ => super::parse_distributed::map_state(&obj, ql, workflow_ql, problems)
            .map(|m| StateKind::Map(Box::new(m))),
    };
    if problems.len() > before {
        return None;
    }
    let state = State {
        name: name.to_string(),
        comment,
        query_language: ql,
        input_path,
        output_path,
        output,
        assign,
        transition,
        kind: kind?,
    };
    if ql == QueryLanguage::Jsonata {
        super::jsonata_refs::check(&state, ptr, problems);
        if problems.len() > before {
            return None;
        }
    }
    Some(state)
}

fn transition(obj: &Obj, ty: &str, problems: &mut Problems) -> Option<Transition> {
    let next = obj.string("Next", problems);
    let end = obj.bool("End", problems);
    match (next, end) {
        (Some(_), Some(true)) => {
            problems.push(
                &obj.ptr,
                "a state cannot have both 'Next' and \"End\": true; keep one",
            );
            None
        }
        (Some(n), _) => Some(Transition::Next(n.to_string())),
        (None, Some(true)) => Some(Transition::End),
        (None, _) if obj.has("Next") => None,
        (None, _) => {
            problems.push(
                &obj.ptr,
                format!("a {ty} state needs 'Next' (the state to go to) or \"End\": true"),
            );
            None
        }
    }
}

fn pass(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<PassState> {
    Some(match ql {
        QueryLanguage::JsonPath => PassState {
            result: obj.get("Result").cloned(),
            parameters: template(obj, "Parameters", problems),
            result_path: result_path(obj, problems),
        },
        QueryLanguage::Jsonata => PassState {
            result: None,
            parameters: None,
            result_path: ResultPath::Replace,
        },
    })
}

pub(super) fn result_handling(
    obj: &Obj,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> ResultHandling {
    match ql {
        QueryLanguage::JsonPath => ResultHandling {
            result_selector: template(obj, "ResultSelector", problems),
            result_path: result_path(obj, problems),
            retry: retriers(obj, problems),
            catch: catchers(obj, ql, problems),
        },
        QueryLanguage::Jsonata => ResultHandling {
            result_selector: None,
            result_path: ResultPath::Replace,
            retry: retriers(obj, problems),
            catch: catchers(obj, ql, problems),
        },
    }
}

fn task(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<TaskState> {
    let resource = obj.required_string("Resource", "a Task state", problems);
    if resource.is_some_and(str::is_empty) {
        problems.push(
            obj.at("Resource"),
            "'Resource' must name what to run, e.g. \"sluice:function:NAME\"",
        );
    }
    let timeout = dynamic_int(
        obj,
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        1,
        99_999_999,
        problems,
    );
    let heartbeat = dynamic_int(
        obj,
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        1,
        99_999_999,
        problems,
    );
    if let (Some(Dynamic::Fixed(t)), Some(Dynamic::Fixed(h))) = (&timeout, &heartbeat) {
        if h >= t {
            problems.push(
                obj.at("HeartbeatSeconds"),
                format!("HeartbeatSeconds ({h}) must be smaller than TimeoutSeconds ({t})"),
            );
        }
    }
    if let Some(r) = resource.filter(|r| !r.is_empty()) {
        if let Err(e) = crate::resource::ResourceRef::parse(r) {
            problems.push(obj.at("Resource"), e);
        }
    }
    // `Credentials` (a role to assume) is accepted for portability and has
    // no effect: there are no IAM roles (docs/asl-compatibility.md).
    credentials(obj, ql, problems);
    // Check every other field before giving up on a missing Resource.
    let parameters = payload(obj, ql, problems);
    let result = result_handling(obj, ql, problems);
    let resource = resource?.to_string();
    Some(TaskState {
        wait_for_task_token: resource.ends_with(".waitForTaskToken"),
        resource,
        parameters,
        result,
        timeout_seconds: timeout,
        heartbeat_seconds: heartbeat,
    })
}

/// `Credentials`: `{"RoleArn": …}` (or `RoleArn.$` in JSONPath), as AWS
/// requires it.
fn credentials(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) {
    let Some(v) = obj.get("Credentials") else {
        return;
    };
    let ptr = obj.at("Credentials");
    let Some(c) = Obj::new(v, &ptr, "'Credentials'", problems) else {
        return;
    };
    let fields: &[&str] = match ql {
        QueryLanguage::JsonPath => &["RoleArn", "RoleArn.$"],
        QueryLanguage::Jsonata => &["RoleArn"],
    };
    c.unknown_fields(fields, "'Credentials'", problems);
    if !fields.iter().any(|f| c.has(f)) {
        problems.push(&ptr, "The field 'RoleArn' is required but was missing: give 'Credentials' a \"RoleArn\" (it has no effect on Sluice)");
    }
}

fn choice(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<ChoiceState> {
    let default = obj.string("Default", problems).map(str::to_string);
    let Some(v) = obj.get("Choices") else {
        problems.push(
            &obj.ptr,
            "a Choice state needs 'Choices': a non-empty array of rules, each with a 'Next'",
        );
        return None;
    };
    let Value::Array(items) = v else {
        problems.push(
            obj.at("Choices"),
            format!(
                "'Choices' must be a non-empty array of rules, found {}",
                kind(v)
            ),
        );
        return None;
    };
    if items.is_empty() {
        problems.push(
            obj.at("Choices"),
            "'Choices' must contain at least one rule",
        );
        return None;
    }
    let mut choices = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ptr = format!("{}/{i}", obj.at("Choices"));
        if let Some(b) = parse_branch(item, &ptr, ql, problems) {
            choices.push(b);
        }
    }
    Some(ChoiceState { choices, default })
}

fn wait(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<WaitState> {
    let keys: &[&str] = match ql {
        QueryLanguage::JsonPath => &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"],
        QueryLanguage::Jsonata => &["Seconds", "Timestamp"],
    };
    let given: Vec<&str> = keys.iter().copied().filter(|k| obj.has(k)).collect();
    if given.len() != 1 {
        problems.push(
            &obj.ptr,
            format!(
                "a Wait state needs exactly one of {}{}",
                keys.iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if given.is_empty() {
                    String::new()
                } else {
                    format!(", found {}", given.join(" and "))
                }
            ),
        );
        return None;
    }
    let key = given[0];
    if ql == QueryLanguage::Jsonata && is_expression(obj, key) {
        let e = expression(obj, key, problems)?;
        return Some(if key == "Seconds" {
            WaitState::SecondsExpr(e)
        } else {
            WaitState::TimestampExpr(e)
        });
    }
    match key {
        "Seconds" => obj
            .integer("Seconds", 0, 99_999_999, problems)
            .map(WaitState::Seconds),
        "Timestamp" => {
            let s = obj.string("Timestamp", problems)?;
            match crate::timestamp::parse(s) {
                Some(t) => Some(WaitState::Timestamp(t)),
                None => {
                    problems.push(obj.at("Timestamp"), format!("'{s}' is not an RFC 3339 timestamp such as \"2024-03-14T01:59:00Z\" (uppercase T and Z)"));
                    None
                }
            }
        }
        "SecondsPath" => obj
            .path("SecondsPath", problems)
            .map(WaitState::SecondsPath),
        _ => obj
            .path("TimestampPath", problems)
            .map(WaitState::TimestampPath),
    }
}

fn string_source(
    obj: &Obj,
    key: &str,
    path_key: &str,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<StringSource> {
    if ql == QueryLanguage::Jsonata && is_expression(obj, key) {
        return expression(obj, key, problems).map(StringSource::Jsonata);
    }
    if obj.has(key) && obj.has(path_key) {
        problems.push(
            &obj.ptr,
            format!("use either '{key}' or '{path_key}', not both"),
        );
        return None;
    }
    if let Some(s) = obj.string(key, problems) {
        return Some(StringSource::Fixed(s.to_string()));
    }
    if ql == QueryLanguage::Jsonata {
        return None;
    }
    let text = obj.string(path_key, problems)?;
    let parsed = if looks_like_intrinsic(text) {
        Intrinsic::parse(text).map(StringSource::Intrinsic)
    } else {
        crate::path::Path::parse(text).map(StringSource::Path)
    };
    parsed.map_err(|e| problems.push(obj.at(path_key), e)).ok()
}

fn fail(obj: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<FailState> {
    Some(FailState {
        error: string_source(obj, "Error", "ErrorPath", ql, problems),
        cause: string_source(obj, "Cause", "CausePath", ql, problems),
    })
}

fn parallel(
    obj: &Obj,
    ql: QueryLanguage,
    workflow_ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<ParallelState> {
    let Some(v) = obj.get("Branches") else {
        problems.push(
            &obj.ptr,
            "a Parallel state needs 'Branches': an array of {\"StartAt\", \"States\"} objects",
        );
        return None;
    };
    let Value::Array(items) = v else {
        problems.push(
            obj.at("Branches"),
            format!(
                "'Branches' must be an array of {{\"StartAt\", \"States\"}} objects, found {}",
                kind(v)
            ),
        );
        return None;
    };
    if items.is_empty() {
        problems.push(
            obj.at("Branches"),
            "'Branches' must contain at least one branch",
        );
    }
    let mut branches = Vec::new();
    for (i, b) in items.iter().enumerate() {
        let ptr = format!("{}/{i}", obj.at("Branches"));
        let Some(bobj) = Obj::new(b, &ptr, "a branch", problems) else {
            continue;
        };
        bobj.unknown_fields(
            &["StartAt", "States", "Comment"],
            "a Parallel branch",
            problems,
        );
        if let Some(s) = scope(&bobj, "a Parallel branch", workflow_ql, problems) {
            branches.push(s);
        }
    }
    Some(ParallelState {
        branches,
        parameters: payload(obj, ql, problems),
        result: result_handling(obj, ql, problems),
    })
}
