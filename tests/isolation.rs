//! Process functions on a plain `sluice serve` (isolation on, the default)
//! and with `--isolation off`: what a function can reach, that every
//! process an invocation starts ends with it, and that a limit the server
//! cannot enforce is refused instead of silently granted.

use serde_json::{json, Value};
mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::Server;

/// A stdio function that reports what it can reach of the host.
const PROBE: &str = r#"
import json, os, socket, sys
event = json.load(sys.stdin)
out = {"uid": os.getuid(), "env": sorted(os.environ)}
try:
    socket.create_connection(("127.0.0.1", event["port"]), timeout=2).close()
    out["api"] = "reached"
except OSError as e:
    out["api"] = "refused: %s" % e
try:
    open("/etc/shadow").read()
    out["shadow"] = "read"
except OSError as e:
    out["shadow"] = "refused: %s" % e
try:
    out["data"] = os.listdir(event["data"])
except OSError as e:
    out["data"] = "refused: %s" % e
try:
    open("/usr/sluice-probe", "w").write("x")
    out["usr"] = "written"
except OSError as e:
    out["usr"] = "refused: %s" % e
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
# Calls anyone may make without the syscall filter: keyctl(GET_KEYRING_ID)
# and ptrace(TRACEME) (x86_64 numbers 250 and 101).
for name, args in [("keyctl", (250, 0, -3, 0)), ("ptrace", (101, 0, 0, 0, 0))]:
    r = libc.syscall(*args)
    out[name] = "allowed" if r >= 0 else "refused: errno %d" % ctypes.get_errno()
print(json.dumps(out))
"#;

/// Starts a detached child (`start_new_session`, a `sleep` of `event.mark`
/// seconds, as a marker) that keeps stdout open or not, then prints a
/// result, or spins until it is killed.
const DETACH: &str = r#"
import json, subprocess, sys
event = json.load(sys.stdin)
keep = None if event["keepStdout"] else subprocess.DEVNULL
subprocess.Popen(["sleep", str(event["mark"])], start_new_session=True, stdout=keep, stderr=keep)
print(json.dumps({"started": True}), flush=True)
while event["spin"]:
    pass
"#;

fn write_functions(dir: &Path, network: bool) -> std::path::PathBuf {
    let code = dir.join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(code.join("probe.py"), PROBE).unwrap();
    std::fs::write(code.join("detach.py"), DETACH).unwrap();
    let functions = dir.join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    for name in ["probe", "detach"] {
        let mut def = json!({"name": name, "runtime": "process", "protocol": "stdio",
            "command": ["python3", format!("{name}.py")], "codeDir": code,
            "timeoutSeconds": 3});
        if network {
            def["network"] = json!(true);
        }
        std::fs::write(functions.join(format!("{name}.json")), def.to_string()).unwrap();
    }
    functions
}

fn invoke(server: &Server, name: &str, event: Value) -> Value {
    let (s, out) = server.call(
        "POST",
        &format!("/api/v1/functions/{name}/invocations"),
        Some(event),
    );
    assert_eq!(s, 200, "{out}");
    out
}

/// Processes whose command line is `sleep MARK`.
fn sleepers(mark: u32) -> usize {
    let wanted = format!("sleep\0{mark}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == wanted.as_bytes()))
        .count()
}

/// Every variant of a detached child: the invocation ends on time, and the
/// child is gone after it.
fn detached_children_end_with_the_invocation(server: &Server, base_mark: u32) {
    for (i, (keep, spin)) in [(false, false), (true, false), (true, true)]
        .into_iter()
        .enumerate()
    {
        let mark = base_mark + i as u32;
        let started = Instant::now();
        let out = invoke(
            server,
            "detach",
            json!({"mark": mark, "keepStdout": keep, "spin": spin}),
        );
        let took = started.elapsed();
        if spin {
            assert_eq!(out["error"], "States.Timeout", "{out}");
        } else {
            assert_eq!(out["result"], json!({"started": true}), "{out}");
        }
        // timeoutSeconds is 3: nothing may keep the call much past it.
        assert!(
            took < Duration::from_secs(6),
            "keep={keep} spin={spin}: {took:?}"
        );
        let deadline = Instant::now() + Duration::from_secs(3);
        while sleepers(mark) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            sleepers(mark),
            0,
            "keep={keep} spin={spin}: the detached child outlived the invocation"
        );
    }
}

