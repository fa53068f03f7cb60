use serde_json::json;

use super::{branch, pointers, problems, rule};
use crate::choice::{Condition, Kind, Operand, Relation, Test};

const AT: &str = "/States/Check/Choices/0";

fn at(rest: &str) -> String {
    format!("{AT}{rest}")
}

#[test]
fn every_operator_parses() {
    let ops = [
        ("StringEquals", json!("a")),
        ("StringLessThan", json!("a")),
        ("StringGreaterThan", json!("a")),
        ("StringLessThanEquals", json!("a")),
        ("StringGreaterThanEquals", json!("a")),
        ("StringMatches", json!("a*")),
        ("NumericEquals", json!(1)),
        ("NumericLessThan", json!(1.5)),
        ("NumericGreaterThan", json!(-1)),
        ("NumericLessThanEquals", json!(0)),
        ("NumericGreaterThanEquals", json!(1e3)),
        ("BooleanEquals", json!(false)),
        ("TimestampEquals", json!("2016-03-14T01:59:00Z")),
        ("TimestampLessThan", json!("2016-03-14T01:59:00Z")),
        ("TimestampGreaterThan", json!("2016-03-14T01:59:00+01:00")),
        ("TimestampLessThanEquals", json!("2016-03-14T01:59:00.5Z")),
        ("TimestampGreaterThanEquals", json!("2016-03-14T01:59:00Z")),
        ("IsNull", json!(true)),
        ("IsPresent", json!(false)),
        ("IsNumeric", json!(true)),
        ("IsString", json!(true)),
        ("IsBoolean", json!(true)),
        ("IsTimestamp", json!(true)),
    ];
    for (op, operand) in ops {
        let Condition::Compare { variable, test } = rule(json!({"Variable": "$.v", op: operand}))
        else {
            panic!("{op} is a data test");
        };
        assert_eq!(variable.as_str(), "$.v");
        assert_eq!(test.operator(), op);
        if op != "StringMatches" && !op.starts_with("Is") {
            let path_op = format!("{op}Path");
            let Condition::Compare { test, .. } =
                rule(json!({"Variable": "$.v", path_op.clone(): "$.o"}))
            else {
                panic!("{path_op} is a data test");
            };
            assert_eq!(test.operator(), path_op);
        }
    }
}

#[test]
fn parsed_shapes() {
    let Condition::Compare { test, .. } =
        rule(json!({"Variable": "$.v", "NumericLessThanEqualsPath": "$$.Map.Item.Index"}))
    else {
        panic!("data test");
    };
    match test {
        Test::Numeric(Relation::LessThanEquals, Operand::Path(p)) => {
            assert_eq!(p.as_str(), "$$.Map.Item.Index")
        }
        other => panic!("unexpected {other:?}"),
    }
    let Condition::Compare { test, .. } = rule(json!({"Variable": "$.v", "IsPresent": false}))
    else {
        panic!("data test");
    };
    assert!(matches!(test, Test::Is(Kind::Present, false)));
    let Condition::Not(inner) =
        rule(json!({"Not": {"Variable": "$.v", "IsNull": true}, "Comment": "x"}))
    else {
        panic!("Not");
    };
    assert!(matches!(*inner, Condition::Compare { .. }));
}

#[test]
fn top_level_rule_needs_next() {
    let found = problems(json!({"Variable": "$.v", "IsNull": true}));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, AT);
    assert!(found[0].1.contains("Next"), "{}", found[0].1);
    assert_eq!(
        pointers(json!({"Variable": "$.v", "IsNull": true, "Next": 3})),
        [at("/Next")]
    );
}

#[test]
fn nested_rules_must_not_have_next() {
    let rule = json!({
        "And": [
            {"Variable": "$.a", "IsNull": true, "Next": "X"},
            {"Not": {"Variable": "$.b", "IsNull": true, "Next": "Y"}}
        ],
        "Next": "Done"
    });
    assert_eq!(pointers(rule), [at("/And/0/Next"), at("/And/1/Not/Next")]);
}

#[test]
fn comparison_needs_variable_and_one_operator() {
    let found = problems(json!({"StringEquals": "a", "Next": "X"}));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, AT);
    assert!(found[0].1.contains("Variable"), "{}", found[0].1);

    // The extra operator is the one pointed at.
    let found =
        problems(json!({"Variable": "$.v", "StringEquals": "a", "NumericEquals": 1, "Next": "X"}));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, at("/NumericEquals"));
    assert!(found[0].1.contains("StringEquals"), "{}", found[0].1);

    assert_eq!(pointers(json!({"Variable": "$.v", "Next": "X"})), [AT]);
    assert_eq!(
        pointers(json!({"Variable": "v", "Next": "X"})),
        [AT.to_string(), at("/Variable")]
    );
    assert_eq!(pointers(json!({"Next": "X"})), [AT]);
    assert_eq!(
        pointers(
            json!({"And": [{"Variable": "$.a", "IsNull": true}], "Not": {"Variable": "$.a", "IsNull": true}, "Next": "X"})
        ),
        [at("/Not")]
    );
}

#[test]
fn boolean_rules_take_no_variable() {
    let rule = json!({"Variable": "$.a", "Or": [{"Variable": "$.a", "IsNull": true}], "Next": "X"});
    assert_eq!(pointers(rule), [at("/Variable")]);
    let rule = json!({"Variable": "$.a", "Not": {"Variable": "$.a", "IsNull": true}, "Next": "X"});
    assert_eq!(pointers(rule), [at("/Variable")]);
}

