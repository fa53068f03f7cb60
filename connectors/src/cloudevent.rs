//! One function turns a broker message into CloudEvents (structured JSON, as
//! the engine's `InboundEvent` wants them): binary mode (attributes in
//! headers), structured mode (`application/cloudevents+json` body), S3 event
//! notifications, or a raw message wrapped with a deterministic id. Tested
//! without a broker.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::object_events;

/// A message as a broker binding sees it.
#[derive(Debug, Clone, Default)]
pub struct Message<'a> {
    pub body: &'a [u8],
    /// The message's content type (AMQP `content-type` property, Kafka
    /// `content-type` header).
    pub content_type: Option<String>,
    /// CloudEvent attributes found in headers (binding prefix removed,
    /// lower-cased): binary mode when `specversion` is among them.
    pub ce_attributes: Vec<(String, String)>,
    /// The deterministic id used when the message is wrapped.
    pub raw_id: String,
    /// Extra attributes for wrapped messages (`partitionkey`, …).
    pub raw_extensions: Vec<(String, String)>,
}

/// What a message's headers say, read by a binding: the content type, the
/// CloudEvent attributes (binding prefix removed, lower-cased) and every
/// header as text (the dead-letter metadata).
#[derive(Debug, Clone, Default)]
pub struct BindingHeaders {
    pub content_type: Option<String>,
    pub ce_attributes: Vec<(String, String)>,
    pub all: Map<String, Value>,
}

/// What the binding wraps raw messages as.
#[derive(Debug, Clone)]
pub struct Wrap<'a> {
    /// CloudEvent `source` of wrapped messages.
    pub source: &'a str,
    /// CloudEvent `type` of wrapped messages.
    pub event_type: &'a str,
}

/// `sluice://sources/NAME`: the CloudEvent source of what a binding wraps;
/// stable, so redelivered messages deduplicate.
pub fn source_uri(binding: &str) -> String {
    format!("sluice://sources/{binding}")
}

/// The message as one or more CloudEvents (several only for an S3
/// notification carrying several records), or why it is not one.
pub fn to_events(msg: &Message<'_>, wrap: &Wrap<'_>) -> Result<Vec<Value>, String> {
    let ct = msg.content_type.as_deref().unwrap_or("");
    let ct_base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if msg.ce_attributes.iter().any(|(k, _)| k == "specversion") {
        return binary(msg, &ct_base).map(|e| vec![e]);
    }
    if ct_base == "application/cloudevents+json" {
        let v: Value = serde_json::from_slice(msg.body)
            .map_err(|e| format!("structured CloudEvent body is not JSON: {e}"))?;
        return structured(v).map(|e| vec![e]);
    }
    if ct_base == "application/cloudevents-batch+json" {
        let v: Value = serde_json::from_slice(msg.body)
            .map_err(|e| format!("CloudEvents batch body is not JSON: {e}"))?;
        let Value::Array(items) = v else {
            return Err("a CloudEvents batch is a JSON array of events".into());
        };
        return items.into_iter().map(structured).collect();
    }
    // A raw message: S3/MinIO notifications become object events; anything
    // else is wrapped.
    let data = decode_data(msg.body, &ct_base);
    if let DataForm::Json(v) = &data {
        if object_events::is_notification(v) {
            return object_events::from_notification(v, wrap.source);
        }
    }
    let mut ev = Map::new();
    ev.insert("specversion".into(), "1.0".into());
    ev.insert("id".into(), msg.raw_id.clone().into());
    ev.insert("source".into(), wrap.source.into());
    ev.insert("type".into(), wrap.event_type.into());
    for (k, v) in &msg.raw_extensions {
        ev.insert(k.clone(), v.clone().into());
    }
    put_data(&mut ev, data, ct);
    Ok(vec![Value::Object(ev)])
}

/// A structured-mode event checked against CloudEvents 1.0 by the SDK;
/// `data_base64` is kept as it is.
pub fn structured(v: Value) -> Result<Value, String> {
    if !v.is_object() {
        return Err("a CloudEvent is a JSON object".into());
    }
    check(&v)?;
    Ok(v)
}

