//! A `.waitForTaskToken` task whose function already handed out the token
//! is not invoked again when the server restarts: only the callback is
//! awaited (found by the chaos harness's long run, where every restart
//! re-invoked every waiting task until the function was throttled).

use serde_json::json;
mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::Server;

#[test]
fn a_delivered_token_is_not_handed_out_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = tokens.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut token = String::new();
            if conn.read_to_string(&mut token).is_ok() {
                seen.lock().unwrap().push(token);
                let _ = conn.write_all(b"ok");
            }
        }
    });
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    std::fs::write(
        functions.join("notify.py"),
        "import json, os, socket, sys\n\
         event = json.load(sys.stdin)\n\
         host, port = os.environ['COLLECTOR'].rsplit(':', 1)\n\
         s = socket.create_connection((host, int(port)))\n\
         s.sendall(event['token'].encode())\n\
         s.shutdown(socket.SHUT_WR)\n\
         assert s.recv(2) == b'ok'\n\
         print('null')\n",
    )
    .unwrap();
    std::fs::write(
        functions.join("notify.json"),
        json!({"name": "notify", "runtime": "process", "protocol": "stdio",
               "command": ["python3", "notify.py"], "network": true,
               "env": {"COLLECTOR": address}})
        .to_string(),
    )
    .unwrap();
    let mut server = Server::start(dir.path(), &functions);
    let (s, e) = server.call(
        "PUT",
        "/api/v1/workflows/ask",
        Some(json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "sluice:function:notify.waitForTaskToken",
            "Parameters": {"token.$": "$$.Task.Token"}, "End": true}}})),
    );
    assert_eq!(s, 200, "{e}");
    let (s, out) = server.call(
        "POST",
        "/api/v1/workflows/ask/executions",
        Some(json!({"input": {}})),
    );
    assert_eq!(s, 201, "{out}");
    let id = out["executionId"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokens.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the token was never handed out");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Recorded as delivered once the invocation returned.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..2 {
        server.kill9_and_restart(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(500));
    }
    let handed_out = tokens.lock().unwrap().clone();
    assert_eq!(handed_out.len(), 1, "{handed_out:?}");
    let (s, e) = server.call(
        "POST",
        &format!("/api/v1/tasks/{}/success", handed_out[0]),
        Some(json!({"output": {"approved": true}})),
    );
    assert!(s < 300, "{s} {e}");
    let done = server.finished(&id);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], json!({"approved": true}), "{done}");
}
