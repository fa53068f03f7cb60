//! The HTTP Task (`arn:aws:states:::http:invoke`) against a real axum
//! server on loopback: the request it sends, the result shape, and the
//! errors `Retry`/`Catch` match on.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};
use sluice_executors::http_task::{HttpTasks, SOCKET};
use std::time::Duration;

/// Echoes what it received as JSON; `/status/N` answers N.
async fn server() -> String {
    async fn echo(
        method: Method,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::Json<Value> {
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        axum::Json(json!({
            "method": method.as_str(), "query": query, "contentType": h("content-type"),
            "trace": h("x-trace"), "body": String::from_utf8_lossy(&body),
        }))
    }
    let app = Router::new()
        .route("/echo", any(echo))
        .route(
            "/status/{code}",
            any(
                |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                    (
                        StatusCode::from_u16(code).unwrap(),
                        axum::Json(json!({"message": "as asked"})),
                    )
                },
            ),
        )
        .route(
            "/text",
            any(|| async {
                (
                    [("content-type", "text/plain"), ("x-multi", "a")],
                    "plain words",
                )
            }),
        )
        .route(
            "/slow",
            any(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/huge", any(|| async { "x".repeat(300 * 1024) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

#[tokio::test]
async fn a_get_returns_headers_body_status_and_status_text() {
    let base = server().await;
    let out = HttpTasks::new()
        .invoke(
            &json!({
                "ApiEndpoint": format!("{base}/echo"),
                "Method": "GET",
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:000000000000:connection/api/1"},
                "Headers": {"X-Trace": "t-1"},
                "QueryParameters": {"expand": ["items", "customer"], "limit": 5}
            }),
            None,
        )
        .await
        .unwrap();
    assert_eq!(out["StatusCode"], 200);
    assert_eq!(out["StatusText"], "OK");
    assert_eq!(out["Headers"]["content-type"], json!(["application/json"]));
    assert_eq!(
        out["ResponseBody"],
        json!({"method": "GET", "query": "expand=items&expand=customer&limit=5",
               "contentType": "", "trace": "t-1", "body": ""})
    );
}

#[tokio::test]
async fn bodies_go_as_json_or_url_encoded() {
    let base = server().await;
    let tasks = HttpTasks::new();
    let json_body = tasks
        .invoke(
            &json!({"ApiEndpoint": format!("{base}/echo"), "Method": "POST", "RequestBody": {"id": 7}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        json_body["ResponseBody"]["contentType"],
        "application/json; charset=UTF-8"
    );
    assert_eq!(json_body["ResponseBody"]["body"], r#"{"id":7}"#);

    let form = tasks
        .invoke(
            &json!({"ApiEndpoint": format!("{base}/echo"), "Method": "PUT",
                    "RequestBody": {"tags": ["a", "b"], "name": "Ann Lee"},
                    "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                                  "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(form["ResponseBody"]["method"], "PUT");
    assert_eq!(
        form["ResponseBody"]["contentType"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        form["ResponseBody"]["body"],
        "tags%5B%5D=a&tags%5B%5D=b&name=Ann+Lee"
    );
}

#[tokio::test]
async fn text_responses_stay_strings_and_repeated_headers_are_listed() {
    let base = server().await;
    let out = HttpTasks::new()
        .invoke(
            &json!({"ApiEndpoint": format!("{base}/text"), "Method": "GET"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(out["ResponseBody"], "plain words");
    assert_eq!(out["Headers"]["x-multi"], json!(["a"]));
}

#[tokio::test]
async fn a_status_outside_2xx_is_states_http_status_code_with_the_response_as_cause() {
    let base = server().await;
    let err = HttpTasks::new()
        .invoke(
            &json!({"ApiEndpoint": format!("{base}/status/404"), "Method": "DELETE"}),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.error, "States.Http.StatusCode.404");
    let cause: Value = serde_json::from_str(&err.cause).unwrap();
    assert_eq!(cause["StatusCode"], 404);
    assert_eq!(cause["StatusText"], "Not Found");
    assert_eq!(cause["ResponseBody"], json!({"message": "as asked"}));
}

#[tokio::test]
async fn no_answer_is_states_http_socket() {
    let base = server().await;
    let tasks = HttpTasks::new();
    let slow = tasks
        .invoke(
            &json!({"ApiEndpoint": format!("{base}/slow"), "Method": "GET"}),
            Some(1),
        )
        .await
        .unwrap_err();
    assert_eq!(slow.error, SOCKET);
    assert!(
        slow.cause.contains("did not answer within 1 s"),
        "{}",
        slow.cause
    );

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = tasks
        .invoke(
            &json!({"ApiEndpoint": format!("http://127.0.0.1:{port}/"), "Method": "GET"}),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.error, SOCKET);
    assert!(
        refused.cause.contains(&format!("127.0.0.1:{port}")),
        "{}",
        refused.cause
    );
}

#[tokio::test]
async fn refused_parameters_fail_before_anything_is_sent_and_big_answers_are_data_limit_errors() {
    let base = server().await;
    let tasks = HttpTasks::new();
    let forbidden = tasks
        .invoke(
            &json!({"ApiEndpoint": format!("{base}/echo"), "Method": "GET", "Headers": {"Host": "evil"}}),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(forbidden.error, "States.Runtime");
    assert!(
        forbidden.cause.contains("'Host' cannot be set"),
        "{}",
        forbidden.cause
    );

    let huge = tasks
        .invoke(
            &json!({"ApiEndpoint": format!("{base}/huge"), "Method": "GET"}),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(huge.error, "States.DataLimitExceeded");
}
