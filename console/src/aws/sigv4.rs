//! AWS Signature Version 4, checked: with `--auth`, an AWS client's access
//! key id is a token's `name` and its secret access key is the token
//! (DESIGN.md). The server recomputes the request's signature from the
//! token and compares it in constant time.
//!
//! Written here rather than taken from `aws-sigv4`: that crate signs
//! requests — it picks the headers to sign and the time itself — while a
//! verifier must rebuild the canonical request from the client's own
//! `SignedHeaders`, date and scope. The algorithm is AWS's ("Create a
//! signed AWS API request", IAM user guide); HMAC and SHA-256 are ring's
//! and sha2's.

use axum::http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far a request's `X-Amz-Date` may be from the server's clock.
const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// Why a signed request is refused: the AWS error type and the message.
#[derive(Debug, PartialEq)]
pub(crate) struct Refusal(pub &'static str, pub String);

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, PartialEq)]
pub(crate) struct Signed<'a> {
    pub access_key: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
}

pub(crate) fn is_sigv4(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "))
}

pub(crate) fn parse(header: &str) -> Result<Signed<'_>, Refusal> {
    let bad = || {
        Refusal("IncompleteSignatureException", "the Authorization header is not AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".into())
    };
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(bad)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(bad)?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let scope: Vec<&str> = credential.ok_or_else(bad)?.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(bad());
    };
    Ok(Signed {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.ok_or_else(bad)?.split(';').collect(),
        signature: signature.ok_or_else(bad)?,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, and
/// `/` too when `slash` says so.
fn encode(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(h)) if h.iter().all(u8::is_ascii_hexdigit) => {
                out.push(
                    u8::from_str_radix(std::str::from_utf8(h).unwrap_or("00"), 16).unwrap_or(0),
                );
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical request of SigV4 for a service other than S3 (whose
/// path is encoded once more).
pub(crate) fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed: &[&str],
    body: &[u8],
) -> String {
    let path = uri.path();
    let canonical_uri = if path.is_empty() {
        "/".to_string()
    } else {
        encode(path, true)
    };
    let mut query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k), false), encode(&decode(v), false))
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut canonical_headers = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| {
                v.to_str()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| hex(&Sha256::digest(body)));
    format!(
        "{method}\n{canonical_uri}\n{}\n{canonical_headers}\n{}\n{payload}",
        query.join("&"),
        signed.join(";")
    )
}

/// Checks the request's signature against `secret`; `now` is seconds since
/// the epoch.
pub(crate) fn verify(
    signed: &Signed<'_>,
    secret: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Refusal(
                "IncompleteSignatureException",
                "the signed request has no X-Amz-Date header".into(),
            )
        })?;
    let when = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| {
            Refusal(
                "IncompleteSignatureException",
                format!("X-Amz-Date '{amz_date}' is not YYYYMMDDTHHMMSSZ"),
            )
        })?
        .and_utc()
        .timestamp();
    if (now - when).abs() > MAX_SKEW_SECONDS {
        return Err(Refusal("InvalidSignatureException", "Signature expired: the request's X-Amz-Date is more than 5 minutes from the server's clock".into()));
    }
    if !amz_date.starts_with(signed.date) {
        return Err(Refusal(
            "InvalidSignatureException",
            "the credential scope's date is not the request's X-Amz-Date".into(),
        ));
    }
    if !signed.signed_headers.contains(&"host") {
        return Err(Refusal(
            "InvalidSignatureException",
            "the signature must cover the host header".into(),
        ));
    }
    let canonical = canonical_request(method, uri, headers, &signed.signed_headers, body);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        signed.date, signed.region, signed.service
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), signed.date.as_bytes());
    for part in [signed.region, signed.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    if bool::from(expected.as_bytes().ct_eq(signed.signature.as_bytes())) {
        Ok(())
    } else {
        Err(Refusal(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key (the token) and signing method.".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's own worked example ("Signature Version 4 test suite",
    /// get-vanilla): the same canonical request and signature.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let signed = parse(auth).unwrap();
        assert_eq!(
            (signed.access_key, signed.region, signed.service),
            ("AKIDEXAMPLE", "us-east-1", "service")
        );
        let uri: Uri = "/".parse().unwrap();
        let canonical =
            canonical_request(&Method::GET, &uri, &headers, &signed.signed_headers, b"");
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let now = chrono::NaiveDate::from_ymd_opt(2015, 8, 30)
            .unwrap()
            .and_hms_opt(12, 40, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        verify(&signed, secret, &Method::GET, &uri, &headers, b"", now).unwrap();
        let wrong = verify(&signed, "another", &Method::GET, &uri, &headers, b"", now).unwrap_err();
        assert_eq!(wrong.0, "InvalidSignatureException");
        let late = verify(
            &signed,
            secret,
            &Method::GET,
            &uri,
            &headers,
            b"",
            now + 3600,
        )
        .unwrap_err();
        assert!(late.1.contains("expired"), "{}", late.1);
    }
}
