//! A Distributed Map of N inline items through `sluice serve`: each item is
//! a child execution (a Pass state that reshapes it). Prints the time from
//! the start to the parent's end, the children found recorded, and the
//! server's peak resident memory, for both durability modes; and, as the
//! baseline in the same run, the same Map with `"Mode": "INLINE"` (the
//! items as iterations of the one execution) over at most 2,000 items (an
//! inline Map of 10,000 would pass the 25,000-event history limit, which is
//! why Distributed Map exists), compared per item.

use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::server::{agent, Server};

fn definition(concurrency: u64, mode: &str) -> Value {
    let config = if mode == "DISTRIBUTED" {
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    } else {
        json!({"Mode": "INLINE"})
    };
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": concurrency, "End": true,
        "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"ProcessorConfig": config,
            "StartAt": "Work", "States": {"Work": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.n, $.n)"}, "End": true}}}
    }}})
}

/// Executions of the workflow, counted page by page.
fn count(server: &Server) -> Result<usize> {
    let mut n = 0;
    let mut token: Option<String> = None;
    loop {
        let mut url = format!("{}/api/v1/executions?workflow=fan&limit=1000", server.base);
        if let Some(t) = &token {
            url.push_str(&format!("&nextToken={t}"));
        }
        let text = agent().get(&url).call()?.body_mut().read_to_string()?;
        let page: Value = serde_json::from_str(&text)?;
        n += page["executions"].as_array().map_or(0, Vec::len);
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(n),
        }
    }
}

/// The most items of the inline baseline (its history stays under 25,000 events).
const INLINE_ITEMS: usize = 2_000;

fn per_second(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64().max(1e-9)
}

/// Start workflow `name` on `items` and wait for it: the time taken and the
/// number of results in its output.
fn map_once(server: &Server, name: &str, items: usize) -> Result<(Duration, usize)> {
    let input: Vec<u64> = (0..items as u64).collect();
    let started = Instant::now();
    let body = json!({"input": {"items": input}});
    let text = agent()
        .post(format!(
            "{}/api/v1/workflows/{name}/executions?wait=300",
            server.base
        ))
        .header("content-type", "application/json")
        .send(body.to_string())?
        .body_mut()
        .read_to_string()?;
    let took = started.elapsed();
    let e: Value = serde_json::from_str(&text)?;
    if e["status"] != "SUCCEEDED" {
        bail!(
            "the map of {name} ended {}: {} {}",
            e["status"],
            e["error"],
            e["cause"]
        );
    }
    Ok((took, e["output"].as_array().map_or(0, Vec::len)))
}

pub fn run(sluice: &Path, items: usize, concurrency: u64) -> Result<()> {
    println!("distributed map: {items} inline items, MaxConcurrency {concurrency}");
    for durability in ["process", "power"] {
        let dir = tempfile::tempdir()?;
        let server = Server::start(sluice, dir.path(), durability)?;
        // The baseline first, on the same server: the items as iterations.
        server.put(
            "/api/v1/workflows/inline",
            &definition(concurrency, "INLINE"),
        )?;
        let inline_items = items.min(INLINE_ITEMS);
        let (inline, inline_out) = map_once(&server, "inline", inline_items)?;
        server.put(
            "/api/v1/workflows/fan",
            &definition(concurrency, "DISTRIBUTED"),
        )?;
        let (took, out) = map_once(&server, "fan", items)?;
        let peak = server.peak_rss_mib()?;
        // The children are listed under the workflow, beside the parent.
        let recorded = count(&server)?.saturating_sub(1);
        println!(
            "  --durability {durability}: {:.2} s to SUCCEEDED ({:.0} children/s), {out} results, {recorded} child executions recorded, peak RSS {peak:.0} MiB; baseline inline Map of {inline_items}: {:.2} s ({:.0} iterations/s), so a child costs {:.1}x an inline iteration",
            took.as_secs_f64(),
            per_second(items, took),
            inline.as_secs_f64(),
            per_second(inline_items, inline),
            per_second(inline_items, inline) / per_second(items, took).max(1e-9)
        );
        if recorded != items || out != items || inline_out != inline_items {
            bail!("expected {items} children and results, found {recorded} and {out} ({inline_out} inline)");
        }
        drop(server);
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}
