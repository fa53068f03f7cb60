//! Generic, JSON, encoding, hash, math, string and UUID intrinsics.

use serde_json::json;

use super::{bad, fails, has, ok};
use crate::intrinsic::Intrinsic;
use crate::{Random, SplitMix64};

#[test]
fn format_fills_placeholders() {
    let input = json!({"name": "Arnav", "template": "Hello, my name is {}."});
    assert_eq!(
        ok(
            "States.Format('Hello, my name is {}.', $.name)",
            input.clone()
        ),
        json!("Hello, my name is Arnav.")
    );
    assert_eq!(
        ok("States.Format($.template, $.name)", input),
        json!("Hello, my name is Arnav.")
    );
    assert_eq!(
        ok("States.Format('no holes')", json!({})),
        json!("no holes")
    );
    assert_eq!(
        ok("States.Format('{}{}', 'a', 'b')", json!({})),
        json!("ab")
    );
}

#[test]
fn format_renders_values_like_step_functions() {
    let input = json!({"o": {"a": 1, "b": ["x", null]}, "f": 1.5, "t": true});
    assert_eq!(
        ok(
            "States.Format('{} {} {} {} {}', $.o, $.f, $.t, null, 7)",
            input
        ),
        json!("{a=1, b=[x, null]} 1.5 true null 7")
    );
}

#[test]
fn format_escaped_braces_are_text() {
    assert_eq!(
        ok(r"States.Format('\{\} {} \{x\}', 1)", json!({})),
        json!("{} 1 {x}")
    );
    assert_eq!(
        ok(r"States.Format('it\'s {}\\', 'me')", json!({})),
        json!("it's me\\")
    );
}

#[test]
fn format_failures() {
    has(
        &bad("States.Format('{} {}', 1)"),
        &["2 '{}' placeholder(s) but 1 value(s)"],
    );
    has(
        &bad("States.Format('{}', 1, 2)"),
        &["1 '{}' placeholder(s) but 2 value(s)"],
    );
    has(
        &bad("States.Format('{\"a\": {}}', 1)"),
        &["'{' that is not part of", "\\{"],
    );
    has(&bad("States.Format('a } b')"), &["'}' that is not part of"]);
    has(
        &bad("States.Format(1)"),
        &["must be a string, but it is a number"],
    );
    has(
        &fails("States.Format($.t, 1)", json!({"t": "{} {}"})),
        &["$.t = \"{} {}\"", "2 '{}' placeholder(s) but 1"],
    );
    has(
        &fails("States.Format($.t)", json!({"t": 5})),
        &["States.Format argument 1 ($.t) must be a string, but got 5 (a number)"],
    );
}

#[test]
fn string_to_json_and_back() {
    let input = json!({"s": "{\"foo\": \"bar\", \"n\": [1, 2.5]}", "o": {"foo": "bar", "z": null}});
    assert_eq!(
        ok("States.StringToJson($.s)", input.clone()),
        json!({"foo": "bar", "n": [1, 2.5]})
    );
    assert_eq!(
        ok("States.JsonToString($.o)", input.clone()),
        json!("{\"foo\":\"bar\",\"z\":null}")
    );
    assert_eq!(
        ok("States.StringToJson(States.JsonToString($.o))", input),
        json!({"foo": "bar", "z": null})
    );
    assert_eq!(ok("States.StringToJson('[1,2]')", json!({})), json!([1, 2]));
    assert_eq!(ok("States.JsonToString(1)", json!({})), json!("1"));
    has(
        &fails("States.StringToJson($.s)", json!({"s": "{oops"})),
        &["States.StringToJson argument 1 ($.s)", "JSON text"],
    );
    // AWS gives null for an empty or blank string (recorded executions).
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": ""})),
        json!(null)
    );
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": "  \n "})),
        json!(null)
    );
    has(
        &fails("States.StringToJson($.s)", json!({"s": {}})),
        &["must be a string"],
    );
    has(
        &bad("States.StringToJson(3)"),
        &["must be a string, but it is a number"],
    );
}

#[test]
fn base64_round_trip() {
    let input = json!({"input": "Data to encode", "base64": "RGF0YSB0byBlbmNvZGU="});
    assert_eq!(
        ok("States.Base64Encode($.input)", input.clone()),
        json!("RGF0YSB0byBlbmNvZGU=")
    );
    assert_eq!(
        ok("States.Base64Decode($.base64)", input.clone()),
        json!("Data to encode")
    );
    assert_eq!(
        ok(
            "States.Base64Decode(States.Base64Encode('héllo 世界'))",
            json!({})
        ),
        json!("héllo 世界")
    );
    // Missing padding and MIME line breaks are tolerated.
    assert_eq!(
        ok("States.Base64Decode('RGF0YSB0\r\nbyBlbmNvZGU')", json!({})),
        json!("Data to encode")
    );
    assert_eq!(ok("States.Base64Encode('')", json!({})), json!(""));
}

