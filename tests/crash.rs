//! Crash test: `kill -9` the real `sluice serve` at random moments while
//! hundreds of executions with Waits and Tasks run. After the restarts every
//! execution has finished exactly once with the right output, and every
//! task's effect happened under one idempotency key (re-dispatches after a
//! crash reuse it). Bounded: 200 executions, loopback only, ~2 minutes at most.

use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXECUTIONS: usize = 200;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Option<Child>,
    port: u16,
    data: std::path::PathBuf,
    functions: std::path::PathBuf,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--durability",
                "process",
            ])
            .arg("--data")
            .arg(&self.data)
            .arg("--functions")
            .arg(&self.functions)
            .stdout(Stdio::null())
            .stderr(self.log_file())
            .spawn()
            .expect("sluice serve starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(self.port, "GET", "/healthz", None) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        let log = std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!("sluice serve did not answer /healthz within 20 s (exited: {exited:?}); its log ends:\n{tail}");
    }

    /// Every start's stderr, appended to DATA.log.
    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.with_extension("log"))
            .expect("log file")
    }

    /// SIGKILL: no shutdown code runs.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn http(port: u16, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}{path}");
    let sent = match method {
        "GET" => agent.get(&url).call(),
        "PUT" => agent
            .put(&url)
            .header("content-type", "application/json")
            .send(body.unwrap().to_string()),
        _ => agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.unwrap_or(json!({})).to_string()),
    };
    let mut resp = sent.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// The function runs in the sandbox (the default), which cannot write to
/// the host's files: it reports each effect over loopback (it is granted
/// `"network": true`) to a collector that appends it to `log`.
fn write_function(dir: &Path, log: &Path) {
    let collector = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = collector.local_addr().unwrap().to_string();
    let log = log.to_path_buf();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in collector.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            if conn.read_to_string(&mut line).is_ok() {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap();
                f.write_all(line.as_bytes()).unwrap();
            }
            // Acknowledge: the function finishes only after the effect is recorded.
            let _ = conn.write_all(b"ok");
        }
    });
    std::fs::write(
        dir.join("effect.py"),
        "import json, os, socket, sys\n\
         event = json.load(sys.stdin)\n\
         host, port = os.environ['EFFECTS'].rsplit(':', 1)\n\
         s = socket.create_connection((host, int(port)))\n\
         s.sendall((os.environ['SLUICE_IDEMPOTENCY_KEY'] + ' ' + str(event['i']) + '\\n').encode())\n\
         s.shutdown(socket.SHUT_WR)\n\
         assert s.recv(2) == b'ok'\n\
         print(json.dumps({'square': event['i'] * event['i']}))\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("effect.json"),
        json!({
            "name": "effect", "runtime": "process", "protocol": "stdio",
            "command": ["python3", "effect.py"], "timeoutSeconds": 20,
            "network": true, "env": {"EFFECTS": address},
            // The restarts release bursts of due tasks; a sandboxed start
            // costs more than a bare one, so let them queue, not throttle.
            "maxQueued": 1000
        })
        .to_string(),
    )
    .unwrap();
}

#[test]
fn kill_dash_nine_loses_nothing_and_runs_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let functions = tmp.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let log = tmp.path().join("effects.log");
    write_function(&functions, &log);
    let mut server = Server {
        child: None,
        port: free_port(),
        data: tmp.path().join("data"),
        functions,
    };
    server.start();
    let port = server.port;
    let definition = json!({"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "sluice:function:effect", "ResultPath": "$.result", "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}
    }});
    let (status, body) = http(port, "PUT", "/api/v1/workflows/crash", Some(definition)).unwrap();
    assert_eq!(status, 200, "{body}");

    let mut rng = rand::rng();
    let kill_points: BTreeSet<usize> = (0..3).map(|_| rng.random_range(10..EXECUTIONS)).collect();
    let mut ids: BTreeMap<usize, String> = BTreeMap::new();
    let mut kills = 0;
    for i in 0..EXECUTIONS {
        if kill_points.contains(&i) {
            server.kill9();
            kills += 1;
            server.start();
        }
        let input = json!({"i": i, "wait": i % 3});
        // A start is retried with the same name until the server answers:
        // the name makes it idempotent.
        let id = loop {
            match http(
                port,
                "POST",
                "/api/v1/workflows/crash/executions",
                Some(json!({"input": input, "name": format!("run-{i}")})),
            ) {
                Ok((200 | 201, body)) => break body["executionId"].as_str().unwrap().to_string(),
                Ok((status, body)) => panic!("start {i} answered {status}: {body}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        ids.insert(i, id);
    }
    // Kill once more while Waits and Tasks are in flight.
    std::thread::sleep(Duration::from_millis(rng.random_range(200..1500)));
    server.kill9();
    kills += 1;
    server.start();
    assert!(kills >= 2);

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pending: BTreeSet<usize> = ids.keys().copied().collect();
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} executions did not finish: {:?}",
            pending.len(),
            pending.iter().take(5).collect::<Vec<_>>()
        );
        pending.retain(|i| {
            let (_, e) =
                http(port, "GET", &format!("/api/v1/executions/{}", ids[i]), None).unwrap();
            e["status"] == "RUNNING"
        });
        std::thread::sleep(Duration::from_millis(200));
    }

    for (i, id) in &ids {
        let (_, e) = http(port, "GET", &format!("/api/v1/executions/{id}"), None).unwrap();
        assert_eq!(e["status"], "SUCCEEDED", "execution {i}: {e}");
        assert_eq!(
            e["output"],
            json!({"i": i, "wait": i % 3, "result": {"square": i * i}}),
            "execution {i}"
        );
        let (_, h) = http(
            port,
            "GET",
            &format!("/api/v1/executions/{id}/history"),
            None,
        )
        .unwrap();
        let count = |kind: &str| {
            h["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|ev| ev["type"] == kind)
                .count()
        };
        assert_eq!(
            count("ExecutionSucceeded"),
            1,
            "execution {i} finished more than once"
        );
        assert_eq!(
            count("TaskSucceeded"),
            1,
            "execution {i} completed its task more than once"
        );
    }

    // Effects: every execution's task ran under exactly one idempotency key
    // (possibly more than once after a crash: at-least-once, same key).
    let text = std::fs::read_to_string(&log).unwrap();
    let mut keys_by_execution: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let key = line.split(' ').next().unwrap();
        let execution = key.split('/').next().unwrap().to_string();
        keys_by_execution
            .entry(execution)
            .or_default()
            .insert(key.to_string());
    }
    assert_eq!(
        keys_by_execution.len(),
        EXECUTIONS,
        "every execution's task ran"
    );
    for (execution, keys) in &keys_by_execution {
        assert_eq!(
            keys.len(),
            1,
            "execution {execution} ran its task under several keys: {keys:?}"
        );
    }
}
