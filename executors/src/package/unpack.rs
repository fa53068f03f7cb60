//! The guards between an archive's entries and the disk. Every entry of a
//! zip or tar goes through an [`Unpacker`], which writes only inside its
//! root folder:
//!
//! - names are relative and have no `..` (zip-slip); `./` is dropped;
//! - no entry is written through a symlink, and nothing is written twice
//!   (a later entry cannot replace a link or a file made before it);
//! - a symlink's target is relative, goes up (`../`) only at its start and
//!   never above the root, so every link resolves inside the package;
//! - hard links point at a file unpacked before them;
//! - device files, FIFOs and sockets are refused;
//! - the entry count and the unpacked bytes stay within [`Limits`],
//!   counted on what is really written (declared sizes can lie).
//!
//! Files keep their executable bit and become read-only (`0555`/`0444`):
//! a package is shared by every version that uses it and never changes.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::{size_text, Limits, PackageError};

/// Longest symlink target accepted (Linux's `PATH_MAX`).
pub const MAX_LINK_TARGET: u64 = 4096;

/// What an [`Unpacker`] wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unpacked {
    /// Entries seen: files, folders and links.
    pub entries: u64,
    /// Regular files (hard links included).
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes archive entries under `root`, refusing any that could escape it
/// or exceed the limits.
pub struct Unpacker<'a> {
    root: &'a Path,
    limits: Limits,
    done: Unpacked,
}

fn invalid(message: String) -> PackageError {
    PackageError::Invalid(message)
}

/// The error for unpacked bytes above the limit.
pub fn too_many_bytes(limits: &Limits) -> PackageError {
    PackageError::TooLarge(format!(
        "the package unpacks to more than {}, the limit of unpacked bytes; leave out tests, caches and development dependencies",
        size_text(limits.unpacked_bytes)
    ))
}

/// The error for more entries than the limit.
pub fn too_many_entries(limits: &Limits) -> PackageError {
    PackageError::TooLarge(format!(
        "the package has more than {} entries, the limit of files, folders and links in one package",
        limits.entries
    ))
}

/// Refuse at once an archive whose own listing (entry count, declared
/// sizes) is over the limits, before anything is written.
pub fn check_declared(limits: &Limits, entries: u64, bytes: u64) -> Result<(), PackageError> {
    if entries > limits.entries {
        return Err(too_many_entries(limits));
    }
    if bytes > limits.unpacked_bytes {
        return Err(too_many_bytes(limits));
    }
    Ok(())
}

/// The refusal of a device file, FIFO or socket (`what`).
pub fn special(name: &Path, what: &str) -> PackageError {
    invalid(format!(
        "entry '{}' is a {what}; a package holds only files, folders and links",
        name.display()
    ))
}

/// An entry name made relative and clean: `./` dropped; `..`, a leading
/// `/` and NUL refused. An empty result is the root itself.
pub fn clean(name: &Path) -> Result<PathBuf, PackageError> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(invalid(format!(
                    "entry '{}' would land outside the package (an absolute path or '..'); archive the code folder's contents from inside it, e.g. `cd code && zip -r ../fn.zip .`",
                    name.display()
                )))
            }
        }
    }
    Ok(out)
}

/// Whether a symlink at `link` (clean, relative to the root) pointing at
/// `target` stays inside the root. `..` is allowed only at the start of
/// the target: the link's own folder is a real folder (nothing is
/// written through links), so going up from it is what it looks like;
/// after a name, which may itself be a link, `..` could lead anywhere.
fn link_stays_inside(link: &Path, target: &Path) -> bool {
    if target.as_os_str().is_empty() || target.is_absolute() {
        return false;
    }
    let mut depth = link.components().count() as i64 - 1;
    let mut descended = false;
    for c in target.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if !descended => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::Normal(_) => descended = true,
            _ => return false,
        }
    }
    true
}

