//! What `--durability power` adds after sled's flush: an `fsync` of each
//! store file whose content may not be on the platter yet, and of a
//! folder whose entries changed.
//!
//! sled 0.34's flush writes its log (the `db` file, rewritten in place)
//! with `sync_file_range`, which does not flush the disk's cache, so `db`
//! is synced after every flush. Its other files are written once: `conf`
//! at creation, `snap.N` written in full and `sync_all`ed before it is
//! renamed into place, and `blobs/N` (pages too large for the log: a
//! large value, or a tree node holding many)
//! created and appended to, never `fsync`ed by sled. Such a file is synced
//! once its content stops changing, which its identity (inode, length,
//! mtime) tells: a file only appended to has a new length after each
//! write, so no write is missed. A folder is synced when its entries
//! differ from those of its last sync (a blob removed) or when one of its
//! files other than `db` was synced (a new blob, a renamed snapshot).
//!
//! Before this, every flush synced every top-level file and the folder
//! (four `fsync`s, each a disk-cache flush of about 160 µs on this
//! machine's disk even when nothing was dirty) and no blob at all.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::EngineError;

/// The file sled rewrites in place: synced after every flush.
const LOG_FILE: &str = "db";
/// Where sled keeps values too large for its log.
const BLOB_DIR: &str = "blobs";

/// What a file looked like when it was last synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    inode: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            inode: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// The flusher's record of what is already on the platter.
#[derive(Debug, Default)]
pub(super) struct PowerSync {
    files: BTreeMap<PathBuf, Identity>,
    /// Per folder, its entries (name and inode) at its last sync.
    folders: BTreeMap<PathBuf, BTreeSet<(OsString, u64)>>,
}

/// What one [`PowerSync::sync`] synced (for tests and traces).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Synced {
    pub files: Vec<PathBuf>,
    pub folders: Vec<PathBuf>,
}

impl PowerSync {
    /// Sync what may not be durable in `dir` (the store folder) and its
    /// blob folder. Call after sled's flush.
    pub(super) fn sync(&mut self, dir: &Path) -> Result<Synced, EngineError> {
        let mut synced = Synced::default();
        // Blobs first: once `db` is on the platter it may point at them.
        let blobs = dir.join(BLOB_DIR);
        if blobs.is_dir() {
            self.sync_folder(&blobs, &mut synced)?;
        }
        self.sync_folder(dir, &mut synced)?;
        Ok(synced)
    }

    fn sync_folder(&mut self, dir: &Path, synced: &mut Synced) -> Result<(), EngineError> {
        let io = |path: &Path, e: std::io::Error| {
            EngineError::Storage(format!("fsync {}: {e}", path.display()))
        };
        let mut listed = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            listed.push(entry.map_err(|e| io(dir, e))?);
        }
        listed.sort_by_key(|e| e.file_name());
        let mut entries = BTreeSet::new();
        let mut renamed_or_new = false;
        for entry in listed {
            let path = entry.path();
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                // Removed since the listing (an old snapshot): nothing to sync.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path, e)),
            };
            entries.insert((entry.file_name(), meta.ino()));
            if !meta.is_file() {
                continue;
            }
            let now = Identity::of(&meta);
            let in_place = entry.file_name() == LOG_FILE;
            if !in_place && self.files.get(&path) == Some(&now) {
                continue;
            }
            match std::fs::File::open(&path).and_then(|f| f.sync_all()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path, e)),
            }
            // The identity read before the sync: a write after it changes
            // the identity, and the next flush syncs the file again.
            self.files.insert(path.clone(), now);
            synced.files.push(path);
            // A new or rewritten file may be a new entry under an old
            // name and inode (a file replaced, its inode reused).
            renamed_or_new |= !in_place;
        }
        if renamed_or_new || self.folders.get(dir) != Some(&entries) {
            std::fs::File::open(dir)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(dir, e))?;
            synced.folders.push(dir.to_path_buf());
            // Files that are gone need no record.
            self.files.retain(|p, _| {
                p.parent() != Some(dir) || entries.iter().any(|(n, _)| p.file_name() == Some(n))
            });
            self.folders.insert(dir.to_path_buf(), entries);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_log_every_time_other_files_once_their_content_settles_folders_when_entries_change() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("conf"), b"segment_size: 524288").unwrap();
        std::fs::write(d.join("db"), b"log").unwrap();
        std::fs::write(d.join("snap.0001"), b"snapshot").unwrap();
        let mut sync = PowerSync::default();

        // First: every file and the folder.
        let first = sync.sync(d).unwrap();
        assert_eq!(names(&first.files), ["conf", "db", "snap.0001"]);
        assert_eq!(first.folders, [d.to_path_buf()]);

        // Nothing changed but the log (rewritten in place, same length).
        std::fs::write(d.join("db"), b"LOG").unwrap();
        let second = sync.sync(d).unwrap();
        assert_eq!(names(&second.files), ["db"]);
        assert!(second.folders.is_empty());

        // A blob appears, written in two parts: the file and both folders,
        // then the file and its folder again after its second write.
        std::fs::create_dir(d.join("blobs")).unwrap();
        let mut blob = std::fs::File::create(d.join("blobs/42")).unwrap();
        blob.write_all(b"crc").unwrap();
        let third = sync.sync(d).unwrap();
        assert_eq!(names(&third.files), ["42", "db"]);
        assert_eq!(third.folders, [d.join("blobs"), d.to_path_buf()]);
        blob.write_all(b"the rest of a large value").unwrap();
        let fourth = sync.sync(d).unwrap();
        assert_eq!(names(&fourth.files), ["42", "db"]);
        assert_eq!(fourth.folders, [d.join("blobs")]);
        let settled = sync.sync(d).unwrap();
        assert_eq!(names(&settled.files), ["db"]);
        assert!(settled.folders.is_empty());

        // A snapshot renamed into place over the old one's name's slot.
        std::fs::write(d.join("snap.0002.generating"), b"newer").unwrap();
        std::fs::rename(d.join("snap.0002.generating"), d.join("snap.0002")).unwrap();
        std::fs::remove_file(d.join("snap.0001")).unwrap();
        let fifth = sync.sync(d).unwrap();
        assert_eq!(names(&fifth.files), ["db", "snap.0002"]);
        assert_eq!(fifth.folders, [d.to_path_buf()]);
        assert!(!sync.files.contains_key(&d.join("snap.0001")));

        // A file replaced under the same name.
        std::fs::remove_file(d.join("conf")).unwrap();
        std::fs::write(d.join("conf"), b"segment_size: 1048576").unwrap();
        let sixth = sync.sync(d).unwrap();
        assert_eq!(names(&sixth.files), ["conf", "db"]);
        assert_eq!(sixth.folders, [d.to_path_buf()]);
    }
}
