//! The definition parsers take user input, so they must answer every JSON
//! value with `Ok` or `Err(Problems)` and never panic: arbitrary values
//! (biased towards ASL-looking keys, paths, intrinsics and extreme numbers),
//! deep nesting, and random mutations of valid definitions.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Number, Value};
use sluice_dsl::mocks::MockConfig;
use sluice_dsl::StateMachine;

const ORDER_PIPELINE: &str = include_str!("../../examples/order-pipeline.asl.json");
const HELLO: &str = include_str!("../../examples/hello.asl.json");
const ORDER_MOCKS: &str = include_str!("../../examples/order-pipeline.mocks.json");

/// Feed one value to every parser; a panic fails the property.
fn parse_all(v: &Value) {
    let _ = StateMachine::from_value(v);
    let _ = MockConfig::from_value(v);
}

/// Field names the parsers look for, so random objects reach deep code paths.
const KEYS: &[&str] = &[
    "StartAt",
    "States",
    "Type",
    "Next",
    "End",
    "Comment",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "QueryLanguage",
    "Version",
    "Resource",
    "Parameters",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "ResultSelector",
    "Result",
    "Retry",
    "Catch",
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Choices",
    "Default",
    "Variable",
    "StringEquals",
    "StringEqualsPath",
    "NumericGreaterThan",
    "TimestampLessThan",
    "BooleanEquals",
    "IsPresent",
    "IsNull",
    "StringMatches",
    "And",
    "Or",
    "Not",
    "Branches",
    "Iterator",
    "ItemProcessor",
    "ItemsPath",
    "ItemSelector",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Error",
    "ErrorPath",
    "Cause",
    "CausePath",
    "a.$",
    "b.$",
    "x",
    "StateMachines",
    "TestCases",
    "MockedResponses",
    "0",
    "1-2",
    "Return",
    "Throw",
    "Pass",
    "",
];

/// Strings that look like paths, intrinsics, types and timestamps.
const STRINGS: &[&str] = &[
    "$",
    "$.",
    "$..",
    "$..a",
    "$$",
    "$$.",
    "$$.Execution.Input",
    "$$.Map.Item.Value",
    "$.a",
    "$.a[0]",
    "$.a[-1]",
    "$.a[*]",
    "$.a[?(@.b > 1)]",
    "$['a']",
    "$.a[",
    "$[",
    "$.a..b[1:2:0]",
    "States.Format('{}', $.a",
    "States.Format('{}', $.a)",
    "States.Format('{}{}', 'x')",
    "States.Array(",
    "States.Array($.a, States.Array(1, 'two', null))",
    "States.StringToJson($.s)",
    "States.JsonToString($)",
    "States.ArrayRange(1, 1000000000, 1)",
    "States.ArrayRange(1, 5, 0)",
    "States.ArrayPartition($.a, 0)",
    "States.MathAdd(9223372036854775807, 1)",
    "States.MathRandom(5, 1)",
    "States.Hash($.a, 'SHA-1024')",
    "States.Base64Decode('%%%')",
    "States.UUID()",
    "States.Nope()",
    "States.Format('\\{', $.a)",
    "'unterminated",
    "Pass",
    "Task",
    "Choice",
    "Wait",
    "Succeed",
    "Fail",
    "Parallel",
    "Map",
    "States.ALL",
    "States.TaskFailed",
    "sluice:function:f",
    "arn:aws:states:::lambda:invoke",
    "FULL",
    "NONE",
    "JSONPath",
    "JSONata",
    "2024-02-30T00:00:00Z",
    "2024-01-01T00:00:00Z",
    "0",
    "1-2",
    "2-1",
    "99999999999",
    "",
    " ",
    "\u{0}",
    "🦀",
    "a/b~c",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0i64),
            Just(-1i64),
            any::<i64>(),
            0i64..5,
        ]
        .prop_map(Value::from),
        prop_oneof![Just(u64::MAX), any::<u64>()].prop_map(Value::from),
        prop_oneof![
            Just(1e308),
            Just(-1e308),
            Just(f64::MIN_POSITIVE),
            Just(-0.0),
            Just(0.5),
            any::<f64>()
        ]
        .prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        proptest::sample::select(STRINGS).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(Value::String("x".repeat(10_000))),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => "\\PC{0,8}",
    ]
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A definition-shaped value: `{"StartAt", "States": {name: state}}` with
/// random states, so parsing gets past the top level most of the time.
fn definition_shaped() -> impl Strategy<Value = Value> {
    let state = prop::collection::vec((key(), arbitrary_json()), 0..6).prop_map(|fields| {
        let mut obj: Map<String, Value> = fields.into_iter().collect();
        obj.entry("Type").or_insert_with(|| json!("Pass"));
        Value::Object(obj)
    });
    (prop::collection::vec(("[A-C]", state), 1..4), "[A-D]").prop_map(|(states, start)| {
        json!({ "StartAt": start, "States": states.into_iter().collect::<Map<_, _>>() })
    })
}

