//! Per-function counters in the Prometheus text format.

use std::fmt::Write as _;

use super::{Functions, Series};

impl Functions {
    /// Per-function counters in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let stats = self.inner.stats.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let series: [Series; 8] = [
            (
                "sluice_function_invocations_total",
                "counter",
                "Function invocations.",
                |s| s.invocations as f64,
            ),
            (
                "sluice_function_errors_total",
                "counter",
                "Invocations that failed (not counting throttles).",
                |s| s.errors as f64,
            ),
            (
                "sluice_function_throttles_total",
                "counter",
                "Invocations refused with Sluice.Throttled.",
                |s| s.throttles as f64,
            ),
            (
                "sluice_function_timeouts_total",
                "counter",
                "Invocations stopped at timeoutSeconds.",
                |s| s.timeouts as f64,
            ),
            (
                "sluice_function_cold_starts_total",
                "counter",
                "Invocations that started a new instance.",
                |s| s.cold as f64,
            ),
            (
                "sluice_function_duration_seconds_total",
                "counter",
                "Time spent in invocations (without init).",
                |s| s.duration_seconds,
            ),
            (
                "sluice_function_init_seconds_total",
                "counter",
                "Time spent starting instances.",
                |s| s.init_seconds,
            ),
            (
                "sluice_function_gb_seconds_total",
                "counter",
                "memoryMb x duration, in GB-seconds.",
                |s| s.gb_seconds,
            ),
        ];
        for (metric, kind, help, get) in series {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
            for (name, s) in stats.iter() {
                let _ = writeln!(out, "{metric}{{function=\"{name}\"}} {}", get(s));
            }
        }
        out
    }
}
