use serde_json::{json, Value};

use super::{branch, rule};
use crate::error::StatesError;

/// Evaluate `{"Variable": "$.v", op: operand}` on `{"v": value}`, and the
/// `…Path` form (when `op` has one) on `{"v": value, "o": operand}`: both must agree.
fn check(op: &str, operand: Value, value: Value, expected: bool) {
    let literal = rule(json!({"Variable": "$.v", op: operand.clone()}));
    let input = json!({"v": value});
    let got = literal
        .evaluate(&input, crate::path::Docs::context(&json!({})))
        .expect("evaluates");
    assert_eq!(got, expected, "{op} {operand} on {value}");

    if op.starts_with("Is") || op == "StringMatches" {
        return;
    }
    let path_op = format!("{op}Path");
    let by_path = rule(json!({"Variable": "$.v", path_op.clone(): "$.o"}));
    let input = json!({"v": value, "o": operand});
    let got = by_path
        .evaluate(&input, crate::path::Docs::context(&json!({})))
        .expect("evaluates");
    assert_eq!(got, expected, "{path_op} $.o={operand} on {value}");
}

fn eval(rule_json: Value, input: Value) -> Result<bool, StatesError> {
    rule(rule_json).evaluate(&input, crate::path::Docs::context(&json!({})))
}

#[test]
fn string_comparisons() {
    let cases = [
        ("StringEquals", "abc", json!("abc"), true),
        ("StringEquals", "abc", json!("abd"), false),
        ("StringEquals", "abc", json!("ABC"), false),
        ("StringLessThan", "b", json!("a"), true),
        ("StringLessThan", "b", json!("b"), false),
        ("StringLessThan", "b", json!("c"), false),
        ("StringLessThan", "b", json!("B"), true),
        ("StringGreaterThan", "b", json!("c"), true),
        ("StringGreaterThan", "b", json!("b"), false),
        ("StringGreaterThan", "b", json!("a"), false),
        ("StringGreaterThan", "ab", json!("abc"), true),
        ("StringLessThanEquals", "b", json!("b"), true),
        ("StringLessThanEquals", "b", json!("a"), true),
        ("StringLessThanEquals", "b", json!("c"), false),
        ("StringGreaterThanEquals", "b", json!("b"), true),
        ("StringGreaterThanEquals", "b", json!("c"), true),
        ("StringGreaterThanEquals", "b", json!("a"), false),
    ];
    for (op, operand, value, expected) in cases {
        check(op, json!(operand), value, expected);
    }
}

#[test]
fn string_comparisons_with_other_types_are_false() {
    for op in [
        "StringEquals",
        "StringLessThan",
        "StringGreaterThan",
        "StringLessThanEquals",
        "StringGreaterThanEquals",
    ] {
        for value in [
            json!(1),
            json!(null),
            json!(true),
            json!(["a"]),
            json!({"a": 1}),
        ] {
            check(op, json!("1"), value, false);
        }
    }
    // A `…Path` operand of the wrong type is just as false.
    assert!(!eval(
        json!({"Variable": "$.v", "StringEqualsPath": "$.o"}),
        json!({"v": "1", "o": 1})
    )
    .unwrap());
}

#[test]
fn string_matches() {
    let cases = [
        ("log-*.txt", "log-2024.txt", true),
        ("log-*.txt", "log-.txt", true),
        ("log-*.txt", "log-2024.csv", false),
        ("*", "", true),
        ("a*b*c", "a-b-c", true),
        ("a*b*c", "a-c-b", false),
        // JSON "a\\*b": the star is literal.
        ("a\\*b", "a*b", true),
        ("a\\*b", "axxb", false),
        // JSON "C:\\\\*": a literal backslash, then a wildcard.
        ("C:\\\\*", "C:\\temp", true),
        ("C:\\\\*", "C:/temp", false),
    ];
    for (pattern, value, expected) in cases {
        check("StringMatches", json!(pattern), json!(value), expected);
    }
    check("StringMatches", json!("*"), json!(12), false);
    check("StringMatches", json!("*"), json!(null), false);
}

