//! Parsing of each state type, with AWS's field rules.

use serde_json::Value;

use super::fields::{kind, Obj};
use super::parse::{query_language, scope};
use super::*;
use crate::choice::parse_branch;
use crate::error::{names, Problems};
use crate::intrinsic::{looks_like_intrinsic, Intrinsic};
use crate::retry::{Catcher, Jitter, Retrier};

const TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];
const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const IO: &[&str] = &["InputPath", "OutputPath"];
const FLOW: &[&str] = &["Next", "End"];
const RESULT: &[&str] = &["ResultSelector", "ResultPath", "Retry", "Catch"];

/// Fields of newer ASL features that Sluice recognises but does not run yet.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("Assign", "workflow variables ('Assign') are not supported yet; pass data through ResultPath instead"),
    ("Arguments", "'Arguments' belongs to JSONata mode, which is not supported yet; use 'Parameters'"),
    ("Output", "'Output' belongs to JSONata mode, which is not supported yet; use 'OutputPath' or 'ResultSelector'"),
    ("ItemReader", "Distributed Map ('ItemReader') is not supported yet; pass the items in the input and use 'ItemsPath'"),
    ("ItemBatcher", "Distributed Map ('ItemBatcher') is not supported yet; batch the items with States.ArrayPartition"),
    ("ResultWriter", "Distributed Map ('ResultWriter') is not supported yet"),
    ("Label", "Distributed Map ('Label') is not supported yet"),
    ("Credentials", "cross-account 'Credentials' are not supported"),
];

