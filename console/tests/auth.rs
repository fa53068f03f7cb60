//! With `--auth`: nothing but the login page, static assets and /healthz
//! answers without a token; read-only tokens cannot change anything.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::json;
use sluice_console::{app, Auth};
use support::*;
use tower::ServiceExt;

const ADMIN: &str = "admin-token-0123456789";
const READER: &str = "reader-token-0123456789";

fn auth() -> Auth {
    Auth::from_json(
        &json!({"tokens": [
            {"name": "ops", "role": "admin", "token": ADMIN},
            {"name": "viewer", "role": "read", "token": READER}
        ]})
        .to_string(),
    )
    .unwrap()
}

/// Every route of the server with a method it takes and a body.
fn routes(id: &str) -> Vec<(Method, String)> {
    let get = |p: &str| (Method::GET, p.to_string());
    let post = |p: &str| (Method::POST, p.to_string());
    vec![
        get("/api/v1/workflows"),
        (Method::PUT, "/api/v1/workflows/w".into()),
        get("/api/v1/workflows/w"),
        get("/api/v1/workflows/w/versions/1"),
        get("/api/v1/workflows/w/graph"),
        post("/api/v1/workflows/w/executions"),
        get("/api/v1/executions"),
        get(&format!("/api/v1/executions/{id}")),
        get(&format!("/api/v1/executions/{id}/history")),
        post(&format!("/api/v1/executions/{id}/stop")),
        post(&format!("/api/v1/executions/{id}/redrive")),
        post("/api/v1/tasks/tok/success"),
        post("/api/v1/tasks/tok/failure"),
        post("/api/v1/tasks/tok/heartbeat"),
        (Method::PUT, "/api/v1/workflows/w/aliases/live".into()),
        (Method::DELETE, format!("/api/v1/executions/{id}")),
        (Method::DELETE, "/api/v1/workflows/w".into()),
        get("/api/v1/summary"),
        get("/api/v1/stream"),
        get("/metrics"),
        (Method::PUT, "/api/v1/triggers/x".into()),
        get("/api/v1/triggers"),
        (Method::DELETE, "/api/v1/triggers/x".into()),
        post("/api/v1/events"),
        get("/api/v1/deadletters"),
        (Method::DELETE, "/api/v1/deadletters".into()),
    ]
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method.clone()).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = if method == Method::GET {
        Body::empty()
    } else {
        req = req.header(header::CONTENT_TYPE, "application/json");
        let body = if uri.ends_with("/executions") {
            json!({"input": {}})
        } else {
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})
        };
        Body::from(body.to_string())
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_every_route_answers_401_and_pages_send_to_login() {
    let env = env().await;
    env.deploy("w", pass()).await;
    let id = env.start("w", json!({"secret": "s3cr3t"})).await;
    env.wait_until_done(&id).await;
    let app = app(env.state.clone().with_auth(auth()));
    for (method, uri) in routes(&id) {
        for token in [None, Some("not-a-token-at-all-000")] {
            let (status, headers, body) = send(&app, method.clone(), &uri, token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {token:?}: {body}"
            );
            assert!(headers.contains_key(header::WWW_AUTHENTICATE));
            assert!(
                !body.contains("s3cr3t") && !body.contains(&id),
                "{uri} leaks: {body}"
            );
        }
    }
    for page in [
        "/",
        "/workflows",
        "/workflows/w",
        "/executions",
        &format!("/executions/{id}"),
        "/functions",
        "/sources",
    ] {
        let (status, headers, body) = send(&app, Method::GET, page, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        assert!(
            headers[header::LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/login?next=/"),
            "{page}"
        );
        assert!(body.is_empty());
    }
    // Open: the login page, code without data, and liveness.
    for open in ["/login", "/ui/app.js", "/healthz"] {
        assert_eq!(
            send(&app, Method::GET, open, None).await.0,
            StatusCode::OK,
            "{open}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_token_reads_but_every_write_is_403() {
    let env = env().await;
    env.deploy("w", pass()).await;
    let id = env.start("w", json!({})).await;
    env.wait_until_done(&id).await;
    let app = app(env.state.clone().with_auth(auth()));
    for (method, uri) in routes(&id) {
        if uri.ends_with("/stream") {
            continue; // answers 200 and stays open; checked below
        }
        let (status, _, body) = send(&app, method.clone(), &uri, Some(READER)).await;
        if method == Method::GET {
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {body}");
            assert!(
                body.contains("\"forbidden\"") && body.contains("viewer"),
                "{body}"
            );
        }
    }
    let res = app
        .clone()
        .oneshot(
            Request::get("/api/v1/stream")
                .header(header::AUTHORIZATION, format!("Bearer {READER}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The admin token may write.
    let (status, _, body) = send(
        &app,
        Method::POST,
        "/api/v1/workflows/w/executions",
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_trades_a_token_for_a_cookie_that_opens_pages_and_the_api() {
    let env = env().await;
    let app = app(env.state.clone().with_auth(auth()));
    let login = |token: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"token": token}).to_string()))
            .unwrap()
    };
    let bad = app
        .clone()
        .oneshot(login("wrong-token-0000000000"))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(!bad.headers().contains_key(header::SET_COOKIE));
    let ok = app.clone().oneshot(login(READER)).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let cookie = ok.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let page = app
        .clone()
        .oneshot(
            Request::get("/")
                .header(header::COOKIE, &pair)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let html = axum::body::to_bytes(page.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&html).contains("<body data-auth=\"on\">"),
        "the page offers to log out"
    );
    for uri in ["/", "/api/v1/workflows"] {
        let res = app
            .clone()
            .oneshot(
                Request::get(uri)
                    .header(header::COOKIE, &pair)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
    }
    let out = app
        .clone()
        .oneshot(
            Request::post("/logout")
                .header(header::COOKIE, &pair)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

/// Every (method, path) the router serves, read from the router's own
/// source (`console/src/lib.rs`), so that a route added there is walked
/// here without anyone listing it.
fn routes_from_the_router() -> Vec<(Method, String)> {
    let source = include_str!("../src/lib.rs");
    let api_end = source.find(".nest(\"/api/v1\"").expect("the API is nested");
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = source[at..].find(".route(") {
        let start = at + found + ".route(".len();
        // The call's text, to its closing parenthesis.
        let mut depth = 1;
        let mut end = start;
        for (i, c) in source[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = start + i;
                break;
            }
        }
        let call = &source[start..end];
        at = end;
        let Some(path) = call.split('"').nth(1) else {
            continue; // the console pages, walked separately
        };
        let prefix = if start < api_end { "/api/v1" } else { "" };
        for (name, method) in [
            ("get(", Method::GET),
            ("post(", Method::POST),
            ("put(", Method::PUT),
            ("delete(", Method::DELETE),
        ] {
            let called = call
                .match_indices(name)
                .any(|(i, _)| i == 0 || !call.as_bytes()[i - 1].is_ascii_alphanumeric());
            if called {
                out.push((method, format!("{prefix}{path}")));
            }
        }
    }
    out
}

fn concrete(path: &str, id: &str) -> String {
    path.replace("{name}", "w")
        .replace("{id}", id)
        .replace("{token}", "tok")
        .replace("{version}", "1")
        .replace("{alias}", "live")
        .replace("{digest}", &format!("sha256:{}", "0".repeat(64)))
        .replace("{file}", "app.js")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_the_router_serves_is_closed_without_a_token_and_to_read_tokens() {
    let env = env().await;
    env.deploy("w", pass()).await;
    let id = env.start("w", json!({"secret": "s3cr3t"})).await;
    env.wait_until_done(&id).await;
    let app = app(env.state.clone().with_auth(auth()));
    let routes = routes_from_the_router();
    assert!(routes.len() >= 40, "the walk found {} routes", routes.len());
    let open = ["/login", "/healthz", "/ui/app.js"];
    let mut walked = 0;
    for (method, path) in routes {
        let uri = concrete(&path, &id);
        if open.contains(&uri.as_str()) {
            continue;
        }
        for token in [None, Some("not-a-token-at-all-000")] {
            let (status, _, body) = send(&app, method.clone(), &uri, token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {token:?}: {body}"
            );
            assert!(
                !body.contains("s3cr3t") && !body.contains(&id),
                "{uri} leaks: {body}"
            );
            walked += 1;
        }
        if method != Method::GET && uri != "/logout" {
            let (status, _, body) = send(&app, method.clone(), &uri, Some(READER)).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {uri} with a read token: {body}"
            );
            walked += 1;
        }
    }
    assert!(walked > 80, "{walked} requests");
}
