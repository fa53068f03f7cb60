//! `sluice serve --auth`: the real binary refuses to listen beyond
//! loopback without tokens, and with tokens the API and the CLI need one.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

#[test]
fn a_non_loopback_listen_without_auth_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without --auth"),
        "{err}"
    );
    assert!(err.contains("--auth FILE"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created before refusing"
    );
}

#[test]
fn with_auth_the_api_and_the_cli_need_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        r#"{"tokens": [{"name": "ops", "role": "admin", "token": "ops-token-0123456789"}]}"#,
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "serve",
                "--durability",
                "process",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--auth",
            ])
            .arg(&tokens)
            .arg("--data")
            .arg(dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(30);
    // 503 ("starting") until the store is open, then 200.
    while !agent
        .get(&format!("{base}/healthz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let anonymous = agent
        .get(&format!("{base}/api/v1/workflows"))
        .call()
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let with = agent
        .get(&format!("{base}/api/v1/workflows"))
        .header("authorization", "Bearer ops-token-0123456789")
        .call()
        .unwrap();
    assert_eq!(with.status().as_u16(), 200);

    let flow = dir.path().join("flow.json");
    std::fs::write(
        &flow,
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )
    .unwrap();
    let cli = |token: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.args(["workflow", "deploy", "--server", &base, "--name", "flow"])
            .arg(&flow);
        c.env_remove("SLUICE_TOKEN");
        if let Some(t) = token {
            c.env("SLUICE_TOKEN", t);
        }
        c.output().unwrap()
    };
    let refused = cli(None);
    assert!(!refused.status.success());
    let deployed = cli(Some("ops-token-0123456789"));
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
}

/// Stops the server however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
