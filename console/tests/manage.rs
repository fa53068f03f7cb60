//! Aliases and DELETE: routing starts by weight, and removing workflows and
//! executions without leaving partial state.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use support::*;

fn result(n: u64) -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": n, "End": true}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_route_starts_by_weight_and_can_be_replaced_and_deleted() {
    let env = env().await;
    env.deploy("greet", result(1)).await;
    env.deploy("greet", result(2)).await;

    let set = env
        .call(
            Method::PUT,
            "/api/v1/workflows/greet/aliases/canary",
            Some(json!({"routes": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(
        set.json()["aliases"]["canary"],
        json!([{"version": 1, "weight": 50}, {"version": 2, "weight": 50}])
    );
    let mut versions = BTreeMap::new();
    for _ in 0..40 {
        let id = env.start("greet:canary", json!({})).await;
        let e = env.wait_until_done(&id).await;
        *versions.entry(e.version).or_insert(0) += 1;
        assert_eq!(e.output, Some(json!(e.version)), "the pinned version ran");
    }
    assert_eq!(
        versions.keys().copied().collect::<Vec<_>>(),
        [1, 2],
        "{versions:?}"
    );

    // Replace it: all traffic to version 1.
    let set = env
        .call(
            Method::PUT,
            "/api/v1/workflows/greet/aliases/canary",
            Some(json!({"routes": [{"version": 1, "weight": 100}]})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    for _ in 0..5 {
        let id = env.start("greet:canary", json!({})).await;
        assert_eq!(env.wait_until_done(&id).await.version, 1);
    }

    let gone = env
        .call(
            Method::DELETE,
            "/api/v1/workflows/greet/aliases/canary",
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    env.call(
        Method::DELETE,
        "/api/v1/workflows/greet/aliases/canary",
        None,
    )
    .await
    .error(StatusCode::NOT_FOUND);
    let a = env
        .post(
            "/api/v1/workflows/greet:canary/executions",
            json!({"input": {}}),
        )
        .await;
    a.error(StatusCode::NOT_FOUND);
    assert!(a.json()["message"]
        .as_str()
        .unwrap()
        .contains("no alias 'canary'"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_alias_routes_are_refused_with_the_field_and_nothing_changes() {
    let env = env().await;
    env.deploy("greet", result(1)).await;
    let cases = [
        (json!({"routes": []}), "/routes: give 1 or 2 routes"),
        (
            json!({"routes": [{"version": 3, "weight": 100}]}),
            "/routes/0/version: workflow 'greet' has no version 3",
        ),
        (
            json!({"routes": [{"version": 1, "weight": 0}]}),
            "/routes/0/weight",
        ),
        (
            json!({"routes": [{"version": 1, "weight": 60}]}),
            "add up to 60; make them add up to 100",
        ),
        (
            json!({"routes": [{"version": 1, "weight": 50}, {"version": 1, "weight": 50}]}),
            "/routes/1/version: version 1 is routed twice",
        ),
        (json!({"route": []}), "unknown field"),
    ];
    for (body, expected) in cases {
        let a = env
            .call(
                Method::PUT,
                "/api/v1/workflows/greet/aliases/live",
                Some(body.clone()),
            )
            .await;
        a.error(StatusCode::BAD_REQUEST);
        let message = a.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let a = env
        .call(
            Method::PUT,
            "/api/v1/workflows/greet/aliases/42",
            Some(json!({"routes": [{"version": 1, "weight": 100}]})),
        )
        .await;
    a.error(StatusCode::BAD_REQUEST);
    env.call(
        Method::PUT,
        "/api/v1/workflows/nope/aliases/live",
        Some(json!({"routes": [{"version": 1, "weight": 100}]})),
    )
    .await
    .error(StatusCode::NOT_FOUND);
    let described = env.get("/api/v1/workflows/greet").await.json();
    assert_eq!(described["aliases"], json!({}), "no alias was half-made");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_workflow_waits_for_its_running_executions_and_keeps_their_records() {
    let env = env().await;
    env.deploy("sleepy", sleepy()).await;
    let id = env.start("sleepy", json!({})).await;
    let refused = env
        .call(Method::DELETE, "/api/v1/workflows/sleepy", None)
        .await;
    refused.error(StatusCode::CONFLICT);
    assert!(refused.text.contains(&id), "{}", refused.text);
    assert_eq!(
        env.get("/api/v1/workflows/sleepy").await.status,
        StatusCode::OK
    );

    env.post(&format!("/api/v1/executions/{id}/stop"), json!({}))
        .await;
    let gone = env
        .call(Method::DELETE, "/api/v1/workflows/sleepy", None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    env.get("/api/v1/workflows/sleepy")
        .await
        .error(StatusCode::NOT_FOUND);
    env.call(Method::DELETE, "/api/v1/workflows/sleepy", None)
        .await
        .error(StatusCode::NOT_FOUND);
    let e = env.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(
        e.json()["status"],
        "ABORTED",
        "the execution stays readable"
    );

    // The name can be used again, from version 1, with the new definition.
    let again = env.deploy("sleepy", result(7)).await;
    assert_eq!(again.json()["version"], 1);
    let id = env.start("sleepy", json!({})).await;
    assert_eq!(env.wait_until_done(&id).await.output, Some(json!(7)));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_execution_removes_it_everywhere_once_it_has_ended() {
    let env = env().await;
    env.deploy("sleepy", sleepy()).await;
    let running = env.start("sleepy", json!({})).await;
    env.call(
        Method::DELETE,
        &format!("/api/v1/executions/{running}"),
        None,
    )
    .await
    .error(StatusCode::CONFLICT);

    env.deploy("greet", result(1)).await;
    let named = env
        .post(
            "/api/v1/workflows/greet/executions",
            json!({"input": {}, "name": "only-once"}),
        )
        .await;
    let id = named.json()["executionId"].as_str().unwrap().to_string();
    env.wait_until_done(&id).await;
    let gone = env
        .call(Method::DELETE, &format!("/api/v1/executions/{id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    env.get(&format!("/api/v1/executions/{id}"))
        .await
        .error(StatusCode::NOT_FOUND);
    env.get(&format!("/api/v1/executions/{id}/history"))
        .await
        .error(StatusCode::NOT_FOUND);
    let listed = env.get("/api/v1/executions?workflow=greet").await.json();
    assert_eq!(listed["executions"], json!([]), "{listed}");
    env.call(Method::DELETE, &format!("/api/v1/executions/{id}"), None)
        .await
        .error(StatusCode::NOT_FOUND);

    // Its name is free again: the same name starts a new execution.
    let again = env
        .post(
            "/api/v1/workflows/greet/executions",
            json!({"input": {}, "name": "only-once"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_ne!(again.json()["executionId"].as_str().unwrap(), id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_version_leaves_listings_starts_and_aliases() {
    let env = env().await;
    for n in 1..=3 {
        env.deploy("greet", result(n)).await;
    }
    let set = env
        .call(
            Method::PUT,
            "/api/v1/workflows/greet/aliases/live",
            Some(json!({"routes": [{"version": 2, "weight": 100}]})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let routed = env
        .call(Method::DELETE, "/api/v1/workflows/greet/versions/2", None)
        .await;
    routed.error(StatusCode::CONFLICT);
    assert!(routed.text.contains("alias 'live'"), "{}", routed.text);

    let gone = env
        .call(Method::DELETE, "/api/v1/workflows/greet/versions/1", None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    let wf = env.call(Method::GET, "/api/v1/workflows/greet", None).await;
    assert_eq!(wf.json()["versions"], json!([2, 3]), "{}", wf.text);
    env.post("/api/v1/workflows/greet:1/executions", json!({}))
        .await
        .error(StatusCode::NOT_FOUND);
    env.call(
        Method::PUT,
        "/api/v1/workflows/greet/aliases/live",
        Some(json!({"routes": [{"version": 1, "weight": 100}]})),
    )
    .await
    .error(StatusCode::BAD_REQUEST);
    env.call(Method::DELETE, "/api/v1/workflows/greet/versions/1", None)
        .await
        .error(StatusCode::NOT_FOUND);
    // The latest version is the workflow's definition: it stays.
    let latest = env
        .call(Method::DELETE, "/api/v1/workflows/greet/versions/3", None)
        .await;
    latest.error(StatusCode::CONFLICT);
    assert!(latest.text.contains("latest"), "{}", latest.text);
    // The latest and the unqualified name are untouched.
    let id = env.start("greet", json!({})).await;
    assert_eq!(env.wait_until_done(&id).await.output, Some(json!(3)));
}
