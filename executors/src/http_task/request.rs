//! The request an `http:invoke` Task's parameters (`Parameters` or
//! `Arguments`) describe: `ApiEndpoint`, `Method`, `Headers`,
//! `QueryParameters`, `RequestBody` and `Transform`, checked the way AWS
//! checks them before anything is sent.

use serde_json::{Map, Value};
use url::Url;

use super::form::{self, ArrayFormat};

/// The methods AWS's HTTP Task accepts.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];

/// Headers a definition may not set: the connection, the proxy chain and
/// the caller's identity belong to the HTTP Task itself (AWS's list in
/// "Call HTTPS APIs", `Headers`).
const FORBIDDEN_HEADERS: [&str; 32] = [
    "a-im",
    "accept-charset",
    "accept-datetime",
    "accept-encoding",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-md5",
    "date",
    "expect",
    "forwarded",
    "from",
    "host",
    "http2-settings",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "proxy-authorization",
    "referer",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "warning",
];

const FORBIDDEN_PREFIXES: [&str; 3] = ["x-forwarded-", "x-amz-", "x-amzn-"];

/// One HTTP request, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// `ApiEndpoint` with `QueryParameters` appended.
    pub url: Url,
    /// As written, in order; `content-type` is among them when there is a body.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// Whether a definition may set header `name`.
pub fn header_allowed(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !FORBIDDEN_HEADERS.contains(&lower.as_str())
        && !FORBIDDEN_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// The request `params` describe, or why it cannot be sent (the cause of a
/// `States.Runtime` failure: it names the field and the fix).
pub fn build(params: &Value) -> Result<Request, String> {
    let params = params.as_object().ok_or(
        "the parameters of an http:invoke Task must be an object with ApiEndpoint and Method",
    )?;
    let endpoint = params
        .get("ApiEndpoint")
        .and_then(Value::as_str)
        .ok_or("ApiEndpoint is required: the http(s) URL to call")?;
    let mut url = Url::parse(endpoint).map_err(|e| {
        format!("ApiEndpoint '{endpoint}' is not a URL ({e}); give an absolute http(s) URL")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "ApiEndpoint '{endpoint}' must be an http:// or https:// URL with a host"
        ));
    }
    let method = params
        .get("Method")
        .and_then(Value::as_str)
        .ok_or("Method is required: one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD")?;
    if !METHODS.contains(&method) {
        return Err(format!(
            "Method '{method}' is not supported; use one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD"
        ));
    }
    if let Some(query) = params.get("QueryParameters") {
        append_query(&mut url, query)?;
    }
    let mut headers = match params.get("Headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(h)) => headers(h)?,
        Some(_) => return Err("Headers must be an object of header names to values".into()),
    };
    let body = match params.get("RequestBody") {
        None | Some(Value::Null) => None,
        Some(body) => Some(encode_body(body, params.get("Transform"), &mut headers)?),
    };
    Ok(Request {
        method: method.to_string(),
        url,
        headers,
        body,
    })
}

fn headers(given: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::with_capacity(given.len());
    for (name, value) in given {
        if !header_allowed(name) {
            return Err(format!(
                "Headers: '{name}' cannot be set on an HTTP Task (it is one of the headers the HTTP Task sets or forbids); remove it"
            ));
        }
        let text = match value {
            Value::Array(items) => items.iter().map(form::scalar).collect::<Vec<_>>().join(","),
            other => form::scalar(other),
        };
        out.push((name.clone(), text));
    }
    Ok(out)
}

fn append_query(url: &mut Url, query: &Value) -> Result<(), String> {
    let pairs = match query {
        Value::Null => return Ok(()),
        Value::Object(pairs) => pairs,
        _ => return Err("QueryParameters must be an object of names to values".into()),
    };
    let mut out = url.query_pairs_mut();
    for (name, value) in pairs {
        match value {
            Value::Array(items) => items.iter().for_each(|v| {
                out.append_pair(name, &form::scalar(v));
            }),
            Value::Object(_) => {
                return Err(format!(
                    "QueryParameters.{name} is an object; give a string, number, boolean or an array of them"
                ))
            }
            other => {
                out.append_pair(name, &form::scalar(other));
            }
        }
    }
    drop(out);
    Ok(())
}

/// The body bytes; sets `content-type` unless the definition did.
fn encode_body(
    body: &Value,
    transform: Option<&Value>,
    headers: &mut Vec<(String, String)>,
) -> Result<Vec<u8>, String> {
    let (url_encoded, arrays) = transform_options(transform)?;
    let (bytes, content_type) =
        match body {
            Value::String(text) => (text.as_bytes().to_vec(), "text/plain; charset=UTF-8"),
            Value::Object(object) if url_encoded => (
                form::encode(object, arrays).into_bytes(),
                "application/x-www-form-urlencoded",
            ),
            _ if url_encoded => return Err(
                "Transform.RequestBodyEncoding URL_ENCODED needs RequestBody to be a JSON object"
                    .into(),
            ),
            other => (
                other.to_string().into_bytes(),
                "application/json; charset=UTF-8",
            ),
        };
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), content_type.into()));
    }
    Ok(bytes)
}

