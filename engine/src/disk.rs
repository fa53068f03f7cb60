//! The store's disk: a reserve of free space kept for what is already
//! under way, checked before each batch, so that sled never meets a full
//! disk (it cannot recover from one in the middle of a write).
//!
//! Below the reserve the writer refuses new work (starts, events,
//! deploys, callbacks from clients) with [`EngineError::DiskFull`] (HTTP
//! 507) and holds back the engine's own progress (finished tasks, timers)
//! until space returns; reads never go through the writer and keep
//! working. Nothing acknowledged is lost: a refused command was not
//! acknowledged, and held-back progress is also in the store (a restart
//! re-dispatches it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::EngineError;

/// Free space kept back unless configured.
pub const DEFAULT_RESERVE_BYTES: u64 = 64 * 1024 * 1024;

/// How often the free space is read again while it is low.
pub const RECHECK: Duration = Duration::from_millis(250);

/// Free bytes for an unprivileged writer on the filesystem of `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    fs2::available_space(dir)
}

/// The reserve check of one store.
#[derive(Debug)]
pub struct DiskGuard {
    dir: PathBuf,
    reserve: u64,
    /// Whether the last check found the disk low, and when it was made.
    low_since: Option<Instant>,
}

impl DiskGuard {
    pub fn new(dir: &Path, reserve: u64) -> DiskGuard {
        DiskGuard {
            dir: dir.to_path_buf(),
            reserve,
            low_since: None,
        }
    }

    /// `Some(error)` when the free space is below the reserve (an
    /// unreadable filesystem counts as full: writing to it is no safer).
    pub fn check(&mut self) -> Option<EngineError> {
        if self.reserve == 0 {
            return None;
        }
        let free = free_bytes(&self.dir);
        let low = !matches!(free, Ok(n) if n >= self.reserve);
        match (low, self.low_since) {
            (true, None) => {
                self.low_since = Some(Instant::now());
                tracing::error!(
                    folder = %self.dir.display(),
                    free = ?free.as_ref().ok(),
                    reserve = self.reserve,
                    "the store's disk is below its reserve: writes are refused until space returns (reads go on)"
                );
            }
            (false, Some(since)) => {
                self.low_since = None;
                tracing::info!(
                    folder = %self.dir.display(),
                    after_ms = since.elapsed().as_millis() as u64,
                    "the store's disk has space again: writes go on"
                );
            }
            _ => {}
        }
        low.then(|| self.error(free.ok()))
    }

    fn error(&self, free: Option<u64>) -> EngineError {
        EngineError::DiskFull(match free {
            Some(n) => format!(
                "the disk holding the store has {} MiB free, below the reserve of {} MiB \
                 kept for work under way; nothing was stored. Free space there (or lower \
                 --disk-reserve-mb) and retry: writes resume by themselves",
                n >> 20,
                self.reserve >> 20
            ),
            None => {
                "the free space of the disk holding the store cannot be read; nothing was stored"
                    .to_string()
            }
        })
    }
}

/// Remove what an interrupted snapshot left in a sled folder: sled writes
/// `snap.N.generating` and renames it once complete, but on opening it
/// reads every `snap.*` file, so a truncated one (the disk filled up while
/// it was written) makes every later open fail with "Read corrupted data".
pub fn remove_partial_snapshots(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())?;
            tracing::warn!(file = %name, "removed an incomplete store snapshot (a write that ran out of space)");
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_and_names_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut guard = DiskGuard::new(dir.path(), u64::MAX);
        let e = guard.check().expect("no disk has that much free");
        let text = e.to_string();
        assert!(
            text.contains("below the reserve") && text.contains("--disk-reserve-mb"),
            "{text}"
        );
        assert!(DiskGuard::new(dir.path(), 1).check().is_none());
        assert!(DiskGuard::new(dir.path(), 0).check().is_none());
    }

    #[test]
    fn only_incomplete_snapshots_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "snap.00000000000000AB.generating",
            "snap.00000000000000AA",
            "db",
            "conf",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        assert_eq!(remove_partial_snapshots(dir.path()).unwrap(), 1);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["conf", "db", "snap.00000000000000AA"]);
    }
}
