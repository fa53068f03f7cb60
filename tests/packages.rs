//! Code packages on a real `sluice serve`: zip, tar and tar.gz archives
//! uploaded through the API and the CLI, functions (stdio and the real
//! awslambdaric runtime client) run from them directly and in workflows,
//! versions that keep their code, and archives that are refused with
//! nothing left behind.

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

mod support;
use support::{python, Server};

/// A zip of `(name, content, unix mode)` entries.
fn zip_of(entries: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content, mode) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        w.start_file(*name, options).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A stdio handler answering `{"mark": MARK, "event": EVENT}`.
fn stdio_handler(mark: &str) -> String {
    format!("import json, sys\nprint(json.dumps({{'mark': '{mark}', 'event': json.load(sys.stdin)}}))\n")
}

fn start(dir: &Path) -> Server {
    let functions = dir.join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    Server::start(dir, &functions)
}

/// The names in the server's package folder.
fn stored(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("data/packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Invoke until the catalog change has reached the executors and `check` holds.
fn invoke_until(server: &Server, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, out) = server.call("POST", path, Some(json!({"n": 1})));
        if s == 200 && check(&out) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {s} {out}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn zip_packages_run_stdio_and_lambda_functions_directly_and_in_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let archive = zip_of(&[
        ("app.py", &stdio_handler("zip"), 0o644),
        ("run.sh", "#!/bin/sh\nexec python3 app.py\n", 0o755),
        (
            "lam.py",
            "def handler(event, context):\n    return {'lambda': True, 'event': event}\n",
            0o644,
        ),
    ]);

    let (s, info) = server.upload("POST", "/api/v1/packages", "application/zip", &archive);
    assert_eq!(s, 200, "{info}");
    let hex = format!("{:x}", Sha256::digest(&archive));
    assert_eq!(info["codeSha256"], hex);
    assert_eq!(info["package"], format!("sha256:{hex}"));
    assert_eq!(info["codeSize"], archive.len());
    assert_eq!(
        (info["format"].as_str(), info["files"].as_u64()),
        (Some("zip"), Some(3))
    );
    let code = dir.path().join("data/packages").join(&hex).join("code");
    let mode = std::fs::metadata(code.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o555, "the executable bit is kept");
    assert_eq!(
        server.call("GET", &format!("/api/v1/packages/sha256:{hex}"), None),
        (200, info.clone())
    );
    let (_, listed) = server.call("GET", "/api/v1/packages", None);
    assert_eq!(listed["packages"], json!([info]));

    // A stdio function run by its executable script, and a Lambda handler
    // for awslambdaric, both from the package.
    let package = info["package"].clone();
    let (s, out) = server.call(
        "PUT",
        "/api/v1/functions/zipped",
        Some(
            json!({"name": "zipped", "runtime": "process", "protocol": "stdio",
                     "command": ["./run.sh"], "package": package}),
        ),
    );
    assert_eq!((s, out["version"].as_u64()), (200, Some(1)), "{out}");
    let (s, out) = server.call(
        "PUT",
        "/api/v1/functions/lam",
        Some(json!({"name": "lam", "runtime": "process", "protocol": "lambda", "timeoutSeconds": 20,
                     "command": [python(), "-m", "awslambdaric", "lam.handler"], "package": package})),
    );
    assert_eq!(s, 200, "{out}");
    let out = invoke_until(&server, "/api/v1/functions/zipped/invocations", |o| {
        o.get("result").is_some()
    });
    assert_eq!(
        out["result"],
        json!({"mark": "zip", "event": {"n": 1}}),
        "{out}"
    );
    let out = invoke_until(&server, "/api/v1/functions/lam/invocations", |o| {
        o.get("result").is_some()
    });
    assert_eq!(
        out["result"],
        json!({"lambda": true, "event": {"n": 1}}),
        "{out}"
    );

    // From a workflow.
    let workflow = json!({
        "StartAt": "Stdio",
        "States": {
            "Stdio": {"Type": "Task", "Resource": "sluice:function:zipped", "ResultPath": "$.stdio", "Next": "Lambda"},
            "Lambda": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "Parameters": {"FunctionName": "lam", "Payload.$": "$.stdio"},
                       "ResultSelector": {"out.$": "$.Payload"}, "ResultPath": "$.lambda", "End": true}
        }
    });
    assert_eq!(
        server
            .call("PUT", "/api/v1/workflows/pkgflow", Some(workflow))
            .0,
        200
    );
    let (s, e) = server.call(
        "POST",
        "/api/v1/workflows/pkgflow/executions?wait=30",
        Some(json!({"input": {"x": 1}})),
    );
    assert_eq!((s, e["status"].as_str()), (200, Some("SUCCEEDED")), "{e}");
    let output: Value = match &e["output"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    assert_eq!(output["stdio"], json!({"mark": "zip", "event": {"x": 1}}));
    assert_eq!(output["lambda"]["out"]["event"], output["stdio"]);

    // Lambda's one-shot: the package inline in the definition, in base64.
    let inline = zip_of(&[("app.py", &stdio_handler("inline"), 0o644)]);
    let (s, out) = server.call(
        "PUT",
        "/api/v1/functions/inline",
        Some(json!({"name": "inline", "runtime": "process", "protocol": "stdio",
                     "command": ["python3", "app.py"],
                     "code": {"zipFile": base64::engine::general_purpose::STANDARD.encode(&inline)}})),
    );
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["codeSha256"], format!("{:x}", Sha256::digest(&inline)));
    let (_, stored_def) = server.call("GET", "/api/v1/functions/inline", None);
    assert_eq!(stored_def["definition"]["package"], out["package"]);
    assert!(
        stored_def["definition"].get("code").is_none(),
        "{stored_def}"
    );
    let out = invoke_until(&server, "/api/v1/functions/inline/invocations", |o| {
        o.get("result").is_some()
    });
    assert_eq!(out["result"]["mark"], "inline");

    // References the server cannot honour: 400 with the field, nothing stored.
    let missing = format!("sha256:{}", "0".repeat(64));
    for (body, pointer, words) in [
        (
            json!({"package": missing}),
            "/package",
            "upload the archive first",
        ),
        (
            json!({"package": package, "codeDir": "/srv"}),
            "/package",
            "not both",
        ),
        (
            json!({"package": "sha256:XYZ"}),
            "/package",
            "64 lowercase hex",
        ),
        (json!({}), "/codeDir", "or 'package'"),
    ] {
        let mut def = json!({"name": "bad", "runtime": "process", "command": ["x"]});
        def.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let (s, e) = server.call("PUT", "/api/v1/functions/bad", Some(def));
        assert_eq!(
            (s, e["details"][0]["pointer"].as_str()),
            (400, Some(pointer)),
            "{e}"
        );
        assert!(
            e["details"][0]["message"].as_str().unwrap().contains(words),
            "{e}"
        );
    }
    assert_eq!(server.call("GET", "/api/v1/functions/bad", None).0, 404);
}

