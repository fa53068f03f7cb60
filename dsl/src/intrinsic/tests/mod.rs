//! Unit tests: `syntax` covers the parser, escapes, nesting and static
//! checks; `arrays` and `functions` cover each function's results and failures.

mod arrays;
mod functions;
mod syntax;

use serde_json::{json, Value};

use super::Intrinsic;
use crate::error::{names, StatesError};
use crate::SplitMix64;

/// Evaluate `text` against `input` (context `{"Execution": {"Id": "e-1"}}`).
fn run(text: &str, input: Value) -> Result<Value, StatesError> {
    let call = Intrinsic::parse(text).unwrap_or_else(|e| panic!("{text} should parse: {e}"));
    call.eval(
        &input,
        crate::path::Docs::context(&json!({"Execution": {"Id": "e-1"}})),
        &mut SplitMix64(7),
    )
}

fn ok(text: &str, input: Value) -> Value {
    run(text, input).unwrap_or_else(|e| panic!("{text} should succeed: {e}"))
}

/// A runtime `States.IntrinsicFailure`; returns its cause.
fn fails(text: &str, input: Value) -> String {
    let e = run(text, input).expect_err(text);
    assert_eq!(e.error, names::INTRINSIC_FAILURE, "{text}: {e}");
    e.cause
}

/// A parse error; returns its message.
fn bad(text: &str) -> String {
    Intrinsic::parse(text).expect_err(text)
}

/// Asserts `haystack` contains every needle.
fn has(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "{haystack:?} should mention {n:?}");
    }
}
