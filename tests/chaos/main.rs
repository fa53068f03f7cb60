//! The chaos harness: a mixed load against `sluice serve --durability
//! power` (Pass chains, sandboxed stdio Tasks, Wait, Map, Parallel,
//! `.waitForTaskToken` completed by this client, CloudEvents over HTTP
//! through a trigger), `kill -9` of the server at random instants and
//! restarts, then the books: every acknowledged start and event is there
//! and SUCCEEDED with the right output (0 lost), no name and no event
//! started twice (0 duplicated), nothing left running (0 stuck), and each
//! task's effect was observed under one idempotency key (a re-dispatch
//! after a kill reuses it).
//!
//! Bounded and loopback only; it stops by itself. CI runs the short form
//! (`SLUICE_CHAOS_KILLS`, default 3); `scripts/chaos.sh --kills 100` runs
//! the long one and prints the figures recorded in docs/reliability.md.

use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KINDS: [&str; 6] = ["pass", "task", "nap", "map", "par", "token"];
/// Starts submitted between two kills.
const PER_ROUND: usize = 40;

fn kills() -> usize {
    std::env::var("SLUICE_CHAOS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn call(port: u16, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let agent = agent();
    let content_type = if path == "/api/v1/events" {
        "application/cloudevents+json"
    } else {
        "application/json"
    };
    let mut res = match method {
        "GET" => agent.get(&url).call(),
        "PUT" => agent
            .put(&url)
            .header("content-type", "application/json")
            .send(body.unwrap_or_default().to_string()),
        _ => agent
            .post(&url)
            .header("content-type", content_type)
            .send(body.unwrap_or(json!({})).to_string()),
    }
    .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// What the functions report over loopback: effects and task tokens.
#[derive(Default)]
struct Observed {
    /// Idempotency key → the executions whose task reported under it.
    effects: BTreeMap<String, BTreeSet<String>>,
    tokens: Vec<String>,
}

fn collector(observed: Arc<Mutex<Observed>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            // One thread per report: a function killed halfway (its
            // server was) cannot hold up the others.
            let observed = observed.clone();
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                if conn.read_to_string(&mut line).is_err() {
                    return;
                }
                let mut words = line.split_whitespace();
                let mut o = observed.lock().unwrap();
                match (words.next(), words.next(), words.next()) {
                    (Some("effect"), Some(key), Some(exec)) => {
                        o.effects
                            .entry(key.to_string())
                            .or_default()
                            .insert(exec.to_string());
                    }
                    (Some("token"), Some(token), _) => o.tokens.push(token.to_string()),
                    _ => {}
                }
                drop(o);
                let _ = conn.write_all(b"ok");
            });
        }
    });
    address
}

fn write_functions(dir: &Path, collector: &str) {
    let report = "import json, os, socket, sys\n\
        def report(line):\n\
        \x20   host, port = os.environ['COLLECTOR'].rsplit(':', 1)\n\
        \x20   s = socket.create_connection((host, int(port)))\n\
        \x20   s.sendall(line.encode())\n\
        \x20   s.shutdown(socket.SHUT_WR)\n\
        \x20   assert s.recv(2) == b'ok'\n\
        event = json.load(sys.stdin)\n";
    std::fs::write(
        dir.join("effect.py"),
        format!(
            "{report}report('effect ' + os.environ['SLUICE_IDEMPOTENCY_KEY'] + ' ' + event['exec'])\n\
             print(json.dumps({{'square': event['n'] * event['n']}}))\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("notify.py"),
        format!("{report}report('token ' + event['token'])\nprint('null')\n"),
    )
    .unwrap();
    for name in ["effect", "notify"] {
        std::fs::write(
            dir.join(format!("{name}.json")),
            json!({"name": name, "runtime": "process", "protocol": "stdio",
                   "command": ["python3", format!("{name}.py")], "timeoutSeconds": 20,
                   "network": true, "maxQueued": 1000, "env": {"COLLECTOR": collector}})
            .to_string(),
        )
        .unwrap();
    }
}

fn definitions() -> Vec<(&'static str, Value)> {
    let pass = |next: Option<&str>| match next {
        Some(n) => json!({"Type": "Pass", "Next": n}),
        None => json!({"Type": "Pass", "End": true}),
    };
    vec![
        (
            "pass",
            json!({"StartAt": "A", "States": {"A": pass(Some("B")), "B": pass(Some("C")), "C": pass(None)}}),
        ),
        (
            "task",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sluice:function:effect",
            "Parameters": {"n.$": "$.n", "exec.$": "$$.Execution.Name"}, "ResultPath": "$.result", "End": true}}}),
        ),
        (
            "nap",
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": pass(None)}}),
        ),
        (
            "map",
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.out",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}}}),
        ),
        (
            "par",
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "ResultPath": "$.out", "End": true,
            "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Result": "x", "End": true}}},
                         {"StartAt": "Y", "States": {"Y": {"Type": "Wait", "Seconds": 1, "End": true}}}]}}}),
        ),
        (
            "token",
            json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "sluice:function:notify.waitForTaskToken",
            "Parameters": {"token.$": "$$.Task.Token"}, "ResultPath": "$.answer", "End": true}}}),
        ),
        ("evt", json!({"StartAt": "P", "States": {"P": pass(None)}})),
    ]
}

