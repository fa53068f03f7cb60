//! What operators poll: `/healthz` and Prometheus `/metrics`.
//!
//! The metrics text is written by hand rather than through the `metrics`
//! facade and its Prometheus exporter: today every number is a gauge read
//! from the store at scrape time, and the exporter would need a
//! process-wide recorder (one per process, which clashes with several
//! servers in one test binary) to print a handful of lines. Counters that
//! connectors and executors keep will move to the facade when they exist.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sluice_engine::{Engine, EngineError, Status};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::blocking;
use crate::error::ApiError;
use crate::AppState;

/// `GET /healthz`: 200 as soon as the server answers, even while recovery
/// still replays the backlog (`recovered` says whether it has finished).
pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "recovered": state.engine.recovered()}))
}

/// Requests refused by a limit, by reason, since the process started
/// (`sluice_requests_refused_total`).
static REFUSALS: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Count one request refused by a limit.
pub(crate) fn count_refusal(reason: &'static str) {
    *REFUSALS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(reason)
        .or_default() += 1;
}

fn refusals_text(out: &mut String) {
    let refusals = REFUSALS.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(
        out,
        "# HELP sluice_requests_refused_total Requests refused by a limit, by reason."
    );
    let _ = writeln!(out, "# TYPE sluice_requests_refused_total counter");
    for reason in ["body_too_large", "login_rate_limited", "disk_full"] {
        let n = refusals.get(reason).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "sluice_requests_refused_total{{reason=\"{reason}\"}} {n}"
        );
    }
}

/// Counting walks the listing index keys, so a count is reused for this
/// long: scrapes stay cheap however often they come.
const COUNT_TTL: Duration = Duration::from_secs(10);

const STATUSES: [Status; 5] = [
    Status::Running,
    Status::Succeeded,
    Status::Failed,
    Status::TimedOut,
    Status::Aborted,
];

#[derive(Debug, Clone, Default)]
struct Counts {
    /// By the index of the status in [`STATUSES`].
    executions: [u64; 5],
    workflows: u64,
    /// Failed, timed-out and aborted executions by workflow.
    failed_by_workflow: std::collections::HashMap<String, u64>,
}

/// The last store count and when it was taken.
#[derive(Default)]
pub struct MetricsCache {
    last: tokio::sync::Mutex<Option<(Instant, Counts)>>,
}

impl MetricsCache {
    async fn counts(&self, engine: &Engine) -> Result<Counts, ApiError> {
        // Held across the count so that concurrent scrapes share one scan.
        let mut last = self.last.lock().await;
        if let Some((at, counts)) = &*last {
            if at.elapsed() < COUNT_TTL {
                return Ok(counts.clone());
            }
        }
        let engine = engine.clone();
        let counts = blocking(move || count(&engine)).await?;
        *last = Some((Instant::now(), counts.clone()));
        Ok(counts)
    }
}

fn count(engine: &Engine) -> Result<Counts, EngineError> {
    let workflows = engine.workflows()?;
    let mut counts = Counts {
        workflows: workflows.len() as u64,
        ..Counts::default()
    };
    for (i, s) in STATUSES.iter().enumerate() {
        counts.executions[i] = engine.count_executions(None, Some(*s))?;
    }
    for w in &workflows {
        let mut failed = 0;
        for s in [Status::Failed, Status::TimedOut, Status::Aborted] {
            failed += engine.count_executions(Some(&w.name), Some(s))?;
        }
        if failed > 0 {
            counts.failed_by_workflow.insert(w.name.clone(), failed);
        }
    }
    Ok(counts)
}

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let counts = state.metrics.counts(&state.engine).await?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    gauge(
        "sluice_up",
        "1 while the server answers.",
        &[(String::new(), 1)],
    );
    gauge(
        "sluice_recovered",
        "1 once the executions that were running at start-up have been resumed.",
        &[(String::new(), u64::from(state.engine.recovered()))],
    );
    let by_status: Vec<(String, u64)> = STATUSES
        .iter()
        .zip(counts.executions)
        .map(|(s, n)| (format!("{{status=\"{s}\"}}"), n))
        .collect();
    gauge(
        "sluice_executions",
        "Executions in the store by status (recounted at most every 10 seconds).",
        &by_status,
    );
    gauge(
        "sluice_workflows",
        "Deployed workflows.",
        &[(String::new(), counts.workflows)],
    );
    gauge(
        "sluice_store_quarantined_records",
        "Stored records that did not parse and were set aside under q/ (the server log names them).",
        &[(String::new(), state.engine.quarantined().map_or(0, |q| q.len() as u64))],
    );
    refusals_text(&mut out);
    crate::deadletters::metrics(&mut out, &state.engine);
    if let Some(functions) = &state.functions {
        out.push_str(&functions.metrics());
    }
    if let Some(sources) = &state.sources {
        out.push_str(&sources.metrics());
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response())
}

/// Most workflows listed as top failing.
const TOP_FAILING: usize = 10;

/// `GET /api/v1/summary`: what the overview page shows —
/// `{"executions": {STATUS: n}, "total", "workflows", "topFailing": [{"workflow","failed"}]}`
/// (recounted at most every 10 seconds, like /metrics).
pub async fn summary(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let counts = state.metrics.counts(&state.engine).await?;
    let by_status: serde_json::Map<String, Value> = STATUSES
        .iter()
        .zip(counts.executions)
        .map(|(s, n)| (s.to_string(), json!(n)))
        .collect();
    let mut failing: Vec<(&String, &u64)> = counts.failed_by_workflow.iter().collect();
    failing.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<Value> = failing
        .into_iter()
        .take(TOP_FAILING)
        .map(|(w, n)| json!({"workflow": w, "failed": n}))
        .collect();
    Ok(Json(json!({
        "executions": by_status,
        "total": counts.executions.iter().sum::<u64>(),
        "workflows": counts.workflows,
        "topFailing": top,
    })))
}