/// The fields a state type accepts (common ones first), then the recognised
/// but unsupported ones, in the order messages list them; one allocation.
fn allowed(extra: &[&[&'static str]]) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(40);
    out.extend_from_slice(COMMON);
    for group in extra {
        out.extend_from_slice(group);
    }
    out
}

pub(super) fn state(
    name: &str,
    value: &Value,
    ptr: &str,
    problems: &mut Problems,
) -> Option<State> {
    let obj = Obj::new(value, ptr, format_args!("state '{name}'"), problems)?;
    let ty = match obj.get("Type") {
        None => {
            problems.push(
                ptr,
                format!(
                    "state '{name}' is missing 'Type'; use one of: {}",
                    TYPES.join(", ")
                ),
            );
            return None;
        }
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.as_str(),
        Some(other) => {
            problems.push(
                obj.at("Type"),
                format!(
                    "unknown state type {}; use one of: {}",
                    crate::path::preview(other),
                    TYPES.join(", ")
                ),
            );
            return None;
        }
    };
    let before = problems.len();
    let fields: Vec<&str> = match ty {
        "Pass" => allowed(&[IO, FLOW, &["Parameters", "ResultPath", "Result"]]),
        "Task" => allowed(&[
            IO,
            FLOW,
            RESULT,
            &[
                "Parameters",
                "Resource",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
            ],
        ]),
        "Choice" => allowed(&[IO, &["Choices", "Default"]]),
        "Wait" => allowed(&[
            IO,
            FLOW,
            &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"],
        ]),
        "Succeed" => allowed(&[IO]),
        "Fail" => allowed(&[&["Error", "ErrorPath", "Cause", "CausePath"]]),
        "Parallel" => allowed(&[IO, FLOW, RESULT, &["Parameters", "Branches"]]),
        _ => allowed(&[
            IO,
            FLOW,
            RESULT,
            &[
                "Iterator",
                "ItemProcessor",
                "ItemsPath",
                "ItemSelector",
                "Parameters",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
            ],
        ]),
    };
    // One pass over the state's few keys first: looking each unsupported
    // field up by name hashes it, on every state.
    if obj
        .map
        .keys()
        .any(|k| UNSUPPORTED.iter().any(|(f, _)| f == k))
    {
        for (field, message) in UNSUPPORTED {
            if obj.has(field) {
                problems.push(obj.at(field), *message);
            }
        }
    }
    let reported: Vec<&str> = UNSUPPORTED.iter().map(|(f, _)| *f).collect();
    obj.unknown_fields_except(&fields, &reported, format_args!("a {ty} state"), problems);
    query_language(&obj, problems);
    let comment = obj.string("Comment", problems).map(str::to_string);
    let input_path = data_path(&obj, "InputPath", problems);
    let output_path = data_path(&obj, "OutputPath", problems);
    let transition = match ty {
        "Choice" | "Succeed" | "Fail" => None,
        _ => transition(&obj, ty, problems),
    };
    let kind = match ty {
        "Pass" => pass(&obj, problems).map(StateKind::Pass),
        "Task" => task(&obj, problems).map(StateKind::Task),
        "Choice" => choice(&obj, problems).map(StateKind::Choice),
        "Wait" => wait(&obj, problems).map(StateKind::Wait),
        "Succeed" => Some(StateKind::Succeed),
        "Fail" => fail(&obj, problems).map(StateKind::Fail),
        "Parallel" => parallel(&obj, problems).map(StateKind::Parallel),
        _ => map_state(&obj, problems).map(StateKind::Map),
    };
    if problems.len() > before {
        return None;
    }
    Some(State {
        name: name.to_string(),
        comment,
        input_path,
        output_path,
        transition,
        kind: kind?,
    })
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

fn data_path(obj: &Obj, key: &str, problems: &mut Problems) -> DataPath {
    match obj.get(key) {
        None => DataPath::Whole,
        Some(Value::Null) => DataPath::Null,
        Some(_) => obj
            .path(key, problems)
            .map(DataPath::Path)
            .unwrap_or_default(),
    }
}

fn result_path(obj: &Obj, problems: &mut Problems) -> ResultPath {
    match obj.get("ResultPath") {
        None => ResultPath::Replace,
        Some(Value::Null) => ResultPath::Discard,
        Some(_) => match obj.reference_path("ResultPath", problems) {
            Some(p) if p.root() == crate::path::Root::Context => {
                problems.push(obj.at("ResultPath"), "ResultPath cannot write into the context object ('$$'); use a path starting with '$'");
                ResultPath::Replace
            }
            Some(p) if p.steps().is_some_and(|s| s.is_empty()) => ResultPath::Replace,
            Some(p) => ResultPath::At(p),
            None => ResultPath::Replace,
        },
    }
}

fn template(obj: &Obj, key: &str, problems: &mut Problems) -> Option<Template> {
    let v = obj.get(key)?;
    Template::compile(v, &obj.at(key), problems)
}

fn pass(obj: &Obj, problems: &mut Problems) -> Option<PassState> {
    Some(PassState {
        result: obj.get("Result").cloned(),
        parameters: template(obj, "Parameters", problems),
        result_path: result_path(obj, problems),
    })
}

fn result_handling(obj: &Obj, problems: &mut Problems) -> ResultHandling {
    ResultHandling {
        result_selector: template(obj, "ResultSelector", problems),
        result_path: result_path(obj, problems),
        retry: retriers(obj, problems),
        catch: catchers(obj, problems),
    }
}

fn dynamic_int(
    obj: &Obj,
    key: &str,
    path_key: &str,
    min: u64,
    max: u64,
    problems: &mut Problems,
) -> Option<Dynamic<u64>> {
    if obj.has(key) && obj.has(path_key) {
        problems.push(
            &obj.ptr,
            format!("use either '{key}' or '{path_key}', not both"),
        );
        return None;
    }
    if obj.has(path_key) {
        return obj.path(path_key, problems).map(Dynamic::Path);
    }
    obj.integer(key, min, max, problems).map(Dynamic::Fixed)
}

fn task(obj: &Obj, problems: &mut Problems) -> Option<TaskState> {
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
    // Check every other field before giving up on a missing Resource.
    let parameters = template(obj, "Parameters", problems);
    let result = result_handling(obj, problems);
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

fn choice(obj: &Obj, problems: &mut Problems) -> Option<ChoiceState> {
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
        if let Some(b) = parse_branch(item, &format!("{}/{i}", obj.at("Choices")), problems) {
            choices.push(b);
        }
    }
    Some(ChoiceState { choices, default })
}

fn wait(obj: &Obj, problems: &mut Problems) -> Option<WaitState> {
    let given: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|k| obj.has(k))
        .collect();
    if given.len() != 1 {
        problems.push(
            &obj.ptr,
            format!(
                "a Wait state needs exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath'{}",
                if given.is_empty() { String::new() } else { format!(", found {}", given.join(" and ")) }
            ),
        );
        return None;
    }
    match given[0] {
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
    problems: &mut Problems,
) -> Option<StringSource> {
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
    let text = obj.string(path_key, problems)?;
    let parsed = if looks_like_intrinsic(text) {
        Intrinsic::parse(text).map(StringSource::Intrinsic)
    } else {
        crate::path::Path::parse(text).map(StringSource::Path)
    };
    parsed.map_err(|e| problems.push(obj.at(path_key), e)).ok()
}

fn fail(obj: &Obj, problems: &mut Problems) -> Option<FailState> {
    Some(FailState {
        error: string_source(obj, "Error", "ErrorPath", problems),
        cause: string_source(obj, "Cause", "CausePath", problems),
    })
}

fn parallel(obj: &Obj, problems: &mut Problems) -> Option<ParallelState> {
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
        if let Some(s) = scope(&bobj, "a Parallel branch", problems) {
            branches.push(s);
        }
    }
    Some(ParallelState {
        branches,
        parameters: template(obj, "Parameters", problems),
        result: result_handling(obj, problems),
    })
}

fn map_state(obj: &Obj, problems: &mut Problems) -> Option<MapState> {
    let processor = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
        (Some(_), Some(_)) => {
            problems.push(
                &obj.ptr,
                "use either 'ItemProcessor' or the older 'Iterator', not both",
            );
            None
        }
        (None, None) => {
            problems.push(&obj.ptr, "a Map state needs 'ItemProcessor' (or the older 'Iterator'): {\"StartAt\", \"States\"} run for each item");
            None
        }
        (Some(v), None) => {
            let ptr = obj.at("ItemProcessor");
            Obj::new(v, &ptr, "'ItemProcessor'", problems).and_then(|p| {
                p.unknown_fields(
                    &["StartAt", "States", "Comment", "ProcessorConfig"],
                    "'ItemProcessor'",
                    problems,
                );
                processor_config(&p, problems);
                scope(&p, "'ItemProcessor'", problems)
            })
        }
        (None, Some(v)) => {
            let ptr = obj.at("Iterator");
            Obj::new(v, &ptr, "'Iterator'", problems).and_then(|p| {
                p.unknown_fields(&["StartAt", "States", "Comment"], "'Iterator'", problems);
                scope(&p, "'Iterator'", problems)
            })
        }
    };
    if obj.has("ItemSelector") && obj.has("Parameters") {
        problems.push(
            &obj.ptr,
            "use either 'ItemSelector' or the older 'Parameters', not both",
        );
    }
    let item_selector =
        template(obj, "ItemSelector", problems).or_else(|| template(obj, "Parameters", problems));
    let items_path = obj
        .get("ItemsPath")
        .and_then(|_| obj.reference_path("ItemsPath", problems));
    let max_concurrency = dynamic_int(
        obj,
        "MaxConcurrency",
        "MaxConcurrencyPath",
        0,
        99_999_999,
        problems,
    )
    .unwrap_or(Dynamic::Fixed(0));
    let tolerated_failure_count = dynamic_int(
        obj,
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        0,
        99_999_999,
        problems,
    );
    let tolerated_failure_percentage = if obj.has("ToleratedFailurePercentagePath") {
        if obj.has("ToleratedFailurePercentage") {
            problems.push(&obj.ptr, "use either 'ToleratedFailurePercentage' or 'ToleratedFailurePercentagePath', not both");
        }
        obj.path("ToleratedFailurePercentagePath", problems)
            .map(Dynamic::Path)
    } else {
        obj.number("ToleratedFailurePercentage", 0.0, 100.0, problems)
            .map(Dynamic::Fixed)
    };
    let result = result_handling(obj, problems);
    Some(MapState {
        processor: processor?,
        items_path,
        item_selector,
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
        result,
    })
}

fn processor_config(p: &Obj, problems: &mut Problems) {
    let Some(v) = p.get("ProcessorConfig") else {
        return;
    };
    let ptr = p.at("ProcessorConfig");
    let Some(cfg) = Obj::new(v, &ptr, "'ProcessorConfig'", problems) else {
        return;
    };
    cfg.unknown_fields(&["Mode", "ExecutionType"], "'ProcessorConfig'", problems);
    match cfg.string("Mode", problems) {
        None | Some("INLINE") => {}
        Some("DISTRIBUTED") => problems.push(
            cfg.at("Mode"),
            "Distributed Map is not supported yet; use \"Mode\": \"INLINE\"",
        ),
        Some(other) => problems.push(
            cfg.at("Mode"),
            format!("unknown Mode \"{other}\"; use \"INLINE\""),
        ),
    }
}

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

fn retriers(obj: &Obj, problems: &mut Problems) -> Vec<Retrier> {
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

fn catchers(obj: &Obj, problems: &mut Problems) -> Vec<Catcher> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (ptr, v) in list(obj, "Catch", problems) {
        let Some(c) = Obj::new(v, &ptr, "a catcher", problems) else {
            errors.push(false);
            continue;
        };
        c.unknown_fields(
            &["ErrorEquals", "ResultPath", "Next", "Comment"],
            "a catcher",
            problems,
        );
        let ee = error_equals(&c, "a catcher", problems);
        errors.push(has_all(&ee));
        let next = c.required_string("Next", "a catcher", problems);
        let rp = result_path(&c, problems);
        if let (Some(ee), Some(next)) = (ee, next) {
            out.push(Catcher {
                error_equals: ee,
                result_path: rp,
                next: next.to_string(),
            });
        }
    }
    check_all_last(&errors, obj, "Catch", problems);
    out
}
