//! Access control, on when `sluice serve --auth FILE` is given: bearer API
//! tokens with a `read` or `admin` role for the REST API, and the same
//! tokens traded at the console's login page for a session: a random
//! session id, HMAC-signed with a key of this process, in an HttpOnly,
//! SameSite=Strict cookie (never the token itself). Sessions last
//! [`SESSION_TTL`] and end at logout or restart. Failed logins are rate
//! limited ([`LOGIN_FAILURES_PER_MINUTE`], then 429). Without a valid token
//! an API route answers 401 and a console page redirects to `/login`; a
//! `read` token may only GET.
//!
//! The file is JSON:
//! `{"tokens": [{"name": "ci", "role": "admin", "token": "…at least 16 characters…"}]}`.
//! Tokens are kept as SHA-256 digests and compared digest to digest, in
//! constant time, so the comparison's timing says nothing about a token.

use axum::extract::{Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE,
};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

use crate::error::{codes, ApiError};
use crate::extract::JsonBody;
use crate::AppState;

/// The console's session cookie.
pub const COOKIE_NAME: &str = "sluice_session";
const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// GET only: pages, listings, metrics, the stream.
    Read,
    /// Everything.
    Admin,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    role: Role,
    token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    tokens: Vec<TokenEntry>,
}

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failed logins accepted per minute (per server); more get 429.
pub const LOGIN_FAILURES_PER_MINUTE: u32 = 10;

/// The tokens the server accepts, and the console's sessions.
pub struct Auth {
    tokens: Vec<([u8; 32], Principal)>,
    /// Token name → the token itself: SigV4 recomputes an HMAC keyed by
    /// the secret, so (unlike bearer tokens, kept as digests) the AWS
    /// protocols need the token in memory.
    signing: HashMap<String, (String, Principal)>,
    key: ring::hmac::Key,
    sessions: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    /// The start of the current minute and the failed logins in it.
    failures: Mutex<(Instant, u32)>,
}

impl Default for Auth {
    fn default() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .expect("the system's random source works");
        Auth {
            tokens: Vec::new(),
            signing: HashMap::new(),
            key,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new((Instant::now(), 0)),
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Auth {
    /// Parse the `--auth` file; errors name the field and the fix.
    pub fn from_json(text: &str) -> Result<Auth, String> {
        let file: AuthFile = serde_json::from_str(text).map_err(|e| {
            format!("the auth file is not {{\"tokens\": [{{\"name\", \"role\": \"read\"|\"admin\", \"token\"}}]}}: {e}")
        })?;
        if file.tokens.is_empty() {
            return Err(
                "/tokens: the auth file lists no tokens; add at least one admin token".into(),
            );
        }
        let mut auth = Auth::default();
        for (i, t) in file.tokens.into_iter().enumerate() {
            if t.token.chars().count() < MIN_TOKEN_LEN || t.token.chars().any(char::is_whitespace) {
                return Err(format!(
                    "/tokens/{i}/token: a token needs at least {MIN_TOKEN_LEN} characters and no spaces (e.g. `openssl rand -hex 24`)"
                ));
            }
            let d = digest(&t.token);
            if auth.tokens.iter().any(|(other, _)| *other == d) {
                return Err(format!("/tokens/{i}/token: the same token is listed twice"));
            }
            let principal = Principal {
                name: t.name,
                role: t.role,
            };
            auth.signing
                .entry(principal.name.clone())
                .or_insert_with(|| (t.token.clone(), principal.clone()));
            auth.tokens.push((d, principal));
        }
        Ok(auth)
    }

    /// The principal of an API token (every entry is compared, each in
    /// constant time).
    pub fn check(&self, token: &str) -> Option<&Principal> {
        let d = digest(token);
        let mut found = None;
        for (t, p) in &self.tokens {
            if bool::from(t.ct_eq(&d)) {
                found = Some(p);
            }
        }
        found
    }

    /// The token named `name` and its principal (the SigV4 secret of the
    /// access key id `name`).
    pub(crate) fn signing_secret(&self, name: &str) -> Option<&(String, Principal)> {
        self.signing.get(name)
    }

    /// A new session for `p`: the cookie value `ID.SIGNATURE`.
    fn open_session(&self, p: &Principal) -> String {
        let mut id = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
            .expect("the system's random source works");
        let tag = ring::hmac::sign(&self.key, &id);
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, (_, at)| now.duration_since(*at) < SESSION_TTL);
        sessions.insert(id, (p.clone(), now));
        format!("{}.{}", hex(&id), hex(tag.as_ref()))
    }

    /// The session id of a cookie value whose signature holds.
    fn session_id(&self, cookie: &str) -> Option<[u8; 32]> {
        let (id, tag) = cookie.split_once('.')?;
        let id: [u8; 32] = unhex(id)?.try_into().ok()?;
        ring::hmac::verify(&self.key, &id, &unhex(tag)?).ok()?;
        Some(id)
    }

    /// The principal of a live session.
    fn session(&self, cookie: &str) -> Option<Principal> {
        let id = self.session_id(cookie)?;
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let (p, at) = sessions.get(&id)?;
        (at.elapsed() < SESSION_TTL).then(|| p.clone())
    }

    fn close_session(&self, cookie: &str) {
        if let Some(id) = self.session_id(cookie) {
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
    }

    /// Count a failed login; false once the minute's allowance is spent.
    fn login_allowed(&self) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.0.elapsed() >= Duration::from_secs(60) || failures.1 < LOGIN_FAILURES_PER_MINUTE
    }

    fn login_failed(&self) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.0.elapsed() >= Duration::from_secs(60) {
            *failures = (Instant::now(), 0);
        }
        failures.1 += 1;
    }
}

