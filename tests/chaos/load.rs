//! The mixed load: the functions (reporting their effects to a collector on
//! loopback), the workflows, what each should output, and the submissions
//! over HTTP.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::call;

/// The workflows started over HTTP, each a kind of load.
pub const KINDS: [&str; 8] = [
    "pass", "task", "lambda", "wasm", "nap", "map", "par", "token",
];

/// The workflows started by events, by how the event came in: HTTP
/// (`evt`), AMQP, Kafka.
pub const EVENT_WORKFLOWS: [(&str, &str); 3] = [
    ("evt", "chaos.tick"),
    ("evt-amqp", "chaos.amqp"),
    ("evt-kafka", "chaos.kafka"),
];

/// What the functions report over loopback: effects and task tokens.
#[derive(Default)]
pub struct Observed {
    /// Idempotency key → the executions whose task reported under it.
    pub effects: BTreeMap<String, BTreeSet<String>>,
    pub tokens: Vec<String>,
}

/// A listener the functions report to (`effect KEY EXECUTION`, `token T`);
/// its address.
pub fn collector(observed: Arc<Mutex<Observed>>) -> String {
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

const REPORT: &str = "import json, os, socket, sys\n\
def report(line):\n\
\x20   host, port = os.environ['COLLECTOR'].rsplit(':', 1)\n\
\x20   s = socket.create_connection((host, int(port)))\n\
\x20   s.sendall(line.encode())\n\
\x20   s.shutdown(socket.SHUT_WR)\n\
\x20   assert s.recv(2) == b'ok'\n";

/// The function definitions and their code in `dir` (the server's
/// `--functions` folder): a stdio and a Lambda-Runtime-API Python function
/// that report their effect under the invocation's idempotency key, a
/// stdio one that hands out task tokens, and the wasm echo module.
pub fn write_functions(dir: &Path, collector: &str, python: &str, wasm: &Path) {
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    write(
        "effect.py",
        format!(
            "{REPORT}event = json.load(sys.stdin)\n\
             report('effect ' + os.environ['SLUICE_IDEMPOTENCY_KEY'] + ' ' + event['exec'])\n\
             print(json.dumps({{'square': event['n'] * event['n']}}))\n"
        ),
    );
    write(
        "notify.py",
        format!("{REPORT}event = json.load(sys.stdin)\nreport('token ' + event['token'])\nprint('null')\n"),
    );
    std::fs::create_dir_all(dir.join("lambda-code")).unwrap();
    write(
        "lambda-code/app.py",
        format!(
            "{REPORT}def handler(event, context):\n\
             \x20   report('effect ' + context.aws_request_id + ' ' + event['exec'])\n\
             \x20   return {{'square': event['n'] * event['n']}}\n"
        ),
    );
    let common = json!({"timeoutSeconds": 20, "network": true, "maxQueued": 1000,
                        "env": {"COLLECTOR": collector}});
    let with = |mut def: Value| {
        for (k, v) in common.as_object().unwrap() {
            def[k] = v.clone();
        }
        def.to_string()
    };
    for name in ["effect", "notify"] {
        write(
            &format!("{name}.json"),
            with(
                json!({"name": name, "runtime": "process", "protocol": "stdio",
                        "command": ["python3", format!("{name}.py")]}),
            ),
        );
    }
    write(
        "effect-lambda.json",
        with(
            json!({"name": "effect-lambda", "runtime": "process", "protocol": "lambda",
                    "command": [python, "-m", "awslambdaric", "app.handler"],
                    "codeDir": "lambda-code"}),
        ),
    );
    write(
        "echo-wasm.json",
        json!({"name": "echo-wasm", "runtime": "wasm", "module": wasm,
               "timeoutSeconds": 20, "maxQueued": 1000})
        .to_string(),
    );
}

fn pass(next: Option<&str>) -> Value {
    match next {
        Some(n) => json!({"Type": "Pass", "Next": n}),
        None => json!({"Type": "Pass", "End": true}),
    }
}

fn task(resource: &str, parameters: Value) -> Value {
    json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource,
        "Parameters": parameters, "ResultPath": "$.result", "End": true}}})
}

/// Every workflow of the load, by name.
pub fn definitions() -> Vec<(&'static str, Value)> {
    let effect = json!({"n.$": "$.n", "exec.$": "$$.Execution.Name"});
    let mut defs = vec![
        (
            "pass",
            json!({"StartAt": "A", "States": {"A": pass(Some("B")), "B": pass(Some("C")), "C": pass(None)}}),
        ),
        ("task", task("sluice:function:effect", effect.clone())),
        ("lambda", task("sluice:function:effect-lambda", effect)),
        (
            "wasm",
            task("sluice:function:echo-wasm", json!({"n.$": "$.n"})),
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
    ];
    for (name, _) in EVENT_WORKFLOWS {
        defs.push((name, json!({"StartAt": "P", "States": {"P": pass(None)}})));
    }
    defs
}

/// The output an execution of `kind` must end with.
pub fn expected_output(kind: &str, input: &Value) -> Value {
    let mut out = input.clone();
    let n = input["n"].as_i64().unwrap_or_default();
    match kind {
        "task" | "lambda" => out["result"] = json!({"square": n * n}),
        "wasm" => out["result"] = json!({"echo": {"n": n}}),
        "map" => out["out"] = input["items"].clone(),
        "par" => out["out"] = json!(["x", input]),
        "token" => out["answer"] = json!({"approved": true}),
        _ => {}
    }
    out
}

/// One start or HTTP event, acknowledged (`id`) or not yet.
pub struct Submission {
    pub kind: &'static str,
    pub input: Value,
    pub id: Option<String>,
}

/// Sends `s` under `name` (the execution's name, or the event's id); on
/// an acknowledgement records it.
pub fn submit(port: u16, name: &str, s: &mut Submission) {
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

/// Completes every token seen so far (again after a kill: a second
/// success for a token is refused, which is fine).
pub fn answer_tokens(port: u16, observed: &Mutex<Observed>, answered: &mut BTreeSet<String>) {
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