#[test]
fn base64_failures() {
    let long = "é".repeat(10_001);
    let exact = "é".repeat(10_000);
    assert!(ok("States.Base64Encode($.s)", json!({"s": exact})).is_string());
    has(
        &fails("States.Base64Encode($.s)", json!({"s": long.clone()})),
        &["10001 characters long", "at most 10000"],
    );
    has(
        &fails("States.Base64Decode($.s)", json!({"s": long})),
        &["States.Base64Decode", "at most 10000"],
    );
    has(
        &fails("States.Base64Encode($.s)", json!({"s": 5})),
        &["must be a string"],
    );
    has(
        &fails("States.Base64Decode($.s)", json!({"s": "not base64!"})),
        &["($.s) is not valid Base64"],
    );
    has(
        &fails("States.Base64Decode($.s)", json!({"s": "/w=="})),
        &["not UTF-8 text"],
    );
    has(&bad("States.Base64Decode('@@@')"), &["not valid Base64"]);
    has(
        &bad("States.Base64Encode(1)"),
        &["must be a string, but it is a number"],
    );
}

#[test]
fn hash_every_algorithm() {
    let cases = [
        ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA-1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("SHA-256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("SHA-384", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        ("SHA-512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ];
    for (alg, hex) in cases {
        assert_eq!(
            ok(&format!("States.Hash($.d, '{alg}')"), json!({"d": "abc"})),
            json!(hex),
            "{alg}"
        );
    }
    // AWS's example (its page drops one digit of this SHA-1).
    let input = json!({"Data": "input data", "Algorithm": "SHA-1"});
    assert_eq!(
        ok("States.Hash($.Data, $.Algorithm)", input),
        json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
    );
    assert_eq!(
        ok("States.Hash('héllo', 'MD5')", json!({})),
        json!("be50e8478cf24ff3595bc7307fb91b50")
    );
}

#[test]
fn hash_failures() {
    has(
        &bad("States.Hash($.d, 'SHA-2')"),
        &[
            "'SHA-2'",
            "not a supported algorithm",
            "MD5, SHA-1, SHA-256, SHA-384, SHA-512",
        ],
    );
    has(
        &bad("States.Hash($.d, 'sha-256')"),
        &["not a supported algorithm"],
    );
    has(
        &fails("States.Hash($.d, $.a)", json!({"d": "x", "a": "SHA3"})),
        &["argument 2 ($.a)", "not a supported algorithm"],
    );
    has(
        &fails("States.Hash($.d, 'MD5')", json!({"d": {"a": 1}})),
        &["argument 1 ($.d) must be a string"],
    );
    has(
        &fails("States.Hash($.d, 'MD5')", json!({"d": "x".repeat(10_001)})),
        &["at most 10000"],
    );
}

#[test]
fn json_merge_is_shallow() {
    let input = json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}, "t": true});
    assert_eq!(
        ok("States.JsonMerge($.json1, $.json2, false)", input.clone()),
        json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})
    );
    let keys: Vec<String> = ok("States.JsonMerge($.json1, $.json2, false)", input.clone())
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["a", "b", "c"]);
    has(
        &bad("States.JsonMerge($.json1, $.json2, true)"),
        &["deep merge", "not support", "pass false"],
    );
    has(
        &fails("States.JsonMerge($.json1, $.json2, $.t)", input.clone()),
        &["argument 3 ($.t) asks for a deep merge"],
    );
    has(
        &fails("States.JsonMerge($.json1, $.t, false)", input),
        &["argument 2 ($.t) must be an object"],
    );
    has(
        &bad("States.JsonMerge($.a, $.b, 'false')"),
        &["must be a boolean, but it is a string"],
    );
    has(
        &bad("States.JsonMerge('a', $.b, false)"),
        &["must be an object"],
    );
}

#[test]
fn math_add() {
    let input = json!({"value1": 111, "step": -1});
    assert_eq!(ok("States.MathAdd($.value1, $.step)", input), json!(110));
    assert!(ok("States.MathAdd(1, 2)", json!({})).is_i64());
    // Rounded as the JVM's Math.round does: halves go up.
    assert_eq!(ok("States.MathAdd(1.5, 0)", json!({})), json!(2));
    assert_eq!(ok("States.MathAdd(-2.5, 0)", json!({})), json!(-2));
    assert_eq!(ok("States.MathAdd(-2.6, 0.4)", json!({})), json!(-3));
    assert_eq!(
        ok("States.MathAdd(2147483647, 2147483647)", json!({})),
        json!(4294967294_i64)
    );
    assert_eq!(
        ok("States.MathAdd(-2147483648, 0)", json!({})),
        json!(-2147483648_i64)
    );
    has(
        &bad("States.MathAdd(2147483648, 0)"),
        &["argument 1 (2147483648) must be an integer from -2147483648 to 2147483647"],
    );
    has(
        &bad("States.MathAdd(1, 'a')"),
        &["must be a number, but it is a string"],
    );
    has(
        &fails("States.MathAdd($.v, 1)", json!({"v": "3"})),
        &["States.MathAdd argument 1 ($.v) must be an integer, but got \"3\" (a string)"],
    );
    has(
        &fails("States.MathAdd($.v, 1)", json!({"v": -3_000_000_000_i64})),
        &["-2147483648 to 2147483647"],
    );
}