/// What a request carries: `Authorization: Bearer T`, else the session cookie.
enum Presented {
    Token(String),
    Session(String),
}

fn presented(req: &Request) -> Option<Presented> {
    let headers = req.headers();
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v
            .strip_prefix("Bearer ")
            .map(|t| Presented::Token(t.trim().to_string()));
    }
    session_cookie(headers).map(Presented::Session)
}

fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .map(str::to_string)
        .next()
}

/// Open without a token: the login page and its form, the static assets
/// (code, no data), and `/healthz` (up or not, for load balancers).
fn is_public(path: &str) -> bool {
    path == "/login" || path == "/healthz" || path.starts_with("/ui/")
}

fn is_page(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::GET
        && !path.starts_with("/api/")
        && path != "/metrics"
        && !(path != "/" && crate::aws::is_aws_path(path))
}

fn unauthorized(message: &str) -> Response {
    let mut res =
        ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message).into_response();
    res.headers_mut().insert(
        WWW_AUTHENTICATE,
        "Bearer realm=\"sluice\"".parse().expect("a valid header"),
    );
    res
}

/// The middleware: lets a request through only with a token whose role allows it.
pub async fn require(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(auth) = state.auth.clone() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    if is_public(&path) {
        return next.run(req).await;
    }
    if crate::aws::sigv4::is_sigv4(req.headers()) && crate::aws::is_aws_path(&path) {
        return crate::aws::signed::require(&auth, req, next).await;
    }
    let principal = match presented(&req) {
        Some(Presented::Token(t)) => auth.check(&t).cloned(),
        Some(Presented::Session(s)) => auth.session(&s),
        None => None,
    };
    let Some(principal) = principal else {
        if is_page(&req) {
            let next_path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let to = format!("/login?next={}", url_escape(next_path));
            return (StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response();
        }
        return unauthorized(
            "this server requires an API token: send `Authorization: Bearer TOKEN` (or sign in at /login)",
        );
    };
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if principal.role == Role::Read && !reads && path != "/logout" {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            format!(
                "token '{}' is read-only; {} {path} needs an admin token",
                principal.name,
                req.method()
            ),
        )
        .into_response();
    }
    // Handlers read it (a read token sees no secrets, see `redact`).
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    token: String,
}

/// `POST /login` `{"token"}`: sets the session cookie.
pub async fn login(State(state): State<AppState>, JsonBody(body): JsonBody<LoginBody>) -> Response {
    let Some(auth) = state.auth.clone() else {
        return Json(json!({"name": "anonymous", "role": "admin", "auth": false})).into_response();
    };
    if !auth.login_allowed() {
        crate::ops::count_refusal("login_rate_limited");
        let mut res = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            format!(
                "more than {LOGIN_FAILURES_PER_MINUTE} failed logins in a minute; wait a minute and sign in again"
            ),
        )
        .into_response();
        res.headers_mut()
            .insert(RETRY_AFTER, "60".parse().expect("a valid header"));
        return res;
    }
    match auth.check(&body.token) {
        Some(p) => {
            let cookie = format!(
                "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                auth.open_session(p),
                SESSION_TTL.as_secs()
            );
            let role = if p.role == Role::Admin {
                "admin"
            } else {
                "read"
            };
            (
                [(SET_COOKIE, cookie)],
                Json(json!({"name": p.name, "role": role, "auth": true})),
            )
                .into_response()
        }
        None => {
            auth.login_failed();
            unauthorized("that token is not one this server accepts")
        }
    }
}

/// `POST /logout`: ends the session, clears its cookie and goes to the
/// login page.
pub async fn logout(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let (Some(auth), Some(cookie)) = (&state.auth, session_cookie(&headers)) {
        auth.close_session(&cookie);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                SET_COOKIE,
                format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
            ),
            (LOCATION, "/login".to_string()),
            (CONTENT_TYPE, "text/plain".to_string()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_file_is_checked_field_by_field() {
        let ok = r#"{"tokens": [{"name": "ops", "role": "admin", "token": "0123456789abcdef0"},
                                {"name": "view", "role": "read", "token": "fedcba98765432100"}]}"#;
        let auth = Auth::from_json(ok).unwrap();
        assert_eq!(auth.check("fedcba98765432100").unwrap().role, Role::Read);
        assert_eq!(auth.check("0123456789abcdef0").unwrap().name, "ops");
        assert!(auth.check("0123456789abcdef").is_none());
        let short = r#"{"tokens": [{"name": "a", "role": "admin", "token": "short"}]}"#;
        assert!(Auth::from_json(short)
            .unwrap_err()
            .starts_with("/tokens/0/token"));
        let role = r#"{"tokens": [{"name": "a", "role": "root", "token": "0123456789abcdef0"}]}"#;
        assert!(Auth::from_json(role).unwrap_err().contains("role"));
        assert!(Auth::from_json(r#"{"tokens": []}"#)
            .unwrap_err()
            .starts_with("/tokens"));
    }
}
