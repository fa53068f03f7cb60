//! A function's layers as the one read-only `/opt` Lambda gives it: one
//! layer is bound as it is; several are merged once into a folder of their
//! own (later layers override files of earlier ones, as Lambda extracts
//! them in order) and reused by every instance with the same list.

use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};

/// Where merged layer sets are kept.
fn merged_root() -> PathBuf {
    std::env::temp_dir().join("sluice-layers")
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path())?;
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(link, &target)?;
        } else {
            let _ = std::fs::remove_file(&target);
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The folder to mount at `/opt` for `layers` (their unpacked folders,
/// in order), or `None` without layers.
pub fn opt_dir(layers: &[PathBuf]) -> io::Result<Option<PathBuf>> {
    match layers {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        several => {
            let mut h = Sha256::new();
            for l in several {
                h.update(l.as_os_str().as_encoded_bytes());
                h.update([0]);
            }
            let name: String = h.finalize()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let dir = merged_root().join(name);
            if dir.is_dir() {
                return Ok(Some(dir));
            }
            // Built aside, then renamed: a half-built merge is never used.
            let building = merged_root().join(format!(
                ".{}-{}",
                dir.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&building);
            for l in several {
                copy_tree(l, &building)?;
            }
            match std::fs::rename(&building, &dir) {
                Ok(()) => Ok(Some(dir)),
                // Another instance merged the same set meanwhile.
                Err(_) if dir.is_dir() => {
                    let _ = std::fs::remove_dir_all(&building);
                    Ok(Some(dir))
                }
                Err(e) => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_override_earlier_ones() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(a.path().join("python")).unwrap();
        std::fs::write(a.path().join("python/x.py"), "a").unwrap();
        std::fs::write(a.path().join("only_a"), "a").unwrap();
        std::fs::create_dir_all(b.path().join("python")).unwrap();
        std::fs::write(b.path().join("python/x.py"), "b").unwrap();
        let layers = [a.path().to_path_buf(), b.path().to_path_buf()];
        let dir = opt_dir(&layers).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("python/x.py")).unwrap(),
            "b"
        );
        assert_eq!(std::fs::read_to_string(dir.join("only_a")).unwrap(), "a");
        assert_eq!(opt_dir(&layers).unwrap().unwrap(), dir, "reused");
        assert_eq!(opt_dir(&layers[..1]).unwrap().unwrap(), layers[0]);
        assert!(opt_dir(&[]).unwrap().is_none());
    }
}
