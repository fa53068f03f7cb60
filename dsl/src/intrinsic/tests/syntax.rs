use serde_json::json;

use super::{bad, has, ok, run};
use crate::error::names;
use crate::intrinsic::{looks_like_intrinsic, Expr, Intrinsic};

#[test]
fn recognises_intrinsic_text() {
    assert!(looks_like_intrinsic("States.Array()"));
    assert!(looks_like_intrinsic("States.Nope(1)"));
    assert!(!looks_like_intrinsic("$.States.Array"));
    assert!(!looks_like_intrinsic("States.Array"));
    assert!(!looks_like_intrinsic(" States.Array()"));
}

#[test]
fn literals_of_every_kind() {
    assert_eq!(
        ok(
            "States.Array('a', 1, -2, 2.5, 1e3, true, false, null)",
            json!({})
        ),
        json!(["a", 1, -2, 2.5, 1000.0, true, false, null])
    );
    assert!(ok("States.Array(1)", json!({}))[0].is_i64());
    assert!(ok("States.Array(18446744073709551615)", json!({}))[0].is_u64());
}

#[test]
fn whitespace_between_arguments_is_allowed() {
    assert_eq!(
        ok("States.Array( 1 ,\t$.a ,\n'x' )  ", json!({"a": 2})),
        json!([1, 2, "x"])
    );
    assert_eq!(ok("States.Array( )", json!({})), json!([]));
    // Non-ASCII blanks are skipped whole (no slicing inside a character).
    assert_eq!(ok("States.Array(\u{a0}1\u{2003})", json!({})), json!([1]));
}

#[test]
fn escapes_in_string_literals() {
    assert_eq!(
        ok(r"States.Array('it\'s', '\{\}', '\\', 'a\\b')", json!({})),
        json!(["it's", "{}", "\\", "a\\b"])
    );
    // Unescaped braces outside a Format template are plain text.
    assert_eq!(
        ok("States.Array('{', '}', '{}')", json!({})),
        json!(["{", "}", "{}"])
    );
    // Non-ASCII text survives.
    assert_eq!(
        ok("States.Array('héllo 世界')", json!({})),
        json!(["héllo 世界"])
    );
}