/// A tar (not compressed) of `files`, built by the tar crate.
fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

#[test]
fn the_cli_deploys_folders_as_tar_gz_and_versions_keep_their_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let code = dir.path().join("code-one");
    std::fs::create_dir_all(code.join("pkg")).unwrap();
    std::fs::write(code.join("pkg/handler.py"), stdio_handler("one")).unwrap();
    // codeDir is for local runs; --package replaces it on the server.
    let file = dir.path().join("ver.json");
    std::fs::write(
        &file,
        json!({"name": "ver", "runtime": "process", "protocol": "stdio", "codeDir": "code-one",
               "command": ["python3", "pkg/handler.py"]})
        .to_string(),
    )
    .unwrap();
    let (code_exit, out, err) = server.cli(&[
        "function",
        "deploy",
        file.to_str().unwrap(),
        "--package",
        code.to_str().unwrap(),
    ]);
    assert_eq!(code_exit, 0, "{out}{err}");
    assert!(
        out.contains("package sha256:") && out.contains("(tar.gz)") && out.contains("version 1"),
        "{out}"
    );
    let (code_exit, out, err) =
        server.cli(&["function", "invoke", "ver", "--payload", r#"{"k": 2}"#]);
    assert_eq!(code_exit, 0, "{out}{err}\n{}", server.log());
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap(),
        json!({"mark": "one", "event": {"k": 2}})
    );
    let (_, v1) = server.call("GET", "/api/v1/functions/ver/versions/1", None);
    assert!(v1.get("codeDir").is_none(), "{v1}");
    let first = v1["package"].as_str().unwrap().to_string();

    // New code for the same function, as a plain tar (UpdateFunctionCode).
    let two = tar_of(&[("pkg/handler.py", &stdio_handler("two"))]);
    let (s, out) = server.upload(
        "PUT",
        "/api/v1/functions/ver/package",
        "application/x-tar",
        &two,
    );
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        (out["version"].as_u64(), out["format"].as_str()),
        (Some(2), Some("tar")),
        "{out}"
    );
    assert_ne!(out["package"], first);
    invoke_until(&server, "/api/v1/functions/ver/invocations", |o| {
        o["result"]["mark"] == "two"
    });
    let (_, old) = server.call(
        "POST",
        "/api/v1/functions/ver/invocations?qualifier=1",
        Some(json!({})),
    );
    assert_eq!(
        old["result"]["mark"], "one",
        "version 1 keeps its package: {old}"
    );
    assert_eq!(
        server
            .call("GET", "/api/v1/functions/ver/versions/1", None)
            .1["package"],
        first
    );

    // apply -f: a definition whose "package" is a local folder, next to it.
    let project = dir.path().join("project/functions");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/app.py"), stdio_handler("applied")).unwrap();
    std::fs::write(
        project.join("applied.json"),
        json!({"name": "applied", "runtime": "process", "protocol": "stdio",
               "command": ["python3", "app.py"], "package": "src"})
        .to_string(),
    )
    .unwrap();
    let project_dir = dir.path().join("project");
    let (code_exit, out, err) = server.cli(&["apply", "-f", project_dir.to_str().unwrap()]);
    assert_eq!(code_exit, 0, "{out}{err}");
    let out = invoke_until(&server, "/api/v1/functions/applied/invocations", |o| {
        o.get("result").is_some()
    });
    assert_eq!(out["result"]["mark"], "applied");

    // New code for a function that does not exist: 404, saying what to do.
    let (s, e) = server.upload(
        "PUT",
        "/api/v1/functions/nope/package",
        "application/x-tar",
        &two,
    );
    assert_eq!(s, 404, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("deploy its definition first"),
        "{e}"
    );
}