impl<'a> Unpacker<'a> {
    /// Unpack into `root`, an existing empty folder.
    pub fn new(root: &'a Path, limits: Limits) -> Unpacker<'a> {
        Unpacker {
            root,
            limits,
            done: Unpacked::default(),
        }
    }

    pub fn finish(self) -> Unpacked {
        self.done
    }

    fn count(&mut self) -> Result<(), PackageError> {
        self.done.entries += 1;
        if self.done.entries > self.limits.entries {
            return Err(too_many_entries(&self.limits));
        }
        Ok(())
    }

    /// Walk `rel`'s folders from the root (all of them with `whole`, else
    /// all but the last component), creating missing ones; a component
    /// that is a symlink or a file is refused.
    fn folders(&self, name: &Path, rel: &Path, whole: bool) -> Result<(), PackageError> {
        let parts: Vec<Component> = rel.components().collect();
        let upto = if whole {
            parts.len()
        } else {
            parts.len().saturating_sub(1)
        };
        let mut at = self.root.to_path_buf();
        for part in &parts[..upto] {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(invalid(format!(
                        "entry '{}' goes through the symlink '{}'; an archive may not write through its own links",
                        name.display(),
                        at.strip_prefix(self.root).unwrap_or(&at).display()
                    )))
                }
                Ok(_) => {
                    return Err(invalid(format!(
                        "entry '{}' needs '{}' to be a folder, but the archive made it a file",
                        name.display(),
                        at.strip_prefix(self.root).unwrap_or(&at).display()
                    )))
                }
                Err(e) if e.kind() == ErrorKind::NotFound => DirBuilder::new()
                    .mode(0o755)
                    .create(&at)
                    .map_err(|e| PackageError::io("cannot create a package folder", e))?,
                Err(e) => return Err(PackageError::io("cannot inspect a package folder", e)),
            }
        }
        Ok(())
    }

    /// A folder entry.
    pub fn dir(&mut self, name: &Path) -> Result<(), PackageError> {
        self.count()?;
        let rel = clean(name)?;
        self.folders(name, &rel, true)
    }

    /// A regular file entry: `content` is copied within the byte budget;
    /// any executable bit in `mode` makes it `0555`, otherwise `0444`.
    pub fn file(
        &mut self,
        name: &Path,
        mode: u32,
        content: &mut dyn Read,
    ) -> Result<(), PackageError> {
        self.count()?;
        let rel = clean(name)?;
        if rel.as_os_str().is_empty() {
            return Err(invalid(format!(
                "entry '{}' is a file without a name",
                name.display()
            )));
        }
        self.folders(name, &rel, false)?;
        let path = self.root.join(&rel);
        // create_new: never follows or replaces what an earlier entry made.
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => invalid(format!(
                    "entry '{}' appears twice in the archive (or clashes with a link or folder of the same name)",
                    name.display()
                )),
                _ => PackageError::io("cannot create a package file", e),
            })?;
        let left = self.limits.unpacked_bytes - self.done.bytes;
        let mut buf = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(invalid(format!(
                        "entry '{}' cannot be read from the archive: {e}",
                        name.display()
                    )))
                }
            };
            written += n as u64;
            if written > left {
                return Err(too_many_bytes(&self.limits));
            }
            out.write_all(&buf[..n])
                .map_err(|e| PackageError::io("cannot write a package file", e))?;
        }
        let mode = if mode & 0o111 != 0 { 0o555 } else { 0o444 };
        out.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| PackageError::io("cannot set a package file's mode", e))?;
        self.done.bytes += written;
        self.done.files += 1;
        Ok(())
    }

    /// A symbolic link entry; see [`link_stays_inside`].
    pub fn symlink(&mut self, name: &Path, target: &Path) -> Result<(), PackageError> {
        self.count()?;
        let rel = clean(name)?;
        if rel.as_os_str().is_empty() || !link_stays_inside(&rel, target) {
            return Err(invalid(format!(
                "symlink '{}' points at '{}': a link in a package must be relative, stay inside the package and use '..' only at the start",
                name.display(),
                target.display()
            )));
        }
        self.folders(name, &rel, false)?;
        std::os::unix::fs::symlink(target, self.root.join(&rel)).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => invalid(format!(
                "entry '{}' appears twice in the archive (or clashes with a file or folder of the same name)",
                name.display()
            )),
            _ => PackageError::io("cannot create a package link", e),
        })
    }

    /// A hard link (tar) to `target`, a file unpacked before it.
    pub fn hard_link(&mut self, name: &Path, target: &Path) -> Result<(), PackageError> {
        self.count()?;
        let rel = clean(name)?;
        let to = clean(target)?;
        let not_a_file = || {
            invalid(format!(
                "hard link '{}' points at '{}', which is not a file unpacked before it",
                name.display(),
                target.display()
            ))
        };
        // The target's folders must be real folders, as for any entry.
        let mut at = self.root.to_path_buf();
        for part in to.components() {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.is_file() && at == self.root.join(&to) => {}
                _ => return Err(not_a_file()),
            }
        }
        if to.as_os_str().is_empty() || rel.as_os_str().is_empty() {
            return Err(not_a_file());
        }
        self.folders(name, &rel, false)?;
        fs::hard_link(self.root.join(&to), self.root.join(&rel)).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => invalid(format!(
                "entry '{}' appears twice in the archive",
                name.display()
            )),
            _ => PackageError::io("cannot create a package hard link", e),
        })?;
        self.done.files += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn limits() -> Limits {
        Limits {
            archive_bytes: 1 << 20,
            unpacked_bytes: 100,
            entries: 5,
        }
    }

    fn refused(r: Result<(), PackageError>) -> String {
        match r {
            Err(PackageError::Invalid(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn names_outside_the_root_are_refused() {
        for bad in [
            "../evil",
            "/etc/passwd",
            "a/../../evil",
            "a/b/../../../evil",
        ] {
            let e = clean(Path::new(bad)).unwrap_err();
            assert!(
                matches!(&e, PackageError::Invalid(m) if m.contains("outside the package") && m.contains(bad)),
                "{bad}: {e:?}"
            );
        }
        assert_eq!(clean(Path::new("./a/./b")).unwrap(), PathBuf::from("a/b"));
        assert_eq!(clean(Path::new("./")).unwrap(), PathBuf::new());
    }

    #[test]
    fn files_keep_the_executable_bit_and_become_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Unpacker::new(dir.path(), limits());
        u.file(
            Path::new("./bin/run.sh"),
            0o100755,
            &mut &b"#!/bin/sh\n"[..],
        )
        .unwrap();
        u.file(Path::new("app.py"), 0o644, &mut &b"x = 1\n"[..])
            .unwrap();
        let done = u.finish();
        assert_eq!((done.files, done.bytes, done.entries), (2, 16, 2));
        let mode = |p: &str| fs::metadata(dir.path().join(p)).unwrap().mode() & 0o7777;
        assert_eq!(mode("bin/run.sh"), 0o555);
        assert_eq!(mode("app.py"), 0o444);
        assert_eq!(mode("bin"), 0o755);
    }

    #[test]
    fn nothing_is_written_through_a_link_or_twice() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // A link that points inside, then an entry that writes "through" it.
        let mut u = Unpacker::new(
            dir.path(),
            Limits {
                entries: 100,
                ..limits()
            },
        );
        u.dir(Path::new("lib")).unwrap();
        u.symlink(Path::new("l"), Path::new("lib")).unwrap();
        let m = refused(u.file(Path::new("l/x"), 0o644, &mut &b"x"[..]));
        assert!(m.contains("goes through the symlink 'l'"), "{m}");
        let m = refused(u.file(Path::new("l"), 0o644, &mut &b"x"[..]));
        assert!(m.contains("appears twice"), "{m}");
        u.file(Path::new("lib/a"), 0o644, &mut &b"1"[..]).unwrap();
        let m = refused(u.file(Path::new("lib/a"), 0o644, &mut &b"2"[..]));
        assert!(m.contains("appears twice"), "{m}");
        assert_eq!(fs::read(dir.path().join("lib/a")).unwrap(), b"1");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn symlinks_must_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Unpacker::new(
            dir.path(),
            Limits {
                entries: 100,
                ..limits()
            },
        );
        u.symlink(Path::new("a/up"), Path::new("../b")).unwrap();
        u.symlink(Path::new("a/here"), Path::new(".")).unwrap();
        u.symlink(Path::new("a/b/c"), Path::new("../../x/y"))
            .unwrap();
        for (link, target) in [
            ("top", "../x"),
            ("abs", "/etc/passwd"),
            ("a/deep", "../../x"),
            ("a/sneak", "up/../../x"),
            ("a/empty", ""),
        ] {
            let m = refused(u.symlink(Path::new(link), Path::new(target)));
            assert!(
                m.contains("stay inside the package"),
                "{link} -> {target}: {m}"
            );
        }
        assert_eq!(
            fs::read_link(dir.path().join("a/up")).unwrap(),
            PathBuf::from("../b")
        );
    }

    #[test]
    fn hard_links_point_at_earlier_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Unpacker::new(dir.path(), limits());
        u.file(Path::new("a"), 0o644, &mut &b"abc"[..]).unwrap();
        u.hard_link(Path::new("b"), Path::new("./a")).unwrap();
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"abc");
        refused(u.hard_link(Path::new("c"), Path::new("missing")));
        refused(u.hard_link(Path::new("d"), Path::new("../etc/passwd")));
    }

    #[test]
    fn bytes_and_entries_are_counted_on_what_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Unpacker::new(dir.path(), limits());
        u.file(Path::new("a"), 0o644, &mut &[0u8; 60][..]).unwrap();
        match u.file(Path::new("b"), 0o644, &mut &[0u8; 41][..]) {
            Err(PackageError::TooLarge(m)) => {
                assert!(
                    m.contains("more than 100 bytes, the limit of unpacked bytes"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        let dir = tempfile::tempdir().unwrap();
        let mut u = Unpacker::new(dir.path(), limits());
        for i in 0..5 {
            u.dir(Path::new(&format!("d{i}"))).unwrap();
        }
        match u.dir(Path::new("d5")) {
            Err(PackageError::TooLarge(m)) => assert!(m.contains("more than 5 entries"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(check_declared(&limits(), 5, 100).is_ok());
        assert!(check_declared(&limits(), 5, 101).is_err());
        assert!(check_declared(&limits(), 6, 0).is_err());
    }
}
