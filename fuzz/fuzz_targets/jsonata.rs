//! JSONata: parse arbitrary text and evaluate it, with the evaluator's
//! limits, against a fixed document. Never a panic, never unbounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sluice_dsl::jsonata::{Env, Expression, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = Expression::parse(text) else {
        return;
    };
    let input = json!({"a": [1, 2, 3], "s": "text", "o": {"k": [true, null]}});
    let mut rng = sluice_dsl::SplitMix64(7);
    let mut env = Env {
        now: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        rng: &mut rng,
        extensions: &[],
        limits: Limits {
            max_depth: 200,
            max_steps: 100_000,
        },
    };
    let _ = expr.evaluate_json(&input, &mut env);
});