/// Spec 1.0: required attributes present and well-formed. Done by the SDK's
/// deserializer, which is the reference for the JSON format.
fn check(v: &Value) -> Result<(), String> {
    for required in ["specversion", "id", "source", "type"] {
        match v.get(required) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => {
                return Err(format!(
                    "CloudEvent attribute '{required}' must be a non-empty string"
                ))
            }
            None => return Err(format!("CloudEvent attribute '{required}' is missing")),
        }
    }
    if v.get("specversion").and_then(Value::as_str) != Some("1.0") {
        return Err("CloudEvent specversion must be \"1.0\"".into());
    }
    serde_json::from_value::<cloudevents::Event>(v.clone())
        .map(|_| ())
        .map_err(|e| format!("not a valid CloudEvent: {e}"))
}

fn binary(msg: &Message<'_>, ct_base: &str) -> Result<Value, String> {
    let mut ev = Map::new();
    for (k, val) in &msg.ce_attributes {
        // Binary-mode attribute values are strings; `time` stays a string
        // too (RFC 3339), which the JSON format expects.
        ev.insert(k.clone(), Value::String(val.clone()));
    }
    let ct = msg.content_type.clone().unwrap_or_default();
    if !msg.body.is_empty() {
        let data = decode_data(msg.body, ct_base);
        put_data(&mut ev, data, &ct);
    } else if !ct.is_empty() {
        ev.insert("datacontenttype".into(), ct.into());
    }
    let v = Value::Object(ev);
    check(&v)?;
    Ok(v)
}

enum DataForm {
    Json(Value),
    Text(String),
    Bytes(Vec<u8>),
}

fn is_json_type(ct: &str) -> bool {
    ct == "application/json" || ct == "text/json" || ct.ends_with("+json")
}

/// JSON when the content type says so, or when there is none and the body
/// parses; text when UTF-8; else bytes.
fn decode_data(body: &[u8], ct_base: &str) -> DataForm {
    if is_json_type(ct_base) || ct_base.is_empty() {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            return DataForm::Json(v);
        }
    }
    match std::str::from_utf8(body) {
        Ok(s) => DataForm::Text(s.to_string()),
        Err(_) => DataForm::Bytes(body.to_vec()),
    }
}

fn put_data(ev: &mut Map<String, Value>, data: DataForm, ct: &str) {
    match data {
        DataForm::Json(v) => {
            let ct = if ct.is_empty() {
                "application/json"
            } else {
                ct
            };
            ev.insert("datacontenttype".into(), ct.into());
            ev.insert("data".into(), v);
        }
        DataForm::Text(s) => {
            let ct = if ct.is_empty() { "text/plain" } else { ct };
            ev.insert("datacontenttype".into(), ct.into());
            ev.insert("data".into(), s.into());
        }
        DataForm::Bytes(b) => {
            let ct = if ct.is_empty() {
                "application/octet-stream"
            } else {
                ct
            };
            ev.insert("datacontenttype".into(), ct.into());
            ev.insert(
                "data_base64".into(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            );
        }
    }
}

/// A message body for a dead letter: text when UTF-8, else base64.
pub fn body_text(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(_) => base64::engine::general_purpose::STANDARD.encode(body),
    }
}

/// Headers (name, value), in order.
pub type HeaderPairs = Vec<(String, String)>;