#[test]
fn numeric_comparisons() {
    let cases = [
        ("NumericEquals", json!(1), json!(1.0), true),
        ("NumericEquals", json!(1), json!(1), true),
        ("NumericEquals", json!(1), json!(2), false),
        ("NumericEquals", json!(0.1), json!(0.1), true),
        ("NumericEquals", json!(100), json!(1e2), true),
        ("NumericLessThan", json!(10), json!(9.5), true),
        ("NumericLessThan", json!(10), json!(10), false),
        ("NumericLessThan", json!(-1), json!(-2), true),
        ("NumericGreaterThan", json!(10), json!(10.5), true),
        ("NumericGreaterThan", json!(10), json!(10), false),
        ("NumericGreaterThan", json!(i64::MAX), json!(u64::MAX), true),
        ("NumericLessThanEquals", json!(10), json!(10.0), true),
        ("NumericLessThanEquals", json!(10), json!(9), true),
        ("NumericLessThanEquals", json!(10), json!(11), false),
        ("NumericGreaterThanEquals", json!(10), json!(10), true),
        ("NumericGreaterThanEquals", json!(10), json!(11), true),
        ("NumericGreaterThanEquals", json!(10), json!(9.99), false),
    ];
    for (op, operand, value, expected) in cases {
        check(op, operand, value, expected);
    }
    for op in [
        "NumericEquals",
        "NumericLessThan",
        "NumericGreaterThan",
        "NumericLessThanEquals",
        "NumericGreaterThanEquals",
    ] {
        for value in [json!("1"), json!(null), json!(true), json!([1])] {
            check(op, json!(1), value, false);
        }
    }
}

#[test]
fn boolean_equals() {
    check("BooleanEquals", json!(true), json!(true), true);
    check("BooleanEquals", json!(false), json!(false), true);
    check("BooleanEquals", json!(true), json!(false), false);
    check("BooleanEquals", json!(true), json!("true"), false);
    check("BooleanEquals", json!(false), json!(0), false);
    check("BooleanEquals", json!(false), json!(null), false);
}

#[test]
fn timestamp_comparisons() {
    let t = "2016-03-14T01:59:00Z";
    let cases = [
        ("TimestampEquals", t, "2016-03-14T01:59:00Z", true),
        // The same instant written with another offset.
        ("TimestampEquals", t, "2016-03-14T09:59:00+08:00", true),
        ("TimestampEquals", t, "2016-03-14T01:59:00.000Z", true),
        ("TimestampEquals", t, "2016-03-14T01:59:01Z", false),
        ("TimestampLessThan", t, "2016-03-14T01:58:59Z", true),
        // Later in the day by the wall clock, earlier as an instant.
        ("TimestampLessThan", t, "2016-03-14T08:00:00+08:00", true),
        ("TimestampLessThan", t, t, false),
        ("TimestampGreaterThan", t, "2017-01-01T00:00:00Z", true),
        ("TimestampGreaterThan", t, t, false),
        ("TimestampLessThanEquals", t, t, true),
        ("TimestampLessThanEquals", t, "2016-03-14T02:00:00Z", false),
        ("TimestampGreaterThanEquals", t, t, true),
        (
            "TimestampGreaterThanEquals",
            t,
            "2016-03-14T01:00:00Z",
            false,
        ),
    ];
    for (op, operand, value, expected) in cases {
        check(op, json!(operand), json!(value), expected);
    }
    for op in [
        "TimestampEquals",
        "TimestampLessThan",
        "TimestampGreaterThan",
        "TimestampLessThanEquals",
        "TimestampGreaterThanEquals",
    ] {
        for value in [
            json!("yesterday"),
            json!("2016-03-14 01:59:00Z"),
            json!(1457920740),
            json!(null),
        ] {
            check(op, json!(t), value, false);
        }
    }
    // A timestamp is still a string to the String operators.
    check("StringEquals", json!(t), json!(t), true);
    // A `…Path` operand that is not a timestamp makes the comparison false.
    let r = json!({"Variable": "$.v", "TimestampEqualsPath": "$.o"});
    assert!(!eval(r, json!({"v": t, "o": "soon"})).unwrap());
}

#[test]
fn type_tests() {
    let cases = [
        ("IsNull", json!(null), true),
        ("IsNull", json!(0), false),
        ("IsNull", json!("null"), false),
        ("IsPresent", json!(null), true),
        ("IsPresent", json!(false), true),
        ("IsNumeric", json!(1.5), true),
        ("IsNumeric", json!("1.5"), false),
        ("IsString", json!(""), true),
        ("IsString", json!(1), false),
        ("IsBoolean", json!(false), true),
        ("IsBoolean", json!("false"), false),
        ("IsTimestamp", json!("2016-03-14T01:59:00Z"), true),
        ("IsTimestamp", json!("2016-03-14T01:59:00.123-05:00"), true),
        ("IsTimestamp", json!("2016-03-14"), false),
        ("IsTimestamp", json!("2016-03-14t01:59:00z"), false),
        ("IsTimestamp", json!(20160314), false),
    ];
    for (op, value, is) in cases {
        check(op, json!(true), value.clone(), is);
        check(op, json!(false), value, !is);
    }
}