#[test]
fn bad_escapes_and_unclosed_strings_are_parse_errors() {
    has(
        &bad(r"States.Array('a\nb')"),
        &["invalid escape '\\n'", "\\\\"],
    );
    has(&bad(r"States.Array('a\"), &["not closed"]);
    has(&bad("States.Array('abc"), &["not closed", "position 14"]);
}

#[test]
fn paths_and_context_paths() {
    let input = json!({"a": {"b c": [1, 2]}, "items": [{"n": 1}, {"n": 5}], "x, y": 3});
    assert_eq!(ok("States.Array($.a['b c'][1])", input.clone()), json!([2]));
    assert_eq!(
        ok("States.Array($['x, y'], $$.Execution.Id)", input.clone()),
        json!([3, "e-1"])
    );
    assert_eq!(
        ok("States.Array($.items[?(@.n > 2)].n)", input.clone()),
        json!([[5]])
    );
    assert_eq!(ok("States.Array($)", json!(7)), json!([7]));
}

#[test]
fn a_missing_path_is_a_runtime_error_naming_the_argument() {
    let e = run("States.Format('x {}', $.nope)", json!({"a": 1})).unwrap_err();
    assert_eq!(e.error, names::RUNTIME);
    has(&e.cause, &["States.Format argument 2 ($.nope)", "$.nope"]);
}

#[test]
fn invalid_paths_are_parse_errors() {
    has(
        &bad("States.Array($.a[)"),
        &["States.Array argument 1", "not a valid JSONPath"],
    );
}

#[test]
fn unknown_functions_list_the_valid_ones() {
    let e = bad("States.Concat('a', 'b')");
    has(
        &e,
        &[
            "unknown intrinsic function 'States.Concat'",
            "States.Format",
            "States.UUID",
            "States.JsonMerge",
        ],
    );
    has(
        &bad("States.format('a')"),
        &["unknown intrinsic function 'States.format'"],
    );
    has(&bad("States.Array(States.Nope())"), &["'States.Nope'"]);
}

#[test]
fn malformed_calls_are_parse_errors() {
    has(&bad("$.a"), &["must start with 'States.'"]);
    has(&bad("States.Array"), &["expected '(' after States.Array"]);
    has(&bad("States.Array(1"), &["not closed"]);
    has(&bad("States.Array(1,"), &["not closed"]);
    has(
        &bad("States.Array(1 2)"),
        &["expected ',' or ')'", "found '2'"],
    );
    has(&bad("States.Array(1) x"), &["unexpected text 'x'"]);
    has(&bad("States.Array(1)States.Array(2)"), &["unexpected text"]);
    has(
        &bad("States.Array(abc)"),
        &["unexpected 'abc'", "single quotes"],
    );
    has(&bad("States.Array(True)"), &["unexpected 'True'"]);
    has(&bad("States.Array(01)"), &["'01'", "not a number"]);
    has(&bad("States.Array(1.)"), &["not a number"]);
    has(&bad("States.Array(-)"), &["not a number"]);
    has(&bad("States.Array(#)"), &["unexpected '#'"]);
    has(&bad("States.Array(\"a\")"), &["unexpected '\"'"]);
}

#[test]
fn argument_counts_are_checked() {
    has(
        &bad("States.UUID(1)"),
        &["States.UUID takes no arguments, but got 1"],
    );
    has(
        &bad("States.ArrayLength()"),
        &["takes exactly 1 argument, but got 0"],
    );
    has(
        &bad("States.MathAdd(1)"),
        &["exactly 2 arguments", "States.MathAdd($.value, step)"],
    );
    has(&bad("States.MathRandom(1, 2, 3, 4)"), &["2 to 3 arguments"]);
    has(&bad("States.Format()"), &["at least 1 argument"]);
    has(&bad("States.JsonMerge($.a, $.b)"), &["exactly 3 arguments"]);
}

#[test]
fn literal_and_nested_argument_types_are_checked() {
    has(
        &bad("States.ArrayLength('abc')"),
        &["States.ArrayLength argument 1 ('abc') must be an array, but it is a string"],
    );
    has(
        &bad("States.ArrayLength(States.Format('{}', $.a))"),
        &["must be an array, but it returns a string"],
    );
    // A constant call is folded first, so its value is what is checked.
    has(
        &bad("States.ArrayLength(States.Format('x'))"),
        &["must be an array, but it is a string"],
    );
    has(
        &bad("States.MathAdd(1, true)"),
        &["argument 2 (true) must be a number, but it is a boolean"],
    );
    has(
        &bad("States.Base64Encode(null)"),
        &["must be a string, but it is null"],
    );
    // A nested call of unknown result type is checked at run time instead.
    assert!(Intrinsic::parse("States.ArrayLength(States.StringToJson($.s))").is_ok());
}

#[test]
fn nesting_follows_the_aws_example() {
    // AWS's page has '{}.{}.{}' with two values, which its own rule (one
    // value per placeholder) rejects; the nesting is what is tested here.
    let arn = "States.Format('{}.{}', \
        States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), \
        States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))";
    let input = json!({"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:123:image-recipe/my.recipe.v2/1.0.0"}});
    assert_eq!(ok(arn, input), json!("1.0"));
    has(
        &bad(&arn.replace("'{}.{}'", "'{}.{}.{}'")),
        &["3 '{}' placeholder(s) but 2 value(s)"],
    );
}

#[test]
fn at_most_ten_calls_per_field() {
    let ten = format!("{}1{}", "States.Array(".repeat(10), ")".repeat(10));
    assert_eq!(ok(&ten, json!({})), json!([[[[[[[[[[1]]]]]]]]]]));
    let eleven = format!("{}1{}", "States.Array(".repeat(11), ")".repeat(11));
    has(&bad(&eleven), &["at most 10"]);
    // Deeply hostile input stops early instead of overflowing the stack.
    let deep = "States.Array(".repeat(100_000);
    has(&bad(&deep), &["at most 10"]);
}

#[test]
fn constant_calls_are_folded_and_checked_at_parse_time() {
    let folded = Intrinsic::parse("States.ArrayLength(States.Array(1, 2, 3))").unwrap();
    assert!(matches!(folded.root, Expr::Literal(_)), "{folded:?}");
    assert_eq!(
        ok("States.ArrayLength(States.Array(1, 2, 3))", json!({})),
        json!(3)
    );
    has(
        &bad("States.ArrayGetItem(States.Array(1), 5)"),
        &["index 5", "out of range"],
    );
    has(&bad("States.StringToJson('{nope')"), &["JSON text"]);
    // Random functions are checked but not folded.
    let random = Intrinsic::parse("States.MathRandom(1, 1000)").unwrap();
    assert!(matches!(random.root, Expr::Call(_)));
    has(&bad("States.MathRandom(5, 5)"), &["start < end"]);
}

#[test]
fn intrinsic_keeps_its_text() {
    let text = "States.Format('{}', $.a)";
    let call = Intrinsic::parse(text).unwrap();
    assert_eq!(call.as_str(), text);
    assert_eq!(call.to_string(), text);
    let copy = call.clone();
    assert_eq!(ok(copy.as_str(), json!({"a": 1})), json!("1"));
}

proptest::proptest! {
    /// The parser never panics, whatever follows `States.`, and whatever
    /// parses also evaluates without panicking.
    #[test]
    fn parser_never_panics(
        name in "(Format|Array|ArrayRange|MathAdd|StringSplit|Hash|JsonMerge|Nope)",
        body in r"[$.\[\]()'{}\\, a-z0-9@?*\-é]{0,40}",
    ) {
        let text = format!("States.{name}({body}");
        if let Ok(call) = Intrinsic::parse(&text) {
            let _ = call.eval(&json!({"a": [1, "x"]}), crate::path::Docs::context(&json!({})), &mut crate::SplitMix64(1));
        }
    }
}
