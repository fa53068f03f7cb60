//! `POST /api/v1/events` decoding (the CloudEvents HTTP binding: binary
//! mode with `ce-*` headers, structured, batch) on arbitrary headers and
//! bodies: an error or events that have the required attributes, never a
//! panic. Input: header lines `name: value` up to the first empty line,
//! then the body.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    let mut rest = data;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }
    let Ok(events) = sluice_console::events::parse(&headers, rest) else {
        return;
    };
    assert!(!events.is_empty());
    for event in events {
        for attr in ["specversion", "id", "source", "type"] {
            assert!(
                matches!(&event[attr], Value::String(s) if !s.is_empty()),
                "an accepted event has {attr}: {event}"
            );
        }
    }
});
