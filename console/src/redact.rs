//! Secrets stay out of reads: broker passwords in URLs, fields named like
//! credentials, and function `env` values are masked in every answer that
//! shows a definition. An admin sees them with an explicit `?reveal=true`
//! (a read token asking for it gets 403).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::Value;

use crate::auth::{Principal, Role};
use crate::error::{codes, ApiError};

/// What a masked value reads as.
pub const MASK: &str = "****";

/// Field names whose values are credentials, whatever they hold.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['_', '-', '.'], "");
    k.contains("password")
        || k.contains("secret")
        || k.ends_with("token")
        || k == "sessiontoken"
        || k.ends_with("apikey")
        || k == "authorization"
}

/// `scheme://user:password@host…` → `scheme://user:****@host…`, wherever
/// such a URL occurs in `text` (a status message may quote one).
pub fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at_sign), Some(colon)) if colon < at_sign => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at_sign..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Mask every credential in `v`: URL passwords in any string, and the
/// values of fields named like credentials.
pub fn credentials(v: &mut Value) {
    match v {
        Value::String(s) if s.contains("://") => *s = mask_url_passwords(s),
        Value::Array(items) => items.iter_mut().for_each(credentials),
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                if is_secret_key(k) && !item.is_null() && !item.is_boolean() {
                    *item = Value::String(MASK.into());
                } else {
                    credentials(item);
                }
            }
        }
        _ => {}
    }
}

/// A function definition as a read shows it: credentials masked and
/// every `env` value too (the names stay).
pub fn function_definition(def: &mut Value) {
    if let Some(env) = def.get_mut("env").and_then(Value::as_object_mut) {
        for value in env.values_mut() {
            *value = Value::String(MASK.into());
        }
    }
    credentials(def);
}

/// Whether this request may see secrets: `?reveal=true` from an admin (or
/// from anyone on a server without `--auth`).
#[derive(Debug, Clone, Copy)]
pub struct Reveal(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Reveal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let asked = parts.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|pair| pair == "reveal=true" || pair == "reveal=1")
        });
        if !asked {
            return Ok(Reveal(false));
        }
        match parts.extensions.get::<Principal>() {
            Some(p) if p.role != Role::Admin => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::FORBIDDEN,
                format!(
                    "token '{}' is read-only; ?reveal=true shows credentials and needs an admin token",
                    p.name
                ),
            )),
            _ => Ok(Reveal(true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_passwords_are_masked_wherever_they_occur() {
        assert_eq!(
            mask_url_passwords("amqp://guest:s3cret@127.0.0.1:5672/%2f"),
            "amqp://guest:****@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            mask_url_passwords("cannot reach amqp://u:p@h:1 and kafka://h:9092 (x)"),
            "cannot reach amqp://u:****@h:1 and kafka://h:9092 (x)"
        );
        // No password, or no user: nothing to mask.
        assert_eq!(mask_url_passwords("http://h:80/a@b"), "http://h:80/a@b");
        assert_eq!(mask_url_passwords("amqp://guest@h"), "amqp://guest@h");
    }

    #[test]
    fn credential_fields_and_env_values_are_masked() {
        let mut def = json!({"name": "f", "env": {"DB_URL": "x", "MODE": "fast"},
            "kafka": {"sasl.password": "pw", "brokers": "h:9092"},
            "secretAccessKey": "abc", "flag": true, "url": "amqp://a:b@h"});
        function_definition(&mut def);
        assert_eq!(
            def,
            json!({"name": "f", "env": {"DB_URL": MASK, "MODE": MASK},
                "kafka": {"sasl.password": MASK, "brokers": "h:9092"},
                "secretAccessKey": MASK, "flag": true, "url": "amqp://a:****@h"})
        );
    }
}
