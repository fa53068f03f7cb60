//! [`PackageStore`]: uploaded packages, content-addressed under the data
//! folder. Layout:
//!
//! ```text
//! DATA/packages/<sha256 hex>/code/          the unpacked files (read-only)
//! DATA/packages/<sha256 hex>/package.json   its PackageInfo
//! DATA/packages/.tmp/                       uploads and unpacking under way
//! ```
//!
//! A package is unpacked into `.tmp` and renamed into place only once
//! whole and on disk, so a folder named by a digest is always complete;
//! `.tmp` is emptied when the store opens (leftovers of a crash). The same
//! archive uploaded again is not unpacked again. Packages are never
//! changed or removed by the server: every version that names one keeps
//! its code.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::formats::{self, Format, HEAD_BYTES};
use super::{size_text, Limits, PackageError};

/// What the server knows of a stored package (the answer to an upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageInfo {
    /// How a function definition names it: `sha256:<codeSha256>`.
    pub package: String,
    /// The SHA-256 of the archive, in lowercase hex.
    pub code_sha256: String,
    /// The archive's size in bytes.
    pub code_size: u64,
    /// `zip`, `tar` or `tar.gz`.
    pub format: String,
    /// Regular files unpacked.
    pub files: u64,
    /// Their total size in bytes.
    pub unpacked_bytes: u64,
    /// When it was first uploaded (RFC 3339).
    pub created_at: String,
}

/// The packages under one folder.
#[derive(Debug)]
pub struct PackageStore {
    root: PathBuf,
    limits: Limits,
}

/// Removes a file or folder when dropped, unless disarmed.
struct Leftover(Option<PathBuf>);

impl Drop for Leftover {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

/// The hex digest of a `sha256:<hex>` reference or of a bare hex digest.
fn hex_of(digest: &str) -> Option<&str> {
    let hex = digest
        .strip_prefix(sluice_dsl::function::PACKAGE_PREFIX)
        .unwrap_or(digest);
    sluice_dsl::function::is_digest(hex).then_some(hex)
}

impl PackageStore {
    /// Open (creating it) the store in `root` and clear what a crash left
    /// in its `.tmp`. The root is made absolute: code folders are
    /// working directories, also inside a sandbox with its own root.
    pub fn open(root: impl Into<PathBuf>, limits: Limits) -> std::io::Result<PackageStore> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        let store = PackageStore {
            root: fs::canonicalize(&root)?,
            limits,
        };
        match fs::remove_dir_all(store.tmp()) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        fs::create_dir(store.tmp())?;
        Ok(store)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    /// The folder functions with this package run in (`sha256:<hex>` or
    /// the bare hex digest); `None` for anything else.
    pub fn code_dir(&self, digest: &str) -> Option<PathBuf> {
        hex_of(digest).map(|hex| self.root.join(hex).join("code"))
    }

