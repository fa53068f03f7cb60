//! The 2024 additions to ASL on the durable engine: workflow variables,
//! Distributed Map (child executions, ItemReader, ResultWriter through the
//! Buckets port), and Tasks that start child executions.

use serde_json::{json, Value};
use sluice_engine::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `sluice:function:double` doubles `n`; `sluice:function:boom` fails.
struct Functions;

#[async_trait::async_trait]
impl Executor for Functions {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        match task.resource.as_str() {
            "sluice:function:double" => Ok(json!(task.payload["n"].as_i64().unwrap_or(0) * 2)),
            "sluice:function:boom" => Err(TaskError::new("Boom", "it broke")),
            other => Err(TaskError::new(
                "States.TaskFailed",
                format!("no function {other}"),
            )),
        }
    }
}

/// Buckets in memory.
#[derive(Default)]
struct MemoryBuckets {
    objects: Mutex<HashMap<(String, String), Vec<u8>>>,
}

#[async_trait::async_trait]
impl Buckets for MemoryBuckets {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskError> {
        self.objects
            .lock()
            .unwrap()
            .get(&(bucket.into(), key.into()))
            .cloned()
            .ok_or_else(|| {
                TaskError::new("States.ItemReaderFailed", format!("no s3://{bucket}/{key}"))
            })
    }
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        limit: Option<u64>,
    ) -> Result<Vec<ObjectInfo>, TaskError> {
        let mut out: Vec<ObjectInfo> = self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .map(|((_, k), v)| ObjectInfo {
                key: k.clone(),
                size: v.len() as u64,
                etag: None,
                last_modified: "2026-01-01T00:00:00.000Z".into(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out.truncate(limit.unwrap_or(u64::MAX) as usize);
        Ok(out)
    }
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), TaskError> {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), body);
        Ok(())
    }
}

struct TestEnv {
    engine: Engine,
    buckets: Arc<MemoryBuckets>,
    _dir: tempfile::TempDir,
}

async fn env() -> TestEnv {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.durability = Durability::Process;
    let engine = Engine::open(config, Arc::new(Functions)).unwrap();
    let buckets = Arc::new(MemoryBuckets::default());
    engine.set_buckets(buckets.clone());
    engine.recover().await.unwrap();
    TestEnv {
        engine,
        buckets,
        _dir: dir,
    }
}

impl TestEnv {
    async fn run(&self, workflow: &str, definition: Value, input: Value) -> Execution {
        self.engine.deploy(workflow, definition).await.unwrap();
        let (e, _) = self
            .engine
            .start(workflow, StartRequest { input, name: None })
            .await
            .unwrap();
        self.engine
            .wait(e.execution_id.as_str(), Duration::from_secs(20))
            .await
            .unwrap()
    }

