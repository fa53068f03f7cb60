//! Many executions parked in a Wait: memory, and how fast a restarted
//! server answers `/healthz` and has re-armed every timer.

use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

use crate::server::{load, Server};
use crate::stats::ms;

pub fn run(sluice: &Path, executions: usize, connections: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(sluice, &dir.path().join("data"), "power")?;
    let rss_empty = server.rss_mib()?;
    server.put(
        "/api/v1/workflows/parked",
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86400, "End": true}}}),
    )?;
    let url = format!("{}/api/v1/workflows/parked/executions", server.base);
    let (elapsed, _, failed) = load(executions, connections, |agent, i| {
        agent
            .post(&url)
            .header("content-type", "application/json")
            .send(json!({"input": {"order": i}}).to_string())
            .is_ok_and(|r| r.status() == 201)
    });
    if failed > 0 {
        bail!("{failed} starts failed");
    }
    println!(
        "started {executions} executions parked in Wait in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        executions as f64 / elapsed.as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(2));
    let rss_parked = server.rss_mib()?;
    println!("RSS: {rss_empty:.0} MiB empty, {rss_parked:.0} MiB with {executions} parked");

    let (server, spawned) = server.kill_and_restart()?;
    server.wait_for(|_| true, Duration::from_secs(120))?;
    let healthz = spawned.elapsed();
    server.wait_for(|b: &Value| b["recovered"] == true, Duration::from_secs(600))?;
    let recovered = spawned.elapsed();
    println!(
        "after kill -9 and restart: /healthz answered after {}; recovery of {executions} executions (timers re-armed) done after {}",
        ms(healthz),
        ms(recovered),
    );
    println!("RSS after recovery: {:.0} MiB", server.rss_mib()?);
    Ok(())
}