    /// A stored package (`sha256:<hex>` or the bare hex digest).
    pub fn get(&self, digest: &str) -> Option<PackageInfo> {
        let hex = hex_of(digest)?;
        let text = fs::read(self.root.join(hex).join("package.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Every stored package, oldest first.
    pub fn list(&self) -> Vec<PackageInfo> {
        let mut all: Vec<PackageInfo> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| self.get(&e.file_name().to_string_lossy()))
            .collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        all
    }

    /// A new empty file in the store's `.tmp` to receive an upload into
    /// (then give its path to [`PackageStore::put`]).
    pub fn spool(&self) -> std::io::Result<(File, PathBuf)> {
        let path = self.tmp().join(format!("upload-{}", uuid::Uuid::new_v4()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((file, path))
    }

    /// The refusal of an archive above [`Limits::archive_bytes`].
    pub fn archive_too_large(&self) -> PackageError {
        PackageError::TooLarge(format!(
            "the archive is larger than {}, the limit of one package upload; leave out tests, caches and development dependencies",
            size_text(self.limits.archive_bytes)
        ))
    }

    /// Store the archive at `archive` (removed in any case): checked,
    /// unpacked and moved into place whole, or refused with nothing left
    /// behind. Storing the same archive again answers the stored package.
    /// Blocking.
    pub fn put(&self, archive: &Path) -> Result<PackageInfo, PackageError> {
        let _spool = Leftover(Some(archive.to_path_buf()));
        let size = fs::metadata(archive)
            .map_err(|e| PackageError::io("cannot read the uploaded archive", e))?
            .len();
        if size > self.limits.archive_bytes {
            return Err(self.archive_too_large());
        }
        if size == 0 {
            return Err(PackageError::Invalid(
                "the upload is empty; send the archive's bytes (curl --data-binary @fn.zip)".into(),
            ));
        }
        let (hex, head) = digest(archive)?;
        if let Some(stored) = self.get(&hex) {
            return Ok(stored);
        }
        let format = Format::detect(&head).ok_or_else(|| formats::not_an_archive(&head))?;
        let staging = self.tmp().join(format!("package-{}", uuid::Uuid::new_v4()));
        let mut leftover = Leftover(Some(staging.clone()));
        let code = staging.join("code");
        fs::create_dir_all(&code)
            .map_err(|e| PackageError::io("cannot create a package folder", e))?;
        let unpacked = formats::unpack(archive, format, &code, &self.limits)?;
        if unpacked.files == 0 {
            return Err(PackageError::Invalid(
                "the archive holds no files; a package needs at least the function's code".into(),
            ));
        }
        let info = PackageInfo {
            package: format!("{}{hex}", sluice_dsl::function::PACKAGE_PREFIX),
            code_sha256: hex.clone(),
            code_size: size,
            format: format.name().to_string(),
            files: unpacked.files,
            unpacked_bytes: unpacked.bytes,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let json = serde_json::to_vec_pretty(&info).unwrap_or_default();
        fs::write(staging.join("package.json"), json)
            .map_err(|e| PackageError::io("cannot write package.json", e))?;
        sync_filesystem(&staging)?;
        match fs::rename(&staging, self.root.join(&hex)) {
            Ok(()) => {
                leftover.0 = None;
                sync_filesystem(&self.root)?;
                tracing::info!(package = %info.package, files = info.files, bytes = info.unpacked_bytes, "package stored");
                Ok(info)
            }
            // The same archive, stored by a concurrent upload.
            Err(_) if self.get(&hex).is_some() => Ok(self.get(&hex).unwrap_or(info)),
            Err(e) => Err(PackageError::io("cannot move the package into place", e)),
        }
    }

    /// Store an archive held in memory (an inline `code.zipFile`).
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<PackageInfo, PackageError> {
        if bytes.len() as u64 > self.limits.archive_bytes {
            return Err(self.archive_too_large());
        }
        let (mut file, path) = self
            .spool()
            .map_err(|e| PackageError::io("cannot create an upload file", e))?;
        let written = std::io::Write::write_all(&mut file, bytes);
        drop(file);
        if let Err(e) = written {
            let _ = fs::remove_file(&path);
            return Err(PackageError::io("cannot write an upload file", e));
        }
        self.put(&path)
    }
}

/// The SHA-256 (hex) of a file and its first [`HEAD_BYTES`].
fn digest(path: &Path) -> Result<(String, Vec<u8>), PackageError> {
    let read = |e| PackageError::io("cannot read the uploaded archive", e);
    let mut file = File::open(path).map_err(read)?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(read)?;
        if n == 0 {
            break;
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
    }
    Ok((format!("{:x}", hasher.finalize()), head))
}

/// Flush the file system holding `dir` to disk: one `syncfs` for every
/// file of a package instead of an fsync per file, so that a package a
/// stored definition names survives a power cut with the definition.
fn sync_filesystem(dir: &Path) -> Result<(), PackageError> {
    let f = File::open(dir).map_err(|e| PackageError::io("cannot open a package folder", e))?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs only reads the descriptor, which `f` keeps open.
        if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
            return Err(PackageError::io(
                "cannot flush the package to disk",
                std::io::Error::last_os_error(),
            ));
        }
    }
    #[cfg(not(target_os = "linux"))]
    f.sync_all()
        .map_err(|e| PackageError::io("cannot flush the package to disk", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// Everything under the store but `.tmp`'s (empty) self.
    fn contents(store: &PackageStore) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(store.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.extend(
            fs::read_dir(store.root().join(".tmp"))
                .unwrap()
                .map(|e| format!(".tmp/{}", e.unwrap().file_name().to_string_lossy())),
        );
        names.sort();
        names
    }

    #[test]
    fn a_package_is_stored_once_by_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = PackageStore::open(dir.path().join("packages"), Limits::default()).unwrap();
        let bytes = zip_of(&[("app.py", b"print(1)\n")]);
        let info = store.put_bytes(&bytes).unwrap();
        let hex = format!("{:x}", Sha256::digest(&bytes));
        assert_eq!(info.code_sha256, hex);
        assert_eq!(info.package, format!("sha256:{hex}"));
        assert_eq!(
            (info.code_size, info.files, info.unpacked_bytes),
            (bytes.len() as u64, 1, 9)
        );
        assert_eq!(info.format, "zip");
        let code = store.code_dir(&info.package).unwrap();
        assert_eq!(fs::read(code.join("app.py")).unwrap(), b"print(1)\n");
        // Again: the same answer, nothing unpacked twice, nothing left over.
        assert_eq!(store.put_bytes(&bytes).unwrap(), info);
        assert_eq!(contents(&store), vec![".tmp".to_string(), hex.clone()]);
        assert_eq!(store.get(&hex), Some(info.clone()));
        assert_eq!(store.list(), vec![info]);
        assert_eq!(store.get("sha256:../../etc"), None);
        assert_eq!(store.code_dir("../x"), None);
    }

    #[test]
    fn a_refused_package_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            archive_bytes: 10_000,
            ..Limits::default()
        };
        let store = PackageStore::open(dir.path().join("packages"), limits).unwrap();
        let slip = zip_of(&[("a.py", b"1"), ("../../evil.py", b"2")]);
        assert!(matches!(
            store.put_bytes(&slip),
            Err(PackageError::Invalid(_))
        ));
        assert!(matches!(
            store.put_bytes(b"{\"not\": \"an archive\"}"),
            Err(PackageError::Invalid(_))
        ));
        assert!(
            matches!(store.put_bytes(&zip_of(&[("d/", b"")])), Err(PackageError::Invalid(m)) if m.contains("no files"))
        );
        let big = vec![7u8; 10_001];
        assert!(
            matches!(store.put_bytes(&big), Err(PackageError::TooLarge(m)) if m.contains("10001") || m.contains("10000 bytes"))
        );
        assert_eq!(contents(&store), vec![".tmp".to_string()]);
        assert!(!dir.path().join("evil.py").exists());
    }

    #[test]
    fn the_root_is_made_absolute_for_sandboxed_working_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            PackageStore::open(dir.path().join("x/../packages"), Limits::default()).unwrap();
        let hex = "a".repeat(64);
        let code = store.code_dir(&hex).unwrap();
        assert!(code.is_absolute());
        assert!(
            !code
                .components()
                .any(|c| c == std::path::Component::ParentDir),
            "{code:?}"
        );
        assert_eq!(
            code,
            dir.path()
                .canonicalize()
                .unwrap()
                .join("packages")
                .join(hex)
                .join("code")
        );
    }

    #[test]
    fn opening_clears_what_a_crash_left_in_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("packages");
        let store = PackageStore::open(&root, Limits::default()).unwrap();
        let (_f, spooled) = store.spool().unwrap();
        fs::create_dir_all(root.join(".tmp/package-x/code")).unwrap();
        assert!(spooled.exists());
        let store = PackageStore::open(&root, Limits::default()).unwrap();
        assert_eq!(contents(&store), vec![".tmp".to_string()]);
    }
}
