//! The catalog of functions, triggers and sources on a real sled store.

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::Arc;

struct NoTasks;

#[async_trait::async_trait]
impl Executor for NoTasks {
    async fn invoke(&self, _task: TaskInvocation) -> Result<Value, TaskError> {
        Err(TaskError::new(
            "States.TaskFailed",
            "no tasks in these tests",
        ))
    }
}

fn open(dir: &std::path::Path) -> Engine {
    Engine::open(EngineConfig::new(dir), Arc::new(NoTasks)).expect("open engine")
}

#[tokio::test]
async fn put_makes_versions_and_an_identical_put_keeps_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let v1 = engine
        .put_document("function", "resize", json!({"runtime": "wasm"}))
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let again = engine
        .put_document("function", "resize", json!({"runtime": "wasm"}))
        .await
        .unwrap();
    assert_eq!(again.version, 1, "same body, same version");
    let v2 = engine
        .put_document("function", "resize", json!({"runtime": "http"}))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);

    let latest = engine
        .document("function", "resize", None)
        .unwrap()
        .unwrap();
    assert_eq!(latest.body, json!({"runtime": "http"}));
    let first = engine
        .document("function", "resize", Some(1))
        .unwrap()
        .unwrap();
    assert_eq!(first.body, json!({"runtime": "wasm"}));
    let versions = engine.document_versions("function", "resize").unwrap();
    assert_eq!(
        versions.iter().map(|d| d.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(engine
        .document("trigger", "resize", None)
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn documents_lists_the_latest_of_each_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    for name in ["b", "a"] {
        engine
            .put_document("trigger", name, json!({"n": 1}))
            .await
            .unwrap();
    }
    engine
        .put_document("trigger", "a", json!({"n": 2}))
        .await
        .unwrap();
    engine.put_document("source", "s", json!({})).await.unwrap();
    let docs = engine.documents("trigger").unwrap();
    let seen: Vec<(String, u64)> = docs.iter().map(|d| (d.name.clone(), d.version)).collect();
    assert_eq!(seen, [("a".to_string(), 2), ("b".to_string(), 1)]);
    assert_eq!(engine.documents("source").unwrap().len(), 1);
}

#[tokio::test]
async fn aliases_point_at_existing_versions_only() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine
        .put_document("function", "f", json!(1))
        .await
        .unwrap();
    engine
        .put_document("function", "f", json!(2))
        .await
        .unwrap();
    engine
        .put_document_alias("function", "f", "live", 1)
        .await
        .unwrap();
    assert_eq!(
        engine.document_alias("function", "f", "live").unwrap(),
        Some(1)
    );
    assert_eq!(
        engine.document_aliases("function", "f").unwrap(),
        [("live".to_string(), 1)]
    );
    let err = engine
        .put_document_alias("function", "f", "live", 3)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("versions are 1 to 2"), "{err}");
    let err = engine
        .put_document_alias("function", "missing", "live", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
    assert_eq!(
        engine.document_alias("function", "f", "live").unwrap(),
        Some(1)
    );
}

#[tokio::test]
async fn a_deleted_alias_is_gone_and_its_version_stays() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine
        .put_document("function", "f", json!("one"))
        .await
        .unwrap();
    for alias in ["live", "canary"] {
        engine
            .put_document_alias("function", "f", alias, 1)
            .await
            .unwrap();
    }
    let mut changes = engine.watch_documents();
    assert!(engine
        .delete_document_alias("function", "f", "live")
        .await
        .unwrap());
    // The executors reload the function when its aliases change.
    let change = changes.recv().await.unwrap();
    assert_eq!(
        (change.kind.as_str(), change.name.as_str()),
        ("function", "f")
    );
    assert_eq!(
        engine.document_alias("function", "f", "live").unwrap(),
        None
    );
    assert_eq!(
        engine.document_aliases("function", "f").unwrap(),
        [("canary".to_string(), 1)]
    );
    let version = engine.document("function", "f", Some(1)).unwrap().unwrap();
    assert_eq!(version.body, json!("one"));
    // Again: nothing to delete. An unknown document: not found.
    assert!(!engine
        .delete_document_alias("function", "f", "live")
        .await
        .unwrap());
    let err = engine
        .delete_document_alias("function", "missing", "live")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn delete_removes_versions_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine
        .put_document("source", "orders", json!({"kind": "cron"}))
        .await
        .unwrap();
    engine
        .put_document_alias("source", "orders", "prod", 1)
        .await
        .unwrap();
    assert!(engine.delete_document("source", "orders").await.unwrap());
    assert!(engine.document("source", "orders", None).unwrap().is_none());
    assert!(engine
        .document_versions("source", "orders")
        .unwrap()
        .is_empty());
    assert!(engine
        .document_aliases("source", "orders")
        .unwrap()
        .is_empty());
    assert!(!engine.delete_document("source", "orders").await.unwrap());
    // A new put starts again at version 1.
    let doc = engine
        .put_document("source", "orders", json!({}))
        .await
        .unwrap();
    assert_eq!(doc.version, 1);
}