/// One edit applied at a position chosen among all the value's nodes.
#[derive(Debug, Clone)]
enum Mutation {
    Drop,
    Replace(Value),
    /// Copy the node found at another position over this one.
    Duplicate(usize),
    /// Turn the node into a value of another JSON type.
    WrongType(u8),
    /// Rename an object field (or append to an array).
    Rename(String),
}

fn mutation() -> impl Strategy<Value = (usize, Mutation)> {
    let m = prop_oneof![
        Just(Mutation::Drop),
        arbitrary_json().prop_map(Mutation::Replace),
        any::<usize>().prop_map(Mutation::Duplicate),
        any::<u8>().prop_map(Mutation::WrongType),
        key().prop_map(Mutation::Rename),
    ];
    (any::<usize>(), m)
}

/// JSON pointers of every node, the root first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn wrong_type(v: &Value, pick: u8) -> Value {
    let options = [
        json!(null),
        json!(true),
        json!(-7),
        json!(1.5),
        json!("text"),
        json!([]),
        json!({}),
        json!([v.clone()]),
        json!({ "value": v.clone() }),
        Value::String(v.to_string()),
    ];
    options[usize::from(pick) % options.len()].clone()
}

fn mutate(mut doc: Value, edits: &[(usize, Mutation)]) -> Value {
    for (position, edit) in edits {
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let target = all[position % all.len()].clone();
        let (parent, last) = match target.rfind('/') {
            Some(i) => (
                target[..i].to_string(),
                target[i + 1..].replace("~1", "/").replace("~0", "~"),
            ),
            None => (String::new(), String::new()),
        };
        match edit {
            Mutation::Drop if !target.is_empty() => match doc.pointer_mut(&parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            },
            Mutation::Drop => doc = Value::Null,
            Mutation::Replace(v) => set(&mut doc, &target, v.clone()),
            Mutation::Duplicate(from) => {
                let source = all[from % all.len()].clone();
                if let Some(v) = doc.pointer(&source).cloned() {
                    set(&mut doc, &target, v);
                }
            }
            Mutation::WrongType(pick) => {
                if let Some(v) = doc.pointer(&target) {
                    let new = wrong_type(v, *pick);
                    set(&mut doc, &target, new);
                }
            }
            Mutation::Rename(new_key) => match doc.pointer_mut(&parent) {
                Some(Value::Object(m)) if !target.is_empty() => {
                    if let Some(v) = m.remove(&last) {
                        m.insert(new_key.clone(), v);
                    }
                }
                Some(Value::Array(a)) => a.push(Value::String(new_key.clone())),
                _ => {}
            },
        }
    }
    doc
}

fn set(doc: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
    }
}

fn bases() -> Vec<Value> {
    [ORDER_PIPELINE, HELLO, ORDER_MOCKS]
        .iter()
        .map(|text| serde_json::from_str(text).expect("examples are valid JSON"))
        .chain(std::iter::once(rich_definition()))
        .collect()
}