#[test]
fn and_or_need_non_empty_arrays_and_not_one_rule() {
    assert_eq!(pointers(json!({"And": [], "Next": "X"})), [at("/And")]);
    assert_eq!(
        pointers(json!({"Or": {"Variable": "$.a", "IsNull": true}, "Next": "X"})),
        [at("/Or")]
    );
    assert_eq!(
        pointers(json!({"Not": [{"Variable": "$.a", "IsNull": true}], "Next": "X"})),
        [at("/Not")]
    );
    assert_eq!(
        pointers(json!({"And": ["$.a"], "Next": "X"})),
        [at("/And/0")]
    );
    assert_eq!(pointers(json!(["not", "an", "object"])), [AT]);
}

#[test]
fn operand_types_are_checked() {
    let cases = [
        ("StringEquals", json!(1)),
        ("StringLessThan", json!(null)),
        ("StringMatches", json!(["*"])),
        ("StringMatches", json!("abc\\")),
        ("StringMatches", json!("a\\b")),
        ("NumericEquals", json!("1")),
        ("NumericGreaterThan", json!(true)),
        ("BooleanEquals", json!("true")),
        ("TimestampEquals", json!("2016-03-14")),
        ("TimestampLessThan", json!("2016-03-14 01:59:00Z")),
        ("TimestampGreaterThan", json!(1457920740)),
        ("IsNull", json!("true")),
        ("IsPresent", json!(1)),
        ("StringEqualsPath", json!("other")),
        ("NumericEqualsPath", json!(3)),
        ("BooleanEqualsPath", json!("$.a[")),
        ("TimestampEqualsPath", json!("2016-03-14T01:59:00Z")),
    ];
    for (op, operand) in cases {
        let found = problems(json!({"Variable": "$.v", op: operand, "Next": "X"}));
        assert_eq!(found.len(), 1, "{op}: {found:?}");
        assert_eq!(found[0].0, at(&format!("/{op}")), "{op}");
    }
    let found = problems(json!({"Variable": "$.v", "NumericEquals": "1", "Next": "X"}));
    assert!(found[0].1.contains("without quotes"), "{}", found[0].1);
    let found = problems(json!({"Variable": "$.v", "TimestampEquals": "2016-03-14", "Next": "X"}));
    assert!(
        found[0].1.contains("2016-03-14T01:59:00Z"),
        "{}",
        found[0].1
    );
}

#[test]
fn variable_must_be_a_path() {
    assert_eq!(
        pointers(json!({"Variable": "v", "IsNull": true, "Next": "X"})),
        [at("/Variable")]
    );
    assert_eq!(
        pointers(json!({"Variable": "$.a[", "IsNull": true, "Next": "X"})),
        [at("/Variable")]
    );
    assert_eq!(
        pointers(json!({"Variable": 5, "IsNull": true, "Next": "X"})),
        [at("/Variable")]
    );
}

#[test]
fn unknown_fields_name_the_operators() {
    let found = problems(json!({"Variable": "$.v", "StringEqual": "a", "Next": "X"}));
    // The typo is reported, and so is the rule left without an operator.
    assert_eq!(found[0].0, at("/StringEqual"));
    let message = &found[0].1;
    assert!(message.contains("did you mean 'StringEquals'"), "{message}");
    for op in [
        "NumericGreaterThanEquals",
        "StringMatches",
        "BooleanEquals",
        "IsTimestamp",
        "And",
        "Not",
        "StringEqualsPath",
    ] {
        assert!(message.contains(op), "{op} missing from: {message}");
    }
    assert_eq!(found[1].0, AT);

    let found = problems(json!({"Variable": "$.v", "IsNull": true, "Extra": 1, "Next": "X"}));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, at("/Extra"));
    assert!(!found[0].1.contains("did you mean"), "{}", found[0].1);

    let found = problems(json!({"Condition": "{% $x %}", "Next": "X"}));
    assert_eq!(found[0].0, at("/Condition"));
    assert!(found[0].1.contains("JSONata"), "{}", found[0].1);

    // Field names are escaped in pointers (RFC 6901).
    assert_eq!(
        pointers(json!({"Variable": "$.v", "IsNull": true, "a/b~c": 1, "Next": "X"})),
        [at("/a~1b~0c")]
    );
}

#[test]
fn comment_is_allowed_at_every_level() {
    branch(json!({
        "Comment": "top",
        "Or": [{"Comment": "nested", "Variable": "$.a", "IsNull": true}],
        "Next": "X"
    }));
    assert_eq!(
        pointers(json!({"Comment": 1, "Variable": "$.a", "IsNull": true, "Next": "X"})),
        [at("/Comment")]
    );
}

#[test]
fn many_problems_are_reported_at_once() {
    let rule = json!({
        "And": [
            {"Variable": "$.a", "NumericEquals": "one"},
            {"Or": [
                {"Variable": "a", "StringEquals": "x"},
                {"Variable": "$.b", "BooleanEquals": true, "Next": "Nope"},
                {"Variable": "$.c", "NumericEquals": 1, "StringEquals": "1"}
            ]},
            {"Not": {"Variable": "$.d", "TimestampEquals": "tomorrow", "Bogus": 1}},
            {"Variable": "$.e", "IsPresent": true}
        ],
        "Next": 7
    });
    assert_eq!(
        pointers(rule),
        [
            at("/And/0/NumericEquals"),
            at("/And/1/Or/0/Variable"),
            at("/And/1/Or/1/Next"),
            at("/And/1/Or/2/StringEquals"),
            at("/And/2/Not/Bogus"),
            at("/And/2/Not/TimestampEquals"),
            at("/Next"),
        ]
    );
}
