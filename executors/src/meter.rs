//! What one invocation cost: cold or warm, init and run time, memory, and
//! the function's own output (size-capped). Goes to the function's logs,
//! `/metrics` and the invoke API's answer.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Largest stdout or stderr kept from one invocation, in bytes.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// Invocations kept per function for `GET /api/v1/functions/{name}/logs`.
pub const LOG_ENTRIES: usize = 200;

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meter {
    pub function: String,
    /// `$LATEST` or the catalog version that ran.
    pub version: String,
    pub request_id: String,
    pub runtime: &'static str,
    /// A new process or instance had to start (for `wasm`: always a fresh
    /// instance from the precompiled module, so `cold` marks the first
    /// compile only).
    pub cold: bool,
    /// Start-up time of a cold instance, in milliseconds.
    pub init_ms: f64,
    /// The invocation itself, in milliseconds.
    pub duration_ms: f64,
    /// Peak resident memory of the instance in KiB, when known.
    pub max_memory_kb: Option<u64>,
    /// memoryMb × duration, in GB-seconds (what Lambda bills).
    pub gb_seconds: f64,
    pub started_at: String,
    /// `null` on success.
    pub error: Option<String>,
    pub stdout: String,
    pub stderr: String,
    /// Whether stdout or stderr was cut at [`OUTPUT_CAP`].
    pub truncated: bool,
}

impl Meter {
    pub fn finish_cost(&mut self, memory_mb: u64) {
        self.gb_seconds = memory_mb as f64 / 1024.0 * self.duration_ms / 1000.0;
    }

    /// Set stdout/stderr from raw bytes, keeping the last [`OUTPUT_CAP`].
    pub fn set_output(&mut self, stdout: &[u8], stderr: &[u8]) {
        let (o, t1) = capped(stdout);
        let (e, t2) = capped(stderr);
        self.stdout = o;
        self.stderr = e;
        self.truncated |= t1 || t2;
    }
}

fn capped(bytes: &[u8]) -> (String, bool) {
    if bytes.len() <= OUTPUT_CAP {
        (String::from_utf8_lossy(bytes).into_owned(), false)
    } else {
        (
            String::from_utf8_lossy(&bytes[bytes.len() - OUTPUT_CAP..]).into_owned(),
            true,
        )
    }
}

/// A byte buffer that keeps at most `cap` bytes (the first ones) and
/// remembers whether more came.
#[derive(Debug, Default)]
pub struct CappedBuf {
    pub bytes: Vec<u8>,
    pub overflowed: bool,
}

impl CappedBuf {
    pub fn push(&mut self, data: &[u8]) {
        let room = OUTPUT_CAP.saturating_sub(self.bytes.len());
        if data.len() > room {
            self.overflowed = true;
        }
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }

    pub fn take(&mut self) -> (Vec<u8>, bool) {
        let overflowed = std::mem::take(&mut self.overflowed);
        (std::mem::take(&mut self.bytes), overflowed)
    }
}

/// The last invocations of one function, newest last.
#[derive(Debug, Default)]
pub struct LogRing {
    entries: Mutex<VecDeque<Meter>>,
}

impl LogRing {
    pub fn push(&self, meter: Meter) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if e.len() == LOG_ENTRIES {
            e.pop_front();
        }
        e.push_back(meter);
    }

    /// The newest `limit` entries, oldest first.
    pub fn last(&self, limit: usize) -> Vec<Meter> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter()
            .skip(e.len().saturating_sub(limit))
            .cloned()
            .collect()
    }
}

/// Peak resident memory of a live process (`VmHWM`), in KiB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
