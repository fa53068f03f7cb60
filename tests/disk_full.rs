//! The store on a small tmpfs that fills up: writes are refused with 507
//! before sled meets a full disk, reads and `/healthz` go on, timers that
//! come due meanwhile wait, writing resumes by itself once space returns,
//! SIGTERM still stops the server, and every acknowledged execution is
//! there after a restart.

use serde_json::{json, Value};
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::Server;

/// A tmpfs mounted for the test, unmounted however it ends.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: u64) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn start(server: &Server, workflow: &str, input: Value) -> (u16, Value) {
    server.call(
        "POST",
        &format!("/api/v1/workflows/{workflow}/executions"),
        Some(json!({ "input": input })),
    )
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    // The store's folder is the tmpfs (sled leaves other files alone).
    let mount = dir.path().join("data");
    let _tmpfs = Tmpfs::mount(&mount, 48);
    // Space to give back later.
    let filler = mount.join("filler");
    std::fs::write(&filler, vec![7u8; 20 << 20]).unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let mut server = Server::start_with(dir.path(), &functions, &["--disk-reserve-mb", "12"]);

    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let (s, e) = server.call("PUT", "/api/v1/workflows/pass", Some(pass));
    assert_eq!(s, 200, "{e}");
    let nap = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
        "P": {"Type": "Pass", "End": true}}});
    let (s, e) = server.call("PUT", "/api/v1/workflows/nap", Some(nap));
    assert_eq!(s, 200, "{e}");
    // Timers that come due while the disk is full.
    let naps_started = Instant::now();
    let mut napping = Vec::new();
    for i in 0..5 {
        let (s, out) = start(&server, "nap", json!({ "i": i }));
        assert_eq!(s, 201, "{out}");
        napping.push(out["executionId"].as_str().unwrap().to_string());
    }

    // Fill the disk with starts of 100 KB inputs until one is refused.
    let blob = "x".repeat(100_000);
    let mut acknowledged = Vec::new();
    let refusal = loop {
        assert!(acknowledged.len() < 2_000, "the disk never filled up");
        let (s, out) = start(
            &server,
            "pass",
            json!({"blob": blob, "n": acknowledged.len()}),
        );
        match s {
            201 => acknowledged.push(out["executionId"].as_str().unwrap().to_string()),
            507 => break out,
            other => panic!("a start answered {other}: {out}\n{}", server.log()),
        }
    };
    assert!(!acknowledged.is_empty());
    let message = refusal["message"].as_str().unwrap();
    assert!(
        message.contains("below the reserve") && message.contains("--disk-reserve-mb"),
        "{refusal}"
    );
    // Refused again while full; reads and the health check go on.
    let (s, _) = start(&server, "pass", json!({}));
    assert_eq!(s, 507);
    let (s, health) = server.call("GET", "/healthz", None);
    assert_eq!((s, &health["status"]), (200, &json!("ok")));
    let (s, one) = server.call(
        "GET",
        &format!("/api/v1/executions/{}", acknowledged[0]),
        None,
    );
    assert_eq!((s, &one["status"]), (200, &json!("SUCCEEDED")), "{one}");
    let (_, metrics) = server.call("GET", "/metrics", None);
    assert!(
        !metrics
            .as_str()
            .unwrap()
            .contains("sluice_requests_refused_total{reason=\"disk_full\"} 0"),
        "{metrics}"
    );

    // The naps come due while the disk is full: held, not failed.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(naps_started.elapsed()));
    let (s, _) = start(&server, "pass", json!({}));
    assert_eq!(s, 507, "still full");
    let (_, nap) = server.call("GET", &format!("/api/v1/executions/{}", napping[0]), None);
    assert_eq!(nap["status"], "RUNNING", "{nap}");

    // Space returns: writes resume by themselves, the held timers finish.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, out) = start(&server, "pass", json!({"after": true}));
        if s == 201 {
            acknowledged.push(out["executionId"].as_str().unwrap().to_string());
            break;
        }
        assert_eq!(s, 507, "{out}");
        assert!(Instant::now() < deadline, "writes never resumed");
        std::thread::sleep(Duration::from_millis(100));
    }
    for id in &napping {
        let done = server.finished(id);
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
    }

    // SIGTERM stops it; a restart on the same store has everything.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "SIGTERM did not stop the server");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    let server = Server::start(dir.path(), &functions);
    for id in acknowledged.iter().chain(&napping) {
        let (s, e) = server.call("GET", &format!("/api/v1/executions/{id}"), None);
        assert_eq!((s, &e["status"]), (200, &json!("SUCCEEDED")), "{id}: {e}");
    }
}
