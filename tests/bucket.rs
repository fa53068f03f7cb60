//! A bucket-scanner source (`kind: "s3"`, a local folder) in a real
//! `sluice serve`: files dropped in the folder start workflows through a
//! trigger rule, once each, also across a kill -9.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Server;

fn inputs(server: &Server) -> BTreeMap<String, usize> {
    let (status, listed) =
        server.call("GET", "/api/v1/executions?workflow=ingest&limit=1000", None);
    assert_eq!(status, 200, "{listed}");
    let mut seen = BTreeMap::new();
    for e in listed["executions"].as_array().unwrap() {
        let id = e["executionId"].as_str().unwrap();
        let full = server
            .call("GET", &format!("/api/v1/executions/{id}"), None)
            .1;
        let key = format!(
            "{}:{}",
            full["input"]["change"].as_str().unwrap(),
            full["input"]["key"].as_str().unwrap()
        );
        *seen.entry(key).or_insert(0) += 1;
    }
    seen
}

fn wait_for(server: &Server, n: usize) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = inputs(server);
        if seen.values().sum::<usize>() >= n || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The source's description once `ready(status)` holds, or after 10 s.
fn source_status_when(server: &Server, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = server.call("GET", "/api/v1/sources/inbox", None);
        assert_eq!(code, 200, "{body}");
        if ready(&body["status"]) || Instant::now() > deadline {
            return body;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn files_dropped_in_a_scanned_folder_start_workflows_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(inbox.join("2026")).unwrap();
    std::fs::write(inbox.join("2026/a.csv"), "a").unwrap();
    std::fs::write(inbox.join("b.csv"), "b").unwrap();

    let mut server = Server::start(dir.path(), dir.path());
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    assert_eq!(
        server.call("PUT", "/api/v1/workflows/ingest", Some(pass)).0,
        200
    );
    let rule = json!({"name": "files", "workflow": "ingest",
        "pattern": {"source": ["sluice://sources/inbox"], "type": [{"prefix": "sluice.s3.Object"}]},
        "input": {"key.$": "$.data.key", "change.$": "$.data.eventName", "size.$": "$.data.size"}});
    assert_eq!(
        server.call("PUT", "/api/v1/triggers/files", Some(rule)).0,
        200
    );
    let source = json!({"name": "inbox", "kind": "s3",
        "url": format!("file://{}", inbox.display()), "pollSeconds": 1});
    let (status, body) = server.call("PUT", "/api/v1/sources/inbox", Some(source));
    assert_eq!(status, 200, "{body}");

    let seen = wait_for(&server, 2);
    assert_eq!(
        seen,
        BTreeMap::from([
            ("ObjectCreated:Scan:2026/a.csv".to_string(), 1),
            ("ObjectCreated:Scan:b.csv".to_string(), 1)
        ])
    );
    // The executions can be listed a moment before the scanner hears back
    // from the engine and counts its events as acknowledged.
    let status = source_status_when(&server, |s| s["acked"] == 2);
    assert_eq!(status["status"]["connected"], true, "{status}");
    assert_eq!(status["status"]["received"], 2, "{status}");

    // Changes while the server is down are found by the next scan after a
    // kill -9, and nothing seen before is started again.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    std::fs::remove_file(inbox.join("b.csv")).unwrap();
    std::fs::write(inbox.join("c.csv"), "c").unwrap();
    let server = Server::start(dir.path(), dir.path());
    let seen = wait_for(&server, 4);
    std::thread::sleep(Duration::from_millis(2500)); // two more scans
    let seen_later = inputs(&server);
    assert_eq!(seen, seen_later, "later scans start nothing new");
    let want: BTreeMap<String, usize> = [
        "ObjectCreated:Scan:2026/a.csv",
        "ObjectCreated:Scan:b.csv",
        "ObjectRemoved:Scan:b.csv",
        "ObjectCreated:Scan:c.csv",
    ]
    .into_iter()
    .map(|k| (k.to_string(), 1))
    .collect();
    assert_eq!(seen, want);
    let e: Value = server.call("GET", "/api/v1/sources/inbox", None).1;
    assert_eq!(e["kind"], "s3", "{e}");
}
