//! Listing executions by workflow, status and start time through the
//! listing indexes, with pagination, as statuses change.

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::Arc;
use std::time::Duration;

struct NoTasks;

#[async_trait::async_trait]
impl Executor for NoTasks {
    async fn invoke(&self, _task: TaskInvocation) -> Result<Value, TaskError> {
        Err(TaskError::new("States.TaskFailed", "no tasks in this test"))
    }
}

async fn engine() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.durability = Durability::Process;
    let engine = Engine::open(config, Arc::new(NoTasks)).unwrap();
    engine.recover().await.unwrap();
    (engine, dir)
}

async fn start(engine: &Engine, workflow: &str) -> Execution {
    let req = StartRequest {
        input: json!({}),
        name: None,
    };
    let (e, _) = engine.start(workflow, req).await.unwrap();
    // Distinct start milliseconds keep the expected order exact.
    tokio::time::sleep(Duration::from_millis(3)).await;
    e
}

fn ids(engine: &Engine, filter: ListFilter) -> Vec<String> {
    engine
        .list_executions(&filter)
        .unwrap()
        .executions
        .into_iter()
        .map(|e| e.execution_id.to_string())
        .collect()
}

fn by(workflow: Option<&str>, status: Option<Status>) -> ListFilter {
    ListFilter {
        workflow: workflow.map(str::to_string),
        status,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_by_workflow_status_and_time_follow_status_changes() {
    let (engine, _dir) = engine().await;
    let ok = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let bad = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}});
    let slow =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    engine.deploy("ok", ok).await.unwrap();
    engine.deploy("bad", bad).await.unwrap();
    engine.deploy("slow", slow).await.unwrap();
    let mut all = Vec::new();
    for w in ["ok", "bad", "slow", "ok", "bad", "slow"] {
        let e = start(&engine, w).await;
        engine
            .wait(
                e.execution_id.as_str(),
                Duration::from_millis(if w == "slow" { 1 } else { 5000 }),
            )
            .await
            .unwrap();
        all.push((w, e));
    }
    let id = |i: usize| all[i].1.execution_id.to_string();
    assert_eq!(ids(&engine, by(Some("ok"), None)), [id(3), id(0)]);
    assert_eq!(ids(&engine, by(None, Some(Status::Failed))), [id(4), id(1)]);
    assert_eq!(
        ids(&engine, by(None, Some(Status::Running))),
        [id(5), id(2)]
    );
    assert_eq!(
        ids(&engine, by(Some("slow"), Some(Status::Running))),
        [id(5), id(2)]
    );
    assert!(ids(&engine, by(Some("ok"), Some(Status::Failed))).is_empty());

    // Stopping moves the execution from RUNNING to ABORTED in every index.
    engine.stop(&id(2), None, None).await.unwrap();
    assert_eq!(ids(&engine, by(None, Some(Status::Running))), [id(5)]);
    assert_eq!(
        ids(&engine, by(Some("slow"), Some(Status::Aborted))),
        [id(2)]
    );
    assert_eq!(ids(&engine, by(Some("slow"), None)), [id(5), id(2)]);
    // Redriving moves it back.
    engine.redrive(&id(2)).await.unwrap();
    assert_eq!(
        ids(&engine, by(None, Some(Status::Running))),
        [id(5), id(2)]
    );
    assert!(ids(&engine, by(None, Some(Status::Aborted))).is_empty());

    // Start-time window: [after, before).
    let ms = |i: usize| {
        sluice_dsl::timestamp::parse(&all[i].1.started_at)
            .unwrap()
            .timestamp_millis()
    };
    let window = ListFilter {
        started_after_ms: Some(ms(1)),
        started_before_ms: Some(ms(4)),
        ..Default::default()
    };
    assert_eq!(ids(&engine, window), [id(3), id(2), id(1)]);
    let bad_window = ListFilter {
        workflow: Some("bad".into()),
        started_after_ms: Some(ms(2)),
        ..Default::default()
    };
    assert_eq!(ids(&engine, bad_window), [id(4)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filtered_listing_pages_with_next_token() {
    let (engine, _dir) = engine().await;
    engine
        .deploy(
            "a",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    engine
        .deploy(
            "b",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    let mut mine = Vec::new();
    for i in 0..7 {
        let e = start(&engine, if i % 2 == 0 { "a" } else { "b" }).await;
        if i % 2 == 0 {
            mine.push(e.execution_id.to_string());
        }
    }
    mine.reverse();
    let mut seen = Vec::new();
    let mut filter = ListFilter {
        workflow: Some("a".into()),
        limit: Some(3),
        ..Default::default()
    };
    loop {
        let page = engine.list_executions(&filter).unwrap();
        assert!(page.executions.iter().all(|e| e.workflow == "a"));
        seen.extend(page.executions.iter().map(|e| e.execution_id.to_string()));
        match page.next_token {
            Some(t) => filter.next_token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, mine);
    // A token from another filter is refused with a clear message.
    let wrong = ListFilter {
        workflow: Some("b".into()),
        next_token: Some("x/a/00000000000000000001/z".into()),
        ..Default::default()
    };
    let err = engine.list_executions(&wrong).unwrap_err().to_string();
    assert!(err.contains("nextToken"), "{err}");
}

fn all_pages(engine: &Engine, mut filter: ListFilter) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let page = engine.list_executions(&filter).unwrap();
        assert!(page.executions.len() <= filter.limit.unwrap_or(100));
        seen.extend(page.executions.iter().map(|e| e.execution_id.to_string()));
        match page.next_token {
            Some(t) => filter.next_token = Some(t),
            None => return seen,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_across_workflows_merges_them_and_pages_with_next_token() {
    let (engine, _dir) = engine().await;
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let fail = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}});
    // "a-b" sorts before "a" in the index ('-' < '/'), "b" after both.
    engine.deploy("a", pass.clone()).await.unwrap();
    engine.deploy("a-b", fail).await.unwrap();
    engine.deploy("b", pass).await.unwrap();
    let mut started = Vec::new();
    for w in ["b", "a", "a-b", "a", "b", "a-b", "a", "b", "a"] {
        let e = start(&engine, w).await;
        engine
            .wait(e.execution_id.as_str(), Duration::from_secs(10))
            .await
            .unwrap();
        started.push((w, e.execution_id.to_string()));
    }
    let newest_first = |keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut v: Vec<String> = started
            .iter()
            .filter(|(w, _)| keep(w))
            .map(|(_, id)| id.clone())
            .collect();
        v.reverse();
        v
    };
    for limit in [1, 2, 4, 100] {
        let every = ListFilter {
            limit: Some(limit),
            ..Default::default()
        };
        assert_eq!(
            all_pages(&engine, every),
            newest_first(&|_| true),
            "limit {limit}"
        );
        let succeeded = ListFilter {
            status: Some(Status::Succeeded),
            limit: Some(limit),
            ..Default::default()
        };
        assert_eq!(
            all_pages(&engine, succeeded),
            newest_first(&|w| w != "a-b"),
            "limit {limit}"
        );
    }
    // Tokens keep the form older versions gave (`i/` + start ms + id), so
    // a client paging across an upgrade goes on where it was.
    let first = engine
        .list_executions(&ListFilter {
            limit: Some(4),
            ..Default::default()
        })
        .unwrap();
    let token = first.next_token.unwrap();
    assert!(token.starts_with("i/"), "{token}");
    assert!(token.ends_with(&newest_first(&|_| true)[3]), "{token}");
    assert_eq!(engine.count_executions(None, None).unwrap(), 9);
    assert_eq!(
        engine.count_executions(None, Some(Status::Failed)).unwrap(),
        2
    );
    assert_eq!(engine.count_executions(Some("a"), None).unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_raw_history_json_is_the_history_as_the_api_shows_it() {
    let (engine, _dir) = engine().await;
    engine
        .deploy("h", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}, "Q": {"Type": "Pass", "End": true}}}))
        .await
        .unwrap();
    let e = start(&engine, "h").await;
    let id = e.execution_id.as_str();
    engine.wait(id, Duration::from_secs(10)).await.unwrap();
    let raw: Value = serde_json::from_slice(&engine.history_json(id).unwrap()).unwrap();
    let parsed = json!({"events": engine.history(id).unwrap()});
    assert_eq!(raw, parsed);
    assert_eq!(raw["events"].as_array().unwrap().len(), 6);
    assert!(engine.history_json("nope").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_execution_leaves_every_listing_index() {
    let (engine, _dir) = engine().await;
    engine
        .deploy(
            "d",
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}),
        )
        .await
        .unwrap();
    let gone = start(&engine, "d").await;
    let kept = start(&engine, "d").await;
    for e in [&gone, &kept] {
        engine
            .wait(e.execution_id.as_str(), Duration::from_secs(10))
            .await
            .unwrap();
    }
    engine
        .delete_execution(gone.execution_id.as_str())
        .await
        .unwrap();
    let kept_id = vec![kept.execution_id.to_string()];
    assert_eq!(ids(&engine, by(None, None)), kept_id);
    assert_eq!(ids(&engine, by(Some("d"), None)), kept_id);
    assert_eq!(ids(&engine, by(None, Some(Status::Failed))), kept_id);
    assert_eq!(ids(&engine, by(Some("d"), Some(Status::Failed))), kept_id);
    assert_eq!(engine.count_executions(Some("d"), None).unwrap(), 1);
    assert_eq!(
        engine.count_executions(None, Some(Status::Failed)).unwrap(),
        1
    );
}
