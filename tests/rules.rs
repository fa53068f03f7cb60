//! `sluice rule test`: the fixed interface (DESIGN.md) — exit 0 on a match,
//! 1 with the failing field on no match, 2 on invalid input.

use std::process::{Command, Output};

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .output()
        .expect("the sluice binary runs")
}

const EVENT: &str = r#"{"specversion":"1.0","id":"e1","source":"shop","type":"order.created","data":{"amount":120,"city":"Paris"}}"#;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_matching_pattern_exits_0() {
    let pattern = r#"{"type":["order.created"],"data":{"amount":[{"numeric":[">",100]}]}}"#;
    let out = sluice(&["rule", "test", "--pattern", pattern, "--event", EVENT]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out).trim(), "match");
}

#[test]
fn no_match_exits_1_and_names_the_field() {
    let pattern = r#"{"type":["order.created"],"data":{"city":[{"prefix":"Rom"}]}}"#;
    let out = sluice(&["rule", "test", "--pattern", pattern, "--event", EVENT]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("/data/city") && text.contains("\"Paris\""),
        "{text}"
    );
}

#[test]
fn files_are_read_with_an_at_sign() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.json");
    let e = dir.path().join("e.json");
    std::fs::write(&p, r#"{"source":[{"equals-ignore-case":"SHOP"}]}"#).unwrap();
    std::fs::write(&e, EVENT).unwrap();
    let out = sluice(&[
        "rule",
        "test",
        "--pattern",
        &format!("@{}", p.display()),
        "--event",
        &format!("@{}", e.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn invalid_input_exits_2_with_the_problem() {
    let out = sluice(&[
        "rule",
        "test",
        "--pattern",
        r#"{"type":"x"}"#,
        "--event",
        EVENT,
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/type: "), "{err}");

    let out = sluice(&["rule", "test", "--pattern", "{not json", "--event", EVENT]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pattern"));

    let out = sluice(&[
        "rule",
        "test",
        "--pattern",
        r#"{"a":[1]}"#,
        "--event",
        "[1]",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let out = sluice(&[
        "rule",
        "test",
        "--pattern",
        r#"{"a":[1]}"#,
        "--event",
        "@/nonexistent/e.json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
