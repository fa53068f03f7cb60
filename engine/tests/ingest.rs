//! Events in through the `EventSink` port, on a real sled store: trigger
//! rules start executions in the batch that records the event, duplicates
//! start nothing, failures are dead-lettered with their reason.

use serde_json::{json, Value};
use sluice_engine::*;
use std::sync::Arc;
use std::time::Duration;

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

fn open_with(dir: &std::path::Path, window: Duration) -> Engine {
    let mut config = EngineConfig::new(dir);
    config.durability = Durability::Process;
    config.dedupe_window = window;
    Engine::open(config, Arc::new(NoTasks)).expect("open engine")
}

fn open(dir: &std::path::Path) -> Engine {
    open_with(dir, Duration::from_secs(3600))
}

async fn setup(engine: &Engine) {
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    engine.deploy("fulfil", pass.clone()).await.unwrap();
    engine.deploy("audit", pass).await.unwrap();
    engine
        .put_document(
            "trigger",
            "orders",
            json!({"name": "orders", "workflow": "fulfil",
                   "pattern": {"type": ["order.created"], "data": {"total": [{"numeric": [">", 0]}]}},
                   "input": {"order.$": "$.data.order", "total.$": "$.data.total"}}),
        )
        .await
        .unwrap();
    engine
        .put_document(
            "trigger",
            "audit-all",
            json!({"name": "audit-all", "workflow": "audit", "pattern": {"source": [{"prefix": "shop"}]}}),
        )
        .await
        .unwrap();
}

fn event(id: &str, kind: &str, data: Value) -> InboundEvent {
    InboundEvent {
        source: "http".into(),
        event: json!({"specversion": "1.0", "id": id, "source": "shop/web", "type": kind, "data": data}),
    }
}

fn ids(o: &EventOutcome) -> Vec<String> {
    match o {
        EventOutcome::Accepted { execution_ids } | EventOutcome::Duplicate { execution_ids } => {
            execution_ids.clone()
        }
        EventOutcome::DeadLettered { reason } => panic!("dead-lettered: {reason}"),
    }
}

#[tokio::test]
async fn a_matching_event_starts_one_execution_per_rule_with_the_templated_input() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine).await;
    let out = engine
        .submit(vec![event(
            "e1",
            "order.created",
            json!({"order": "A7", "total": 12}),
        )])
        .await
        .unwrap();
    assert!(matches!(out[0], EventOutcome::Accepted { .. }));
    let started = ids(&out[0]);
    assert_eq!(started.len(), 2, "fan-out to both rules");
    let mut by_workflow: Vec<(String, Value)> = started
        .iter()
        .map(|id| {
            let e = engine.execution(id).unwrap();
            (e.workflow, e.input)
        })
        .collect();
    by_workflow.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_workflow[1],
        ("fulfil".into(), json!({"order": "A7", "total": 12}))
    );
    assert_eq!(by_workflow[0].0, "audit");
    assert_eq!(
        by_workflow[0].1["id"], "e1",
        "no template: the whole event is the input"
    );

    let other = engine
        .submit(vec![event(
            "e2",
            "order.created",
            json!({"order": "B", "total": 0}),
        )])
        .await
        .unwrap();
    assert_eq!(
        ids(&other[0]).len(),
        1,
        "only the audit rule matches a zero total"
    );
}

