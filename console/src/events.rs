//! `POST /api/v1/events`: the CloudEvents HTTP binding (spec 1.0) in its
//! three modes — structured (`application/cloudevents+json`), binary
//! (`ce-*` headers, the body is the data) and batch
//! (`application/cloudevents-batch+json`). The cloudevents-sdk parses and
//! validates; required attributes are checked first so a 400 names the
//! attribute (and the event's index in a batch). Accepted events go to the
//! engine's [`EventSink`], which answers once they and the executions they
//! start are durable.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::Json;
use cloudevents::{AttributesReader, Data, Event};
use serde_json::{json, Map, Value};
use sluice_engine::{EventSink, InboundEvent};

use crate::error::ApiError;
use crate::AppState;

/// The source binding name of events posted here.
pub const HTTP_SOURCE: &str = "http";

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";
const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];

fn mime(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `POST /api/v1/events` → `{"results": [{"id","source","outcome",
/// "executionIds"|"reason"}]}`, one per event in order; outcome is
/// `accepted`, `duplicate` or `deadLettered`.
pub async fn post(State(state): State<AppState>, req: Request) -> Result<Json<Value>, ApiError> {
    let headers = req.headers().clone();
    let body = Bytes::from_request(req, &state).await?;
    let events = parse(&headers, &body)?;
    let idents: Vec<(Value, Value)> = events
        .iter()
        .map(|e| (e["id"].clone(), e["source"].clone()))
        .collect();
    let inbound = events
        .into_iter()
        .map(|event| InboundEvent {
            source: HTTP_SOURCE.into(),
            event,
        })
        .collect();
    let outcomes = state.engine.submit(inbound).await?;
    let results: Vec<Value> = idents
        .into_iter()
        .zip(outcomes)
        .map(|((id, source), outcome)| {
            let mut r = Map::new();
            r.insert("id".into(), id);
            r.insert("source".into(), source);
            if let Ok(Value::Object(o)) = serde_json::to_value(&outcome) {
                r.extend(o);
            }
            Value::Object(r)
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// The events of a request, each as structured-mode JSON with JSON data decoded.
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Value>, ApiError> {
    match mime(headers).as_str() {
        BATCH => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the batch is not valid JSON: {e}")))?;
            let Value::Array(items) = value else {
                return Err(ApiError::bad_request(
                    "a batch (application/cloudevents-batch+json) is a JSON array of structured CloudEvents",
                ));
            };
            if items.is_empty() {
                return Err(ApiError::bad_request(
                    "the batch is empty: send at least one event",
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| structured(item, &format!("event {i} of the batch: ")))
                .collect()
        }
        STRUCTURED => {
            let value: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("the CloudEvent is not valid JSON: {e}"))
            })?;
            Ok(vec![structured(value, "")?])
        }
        ct if ct.starts_with("application/cloudevents") => Err(ApiError::bad_request(format!(
            "'{ct}' is not a CloudEvents content type this endpoint takes: use application/cloudevents+json (one event), application/cloudevents-batch+json (a batch), or the event's data type with ce-* headers (binary mode)"
        ))),
        ct => {
            // An attribute given twice is ambiguous (and the SDK would take
            // another copy than the checks below): refused, by name.
            if let Some(twice) = headers
                .keys()
                .map(|k| k.as_str())
                .find(|k| k.starts_with("ce-") && headers.get_all(*k).iter().count() > 1)
            {
                return Err(ApiError::bad_request(format!(
                    "the CloudEvent attribute header '{twice}' is given more than once; send each ce-* header once"
                )));
            }
            if let Some(missing) = REQUIRED
                .iter()
                .find(|a| headers.get(format!("ce-{a}")).is_none_or(|v| v.is_empty()))
            {
                let hint = if ct == "application/json" && headers.get("ce-specversion").is_none() {
                    " (for a whole CloudEvent as JSON use Content-Type: application/cloudevents+json)"
                } else {
                    ""
                };
                return Err(ApiError::bad_request(format!(
                    "the required CloudEvent attribute '{missing}' is missing: binary mode needs the headers ce-specversion, ce-id, ce-source and ce-type{hint}"
                )));
            }
            let event = cloudevents::binding::http::to_event(headers, body.to_vec())
                .map_err(|e| ApiError::bad_request(format!("invalid CloudEvent: {e}")))?;
            Ok(vec![to_json(&event)?])
        }
    }
}

fn structured(value: Value, at: &str) -> Result<Value, ApiError> {
    let Value::Object(map) = &value else {
        return Err(ApiError::bad_request(format!(
            "{at}a CloudEvent in structured mode is a JSON object with specversion, id, source and type"
        )));
    };
    for a in REQUIRED {
        match map.get(a) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "{at}the CloudEvent attribute '{a}' must be a non-empty string"
                )))
            }
            None => {
                return Err(ApiError::bad_request(format!(
                    "{at}the required CloudEvent attribute '{a}' is missing (spec 1.0 requires specversion, id, source and type)"
                )))
            }
        }
    }
    if map["specversion"] != "1.0" {
        return Err(ApiError::bad_request(format!(
            "{at}specversion {} is not supported; send \"1.0\"",
            map["specversion"]
        )));
    }
    let event: Event = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("{at}invalid CloudEvent: {e}")))?;
    to_json(&event)
}

/// The event in structured JSON; binary data that is JSON (or text) is
/// decoded so that rules and templates can read it under `data`.
fn to_json(event: &Event) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(event)
        .map_err(|e| ApiError::bad_request(format!("invalid CloudEvent: {e}")))?;
    if let (Some(Data::Binary(bytes)), Value::Object(map)) = (event.data(), &mut v) {
        let ct = event.datacontenttype().unwrap_or("application/json");
        let ct = crate::extract::essence(ct);
        let decoded = if ct == "application/json" || ct.ends_with("+json") {
            serde_json::from_slice::<Value>(bytes).ok()
        } else if ct.starts_with("text/") {
            std::str::from_utf8(bytes)
                .ok()
                .map(|s| Value::String(s.into()))
        } else {
            None
        };
        if let Some(data) = decoded {
            map.remove("data_base64");
            map.insert("data".into(), data);
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn binary(extra: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        for (k, v) in extra {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn binary_mode_reads_the_attributes_from_the_headers() {
        let events = parse(
            &binary(&[("content-type", "application/json")]),
            b"{\"x\":1}",
        )
        .unwrap();
        assert_eq!(
            (events[0]["type"].as_str(), &events[0]["data"]),
            (Some("t"), &json!({"x": 1}))
        );
    }

    /// Found by the http_events fuzz target after 7.5 million inputs: the
    /// SDK reads any content type that starts with
    /// `application/cloudevents+json` as structured mode, so such a type
    /// with a suffix skipped the checks of structured events (an empty
    /// `source` got in).
    #[test]
    fn a_cloudevents_content_type_with_a_suffix_is_refused() {
        let mut h = binary(&[]);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/cloudevents+jsonx"),
        );
        let body = br#"{"specversion":"1.0","id":"2","type":"t","source":""}"#;
        let e = parse(&h, body).unwrap_err();
        assert!(
            e.message.contains("not a CloudEvents content type"),
            "{}",
            e.message
        );
    }

    /// Found by the http_events fuzz target: a second, empty `ce-type`
    /// passed the check on the first and became the event's type.
    #[test]
    fn an_attribute_header_given_twice_is_refused_by_name() {
        let e = parse(&binary(&[("ce-type", "")]), b"{}").unwrap_err();
        assert!(
            e.message.contains("'ce-type' is given more than once"),
            "{}",
            e.message
        );
    }
}
