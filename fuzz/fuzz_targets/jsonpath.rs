//! JSONPath references and intrinsic functions: parse arbitrary text,
//! then select from / evaluate against a fixed document. Never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sluice_dsl::path::Docs;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let input = json!({"a": [1, 2, {"b": "x"}], "s": "text", "n": 3.5, "o": {"k": null}});
    let context = json!({"Execution": {"Id": "e", "Input": {}}, "State": {"Name": "S"}});
    if let Ok(path) = sluice_dsl::Path::parse(text) {
        let _ = path.select(&input, Docs::context(&context));
        let mut target = input.clone();
        let _ = path.set(&mut target, json!(1));
    }
    if let Ok(f) = sluice_dsl::intrinsic::Intrinsic::parse(text) {
        let mut rng = sluice_dsl::SplitMix64(7);
        let _ = f.eval(&input, Docs::context(&context), &mut rng);
    }
});