#[test]
fn missing_variable_is_a_runtime_error() {
    let missing = json!({"other": 1});
    for (op, operand) in [
        ("StringEquals", json!("a")),
        ("StringMatches", json!("*")),
        ("NumericLessThan", json!(1)),
        ("BooleanEquals", json!(true)),
        ("TimestampEquals", json!("2016-03-14T01:59:00Z")),
        ("StringEqualsPath", json!("$.other")),
    ] {
        let e = eval(json!({"Variable": "$.type", op: operand}), missing.clone()).unwrap_err();
        assert_eq!(e.error, "States.Runtime", "{op}");
        assert!(e.cause.contains("'$.type'"), "{op}: {}", e.cause);
    }
}

#[test]
fn is_present_answers_for_a_missing_variable() {
    assert!(!eval(
        json!({"Variable": "$.a.b", "IsPresent": true}),
        json!({"a": 1})
    )
    .unwrap());
    assert!(eval(
        json!({"Variable": "$.a.b", "IsPresent": false}),
        json!({"a": 1})
    )
    .unwrap());
    assert!(eval(
        json!({"Variable": "$.a[5]", "IsPresent": false}),
        json!({"a": [1]})
    )
    .unwrap());
    assert!(eval(
        json!({"Variable": "$.a", "IsPresent": true}),
        json!({"a": null})
    )
    .unwrap());
}

#[test]
fn other_type_tests_fail_on_a_missing_variable() {
    // The ASL spec exempts only IsPresent from the runtime error.
    for op in [
        "IsNull",
        "IsNumeric",
        "IsString",
        "IsBoolean",
        "IsTimestamp",
    ] {
        for expected in [true, false] {
            let e = eval(json!({"Variable": "$.nope", op: expected}), json!({})).unwrap_err();
            assert_eq!(e.error, "States.Runtime", "{op}: {expected}");
            assert!(e.cause.contains("'$.nope'"), "{}", e.cause);
        }
    }
}

#[test]
fn missing_path_operand_is_a_runtime_error() {
    for op in [
        "StringEqualsPath",
        "NumericGreaterThanPath",
        "BooleanEqualsPath",
        "TimestampLessThanPath",
    ] {
        let e = eval(json!({"Variable": "$.v", op: "$.limit"}), json!({"v": 1})).unwrap_err();
        assert_eq!(e.error, "States.Runtime", "{op}");
        assert!(e.cause.contains("'$.limit'"), "{op}: {}", e.cause);
    }
}

#[test]
fn paths_may_read_the_context_object() {
    let context = json!({"Execution": {"Input": {"limit": 10}, "Name": "run-1"}});
    let r = rule(json!({"Variable": "$.n", "NumericLessThanPath": "$$.Execution.Input.limit"}));
    assert!(r
        .evaluate(&json!({"n": 3}), crate::path::Docs::context(&context))
        .unwrap());
    assert!(!r
        .evaluate(&json!({"n": 30}), crate::path::Docs::context(&context))
        .unwrap());
    let r = rule(json!({"Variable": "$$.Execution.Name", "StringEquals": "run-1"}));
    assert!(r
        .evaluate(&json!({}), crate::path::Docs::context(&context))
        .unwrap());
    let r = rule(json!({"Variable": "$$.Execution.Name", "StringEqualsPath": "$.expected"}));
    assert!(r
        .evaluate(
            &json!({"expected": "run-1"}),
            crate::path::Docs::context(&context)
        )
        .unwrap());
    let e = r
        .evaluate(
            &json!({"expected": "run-1"}),
            crate::path::Docs::context(&json!({})),
        )
        .unwrap_err();
    assert!(e.cause.contains("'$$.Execution.Name'"), "{}", e.cause);
}

