//! With `--auth`: reads never show credentials (broker passwords in source
//! URLs, function `env` values), an admin sees them only with
//! `?reveal=true`, and the console's cookie is a signed session id, not
//! the token, that ends at logout.

use serde_json::{json, Value};
mod support;

use std::time::Duration;
use support::Server;

const ADMIN: &str = "admin-token-0123456789";
const READER: &str = "reader-token-0123456789";

fn request(
    server: &Server,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{}{path}", server.base);
    let mut res = match method {
        "GET" => {
            let mut r = agent.get(&url);
            if let Some((k, v)) = auth {
                r = r.header(k, v);
            }
            r.call()
        }
        _ => {
            let mut r = if method == "PUT" {
                agent.put(&url)
            } else {
                agent.post(&url)
            };
            if let Some((k, v)) = auth {
                r = r.header(k, v);
            }
            r.header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string())
        }
    }
    .unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let text = res.body_mut().read_to_string().unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (res.status().as_u16(), value, cookie)
}

fn bearer(token: &str) -> Option<(&'static str, String)> {
    Some(("authorization", format!("Bearer {token}")))
}

#[test]
fn reads_mask_credentials_and_the_cookie_is_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        json!({"tokens": [{"name": "ops", "role": "admin", "token": ADMIN},
                          {"name": "viewer", "role": "read", "token": READER}]})
        .to_string(),
    )
    .unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let server = Server::start_with(
        dir.path(),
        &functions,
        &["--auth", tokens.to_str().unwrap()],
    );
    let admin = bearer(ADMIN);
    let admin = admin.as_ref().map(|(k, v)| (*k, v.as_str()));
    let reader = bearer(READER);
    let reader = reader.as_ref().map(|(k, v)| (*k, v.as_str()));

    // A source whose URL has a password (port 1: it never connects, and
    // its status message quotes the URL), and a function with env.
    let (s, e, _) = request(
        &server,
        "PUT",
        "/api/v1/sources/orders",
        admin,
        Some(
            json!({"kind": "amqp", "url": "amqp://guest:hunter2secret@127.0.0.1:1/%2f", "queue": "q"}),
        ),
    );
    assert_eq!(s, 200, "{e}");
    let (s, e, _) = request(
        &server,
        "PUT",
        "/api/v1/functions/f",
        admin,
        Some(
            json!({"name": "f", "runtime": "http", "url": "http://127.0.0.1:1/f",
                    "env": {"API_KEY": "k-hunter2secret"}}),
        ),
    );
    assert_eq!(s, 200, "{e}");
    std::thread::sleep(Duration::from_millis(300));

    for who in [reader, admin] {
        for path in [
            "/api/v1/sources",
            "/api/v1/sources/orders",
            "/api/v1/functions/f",
            "/api/v1/functions/f/versions/1",
        ] {
            let (s, body, _) = request(&server, "GET", path, who, None);
            assert_eq!(s, 200, "{path}: {body}");
            let text = body.to_string();
            assert!(!text.contains("hunter2secret"), "{path} leaks: {text}");
            assert!(text.contains("****"), "{path}: {text}");
        }
    }
    let (s, body, _) = request(
        &server,
        "GET",
        "/api/v1/sources/orders?reveal=true",
        admin,
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(
        body["definition"]["url"], "amqp://guest:hunter2secret@127.0.0.1:1/%2f",
        "{body}"
    );
    let (s, body, _) = request(
        &server,
        "GET",
        "/api/v1/functions/f?reveal=true",
        admin,
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(
        body["definition"]["env"]["API_KEY"], "k-hunter2secret",
        "{body}"
    );
    let (s, body, _) = request(
        &server,
        "GET",
        "/api/v1/functions/f?reveal=true",
        reader,
        None,
    );
    assert_eq!(s, 403, "{body}");

    // The login cookie is a signed session id, not the token.
    let (s, _, cookie) = request(
        &server,
        "POST",
        "/login",
        None,
        Some(json!({"token": ADMIN})),
    );
    assert_eq!(s, 200);
    let cookie = cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(ADMIN), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let with_cookie = Some(("cookie", pair.as_str()));
    let (s, _, _) = request(&server, "GET", "/api/v1/workflows", with_cookie, None);
    assert_eq!(s, 200);
    // A changed signature is not a session.
    let forged = format!("{}0", &pair[..pair.len() - 1]);
    let forged = if forged == pair {
        format!("{}1", &pair[..pair.len() - 1])
    } else {
        forged
    };
    let (s, _, _) = request(
        &server,
        "GET",
        "/api/v1/workflows",
        Some(("cookie", &forged)),
        None,
    );
    assert_eq!(s, 401);
    // After logout the same cookie opens nothing.
    let (s, _, _) = request(&server, "POST", "/logout", with_cookie, None);
    assert_eq!(s, 303);
    let (s, _, _) = request(&server, "GET", "/api/v1/workflows", with_cookie, None);
    assert_eq!(s, 401);

    // Guessing is rate limited: after 10 failures in a minute, 429 (even
    // for the right token, until the minute is over).
    for _ in 0..10 {
        let (s, _, _) = request(
            &server,
            "POST",
            "/login",
            None,
            Some(json!({"token": "wrong-token-000000000"})),
        );
        assert_eq!(s, 401);
    }
    let (s, body, _) = request(
        &server,
        "POST",
        "/login",
        None,
        Some(json!({"token": ADMIN})),
    );
    assert_eq!(s, 429, "{body}");
    // Bearer tokens still work.
    let (s, _, _) = request(&server, "GET", "/api/v1/workflows", admin, None);
    assert_eq!(s, 200);
    let (_, metrics, _) = request(&server, "GET", "/metrics", admin, None);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("sluice_requests_refused_total{reason=\"login_rate_limited\"} 1"),
        "{metrics}"
    );
}