/// The answer's head to a POST that announces `length` bytes and sends none.
fn too_large_answer(base: &str, length: usize) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = conn.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn a_plain_serve_sandboxes_process_functions() {
    let dir = tempfile::tempdir().unwrap();
    let functions = write_functions(dir.path(), false);
    let server = Server::start(dir.path(), &functions);
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let data = dir.path().join("data").canonicalize().unwrap();

    let out = invoke(&server, "probe", json!({"port": port, "data": data}));
    let r = &out["result"];
    assert_eq!(r["uid"], 65534, "{out}");
    assert!(r["api"].as_str().unwrap().starts_with("refused"), "{out}");
    assert!(
        r["shadow"].as_str().unwrap().starts_with("refused"),
        "{out}"
    );
    assert!(r["data"].as_str().unwrap().starts_with("refused"), "{out}");
    assert!(r["usr"].as_str().unwrap().starts_with("refused"), "{out}");
    // The syscall filter: EPERM (1).
    assert_eq!(r["keyctl"], "refused: errno 1", "{out}");
    assert_eq!(r["ptrace"], "refused: errno 1", "{out}");
    let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{text}");
    assert!(text.contains("ok syscall filter"), "{text}");
    assert!(text.contains("--isolation on: can start"), "{text}");
    assert!(text.contains("warning: --isolation off"), "{text}");
    // The engine's environment (SLUICE_LOG, the test runner's variables)
    // is not inherited: only the Lambda variables and the function's env.
    let env: Vec<&str> = r["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!env.contains(&"SLUICE_LOG"), "{env:?}");
    assert!(!env.iter().any(|k| k.starts_with("CARGO")), "{env:?}");
    assert!(env.contains(&"AWS_LAMBDA_FUNCTION_NAME"), "{env:?}");

    detached_children_end_with_the_invocation(&server, 3101);

    // A body far over the limit is refused before it is read: the
    // headers alone get the 413.
    let head = too_large_answer(&server.base, 64 << 20);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let (_, metrics) = server.call("GET", "/metrics", None);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("sluice_requests_refused_total{reason=\"body_too_large\"} 1"),
        "{metrics}"
    );
    let (s, _) = server.call("GET", "/api/v1/functions", None);
    assert_eq!(s, 200);
}

#[test]
fn isolation_off_keeps_the_limits_and_refuses_what_it_cannot_enforce() {
    let dir = tempfile::tempdir().unwrap();
    let functions = write_functions(dir.path(), true);
    let server = Server::start_with(dir.path(), &functions, &["--isolation", "off"]);
    assert!(
        server
            .log()
            .contains("--isolation off: process functions run without a sandbox"),
        "{}",
        server.log()
    );

    // "network": false (the default) cannot be enforced without the
    // sandbox: refused at deploy, with the pointer and the fix.
    let (s, e) = server.call(
        "PUT",
        "/api/v1/functions/closed",
        Some(
            json!({"name": "closed", "runtime": "process", "protocol": "stdio",
                    "command": ["true"], "codeDir": "/tmp"}),
        ),
    );
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["details"][0]["pointer"], "/network", "{e}");
    assert!(
        e["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("--isolation on"),
        "{e}"
    );
    let (s, _) = server.call("GET", "/api/v1/functions/closed", None);
    assert_eq!(s, 404, "nothing stored");
    // Layers need the sandbox's filesystem view.
    let (s, e) = server.call(
        "PUT",
        "/api/v1/functions/layered",
        Some(
            json!({"name": "layered", "runtime": "process", "protocol": "stdio",
                    "command": ["true"], "codeDir": "/tmp", "network": true,
                    "layers": [format!("sha256:{}", "0".repeat(64))]}),
        ),
    );
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["details"][0]["pointer"], "/layers", "{e}");

    // What it can enforce, it does: nothing outlives an invocation.
    detached_children_end_with_the_invocation(&server, 3201);
}

#[test]
fn a_folder_of_functions_that_cannot_be_enforced_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let functions = write_functions(dir.path(), false);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--isolation", "off", "--listen"])
        .arg(format!("127.0.0.1:{}", support::free_port()))
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--functions")
        .arg(&functions)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/network") && err.contains("\"network\": true"),
        "{err}"
    );
}

/// A zip of `(name, content)` files.
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn upload_layer(server: &Server, entries: &[(&str, &str)]) -> String {
    let (s, info) = server.upload(
        "POST",
        "/api/v1/packages",
        "application/zip",
        &zip_of(entries),
    );
    assert_eq!(s, 200, "{info}");
    info["package"].as_str().unwrap().to_string()
}

#[test]
fn layers_are_mounted_read_only_at_opt_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let functions = write_functions(dir.path(), false);
    let server = Server::start(dir.path(), &functions);
    let first = upload_layer(
        &server,
        &[
            ("python/greet.py", "WHO = 'first'\n"),
            ("python/only_first.py", "X = 1\n"),
        ],
    );
    let second = upload_layer(&server, &[("python/greet.py", "WHO = 'second'\n")]);
    let code = dir.path().join("code");
    std::fs::write(
        code.join("layered.py"),
        "import json, sys, greet, only_first\n\
         json.load(sys.stdin)\n\
         try:\n    open('/opt/python/new.py', 'w')\n    w = 'written'\n\
         except OSError as e:\n    w = 'refused'\n\
         print(json.dumps({'who': greet.WHO, 'x': only_first.X, 'write': w}))\n",
    )
    .unwrap();
    let (s, e) = server.call(
        "PUT",
        "/api/v1/functions/layered",
        Some(
            json!({"name": "layered", "runtime": "process", "protocol": "stdio",
                    "command": ["python3", "layered.py"], "codeDir": code,
                    "layers": [first, second]}),
        ),
    );
    assert_eq!(s, 200, "{e}");
    let out = invoke(&server, "layered", json!({}));
    assert_eq!(
        out["result"],
        json!({"who": "second", "x": 1, "write": "refused"}),
        "{out}"
    );
    // A layer the server does not have is refused at deploy.
    let (s, e) = server.call(
        "PUT",
        "/api/v1/functions/missing",
        Some(
            json!({"name": "missing", "runtime": "process", "protocol": "stdio",
                    "command": ["true"], "codeDir": "/tmp",
                    "layers": [format!("sha256:{}", "0".repeat(64))]}),
        ),
    );
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["details"][0]["pointer"], "/layers/0", "{e}");
}