#[test]
fn nested_paths_and_indexes() {
    let input = json!({"order": {"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 0}]}});
    assert!(eval(
        json!({"Variable": "$.order.items[1].qty", "NumericEquals": 0}),
        input.clone()
    )
    .unwrap());
    assert!(eval(
        json!({"Variable": "$.order.items[0].sku", "StringMatches": "A-*"}),
        input.clone()
    )
    .unwrap());
    assert!(eval(
        json!({"Variable": "$.order.items[0].qty", "NumericGreaterThanPath": "$.order.items[1].qty"}),
        input
    )
    .unwrap());
}

#[test]
fn and_or_not() {
    let in_twenties = json!({"And": [
        {"Variable": "$.value", "NumericGreaterThanEquals": 20},
        {"Variable": "$.value", "NumericLessThan": 30}
    ]});
    assert!(eval(in_twenties.clone(), json!({"value": 22})).unwrap());
    assert!(!eval(in_twenties.clone(), json!({"value": 30})).unwrap());
    assert!(!eval(in_twenties, json!({"value": 19})).unwrap());

    let not_private = json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}});
    assert!(!eval(not_private.clone(), json!({"type": "Private"})).unwrap());
    assert!(eval(not_private, json!({"type": "Public"})).unwrap());

    let either = json!({"Or": [
        {"Variable": "$.a", "BooleanEquals": true},
        {"Variable": "$.b", "IsNull": true}
    ]});
    assert!(eval(either.clone(), json!({"a": true, "b": 1})).unwrap());
    assert!(eval(either.clone(), json!({"a": false, "b": null})).unwrap());
    assert!(!eval(either, json!({"a": false, "b": 1})).unwrap());

    let deep = json!({"Or": [
        {"And": [
            {"Variable": "$.kind", "StringEquals": "video"},
            {"Not": {"Or": [
                {"Variable": "$.size", "NumericGreaterThan": 100},
                {"Variable": "$.format", "StringMatches": "*.tmp"}
            ]}}
        ]},
        {"Variable": "$.force", "BooleanEquals": true}
    ]});
    let input = |kind: &str, size: i64, format: &str, force: bool| json!({"kind": kind, "size": size, "format": format, "force": force});
    assert!(eval(deep.clone(), input("video", 50, "a.mp4", false)).unwrap());
    assert!(!eval(deep.clone(), input("video", 500, "a.mp4", false)).unwrap());
    assert!(!eval(deep.clone(), input("video", 50, "a.tmp", false)).unwrap());
    assert!(!eval(deep.clone(), input("audio", 50, "a.mp4", false)).unwrap());
    assert!(eval(deep, input("audio", 500, "a.tmp", true)).unwrap());
}

#[test]
fn and_or_stop_early() {
    // The AWS docs' pattern: IsPresent guards a comparison that would fail.
    let guarded = json!({"And": [
        {"Variable": "$.keyThatMightNotExist", "IsPresent": true},
        {"Variable": "$.keyThatMightNotExist", "StringEquals": "foo"}
    ]});
    assert!(!eval(guarded.clone(), json!({})).unwrap());
    assert!(eval(guarded, json!({"keyThatMightNotExist": "foo"})).unwrap());

    let first_wins = json!({"Or": [
        {"Variable": "$.a", "IsPresent": false},
        {"Variable": "$.a", "NumericEquals": 1}
    ]});
    assert!(eval(first_wins.clone(), json!({})).unwrap());
    assert!(eval(first_wins, json!({"a": 1})).unwrap());

    // Without a guard, the error propagates out of And/Or/Not.
    let unguarded = json!({"Not": {"And": [
        {"Variable": "$.a", "IsNull": false},
        {"Variable": "$.b", "IsString": true}
    ]}});
    assert_eq!(
        eval(unguarded, json!({})).unwrap_err().error,
        "States.Runtime"
    );
}

#[test]
fn query_variables_select_arrays() {
    // A non-reference path yields the array of its matches, as in AWS.
    let input = json!({"items": [{"n": 1}, {"n": 5}]});
    assert!(eval(
        json!({"Variable": "$.items[?(@.n > 2)].n", "IsPresent": true}),
        input.clone()
    )
    .unwrap());
    assert!(!eval(
        json!({"Variable": "$.items[*].n", "NumericEquals": 1}),
        input.clone()
    )
    .unwrap());
    assert!(!eval(json!({"Variable": "$.items[*].x", "IsNull": true}), input).unwrap());
}

#[test]
fn branch_keeps_next_and_displays() {
    let b = branch(json!({
        "Comment": "small orders",
        "And": [
            {"Variable": "$.total", "NumericLessThan": 100},
            {"Not": {"Variable": "$.vip", "IsNull": true}},
            {"Variable": "$.region", "StringEqualsPath": "$$.Execution.Input.region"}
        ],
        "Next": "Cheap"
    }));
    assert_eq!(b.next, "Cheap");
    assert_eq!(
        b.condition.to_string(),
        "($.total NumericLessThan 100 And Not($.vip IsNull true) And $.region StringEqualsPath $$.Execution.Input.region)"
    );
}
