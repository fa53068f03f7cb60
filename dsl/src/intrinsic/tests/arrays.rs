//! Array intrinsics.

use serde_json::json;

use super::{bad, fails, has, ok};

#[test]
fn array_builds_arrays() {
    assert_eq!(ok("States.Array()", json!({})), json!([]));
    assert_eq!(
        ok("States.Array($.Id)", json!({"Id": 123456})),
        json!([123456])
    );
    assert_eq!(
        ok("States.Array($.o, States.Array(1))", json!({"o": {"k": 1}})),
        json!([{"k": 1}, [1]])
    );
}

#[test]
fn array_partition() {
    let input = json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "e": [], "n": -1});
    assert_eq!(
        ok("States.ArrayPartition($.a, 4)", input.clone()),
        json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
    );
    assert_eq!(
        ok("States.ArrayPartition($.a, 2.5)", input.clone()),
        json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    );
    assert_eq!(
        ok("States.ArrayPartition($.a, 100)", input.clone()),
        json!([[1, 2, 3, 4, 5, 6, 7, 8, 9]])
    );
    assert_eq!(
        ok("States.ArrayPartition($.e, 3)", input.clone()),
        json!([])
    );
    has(
        &bad("States.ArrayPartition($.a, 0)"),
        &["argument 2 (0) must be a positive integer"],
    );
    has(
        &bad("States.ArrayPartition($.a, 0.4)"),
        &["positive integer"],
    );
    has(
        &bad("States.ArrayPartition($.a, '2')"),
        &["must be a number, but it is a string"],
    );
    has(
        &fails("States.ArrayPartition($.a, $.n)", input.clone()),
        &["argument 2 ($.n) must be a positive integer", "got -1"],
    );
    has(
        &fails("States.ArrayPartition($.n, 2)", input),
        &["argument 1 ($.n) must be an array"],
    );
}

#[test]
fn array_contains() {
    let input = json!({"a": [1, 2, {"x": 1, "y": [2]}, "s", null], "lookingFor": 2});
    assert_eq!(
        ok("States.ArrayContains($.a, $.lookingFor)", input.clone()),
        json!(true)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, 2.0)", input.clone()),
        json!(true)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, 3)", input.clone()),
        json!(false)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, 's')", input.clone()),
        json!(true)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, null)", input.clone()),
        json!(true)
    );
    let reordered = r#"States.ArrayContains($.a, States.StringToJson('{"y": [2.0], "x": 1}'))"#;
    assert_eq!(ok(reordered, input.clone()), json!(true));
    assert_eq!(
        ok("States.ArrayContains($.a, $.a)", input.clone()),
        json!(false)
    );
    has(
        &fails("States.ArrayContains($.lookingFor, 2)", input),
        &["argument 1 ($.lookingFor) must be an array"],
    );
    has(
        &bad("States.ArrayContains('abc', 2)"),
        &["must be an array, but it is a string"],
    );
}

#[test]
fn array_range() {
    assert_eq!(
        ok("States.ArrayRange(1, 9, 2)", json!({})),
        json!([1, 3, 5, 7, 9])
    );
    assert_eq!(
        ok("States.ArrayRange(1, 10, 2)", json!({})),
        json!([1, 3, 5, 7, 9])
    );
    assert_eq!(
        ok("States.ArrayRange(9, 1, -3)", json!({})),
        json!([9, 6, 3])
    );
    assert_eq!(ok("States.ArrayRange(5, 5, 1)", json!({})), json!([5]));
    assert_eq!(ok("States.ArrayRange(5, 1, 1)", json!({})), json!([]));
    assert_eq!(
        ok("States.ArrayRange(0.5, 2.4, 1)", json!({})),
        json!([1, 2])
    );
    assert_eq!(
        ok("States.ArrayRange($.a, $.b, 1)", json!({"a": -1, "b": 1})),
        json!([-1, 0, 1])
    );
    let thousand = ok("States.ArrayRange(1, 1000, 1)", json!({}));
    assert_eq!(thousand.as_array().map(Vec::len), Some(1000));
    assert!(thousand[999].is_i64());
    has(
        &bad("States.ArrayRange(1, 1001, 1)"),
        &["1001 elements", "at most 1000"],
    );
    has(
        &bad("States.ArrayRange(1, 9, 0)"),
        &["argument 3 (0) must be a non-zero integer"],
    );
    has(&bad("States.ArrayRange(1, 9, 0.2)"), &["non-zero integer"]);
    has(
        &bad("States.ArrayRange('1', 9, 1)"),
        &["must be a number, but it is a string"],
    );
    has(
        &fails(
            "States.ArrayRange(0, $.big, 1)",
            json!({"big": 9_000_000_000_i64}),
        ),
        &["9000000001 elements"],
    );
    has(
        &fails("States.ArrayRange(0, $.s, 1)", json!({"s": "9"})),
        &["argument 2 ($.s) must be an integer"],
    );
    has(
        &fails("States.ArrayRange(0, $.f, 1)", json!({"f": 1e300})),
        &["64-bit range"],
    );
}

#[test]
fn array_get_item() {
    let input = json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5, "e": []});
    assert_eq!(
        ok("States.ArrayGetItem($.inputArray, $.index)", input.clone()),
        json!(6)
    );
    assert_eq!(
        ok("States.ArrayGetItem($.inputArray, 0)", input.clone()),
        json!(1)
    );
    assert_eq!(
        ok("States.ArrayGetItem($.inputArray, 8.0)", input.clone()),
        json!(9)
    );
    has(
        &fails("States.ArrayGetItem($.inputArray, 9)", input.clone()),
        &["index 9", "out of range for an array of 9", "0 to 8"],
    );
    has(
        &fails("States.ArrayGetItem($.e, 0)", input.clone()),
        &["the array is empty"],
    );
    has(
        &bad("States.ArrayGetItem($.inputArray, -1)"),
        &["argument 2 (-1) must be a whole number from 0"],
    );
    has(
        &bad("States.ArrayGetItem($.inputArray, 1.5)"),
        &["whole number"],
    );
    has(
        &fails("States.ArrayGetItem($.index, 0)", input),
        &["argument 1 ($.index) must be an array"],
    );
}

#[test]
fn array_length_and_unique() {
    let input = json!({"a": [1, 2, 3, 3, 3, 3, 3, 3, 4], "o": [{"x": 1, "y": 2}, {"y": 2, "x": 1}, 1, 1.0, "1", [1], [1.0], null, null]});
    assert_eq!(ok("States.ArrayLength($.a)", input.clone()), json!(9));
    assert!(ok("States.ArrayLength($.a)", input.clone()).is_u64());
    assert_eq!(
        ok("States.ArrayLength(States.Array())", json!({})),
        json!(0)
    );
    assert_eq!(
        ok("States.ArrayUnique($.a)", input.clone()),
        json!([1, 2, 3, 4])
    );
    assert_eq!(
        ok("States.ArrayUnique($.o)", input.clone()),
        json!([{"x": 1, "y": 2}, 1, "1", [1], null])
    );
    has(
        &fails("States.ArrayLength($.o[0])", input.clone()),
        &["must be an array, but got {\"x\":1,\"y\":2} (an object)"],
    );
    has(
        &fails("States.ArrayUnique($.o[2])", input),
        &["States.ArrayUnique argument 1 ($.o[2]) must be an array"],
    );
}
