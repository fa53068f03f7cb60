//! A record whose bytes no longer parse (a flipped byte in a value) is
//! reported with its key and set aside under `q/`, never a panic: the
//! server starts, an execution whose frame is unreadable ends ABORTED with
//! `Sluice.CorruptRecord`, one whose own record is unreadable answers 500
//! naming the key and leaves the listings, and every other execution goes
//! on.

use serde_json::{json, Value};
mod support;

use std::time::{Duration, Instant};
use support::Server;

fn flip_first_byte(tree: &sled::Tree, key: &[u8]) {
    let mut bytes = tree.get(key).unwrap().expect("the record exists").to_vec();
    bytes[0] ^= 0x01; // '{' becomes 'z'
    tree.insert(key, bytes).unwrap();
}

fn start(server: &Server, workflow: &str) -> String {
    let (s, out) = server.call(
        "POST",
        &format!("/api/v1/workflows/{workflow}/executions"),
        Some(json!({"input": {}})),
    );
    assert_eq!(s, 201, "{out}");
    out["executionId"].as_str().unwrap().to_string()
}

#[test]
fn corrupt_records_are_set_aside_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let mut server = Server::start(dir.path(), &functions);
    let nap = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3, "Next": "P"},
        "P": {"Type": "Pass", "End": true}}});
    let (s, e) = server.call("PUT", "/api/v1/workflows/nap", Some(nap));
    assert_eq!(s, 200, "{e}");
    let bad_record = start(&server, "nap");
    let bad_frame = start(&server, "nap");
    let fine = start(&server, "nap");

    // Down hard, then one byte flipped in two stored values.
    let _ = server.child.kill();
    let _ = server.child.wait();
    {
        let db = sled::open(dir.path().join("data")).unwrap();
        let tree = db.open_tree("sluice").unwrap();
        flip_first_byte(&tree, format!("e/{bad_record}").as_bytes());
        let frame = tree
            .scan_prefix(format!("f/{bad_frame}/").as_bytes())
            .keys()
            .next()
            .expect("a frame")
            .unwrap();
        flip_first_byte(&tree, &frame);
        db.flush().unwrap();
    }
    server.kill9_and_restart(Duration::ZERO);

    // The unreadable execution record: 500 naming the key.
    let (s, e) = server.call("GET", &format!("/api/v1/executions/{bad_record}"), None);
    assert_eq!(s, 500, "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("e/{bad_record}")) && message.contains("q/"),
        "{e}"
    );
    // The unreadable frame ended its execution.
    let stopped = server.finished(&bad_frame);
    assert_eq!(stopped["status"], "ABORTED", "{stopped}");
    assert_eq!(stopped["error"], "Sluice.CorruptRecord", "{stopped}");
    assert!(
        stopped["cause"].as_str().unwrap().contains("f/"),
        "{stopped}"
    );
    // The rest goes on: the other nap ends, new starts run.
    let done = server.finished(&fine);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let again = start(&server, "nap");
    assert_eq!(server.finished(&again)["status"], "SUCCEEDED");

    // Both records are set aside (and counted); the listing leaves the
    // unreadable one out.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = server.call("GET", "/metrics", None);
        if metrics
            .as_str()
            .unwrap()
            .contains("sluice_store_quarantined_records 2")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (s, list) = server.call("GET", "/api/v1/executions?workflow=nap", None);
    assert_eq!(s, 200, "{list}");
    let ids: Vec<&str> = list["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e: &Value| e["executionId"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&bad_record.as_str()), "{ids:?}");
    assert!(
        ids.contains(&fine.as_str()) && ids.contains(&bad_frame.as_str()),
        "{ids:?}"
    );

    // The counts leave the set-aside execution out too (it was RUNNING
    // when its record was damaged): two succeeded, one aborted, none
    // running. They are recounted at most every 10 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, summary) = server.call("GET", "/api/v1/summary", None);
        assert_eq!(s, 200, "{summary}");
        let counted = &summary["executions"];
        if counted["RUNNING"] == 0 && summary["total"] == 3 {
            assert_eq!(counted["SUCCEEDED"], 2, "{summary}");
            assert_eq!(counted["ABORTED"], 1, "{summary}");
            break;
        }
        assert!(Instant::now() < deadline, "{summary}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (_, metrics) = server.call("GET", "/metrics", None);
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("sluice_executions{status=\"RUNNING\"} 0"),
        "{metrics}"
    );
}
