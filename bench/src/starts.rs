//! Executions started per second over HTTP.

use anyhow::Result;
use serde_json::json;
use std::path::Path;

use crate::server::{load, Server};
use crate::stats::{ms, percentile};

pub fn run(sluice: &Path, requests: usize, connections: usize) -> Result<()> {
    println!("{requests} requests per case over {connections} keep-alive connections");
    println!("| case | requests/s | p50 | p99 | failed |");
    println!("|---|---:|---:|---:|---:|");
    for durability in ["process", "power"] {
        let dir = tempfile::tempdir()?;
        let server = Server::start(sluice, &dir.path().join("data"), durability)?;
        server.put(
            "/api/v1/workflows/one",
            &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )?;
        let health = format!("{}/healthz", server.base);
        let (elapsed, lat, failed) = load(requests, connections, |agent, _| {
            agent.get(&health).call().is_ok_and(|r| r.status() == 200)
        });
        report(
            &format!("GET /healthz ({durability}), the HTTP floor"),
            requests,
            elapsed,
            &lat,
            failed,
        );
        let url = format!("{}/api/v1/workflows/one/executions", server.base);
        let (elapsed, lat, failed) = load(requests, connections, |agent, i| {
            agent
                .post(&url)
                .header("content-type", "application/json")
                .send(json!({"input": {"i": i}}).to_string())
                .is_ok_and(|r| r.status() == 201)
        });
        report(
            &format!("start, --durability {durability}"),
            requests,
            elapsed,
            &lat,
            failed,
        );
    }
    Ok(())
}

fn report(
    case: &str,
    n: usize,
    elapsed: std::time::Duration,
    lat: &[std::time::Duration],
    failed: usize,
) {
    println!(
        "| {case} | {:.0} | {} | {} | {failed} |",
        n as f64 / elapsed.as_secs_f64(),
        ms(percentile(lat, 50.0)),
        ms(percentile(lat, 99.0)),
    );
}