    fn put(&self, bucket: &str, key: &str, body: &str) {
        self.buckets
            .objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), body.as_bytes().to_vec());
    }

    fn object(&self, bucket: &str, key: &str) -> Option<Value> {
        let objects = self.buckets.objects.lock().unwrap();
        objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|b| serde_json::from_slice(b).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_flow_across_tasks_and_show_in_history() {
    let env = env().await;
    let e = env
        .run(
            "vars",
            json!({"StartAt": "Init", "States": {
                "Init": {"Type": "Pass", "Assign": {"factor": 3, "label": "x"}, "Next": "Double"},
                "Double": {"Type": "Task", "Resource": "sluice:function:double", "Parameters": {"n.$": "$factor"},
                           "Assign": {"doubled.$": "$"}, "ResultPath": null, "Next": "Each"},
                "Each": {"Type": "Map", "ItemsPath": "$.items",
                         "ItemProcessor": {"StartAt": "Use", "States": {"Use": {"Type": "Pass", "Parameters": {"v.$": "$", "d.$": "$doubled", "l.$": "$label"}, "End": true}}},
                         "End": true}
            }}),
            json!({"items": [1, 2]}),
        )
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(
        e.output,
        Some(json!([{"v": 1, "d": 6, "l": "x"}, {"v": 2, "d": 6, "l": "x"}]))
    );
    let history = env.engine.history(e.execution_id.as_str()).unwrap();
    let exited = history
        .iter()
        .find(|h| h.kind == "PassStateExited" && h.details["name"] == "Init")
        .unwrap();
    assert_eq!(
        exited.details["assignedVariables"],
        json!({"factor": "3", "label": "\"x\""})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fail_state_without_error_ends_with_no_error_name() {
    let env = env().await;
    let e = env
        .run(
            "fail",
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!((e.error, e.cause), (None, None));
}

fn distributed(processor: Value, extra: Value) -> Value {
    let mut map = json!({"Type": "Map", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "W", "States": processor}});
    for (k, v) in extra.as_object().unwrap() {
        map[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": map}})
}

#[tokio::test(flavor = "multi_thread")]
async fn distributed_map_runs_each_item_as_a_linked_child_execution() {
    let env = env().await;
    let def = distributed(
        json!({"W": {"Type": "Task", "Resource": "sluice:function:double", "End": true}}),
        json!({"ItemsPath": "$.items", "ItemSelector": {"n.$": "$$.Map.Item.Value"}, "MaxConcurrency": 2, "Label": "Doubler"}),
    );
    let e = env
        .run("dmap", def, json!({"items": [1, 2, 3, 4, 5]}))
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(e.output, Some(json!([2, 4, 6, 8, 10])));
    let page = env
        .engine
        .list_executions(&ListFilter {
            workflow: Some("dmap".into()),
            ..Default::default()
        })
        .unwrap();
    let children: Vec<&Execution> = page
        .executions
        .iter()
        .filter(|x| x.parent.is_some())
        .collect();
    assert_eq!(children.len(), 5);
    let mut indexes: Vec<u64> = children
        .iter()
        .map(|c| c.parent.as_ref().unwrap().index.unwrap())
        .collect();
    indexes.sort();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4]);
    for c in &children {
        let link = c.parent.as_ref().unwrap();
        assert_eq!(link.execution_id, e.execution_id.to_string());
        assert_eq!(link.state, "M");
        assert_eq!(c.status, Status::Succeeded);
    }
    let kinds: Vec<String> = env
        .engine
        .history(e.execution_id.as_str())
        .unwrap()
        .into_iter()
        .map(|h| h.kind)
        .collect();
    assert!(kinds.contains(&"MapRunStarted".to_string()), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn distributed_map_children_cannot_read_outer_variables() {
    let env = env().await;
    let mut def = distributed(
        json!({"W": {"Type": "Pass", "Parameters": {"x.$": "$outer"}, "End": true}}),
        json!({"Items": null}),
    );
    def["States"]["M"].as_object_mut().unwrap().remove("Items");
    def["States"]["M"]["ItemsPath"] = json!("$.items");
    def["StartAt"] = json!("Set");
    def["States"]["Set"] = json!({"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"});
    let e = env.run("isolated", def, json!({"items": [1]})).await;
    assert_eq!(e.status, Status::Failed, "{e:?}");
    assert_eq!(e.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test(flavor = "multi_thread")]
async fn item_reader_reads_json_and_csv_and_result_writer_writes_the_results() {
    let env = env().await;
    env.put("in", "items.json", r#"[{"n": 1}, {"n": 2}, {"n": 3}]"#);
    env.put("in", "items.csv", "n,name\n4,a\n5,b\n");
    let reader = |key: &str, input_type: &str| {
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": input_type},
               "Parameters": {"Bucket": "in", "Key": key}})
    };
    let task = json!({"W": {"Type": "Task", "Resource": "sluice:function:double", "End": true}});
    let e = env
        .run(
            "read-json",
            distributed(
                task.clone(),
                json!({"ItemReader": reader("items.json", "JSON")}),
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.output, Some(json!([2, 4, 6])), "{e:?}");

    let pass = json!({"W": {"Type": "Pass", "End": true}});
    let e = env
        .run(
            "read-csv",
            distributed(pass, json!({"ItemReader": reader("items.csv", "CSV")})),
            json!({}),
        )
        .await;
    assert_eq!(
        e.output,
        Some(json!([{"n": "4", "name": "a"}, {"n": "5", "name": "b"}])),
        "{e:?}"
    );

    let e = env
        .run(
            "write",
            distributed(
                task,
                json!({"ItemReader": reader("items.json", "JSON"),
                       "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs"}}}),
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    let out = e.output.unwrap();
    let manifest_key = out["ResultWriterDetails"]["Key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out["ResultWriterDetails"]["Bucket"], json!("out"));
    assert!(manifest_key.starts_with("runs/") && manifest_key.ends_with("/manifest.json"));
    let manifest = env.object("out", &manifest_key).unwrap();
    let succeeded_key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .unwrap()
        .to_string();
    let succeeded = env.object("out", &succeeded_key).unwrap();
    let mut outputs: Vec<String> = succeeded
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Output"].as_str().unwrap().to_string())
        .collect();
    outputs.sort();
    assert_eq!(outputs, vec!["2", "4", "6"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_object_fails_the_map_with_item_reader_failed() {
    let env = env().await;
    let def = distributed(
        json!({"W": {"Type": "Pass", "End": true}}),
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                               "Parameters": {"Bucket": "in", "Key": "nope.json"}}}),
    );
    let e = env.run("missing", def, json!({})).await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error.as_deref(), Some("States.ItemReaderFailed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn distributed_map_tolerates_failures_up_to_its_threshold() {
    let env = env().await;
    let def = distributed(
        json!({"W": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}], "Default": "Ok"},
               "Boom": {"Type": "Task", "Resource": "sluice:function:boom", "End": true},
               "Ok": {"Type": "Pass", "End": true}}),
        json!({"ItemsPath": "$.items", "ToleratedFailureCount": 1}),
    );
    let e = env
        .run("tolerant", def.clone(), json!({"items": [1, 2, 3]}))
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    assert_eq!(e.output.unwrap()[1]["Error"], json!("Boom"));
    let e = env.run("tolerant", def, json!({"items": [2, 2, 3]})).await;
    assert_eq!(
        e.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_start_child_executions_and_await_them() {
    let env = env().await;
    env.engine
        .deploy("child", json!({"StartAt": "C", "States": {"C": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": true}}}))
        .await
        .unwrap();
    env.engine
        .deploy("failing", json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "SomeFailure", "Cause": "why"}}}))
        .await
        .unwrap();
    let start = |resource: &str, target: &str| {
        json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": resource,
            "Parameters": {"StateMachineArn": format!("arn:aws:states:us-east-1:000000000000:stateMachine:{target}"), "Input": {"x": 7}}, "End": true}}})
    };
    let e = env
        .run(
            "p1",
            start("arn:aws:states:::states:startExecution.sync", "child"),
            json!({}),
        )
        .await;
    assert_eq!(e.status, Status::Succeeded, "{e:?}");
    let out = e.output.unwrap();
    assert_eq!(
        (out["Status"].clone(), out["Output"].clone()),
        (json!("SUCCEEDED"), json!("{\"got\":7}"))
    );
    assert_eq!(out["Input"], json!("{\"x\":7}"));

    let e = env
        .run(
            "p2",
            start("arn:aws:states:::states:startExecution.sync:2", "child"),
            json!({}),
        )
        .await;
    assert_eq!(e.output.unwrap()["Output"], json!({"got": 7}));

    let e = env
        .run(
            "p3",
            start("arn:aws:states:::states:startExecution", "child"),
            json!({}),
        )
        .await;
    let out = e.output.unwrap();
    assert!(
        out["ExecutionArn"]
            .as_str()
            .unwrap()
            .contains(":execution:child:"),
        "{out}"
    );
    assert!(out.get("StartDate").is_some());

    let e = env
        .run(
            "p4",
            start("arn:aws:states:::states:startExecution.sync", "failing"),
            json!({}),
        )
        .await;
    assert_eq!(e.error.as_deref(), Some("States.TaskFailed"), "{e:?}");
    let cause: Value = serde_json::from_str(e.cause.as_deref().unwrap()).unwrap();
    assert_eq!(
        (cause["Error"].clone(), cause["Status"].clone()),
        (json!("SomeFailure"), json!("FAILED"))
    );

    let e = env
        .run(
            "p5",
            start("arn:aws:states:::states:startExecution.sync", "nosuch"),
            json!({}),
        )
        .await;
    assert_eq!(
        e.error.as_deref(),
        Some("StepFunctions.StateMachineDoesNotExistException"),
        "{e:?}"
    );

    let children = env
        .engine
        .list_executions(&ListFilter {
            workflow: Some("child".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(children.executions.len(), 3);
    assert!(children
        .executions
        .iter()
        .all(|c| c.parent.as_ref().is_some_and(|p| p.state == "S")));
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_that_cannot_run_are_refused_at_deploy() {
    let env = env().await;
    let err = env
        .engine
        .deploy("sqs", json!({"StartAt": "Q", "States": {"Q": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}}}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/States/Q/Resource"), "{err}");
}