fn expected_output(kind: &str, input: &Value) -> Value {
    let mut out = input.clone();
    match kind {
        "task" => out["result"] = json!({"square": input["n"].as_i64().unwrap().pow(2)}),
        "map" => out["out"] = input["items"].clone(),
        "par" => out["out"] = json!(["x", input]),
        "token" => out["answer"] = json!({"approved": true}),
        _ => {}
    }
    out
}

struct Server {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
    functions: PathBuf,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--durability", "power", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data")
            .arg(&self.data)
            .arg("--functions")
            .arg(&self.functions)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sluice serve starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(call(self.port, "GET", "/healthz", None), Ok((200, _))) {
            assert!(Instant::now() < deadline, "sluice serve did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.reap();
    }
}

/// One start or event not yet acknowledged, or acknowledged.
struct Submission {
    kind: &'static str,
    input: Value,
    id: Option<String>,
}

fn submit(port: u16, name: &str, s: &mut Submission) {
    if s.kind == "evt" {
        let body = json!({"specversion": "1.0", "id": name, "source": "chaos", "type": "chaos.tick", "data": {}});
        if let Ok((200 | 202, _)) = call(port, "POST", "/api/v1/events", Some(body)) {
            s.id = Some("event".into());
        }
        return;
    }
    let body = json!({"input": s.input, "name": name});
    if let Ok((200 | 201, out)) = call(
        port,
        "POST",
        &format!("/api/v1/workflows/{}/executions", s.kind),
        Some(body),
    ) {
        s.id = out["executionId"].as_str().map(str::to_string);
    }
}

/// Complete every token seen so far (again after a kill: a second
/// success for a token is refused, which is fine).
fn answer_tokens(port: u16, observed: &Mutex<Observed>, answered: &mut BTreeSet<String>) {
    let tokens: Vec<String> = observed
        .lock()
        .unwrap()
        .tokens
        .iter()
        .filter(|t| !answered.contains(*t))
        .cloned()
        .collect();
    for t in tokens {
        let path = format!("/api/v1/tasks/{t}/success");
        match call(
            port,
            "POST",
            &path,
            Some(json!({"output": {"approved": true}})),
        ) {
            Ok((s, _)) if s < 500 => {
                answered.insert(t);
            }
            _ => {}
        }
    }
}