#[tokio::test]
async fn bad_names_and_kinds_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let err = engine
        .put_document("function", "a/b", json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("function name 'a/b' is not valid"),
        "{err}"
    );
    let err = engine
        .put_document("widget", "a", json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("use one of function, trigger, source"),
        "{err}"
    );
    engine
        .put_document("function", "f", json!({}))
        .await
        .unwrap();
    let err = engine
        .put_document_alias("function", "f", "12", 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("start it with a letter"), "{err}");
    assert!(engine.documents("function").unwrap().len() == 1);
}

#[tokio::test]
async fn watchers_hear_each_durable_change_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut changes = engine.watch_documents();
    engine
        .put_document("trigger", "t", json!({"a": 1}))
        .await
        .unwrap();
    engine
        .put_document("trigger", "t", json!({"a": 1}))
        .await
        .unwrap(); // unchanged: no announcement
    engine.delete_document("trigger", "t").await.unwrap();
    let first = changes.recv().await.unwrap();
    assert_eq!(
        first,
        DocumentChange {
            kind: "trigger".into(),
            name: "t".into(),
            version: Some(1)
        }
    );
    let second = changes.recv().await.unwrap();
    assert_eq!(second.version, None);
    assert!(changes.try_recv().is_err(), "no third change");
}

#[tokio::test]
async fn sources_keep_durable_checkpoints_and_ask_whether_executions_run() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let sink: &dyn EventSink = &engine;
    assert_eq!(
        sink.checkpoint("nightly/cron", "lastFire").await.unwrap(),
        None
    );
    sink.set_checkpoint(
        "nightly/cron",
        "lastFire",
        Some(json!("2026-11-23T00:00:00Z")),
    )
    .await
    .unwrap();
    assert_eq!(
        sink.checkpoint("nightly/cron", "lastFire").await.unwrap(),
        Some(json!("2026-11-23T00:00:00Z"))
    );
    assert_eq!(
        sink.checkpoint("nightly", "lastFire").await.unwrap(),
        None,
        "per source"
    );
    sink.set_checkpoint("nightly/cron", "lastFire", None)
        .await
        .unwrap();
    assert_eq!(
        sink.checkpoint("nightly/cron", "lastFire").await.unwrap(),
        None
    );

    let wait =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}});
    engine.deploy("slow", wait).await.unwrap();
    let req = StartRequest {
        input: json!({}),
        name: None,
    };
    let (e, _) = engine.start("slow", req).await.unwrap();
    let id = e.execution_id.to_string();
    let unknown = "0b6c0000-0000-4000-8000-000000000000".to_string();
    assert!(sink
        .any_running(&[unknown.clone(), id.clone()])
        .await
        .unwrap());
    engine.stop(&id, None, None).await.unwrap();
    assert!(!sink.any_running(&[unknown, id]).await.unwrap());
}

#[tokio::test]
async fn checkpoints_are_written_in_batches_and_listed_in_key_order_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let sink: &dyn EventSink = &engine;
    // Written out of order, with a key of another prefix and of another
    // source that must not show up.
    let entries = ["o/b", "o/a/x", "o/a.txt", "o/c", "scan"]
        .iter()
        .map(|k| (k.to_string(), Some(json!({"k": k}))))
        .collect();
    sink.set_checkpoints("bucket", entries).await.unwrap();
    sink.set_checkpoint("bucket2", "o/a", Some(json!(1)))
        .await
        .unwrap();

    let page = |after: Option<&'static str>, limit| async move {
        sink.checkpoints("bucket", "o/", after, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(None, 10).await, ["o/a.txt", "o/a/x", "o/b", "o/c"]);
    assert_eq!(page(None, 2).await, ["o/a.txt", "o/a/x"]);
    assert_eq!(page(Some("o/a/x"), 2).await, ["o/b", "o/c"]);
    assert!(page(Some("o/c"), 2).await.is_empty());
    let all = sink.checkpoints("bucket", "o/", None, 1).await.unwrap();
    assert_eq!(all[0].1, json!({"k": "o/a.txt"}));

    // Removals and puts in one batch.
    sink.set_checkpoints(
        "bucket",
        vec![("o/a.txt".into(), None), ("o/d".into(), Some(json!(4)))],
    )
    .await
    .unwrap();
    assert_eq!(page(None, 10).await, ["o/a/x", "o/b", "o/c", "o/d"]);
    assert_eq!(
        sink.checkpoint("bucket", "scan").await.unwrap(),
        Some(json!({"k": "scan"}))
    );
}
