//! A start whose input is nested deeper than Sluice can store is refused
//! with a 400 that says why, and leaves nothing behind: the listings, the
//! summary and the executions that were accepted stay readable.

mod support;

use serde_json::{json, Value};
use support::Server;

fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..levels {
        v = json!([v]);
    }
    v
}

#[test]
fn an_over_deep_input_is_a_clear_400_and_nothing_is_half_stored() {
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let server = Server::start(dir.path(), &functions);
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Pass", "End": true}}});
    assert_eq!(server.call("PUT", "/api/v1/workflows/p", Some(def)).0, 200);

    let (status, body) = server.call(
        "POST",
        "/api/v1/workflows/p/executions",
        Some(json!({"input": nested(126)})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("nested more than 100 levels"),
        "{body}"
    );

    let (status, done) = server.call(
        "POST",
        "/api/v1/workflows/p/executions?wait=10",
        Some(json!({"input": nested(100)})),
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCEEDED");
    let id = done["executionId"].as_str().unwrap();
    assert_eq!(
        server
            .call("GET", &format!("/api/v1/executions/{id}"), None)
            .0,
        200
    );
    assert_eq!(
        server
            .call("GET", &format!("/api/v1/executions/{id}/history"), None)
            .0,
        200
    );
    let (status, list) = server.call("GET", "/api/v1/executions?workflow=p", None);
    assert_eq!(status, 200);
    assert_eq!(
        list["executions"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    let (status, summary) = server.call("GET", "/api/v1/summary", None);
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary["total"], 1,
        "only the accepted execution: {summary}"
    );
    assert_eq!(summary["executions"]["RUNNING"], 0, "{summary}");
}