fn transform_options(transform: Option<&Value>) -> Result<(bool, ArrayFormat), String> {
    let Some(transform) = transform.filter(|t| !t.is_null()) else {
        return Ok((false, ArrayFormat::default()));
    };
    let url_encoded = match transform.get("RequestBodyEncoding").and_then(Value::as_str) {
        None | Some("NONE") => false,
        Some("URL_ENCODED") => true,
        Some(other) => {
            return Err(format!(
                "Transform.RequestBodyEncoding '{other}' is not supported; use NONE or URL_ENCODED"
            ))
        }
    };
    let arrays = match transform
        .pointer("/RequestEncodingOptions/ArrayFormat")
        .and_then(Value::as_str)
    {
        None => ArrayFormat::default(),
        Some(name) => ArrayFormat::parse(name).ok_or_else(|| {
            format!("Transform.RequestEncodingOptions.ArrayFormat '{name}' is not supported; use INDICES, REPEAT, COMMAS or BRACKETS")
        })?,
    };
    Ok((url_encoded, arrays))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoint_method_query_and_json_body() {
        let r = build(&json!({
            "ApiEndpoint": "http://127.0.0.1:9/v1/orders?page=2",
            "Method": "POST",
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:000000000000:connection/x/y"},
            "QueryParameters": {"tag": ["a", "b"], "limit": 10},
            "Headers": {"X-Trace": "t1"},
            "RequestBody": {"id": 7}
        }))
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url.as_str(),
            "http://127.0.0.1:9/v1/orders?page=2&tag=a&tag=b&limit=10"
        );
        assert_eq!(r.body.as_deref(), Some(&br#"{"id":7}"#[..]));
        assert_eq!(
            r.headers,
            vec![
                ("X-Trace".to_string(), "t1".to_string()),
                (
                    "content-type".to_string(),
                    "application/json; charset=UTF-8".to_string()
                )
            ]
        );
    }

    #[test]
    fn url_encoded_bodies_use_the_array_format() {
        let r = build(&json!({
            "ApiEndpoint": "https://api.example.com/form", "Method": "PUT",
            "RequestBody": {"ids": [1, 2]},
            "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                          "RequestEncodingOptions": {"ArrayFormat": "COMMAS"}}
        }))
        .unwrap();
        assert_eq!(r.body.as_deref(), Some(&b"ids=1%2C2"[..]));
        assert!(r.headers.contains(&(
            "content-type".into(),
            "application/x-www-form-urlencoded".into()
        )));
    }

    #[test]
    fn the_definitions_content_type_wins() {
        let r = build(&json!({
            "ApiEndpoint": "http://h/", "Method": "POST",
            "Headers": {"Content-Type": "application/vnd.api+json"}, "RequestBody": {"a": 1}
        }))
        .unwrap();
        assert_eq!(r.headers.len(), 1);
    }

    #[test]
    fn refusals_name_the_field_and_the_fix() {
        let err = |p: Value| build(&p).unwrap_err();
        assert!(err(json!({"Method": "GET"})).starts_with("ApiEndpoint is required"));
        assert!(err(json!({"ApiEndpoint": "ftp://h/x", "Method": "GET"}))
            .contains("http:// or https://"));
        assert!(
            err(json!({"ApiEndpoint": "http://h/", "Method": "get"})).contains("use one of GET")
        );
        let forbidden = err(
            json!({"ApiEndpoint": "http://h/", "Method": "GET", "Headers": {"Authorization": "Bearer x"}}),
        );
        assert!(
            forbidden.contains("'Authorization' cannot be set"),
            "{forbidden}"
        );
        assert!(err(
            json!({"ApiEndpoint": "http://h/", "Method": "GET", "Headers": {"X-Amz-Date": "1"}})
        )
        .contains("X-Amz-Date"));
        assert!(err(
            json!({"ApiEndpoint": "http://h/", "Method": "POST", "RequestBody": [1],
            "Transform": {"RequestBodyEncoding": "URL_ENCODED"}})
        )
        .contains("JSON object"));
        assert!(err(
            json!({"ApiEndpoint": "http://h/", "Method": "POST", "RequestBody": {},
            "Transform": {"RequestEncodingOptions": {"ArrayFormat": "X"}}})
        )
        .contains("ArrayFormat 'X'"));
    }

    #[test]
    fn ordinary_headers_are_allowed() {
        assert!(header_allowed("Accept"));
        assert!(header_allowed("X-Api-Key"));
        assert!(!header_allowed("HOST"));
        assert!(!header_allowed("x-forwarded-for"));
    }
}