#[tokio::test]
async fn a_duplicate_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine).await;
    let ev = event("e1", "order.created", json!({"order": "A", "total": 1}));
    let out = engine.submit(vec![ev.clone(), ev.clone()]).await.unwrap();
    let first = ids(&out[0]);
    assert_eq!(
        out[1],
        EventOutcome::Duplicate {
            execution_ids: first.clone()
        },
        "same batch"
    );
    let out = engine.submit(vec![ev]).await.unwrap();
    assert_eq!(
        out[0],
        EventOutcome::Duplicate {
            execution_ids: first
        }
    );
    // Another source may reuse the id: only source + id together is the identity.
    let mut other = event("e1", "order.created", json!({"order": "A", "total": 1}));
    other.event["source"] = json!("shop/app");
    assert!(matches!(
        engine.submit(vec![other]).await.unwrap()[0],
        EventOutcome::Accepted { .. }
    ));
    let stats = engine.event_stats();
    assert_eq!((stats.received, stats.duplicates, stats.matched), (4, 2, 2));
    let page = engine
        .list_executions(&ListFilter {
            limit: Some(100),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(page.executions.len(), 4);
}

#[tokio::test]
async fn a_failing_template_dead_letters_that_event_only() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine).await;
    let poison = event("p1", "order.created", json!({"total": 5})); // no data.order
    let good = event("g1", "order.created", json!({"order": "G", "total": 5}));
    let out = engine.submit(vec![poison, good]).await.unwrap();
    let EventOutcome::DeadLettered { reason } = &out[0] else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("'orders'") && reason.contains("$.data.order"),
        "{reason}"
    );
    assert_eq!(ids(&out[1]).len(), 2);
    // Nothing of the poison event was started, not even by the rule whose input worked.
    let page = engine
        .list_executions(&ListFilter {
            limit: Some(100),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(page.executions.len(), 2);

    let letters = engine.dead_letters(10, None).unwrap();
    assert_eq!(letters.dead_letters.len(), 1);
    let letter = &letters.dead_letters[0];
    assert_eq!(letter.reason, *reason);
    assert_eq!(letter.source, "http");
    assert_eq!(letter.event.as_ref().unwrap()["id"], "p1");
    assert_eq!(
        engine.dead_letter_record(&letter.id).unwrap().as_ref(),
        Some(letter)
    );

    // Redelivery of the poison event does not pile up letters.
    let again = engine
        .submit(vec![event("p1", "order.created", json!({"total": 5}))])
        .await
        .unwrap();
    assert!(matches!(again[0], EventOutcome::Duplicate { .. }));
    assert_eq!(engine.dead_letters(10, None).unwrap().dead_letters.len(), 1);

    assert_eq!(
        engine
            .delete_dead_letters(vec![letter.id.clone(), "nope".into()])
            .await
            .unwrap(),
        1
    );
    assert!(engine
        .dead_letters(10, None)
        .unwrap()
        .dead_letters
        .is_empty());
    let stats = engine.event_stats();
    assert_eq!(
        (
            stats.received,
            stats.matched,
            stats.dead_lettered,
            stats.executions_started
        ),
        (3, 1, 1, 2)
    );
}

#[tokio::test]
async fn events_without_id_or_source_and_unknown_workflows_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine).await;
    engine
        .put_document(
            "trigger",
            "ghost",
            json!({"name": "ghost", "workflow": "missing", "pattern": {"type": ["ghost"]}}),
        )
        .await
        .unwrap();
    let no_id = InboundEvent {
        source: "kafka-orders".into(),
        event: json!({"source": "s", "type": "t"}),
    };
    let out = engine
        .submit(vec![no_id, event("g", "ghost", json!({}))])
        .await
        .unwrap();
    let reasons: Vec<String> = out
        .iter()
        .map(|o| match o {
            EventOutcome::DeadLettered { reason } => reason.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(reasons[0].contains("'id'"), "{}", reasons[0]);
    assert!(
        reasons[1].contains("ghost") && reasons[1].contains("missing"),
        "{}",
        reasons[1]
    );
    let letters = engine.dead_letters(1, None).unwrap();
    assert_eq!(letters.dead_letters[0].source, "kafka-orders");
    let next = engine
        .dead_letters(1, letters.next_token.as_deref())
        .unwrap();
    assert_eq!(next.dead_letters.len(), 1);
    assert_ne!(next.dead_letters[0].id, letters.dead_letters[0].id);
    assert!(next.next_token.is_none());
}

#[tokio::test]
async fn unparseable_messages_go_to_the_inbox_through_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let sink: Arc<dyn EventSink> = Arc::new(engine.clone());
    sink.dead_letter(DeadLetter {
        source: "amqp-orders".into(),
        reason: "the body is not JSON".into(),
        body: "<xml/>".into(),
        metadata: json!({"deliveryTag": 7}),
    })
    .await
    .unwrap();
    let letter = &engine.dead_letters(10, None).unwrap().dead_letters[0];
    assert_eq!(letter.body.as_deref(), Some("<xml/>"));
    assert_eq!(letter.metadata["deliveryTag"], 7);
    assert!(letter.event.is_none());
}

#[tokio::test]
async fn trigger_changes_take_effect_for_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine).await;
    let out = engine
        .submit(vec![event(
            "a",
            "order.created",
            json!({"order": 1, "total": 1}),
        )])
        .await
        .unwrap();
    assert_eq!(ids(&out[0]).len(), 2);
    engine
        .delete_document("trigger", "audit-all")
        .await
        .unwrap();
    let out = engine
        .submit(vec![event(
            "b",
            "order.created",
            json!({"order": 1, "total": 1}),
        )])
        .await
        .unwrap();
    assert_eq!(ids(&out[0]).len(), 1);
    engine
        .put_document(
            "trigger",
            "orders",
            json!({"name": "orders", "workflow": "fulfil", "pattern": {"type": ["order.paid"]}}),
        )
        .await
        .unwrap();
    let out = engine
        .submit(vec![event(
            "c",
            "order.created",
            json!({"order": 1, "total": 1}),
        )])
        .await
        .unwrap();
    assert!(ids(&out[0]).is_empty());
    let out = engine
        .submit(vec![event("d", "order.paid", json!({}))])
        .await
        .unwrap();
    assert_eq!(ids(&out[0]).len(), 1);
}

#[tokio::test]
async fn after_the_window_a_redelivery_finds_the_same_execution() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_with(dir.path(), Duration::from_millis(200));
    setup(&engine).await;
    let ev = event("e1", "order.created", json!({"order": "A", "total": 1}));
    let first = ids(&engine.submit(vec![ev.clone()]).await.unwrap()[0]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(engine.prune_dedupe().await.unwrap() >= 1);
    let out = engine.submit(vec![ev]).await.unwrap();
    // Past the window the event is new again, but its executions' names are
    // derived from rule + source + id: the same executions, none doubled.
    assert!(matches!(out[0], EventOutcome::Accepted { .. }));
    assert_eq!(ids(&out[0]), first);
}

#[tokio::test]
async fn an_event_nested_too_deep_to_store_is_dead_lettered_with_the_reason_alone() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine).await;
    let mut deep = json!(1);
    for _ in 0..120 {
        deep = json!([deep]);
    }
    let out = engine
        .submit(vec![
            event("deep", "order.created", deep),
            event("fine", "order.created", json!({"order": "B1", "total": 3})),
        ])
        .await
        .unwrap();
    match &out[0] {
        EventOutcome::DeadLettered { reason } => {
            assert!(
                reason.contains("the event is nested more than 100 levels"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ids(&out[1]).len(), 2, "the next event is not held up");
    let letters = engine.dead_letters(10, None).unwrap();
    assert_eq!(letters.dead_letters.len(), 1);
    let id = letters.dead_letters[0].id.clone();
    assert!(
        engine.dead_letter_record(&id).unwrap().is_some(),
        "readable back"
    );
}