/// A valid definition touching features the examples do not.
fn rich_definition() -> Value {
    json!({
        "Comment": "every state type",
        "StartAt": "P",
        "TimeoutSeconds": 60,
        "States": {
            "P": { "Type": "Pass", "InputPath": "$.in", "Result": {"x": 1}, "ResultPath": "$.r",
                   "OutputPath": "$", "Next": "C" },
            "C": { "Type": "Choice", "Default": "W", "Choices": [
                { "Not": { "Variable": "$.r.x", "NumericEquals": 2 }, "Next": "T" },
                { "Or": [ { "Variable": "$.s", "StringMatches": "a*b" },
                          { "Variable": "$.t", "TimestampLessThanEqualsPath": "$.u" } ], "Next": "W" } ] },
            "T": { "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                   "Parameters": { "FunctionName": "f", "Payload": { "token.$": "$$.Task.Token",
                                   "list.$": "States.Array($.a, 'b', 3)" } },
                   "ResultSelector": { "body.$": "$.Payload" }, "HeartbeatSeconds": 5, "TimeoutSecondsPath": "$.timeout",
                   "Retry": [ { "ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL", "MaxDelaySeconds": 3 } ],
                   "Catch": [ { "ErrorEquals": ["States.TaskFailed"], "Next": "F" } ], "Next": "M" },
            "M": { "Type": "Map", "ItemsPath": "$.items", "ItemSelector": { "v.$": "$$.Map.Item.Value" },
                   "ToleratedFailurePercentage": 10,
                   "Iterator": { "StartAt": "S", "States": { "S": { "Type": "Succeed" } } }, "Next": "W" },
            "W": { "Type": "Wait", "TimestampPath": "$.when", "Next": "E" },
            "E": { "Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('{}', $.c)" },
            "F": { "Type": "Fail", "Error": "Failed", "Cause": "caught" }
        }
    })
}

fn nested(depth: usize, wrap: impl Fn(Value) -> Value) -> Value {
    (0..depth).fold(json!("$.leaf"), |inner, _| wrap(inner))
}

#[test]
fn the_bases_are_valid() {
    let [order, hello, mocks, rich] = <[Value; 4]>::try_from(bases()).expect("four bases");
    for (name, v) in [
        ("order-pipeline", &order),
        ("hello", &hello),
        ("rich", &rich),
    ] {
        if let Err(p) = StateMachine::from_value(v) {
            panic!("{name} should be a valid definition:\n{p}");
        }
    }
    if let Err(p) = MockConfig::from_value(&mocks) {
        panic!("order-pipeline.mocks.json should be valid:\n{p}");
    }
}

#[test]
fn deep_nesting_does_not_panic() {
    // Deep JSON under Parameters and in a mock's Return value.
    let params = nested(200, |v| json!({ "k.$": "$.x", "n": v }));
    parse_all(
        &json!({ "StartAt": "A", "States": { "A": { "Type": "Pass", "Parameters": params, "End": true } } }),
    );
    let arrays = nested(200, |v| json!([v]));
    parse_all(&arrays);
    parse_all(
        &json!({ "StateMachines": {}, "MockedResponses": { "R": { "0": { "Return": arrays } } } }),
    );
    // Parallel inside Parallel, 40 levels.
    let machine = nested(40, |inner| {
        let branch = if inner.is_string() {
            json!({ "StartAt": "L", "States": { "L": { "Type": "Pass", "End": true } } })
        } else {
            inner
        };
        json!({ "StartAt": "P", "States": { "P": { "Type": "Parallel", "Branches": [branch], "End": true } } })
    });
    parse_all(&machine);
}

proptest! {
    #![proptest_config(Config { cases: 256, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_values_never_panic(v in arbitrary_json()) {
        parse_all(&v);
    }

    #[test]
    fn definition_shaped_values_never_panic(v in definition_shaped()) {
        parse_all(&v);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,64}") {
        let _ = StateMachine::from_json(&text);
        let _ = MockConfig::from_json(&text);
    }
}

proptest! {
    #![proptest_config(Config { cases: 768, failure_persistence: None, ..Config::default() })]

    #[test]
    fn mutated_valid_definitions_never_panic(
        base in 0usize..4,
        edits in prop::collection::vec(mutation(), 1..5),
    ) {
        let doc = bases().swap_remove(base);
        parse_all(&mutate(doc, &edits));
    }
}