#[test]
fn kill_9_under_mixed_load_loses_nothing_and_runs_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let functions = tmp.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let observed = Arc::new(Mutex::new(Observed::default()));
    write_functions(&functions, &collector(observed.clone()));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Server {
        child: None,
        port,
        data: tmp.path().join("data"),
        functions,
    };
    server.start();
    for (name, def) in definitions() {
        let (s, e) = call(port, "PUT", &format!("/api/v1/workflows/{name}"), Some(def)).unwrap();
        assert_eq!(s, 200, "{e}");
    }
    let (s, e) = call(
        port,
        "PUT",
        "/api/v1/triggers/ticks",
        Some(json!({"name": "ticks",
        "workflow": "evt", "pattern": {"type": ["chaos.tick"]}})),
    )
    .unwrap();
    assert_eq!(s, 200, "{e}");

    let mut rng = rand::rng();
    let mut subs: BTreeMap<String, Submission> = BTreeMap::new();
    let mut answered = BTreeSet::new();
    let rounds = kills() + 1;
    for round in 0..rounds {
        for i in 0..PER_ROUND {
            let kind = if i % 7 == 6 {
                "evt"
            } else {
                KINDS[rng.random_range(0..KINDS.len())]
            };
            let n = rng.random_range(0..1000);
            let input = json!({"n": n, "items": [n, n + 1, n + 2]});
            subs.insert(
                format!("c-{round:03}-{i:03}"),
                Submission {
                    kind,
                    input,
                    id: None,
                },
            );
        }
        // The kill comes at a random instant while this round is submitted.
        let last = round + 1 == rounds;
        let killer = (!last).then(|| {
            let pid = server.pid().to_string();
            let delay = Duration::from_millis(rng.random_range(50..600));
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let _ = Command::new("kill").args(["-9", &pid]).status();
            })
        });
        for (name, s) in subs.iter_mut().filter(|(_, s)| s.id.is_none()) {
            submit(port, name, s);
        }
        answer_tokens(port, &observed, &mut answered);
        if let Some(k) = killer {
            k.join().unwrap();
            server.reap();
            server.start();
            // What was not acknowledged is sent again (same name, same
            // input, same event id: at most one execution each).
            for (name, s) in subs.iter_mut().filter(|(_, s)| s.id.is_none()) {
                submit(port, name, s);
            }
        }
    }

    // Drain: answer tokens until every acknowledged execution has ended.
    let deadline = Instant::now() + Duration::from_secs(120);
    let acknowledged: Vec<(&String, &Submission)> = subs
        .iter()
        .filter(|(_, s)| s.id.is_some() && s.kind != "evt")
        .collect();
    let mut stuck = acknowledged.len();
    while stuck > 0 && Instant::now() < deadline {
        answer_tokens(port, &observed, &mut answered);
        stuck = acknowledged
            .iter()
            .filter(|(_, s)| {
                let id = s.id.as_deref().unwrap();
                !matches!(call(port, "GET", &format!("/api/v1/executions/{id}"), None),
                    Ok((200, e)) if e["status"] != "RUNNING")
            })
            .count();
        std::thread::sleep(Duration::from_millis(200));
    }

    let mut lost = 0;
    let mut wrong = Vec::new();
    for (name, s) in &acknowledged {
        let id = s.id.as_deref().unwrap();
        match call(port, "GET", &format!("/api/v1/executions/{id}"), None) {
            Ok((200, e)) if e["status"] == "SUCCEEDED" => {
                if e["output"] != expected_output(s.kind, &s.input) || e["name"] != json!(name) {
                    wrong.push(format!("{name}: {e}"));
                }
            }
            Ok((200, e)) if e["status"] == "RUNNING" => {}
            Ok((200, e)) => wrong.push(format!("{name}: {e}")),
            _ => lost += 1,
        }
    }
    // Every execution of a kind, once per name; events once per id.
    let mut duplicated = 0;
    let mut listed = 0;
    for kind in KINDS.iter().chain(["evt"].iter()) {
        let (s, page) = call(
            port,
            "GET",
            &format!("/api/v1/executions?workflow={kind}&limit=1000"),
            None,
        )
        .unwrap();
        assert_eq!(s, 200, "{page}");
        let names: Vec<&str> = page["executions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        listed += names.len();
        if *kind != "evt" {
            duplicated += names.len() - names.iter().collect::<BTreeSet<_>>().len();
        }
    }
    let events_acked = subs
        .values()
        .filter(|s| s.kind == "evt" && s.id.is_some())
        .count();
    let events_sent = subs.values().filter(|s| s.kind == "evt").count();
    let (_, evt) = call(
        port,
        "GET",
        "/api/v1/executions?workflow=evt&limit=1000",
        None,
    )
    .unwrap();
    let evt_runs = evt["executions"].as_array().unwrap().len();
    // An event id is started at most once; every acknowledged one is.
    let events_lost = events_acked.saturating_sub(evt_runs);
    duplicated += evt_runs.saturating_sub(events_sent);
    // One idempotency key per task execution, and each key of one execution.
    let o = observed.lock().unwrap();
    let shared_keys = o.effects.values().filter(|execs| execs.len() > 1).count();
    let mut keys_per_exec: BTreeMap<&str, usize> = BTreeMap::new();
    for execs in o.effects.values() {
        for e in execs {
            *keys_per_exec.entry(e.as_str()).or_default() += 1;
        }
    }
    let second_keys = keys_per_exec.values().filter(|&&n| n > 1).count();
    println!(
        "chaos: kills={} acknowledged_starts={} acknowledged_events={events_acked} listed={listed} \
         lost={} duplicated={duplicated} stuck={stuck} wrong={} task_keys={} shared_keys={shared_keys} \
         second_keys={second_keys}",
        rounds - 1,
        acknowledged.len(),
        lost + events_lost,
        wrong.len(),
        o.effects.len(),
    );
    assert_eq!(lost + events_lost, 0, "lost");
    assert_eq!(duplicated, 0, "duplicated");
    assert_eq!(stuck, 0, "stuck");
    assert!(
        wrong.is_empty(),
        "wrong: {:#?}",
        &wrong[..wrong.len().min(10)]
    );
    assert_eq!((shared_keys, second_keys), (0, 0), "idempotency keys");
}
