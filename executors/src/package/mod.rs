//! Code packages: zip, tar and tar.gz archives uploaded through the API
//! (`POST /api/v1/packages`), stored content-addressed under the data
//! folder and unpacked once into an immutable folder that functions with
//! `"package": "sha256:<hex>"` run from, exactly as from a `codeDir`.
//!
//! - [`unpack`]: the guards every entry passes (no `..` or absolute
//!   paths, no symlink leading out, no device files, bounded size and
//!   entry count);
//! - [`formats`]: zip and tar(.gz) readers feeding those guards;
//! - [`store`]: the content-addressed folder, with all-or-nothing installs.

pub mod formats;
pub mod store;
pub mod unpack;

pub use formats::Format;
pub use store::{PackageInfo, PackageStore};

/// What one package may hold. The defaults are AWS Lambda's: a 50 MB
/// direct upload that unzips to at most 250 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest archive accepted, in bytes (the upload itself).
    pub archive_bytes: u64,
    /// Largest total size of the unpacked files, in bytes.
    pub unpacked_bytes: u64,
    /// Most entries (files, folders and links) in one archive.
    pub entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            archive_bytes: 50 * MIB,
            unpacked_bytes: 250 * MIB,
            entries: 20_000,
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// `n` bytes for people: whole MiB when exact, bytes otherwise.
pub fn size_text(n: u64) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// Why a package was refused or could not be stored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackageError {
    /// The archive is malformed or holds something a package may not (an
    /// entry outside the package, a device file…): the client's to fix.
    #[error("{0}")]
    Invalid(String),
    /// Above one of the [`Limits`]; the message names it.
    #[error("{0}")]
    TooLarge(String),
    /// The server could not read or write its own folder.
    #[error("{0}")]
    Io(String),
}

impl PackageError {
    pub(crate) fn io(what: &str, e: std::io::Error) -> PackageError {
        PackageError::Io(format!("{what}: {e}"))
    }
}
