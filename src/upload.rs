//! Code packages from the CLI: a .zip, .tar or .tar.gz file sent as it is,
//! or a folder archived as tar.gz, uploaded with `POST /api/v1/packages`.

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::Path;

use sluice_executors::package::{formats::HEAD_BYTES, size_text, Format, Limits};

use crate::client::Remote;

/// The archive of `path` and its format: a file as it is (told by its
/// first bytes), or a folder's contents as tar.gz (paths relative to the
/// folder; symlinks are followed, as `zip -r` does).
pub fn archive(path: &Path) -> Result<(Vec<u8>, Format)> {
    if path.is_dir() {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all(".", path)
            .with_context(|| format!("cannot archive the folder {}", path.display()))?;
        let bytes = tar
            .into_inner()
            .and_then(|gz| gz.finish())
            .with_context(|| format!("cannot archive the folder {}", path.display()))?;
        return Ok((bytes, Format::TarGz));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let format = Format::detect(&bytes[..bytes.len().min(HEAD_BYTES)]).with_context(|| {
        format!(
            "{} is not a zip, tar or tar.gz archive; give one of those, or a folder to archive",
            path.display()
        )
    })?;
    Ok((bytes, format))
}

/// Upload the package at `path` → the server's answer (`package`,
/// `codeSha256`, `codeSize`, …).
pub fn upload(remote: &Remote, path: &Path) -> Result<Value> {
    let (bytes, format) = archive(path)?;
    let limit = Limits::default().archive_bytes;
    if bytes.len() as u64 > limit {
        anyhow::bail!(
            "the package {} is {} bytes as {}, above the upload limit of {}; leave out tests, caches and development dependencies",
            path.display(),
            bytes.len(),
            format.name(),
            size_text(limit)
        );
    }
    remote
        .upload("POST", "/api/v1/packages", format.media_type(), bytes)
        .with_context(|| format!("uploading the package {}", path.display()))
}
