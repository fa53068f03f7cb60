//! Broker messages as CloudEvents: arbitrary headers read by the Kafka and
//! the AMQP binding, then `cloudevent::to_events` (binary mode, structured,
//! batch, S3 notifications, raw messages wrapped), and every event that
//! comes out encoded again for publishing (`to_binary`). Input: header
//! lines `key=value` up to the first empty line, then the body.
#![no_main]

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_connectors::cloudevent::{to_binary, to_events, BindingHeaders, Message, Wrap};
use sluice_connectors::{amqp, kafka};

/// The header lines and the body.
fn split(data: &[u8]) -> (Vec<(&[u8], &[u8])>, &[u8]) {
    let mut headers = Vec::new();
    let mut rest = data;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if line.is_empty() {
            return (headers, rest);
        }
        let eq = line.iter().position(|&b| b == b'=').unwrap_or(line.len());
        headers.push((&line[..eq], line.get(eq + 1..).unwrap_or_default()));
    }
    (headers, rest)
}

fn decode(headers: BindingHeaders, body: &[u8]) {
    let msg = Message {
        body,
        content_type: headers.content_type,
        ce_attributes: headers.ce_attributes,
        raw_id: "fuzz/0/1".into(),
        raw_extensions: vec![("partitionkey".into(), "k".into())],
    };
    let wrap = Wrap {
        source: "sluice://sources/fuzz",
        event_type: "fuzz.raw",
    };
    let Ok(events) = to_events(&msg, &wrap) else {
        return;
    };
    for event in events {
        assert!(event.is_object(), "{event}");
        for attr in ["id", "source", "type"] {
            assert!(
                matches!(&event[attr], Value::String(_)),
                "an accepted event has a string {attr}: {event}"
            );
        }
        let _ = to_binary(&event);
    }
}

fuzz_target!(|data: &[u8]| {
    let (lines, body) = split(data);
    let pairs: Vec<(String, &[u8])> = lines
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), *v))
        .collect();
    decode(
        kafka::binding_headers(pairs.iter().map(|(k, v)| (k.as_str(), Some(*v)))),
        body,
    );
    let mut table = FieldTable::default();
    let mut content_type = None;
    for (k, v) in &pairs {
        if k.eq_ignore_ascii_case("content-type") {
            content_type = Some(String::from_utf8_lossy(v).into_owned());
        } else if k.len() < 256 {
            table.insert(
                ShortString::from(k.as_str()),
                AMQPValue::LongString(LongString::from(v.to_vec())),
            );
        }
    }
    decode(amqp::binding_headers(Some(&table), content_type.as_deref()), body);
});
