//! What the executors' benches share: the run's settings (`--quick`), the
//! machine and its load, latency percentiles and the printed rows.

#![allow(dead_code)]

#[path = "../../tests/common/builds.rs"]
pub mod builds;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `-- --quick` runs a tenth of the work (cargo passes `--bench` too).
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// `full` iterations, or a tenth of them (at least 10) with `--quick`.
pub fn scaled(full: usize) -> usize {
    if quick() {
        (full / 10).max(10)
    } else {
        full
    }
}

fn first_line_with(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// The 1-minute load average.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A heading with the machine, the load and the settings.
pub fn header(what: &str) {
    let cpu = first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("== {what} ==");
    println!(
        "machine: {cpu}, {cores} CPUs; load average {} at start{}",
        load(),
        if quick() { "; --quick" } else { "" }
    );
}

/// Latencies of one case.
pub struct Samples {
    pub latencies: Vec<Duration>,
    /// Wall time of the whole case (for the throughput).
    pub elapsed: Duration,
}

impl Samples {
    pub fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(0.99)
    }

    /// Completed operations per second of wall time.
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `1.23 ms` / `45.6 µs`.
pub fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

pub fn print_columns() {
    println!(
        "{:<58} {:>6} {:>11} {:>11} {:>10}",
        "case", "n", "p50", "p99", "ops/s"
    );
}

pub fn print_row(case: &str, s: &Samples) {
    println!(
        "{case:<58} {:>6} {:>11} {:>11} {:>10.0}",
        s.latencies.len(),
        fmt(s.p50()),
        fmt(s.p99()),
        s.per_second()
    );
}

/// `a ÷ b` as a ratio line.
pub fn print_ratio(what: &str, a: f64, b: f64) {
    println!("ratio {what}: {:.2}×", a / b);
}

/// Runs `total` operations, `concurrency` at a time, each on a blocking
/// thread of its own; times each.
pub fn closed_loop_blocking<F>(concurrency: usize, total: usize, op: F) -> Samples
where
    F: Fn(usize) + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        return mine;
                    }
                    let t = Instant::now();
                    op(i);
                    mine.push(t.elapsed());
                }
            })
        })
        .collect();
    let latencies = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a bench thread panicked"))
        .collect();
    Samples {
        latencies,
        elapsed: started.elapsed(),
    }
}

/// The same with tokio tasks.
pub async fn closed_loop<F, Fut>(concurrency: usize, total: usize, op: F) -> Samples
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        return mine;
                    }
                    let t = Instant::now();
                    op(i).await;
                    mine.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("a bench task panicked"));
    }
    Samples {
        latencies,
        elapsed: started.elapsed(),
    }
}

/// Whether `target` is met; a line for the summary.
pub fn verdict(target: &str, met: bool, measured: String) {
    println!(
        "target {target}: {measured} — {}",
        if met { "met" } else { "NOT met" }
    );
}