/// Binary mode the other way: attributes as (name, value) pairs for headers
/// (the caller adds the binding's prefix), and the data as the body with its
/// content type. Used by the publish sinks.
pub fn to_binary(event: &Value) -> Result<(HeaderPairs, Vec<u8>, Option<String>), String> {
    check(event)?;
    let obj = event.as_object().expect("checked: an object");
    let mut attrs = Vec::new();
    let mut content_type = None;
    let mut body = Vec::new();
    for (k, v) in obj {
        match k.as_str() {
            "data" => {
                body = match v {
                    Value::String(s)
                        if !obj
                            .get("datacontenttype")
                            .and_then(Value::as_str)
                            .is_some_and(|c| is_json_type(c.split(';').next().unwrap_or(""))) =>
                    {
                        s.clone().into_bytes()
                    }
                    other => serde_json::to_vec(other).map_err(|e| e.to_string())?,
                }
            }
            "data_base64" => {
                let s = v.as_str().ok_or("data_base64 must be a string")?;
                body = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| format!("data_base64 is not base64: {e}"))?;
            }
            "datacontenttype" => content_type = v.as_str().map(str::to_string),
            _ => attrs.push((
                k.clone(),
                match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            )),
        }
    }
    if content_type.is_none() && obj.contains_key("data") {
        content_type = Some("application/json".into());
    }
    Ok((attrs, body, content_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WRAP: Wrap<'static> = Wrap {
        source: "sluice://sources/orders",
        event_type: "shop.order",
    };

    fn msg(body: &[u8]) -> Message<'_> {
        Message {
            body,
            raw_id: "orders/0/7".into(),
            ..Default::default()
        }
    }

    #[test]
    fn raw_json_is_wrapped_with_the_deterministic_id() {
        let ev = to_events(&msg(br#"{"n":1}"#), &WRAP).unwrap();
        assert_eq!(
            ev,
            vec![
                json!({"specversion":"1.0","id":"orders/0/7","source":"sluice://sources/orders",
                "type":"shop.order","datacontenttype":"application/json","data":{"n":1}})
            ]
        );
    }

    #[test]
    fn raw_text_and_bytes() {
        let ev = &to_events(&msg(b"hello"), &WRAP).unwrap()[0];
        assert_eq!(ev["data"], "hello");
        assert_eq!(ev["datacontenttype"], "text/plain");
        let ev = &to_events(&msg(&[0xff, 0x00]), &WRAP).unwrap()[0];
        assert_eq!(ev["data_base64"], "/wA=");
    }

    #[test]
    fn binary_mode_takes_attributes_from_headers() {
        let mut m = msg(br#"{"n":2}"#);
        m.content_type = Some("application/json".into());
        m.ce_attributes = vec![
            ("specversion".into(), "1.0".into()),
            ("id".into(), "e-1".into()),
            ("source".into(), "/shop".into()),
            ("type".into(), "shop.order.created".into()),
            ("tenant".into(), "acme".into()),
        ];
        let ev = &to_events(&m, &WRAP).unwrap()[0];
        assert_eq!(ev["id"], "e-1");
        assert_eq!(ev["tenant"], "acme");
        assert_eq!(ev["data"], json!({"n": 2}));
        m.ce_attributes.retain(|(k, _)| k != "source");
        let err = to_events(&m, &WRAP).unwrap_err();
        assert!(err.contains("'source' is missing"), "{err}");
    }

    #[test]
    fn structured_mode_by_content_type() {
        let mut m =
            msg(br#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data":{"a":1}}"#);
        m.content_type = Some("application/cloudevents+json; charset=utf-8".into());
        let ev = &to_events(&m, &WRAP).unwrap()[0];
        assert_eq!(ev["id"], "x");
        m.body = br#"{"specversion":"1.0","id":"x","type":"t"}"#;
        assert!(to_events(&m, &WRAP).unwrap_err().contains("source"));
        m.body = b"{not json";
        assert!(to_events(&m, &WRAP).unwrap_err().contains("not JSON"));
    }

    #[test]
    fn binary_round_trip() {
        let ev = json!({"specversion":"1.0","id":"x","source":"/s","type":"t","data":{"a":1}});
        let (attrs, body, ct) = to_binary(&ev).unwrap();
        let m = Message {
            body: &body,
            content_type: ct,
            ce_attributes: attrs,
            ..Default::default()
        };
        let back = &to_events(&m, &WRAP).unwrap()[0];
        assert_eq!(back["data"], json!({"a": 1}));
        assert_eq!(back["id"], "x");
    }
}
