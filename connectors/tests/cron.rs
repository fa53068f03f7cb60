//! The cron source over real time: every fire once, across a restart.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{wait_until, RecordingSink};
use serde_json::json;
use sluice_connectors::{cron, CancellationToken, SourceStatus};
use sluice_dsl::source::SourceDef;

async fn run_for(
    sink: &Arc<RecordingSink>,
    def: &serde_json::Value,
    secs: u64,
) -> Arc<SourceStatus> {
    let def = SourceDef::from_value(def).unwrap();
    let status = Arc::new(SourceStatus::new());
    let stop = CancellationToken::new();
    let task = tokio::spawn(cron::run(def, sink.clone(), status.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    status
}

fn fire_times(sink: &RecordingSink) -> Vec<DateTime<Utc>> {
    sink.events()
        .iter()
        .map(|e| {
            DateTime::parse_from_rfc3339(e["time"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_within_the_catch_up_window_neither_misses_nor_repeats() {
    let sink = RecordingSink::new();
    let def = json!({"name": "tick", "kind": "cron", "schedule": "* * * * * *",
                     "timezone": "Europe/Paris", "catchUp": {"maxSeconds": 60}, "data": {"job": "t"}});
    run_for(&sink, &def, 3).await;
    let before = sink.events().len();
    assert!(before >= 2, "fired every second: {before}");
    // Down for 2 s: the fires of those seconds are made at the restart.
    tokio::time::sleep(Duration::from_secs(2)).await;
    run_for(&sink, &def, 2).await;
    let times = fire_times(&sink);
    assert!(times.len() >= before + 3);
    for w in times.windows(2) {
        assert_eq!(
            (w[1] - w[0]).num_seconds(),
            1,
            "consecutive seconds, none missed or repeated: {times:?}"
        );
    }
    let ev = &sink.events()[0];
    assert_eq!(ev["id"], format!("tick/{}", ev["time"].as_str().unwrap()));
    assert_eq!(ev["data"], json!({"job": "t"}));
    assert_eq!(ev["type"], "sluice.cron.fire");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_catch_up_missed_fires_are_reported_not_made() {
    let sink = RecordingSink::new();
    let def = json!({"name": "tock", "kind": "cron", "schedule": "* * * * * *"});
    run_for(&sink, &def, 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Two seconds, so that at least one fire happens after the gap even
    // on a busy machine.
    let status = run_for(&sink, &def, 2).await;
    let err = status.snapshot().last_error.unwrap_or_default();
    assert!(err.contains("missed"), "{err}");
    let times = fire_times(&sink);
    assert!(
        times.windows(2).any(|w| (w[1] - w[0]).num_seconds() >= 3),
        "a gap: {times:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_fire_is_retried_not_lost_and_a_one_shot_fires_once() {
    let sink = RecordingSink::new();
    sink.fail_next.store(2, std::sync::atomic::Ordering::SeqCst);
    let at = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let def = SourceDef::from_value(&json!({"name": "once", "kind": "cron", "at": at})).unwrap();
    let status = Arc::new(SourceStatus::new());
    let task = tokio::spawn(cron::run(
        def,
        sink.clone(),
        status.clone(),
        CancellationToken::new(),
    ));
    wait_until(20, "the one-shot fire", || sink.events().len() == 1).await;
    // The task ends by itself after a one-shot.
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sink.attempts.lock().unwrap().len(), 3);
    assert_eq!(sink.events().len(), 1);
}
