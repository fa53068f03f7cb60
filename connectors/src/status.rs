//! What a running source reports: readable at any time by the API
//! (`GET /api/v1/sources`) and `/metrics`, written by the source's task.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// Live counters of one source. Cheap to update from the hot path (atomics);
/// the last error sits behind a std `Mutex` because it is written rarely and
/// never held across an await.
#[derive(Debug, Default)]
pub struct SourceStatus {
    connected: AtomicBool,
    /// Messages waiting in the broker for this consumer (Kafka: sum of the
    /// assigned partitions' lag; AMQP: the queue's ready messages at the
    /// last declare; -1 = unknown).
    lag: AtomicI64,
    received: AtomicU64,
    /// Events the engine accepted (including duplicates) and then acked.
    acked: AtomicU64,
    dead_lettered: AtomicU64,
    /// Failed submits/acks/connects (each retried).
    failures: AtomicU64,
    reconnects: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A copy of the counters, as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSnapshot {
    pub connected: bool,
    pub lag: Option<i64>,
    pub received: u64,
    pub acked: u64,
    pub dead_lettered: u64,
    pub failures: u64,
    pub reconnects: u64,
    pub last_error: Option<String>,
}

impl SourceStatus {
    pub fn new() -> Self {
        let s = SourceStatus::default();
        s.lag.store(-1, Ordering::Relaxed);
        s
    }
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }
    pub fn set_lag(&self, lag: i64) {
        self.lag.store(lag, Ordering::Relaxed);
    }
    pub fn add_received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_acked(&self, n: u64) {
        self.acked.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_dead_lettered(&self, n: u64) {
        self.dead_lettered.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a failure (counted, kept as the last error, logged).
    pub fn fail(&self, source: &str, error: impl Into<String>) {
        let error = error.into();
        tracing::warn!(source, error = %error, "source failure");
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }
    pub fn snapshot(&self) -> StatusSnapshot {
        let lag = self.lag.load(Ordering::Relaxed);
        StatusSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            lag: (lag >= 0).then_some(lag),
            received: self.received.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// One metric family: name, type, help, and its value in a snapshot.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&StatusSnapshot) -> Option<f64>,
);

/// Prometheus text for several sources (`/metrics`), one series per source.
pub fn render_metrics(sources: &[(String, String, StatusSnapshot)]) -> String {
    let mut out = String::new();
    let families: [Family; 7] = [
        (
            "sluice_source_connected",
            "gauge",
            "1 when the source is connected to its broker",
            |s| Some(if s.connected { 1.0 } else { 0.0 }),
        ),
        (
            "sluice_source_lag",
            "gauge",
            "messages waiting in the broker for the source",
            |s| s.lag.map(|l| l as f64),
        ),
        (
            "sluice_source_received_total",
            "counter",
            "messages received",
            |s| Some(s.received as f64),
        ),
        (
            "sluice_source_acked_total",
            "counter",
            "events accepted by the engine and acknowledged",
            |s| Some(s.acked as f64),
        ),
        (
            "sluice_source_dead_lettered_total",
            "counter",
            "messages sent to the dead-letter destination",
            |s| Some(s.dead_lettered as f64),
        ),
        (
            "sluice_source_failures_total",
            "counter",
            "failed connects, submits and acks (retried)",
            |s| Some(s.failures as f64),
        ),
        (
            "sluice_source_reconnects_total",
            "counter",
            "reconnections to the broker",
            |s| Some(s.reconnects as f64),
        ),
    ];
    for (name, kind, help, get) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (source, source_kind, snap) in sources {
            if let Some(v) = get(snap) {
                out.push_str(&format!(
                    "{name}{{source=\"{}\",kind=\"{source_kind}\"}} {v}\n",
                    source.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_name_each_source() {
        let s = SourceStatus::new();
        s.set_connected(true);
        s.add_received(3);
        s.fail("q", "boom");
        let text = render_metrics(&[("q".into(), "amqp".into(), s.snapshot())]);
        assert!(text.contains("sluice_source_connected{source=\"q\",kind=\"amqp\"} 1\n"));
        assert!(text.contains("sluice_source_received_total{source=\"q\",kind=\"amqp\"} 3\n"));
        assert!(
            !text.contains("sluice_source_lag{"),
            "unknown lag is not reported"
        );
        assert_eq!(s.snapshot().last_error.as_deref(), Some("boom"));
    }
}
