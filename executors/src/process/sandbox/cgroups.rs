//! The per-instance cgroups: limits, what they counted, and the kill of
//! everything left in them.

use std::path::PathBuf;

/// The cgroup folders of one instance; removed when dropped.
#[derive(Debug)]
pub struct InstanceCgroups {
    pub(super) dirs: Vec<PathBuf>,
    pub(super) memory: Option<PathBuf>,
    pub(super) v2: bool,
}

impl InstanceCgroups {
    /// Whether the memory limit was hit (the kernel refused or OOM-killed).
    pub fn memory_exceeded(&self) -> bool {
        let Some(m) = &self.memory else { return false };
        if self.v2 {
            let events = std::fs::read_to_string(m.join("memory.events")).unwrap_or_default();
            events.lines().any(|l| {
                let mut w = l.split_whitespace();
                matches!((w.next(), w.next()), (Some("oom_kill" | "max"), Some(n)) if n != "0")
            })
        } else {
            let fail = std::fs::read_to_string(m.join("memory.failcnt")).unwrap_or_default();
            fail.trim().parse::<u64>().unwrap_or(0) > 0
                || std::fs::read_to_string(m.join("memory.oom_control"))
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.starts_with("oom_kill ") && !l.ends_with(" 0"))
        }
    }

    /// Peak memory of the instance, in KiB.
    pub fn peak_kb(&self) -> Option<u64> {
        let m = self.memory.as_ref()?;
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        std::fs::read_to_string(m.join(file))
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|b| b / 1024)
    }
}

/// SIGKILL every process in `dirs` (v2: `cgroup.kill`; else each pid of
/// `cgroup.procs`, again until none is left, since one may fork while
/// its siblings are killed). Gives up after about a second.
fn kill_all(dirs: &[PathBuf]) {
    for d in dirs {
        let _ = std::fs::write(d.join("cgroup.kill"), "1");
    }
    for _ in 0..100 {
        let mut any = false;
        for d in dirs {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs
                .lines()
                .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
            {
                any = true;
                // SAFETY: plain syscall; the pid is in our own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if !any {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl InstanceCgroups {
    /// End every process the instance started, wherever it went (a new
    /// session, a new process group, a double fork): they all stay in
    /// its cgroups.
    pub fn kill_all(&self) {
        kill_all(&self.dirs);
    }
}

impl Drop for InstanceCgroups {
    fn drop(&mut self) {
        let dirs = std::mem::take(&mut self.dirs);
        if dirs.is_empty() {
            return;
        }
        // Nothing outlives the instance; the processes may take a moment
        // to be gone after SIGKILL before the folders can be removed.
        std::thread::spawn(move || {
            kill_all(&dirs);
            for _ in 0..100 {
                if dirs
                    .iter()
                    .all(|d| std::fs::remove_dir(d).is_ok() || !d.exists())
                {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
    }
}
