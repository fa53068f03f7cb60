//! EventBridge-style event patterns: compile arbitrary JSON as a pattern
//! and match it against a fixed event, and the fixed pattern against
//! arbitrary JSON as the event. Never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use sluice_dsl::Pattern;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let event =
        json!({"source": "shop", "type": "order.created", "data": {"total": 12, "tags": ["a"]}});
    if let Ok(p) = Pattern::compile(&value, "") {
        let _ = p.matches(&event);
    }
    let fixed = json!({"type": [{"prefix": "order."}], "data": {"total": [{"numeric": [">", 0]}]}});
    if let Ok(p) = Pattern::compile(&fixed, "") {
        let _ = p.matches(&value);
    }
});