/// The raw answer to a request that only announces a body of `length`
/// bytes (as curl does with `Expect: 100-continue`).
fn announce(server: &Server, length: u64) -> String {
    let address = server.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(address).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /api/v1/packages HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/zip\r\nContent-Length: {length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

#[test]
fn bad_archives_are_refused_with_the_reason_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());

    // zip-slip.
    let slip = zip_of(&[("ok.py", "1", 0o644), ("../../evil.py", "2", 0o644)]);
    let (s, e) = server.upload("POST", "/api/v1/packages", "application/zip", &slip);
    assert_eq!(s, 400, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("'../../evil.py' would land outside the package"),
        "{e}"
    );

    // A tar.gz bomb: a header that announces 300 MiB (refused from the
    // headers, before anything is written).
    let mut h = tar::Header::new_ustar();
    h.set_path("zeros").unwrap();
    h.set_size(300 * 1024 * 1024);
    h.set_cksum();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(h.as_bytes()).unwrap();
    gz.write_all(&[0u8; 4096]).unwrap();
    let bomb = gz.finish().unwrap();
    let (s, e) = server.upload("POST", "/api/v1/packages", "application/gzip", &bomb);
    assert_eq!(s, 413, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("more than 250 MiB, the limit of unpacked bytes"),
        "{e}"
    );

    // An upload above the archive limit is refused on its Content-Length,
    // before the client sends the body.
    let answer = announce(&server, 60 * 1024 * 1024);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("larger than 50 MiB, the limit of one package upload"),
        "{answer}"
    );

    // Not an archive; a JSON body.
    let (s, e) = server.upload(
        "POST",
        "/api/v1/packages",
        "application/octet-stream",
        b"hello, world",
    );
    assert_eq!(s, 400, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not a zip, tar or tar.gz archive"),
        "{e}"
    );
    let (s, e) = server.call("POST", "/api/v1/packages", Some(json!({"zipFile": "x"})));
    assert_eq!(s, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("raw bytes"), "{e}");

    // Nothing stored, nothing half-unpacked, nothing written outside.
    assert_eq!(stored(dir.path()), vec![".tmp".to_string()]);
    assert_eq!(
        std::fs::read_dir(dir.path().join("data/packages/.tmp"))
            .unwrap()
            .count(),
        0
    );
    for place in ["evil.py", "data/evil.py", "data/packages/evil.py"] {
        assert!(!dir.path().join(place).exists(), "{place}");
    }
    assert_eq!(
        server.call("GET", "/api/v1/packages", None).1,
        json!({"packages": []})
    );
}
