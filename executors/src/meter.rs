//! What one invocation cost: cold or warm, init and run time, memory, and
//! the function's own output (size-capped). Goes to the function's logs,
//! `/metrics`, the invoke API's answer and the execution history.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Largest stdout or stderr kept from one invocation, in bytes.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// Invocations kept per function for `GET /api/v1/functions/{name}/logs`.
pub const LOG_ENTRIES: usize = 200;

/// The meter is the engine's [`sluice_engine::TaskMeter`]: the same record
/// goes to the function's logs and to the Task's history event.
pub use sluice_engine::TaskMeter as Meter;

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