#[test]
fn math_random() {
    let call = Intrinsic::parse("States.MathRandom($.start, $.end)").unwrap();
    let input = json!({"start": -3, "end": 4});
    let mut rng = SplitMix64(1);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let v = call
            .eval(&input, crate::path::Docs::context(&json!({})), &mut rng)
            .unwrap();
        let n = v.as_i64().expect("an integer");
        assert!((-3..4).contains(&n), "{n}");
        seen.insert(n);
    }
    assert_eq!(
        seen.len(),
        7,
        "every value in [start, end) comes up: {seen:?}"
    );
    assert_eq!(ok("States.MathRandom(5, 6)", json!({})), json!(5));
    assert_eq!(ok("States.MathRandom(0.6, 1.6)", json!({})), json!(1));
    let full = ok(
        "States.MathRandom(-9223372036854775808, 9223372036854775807)",
        json!({}),
    );
    assert!(full.is_i64());
}

#[test]
fn math_random_with_seed_is_repeatable() {
    let call = Intrinsic::parse("States.MathRandom(1, 1000000, $.seed)").unwrap();
    let a = call
        .eval(
            &json!({"seed": 42}),
            crate::path::Docs::context(&json!({})),
            &mut SplitMix64(1),
        )
        .unwrap();
    let b = call
        .eval(
            &json!({"seed": 42}),
            crate::path::Docs::context(&json!({})),
            &mut SplitMix64(999),
        )
        .unwrap();
    let c = call
        .eval(
            &json!({"seed": 43}),
            crate::path::Docs::context(&json!({})),
            &mut SplitMix64(1),
        )
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // The caller's generator is untouched when a seed is given.
    let mut rng = SplitMix64(5);
    call.eval(
        &json!({"seed": 1}),
        crate::path::Docs::context(&json!({})),
        &mut rng,
    )
    .unwrap();
    assert_eq!(rng.next_u64(), SplitMix64(5).next_u64());
}

#[test]
fn math_random_failures() {
    has(
        &bad("States.MathRandom(10, 1)"),
        &["start < end", "start is 10 and end is 1"],
    );
    has(
        &bad("States.MathRandom(1, 2, 'seed')"),
        &["argument 3 ('seed') must be a number"],
    );
    has(
        &fails("States.MathRandom($.a, 5)", json!({"a": 5})),
        &["start < end"],
    );
    has(
        &fails("States.MathRandom($.a, 5)", json!({"a": [1]})),
        &["argument 1 ($.a) must be an integer"],
    );
    has(
        &fails("States.MathRandom(1, 5, $.s)", json!({"s": null})),
        &["argument 3 ($.s) must be an integer"],
    );
}

#[test]
fn string_split() {
    let input = json!({"inputString": "This.is+a,test=string", "splitter": ".+,="});
    assert_eq!(
        ok("States.StringSplit($.inputString, $.splitter)", input),
        json!(["This", "is", "a", "test", "string"])
    );
    assert_eq!(
        ok("States.StringSplit('1,2,3,4,5', ',')", json!({})),
        json!(["1", "2", "3", "4", "5"])
    );
    assert_eq!(
        ok("States.StringSplit(',a,,b,', ',')", json!({})),
        json!(["a", "b"])
    );
    assert_eq!(ok("States.StringSplit('', ',')", json!({})), json!([]));
    assert_eq!(
        ok("States.StringSplit('a b', ',')", json!({})),
        json!(["a b"])
    );
    assert_eq!(
        ok("States.StringSplit('α→β→γ', '→')", json!({})),
        json!(["α", "β", "γ"])
    );
    assert_eq!(
        ok(r"States.StringSplit('a{b}c', '\{\}')", json!({})),
        json!(["a", "b", "c"])
    );
    has(
        &bad("States.StringSplit('a,b', '')"),
        &["argument 2 ('') is empty", "delimiting character"],
    );
    has(
        &bad("States.StringSplit(1, ',')"),
        &["must be a string, but it is a number"],
    );
    has(
        &fails("States.StringSplit($.s, ',')", json!({"s": 12})),
        &["argument 1 ($.s) must be a string"],
    );
}

#[test]
fn uuid_is_v4_from_the_callers_randomness() {
    let call = Intrinsic::parse("States.UUID()").unwrap();
    let a = call
        .eval(
            &json!({}),
            crate::path::Docs::context(&json!({})),
            &mut SplitMix64(3),
        )
        .unwrap();
    let b = call
        .eval(
            &json!({}),
            crate::path::Docs::context(&json!({})),
            &mut SplitMix64(3),
        )
        .unwrap();
    let c = call
        .eval(
            &json!({}),
            crate::path::Docs::context(&json!({})),
            &mut SplitMix64(4),
        )
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let text = a.as_str().expect("a string");
    let id = uuid::Uuid::parse_str(text).expect("a UUID");
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(text.len(), 36);
    assert_eq!(text, text.to_lowercase());
    has(&bad("States.UUID('x')"), &["no arguments"]);
}
