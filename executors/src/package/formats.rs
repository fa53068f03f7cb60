//! The archive formats a package may come in, told apart by their first
//! bytes (whatever `Content-Type` said), and their readers, which feed
//! every entry to an [`Unpacker`].

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::unpack::{self, Unpacked, Unpacker, MAX_LINK_TARGET};
use super::{Limits, PackageError};

/// The bytes [`Format::detect`] needs: a tar header block.
pub const HEAD_BYTES: usize = 512;

/// Largest tar extension record (GNU long name, PAX header) read: the tar
/// crate keeps these in memory whole.
const MAX_TAR_EXTENSION: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Tar,
    TarGz,
}

impl Format {
    /// The format of an archive from its first bytes (up to [`HEAD_BYTES`]):
    /// zip's local or end-of-directory signature, gzip's magic (taken to be
    /// a tar.gz), or the `ustar` magic of a tar header.
    pub fn detect(head: &[u8]) -> Option<Format> {
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Some(Format::Zip)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Some(Format::TarGz)
        } else if head.get(257..262) == Some(b"ustar") {
            Some(Format::Tar)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
        }
    }

    /// The media type to upload it with.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Zip => "application/zip",
            Format::Tar => "application/x-tar",
            Format::TarGz => "application/gzip",
        }
    }
}

/// The refusal of bytes that are none of the formats.
pub fn not_an_archive(head: &[u8]) -> PackageError {
    let start: String = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let hint = if head.first() == Some(&b'{') {
        " (it looks like JSON)"
    } else {
        ""
    };
    PackageError::Invalid(format!(
        "the upload is not a zip, tar or tar.gz archive: it starts with bytes {start}{hint}; send the archive's raw bytes, e.g. curl --data-binary @fn.zip -H 'Content-Type: application/zip'"
    ))
}

/// Unpack `archive` (of `format`) into the empty folder `dest`.
pub fn unpack(
    archive: &Path,
    format: Format,
    dest: &Path,
    limits: &Limits,
) -> Result<Unpacked, PackageError> {
    let open = || {
        File::open(archive)
            .map(BufReader::new)
            .map_err(|e| PackageError::io("cannot read the uploaded archive", e))
    };
    match format {
        Format::Zip => unpack_zip(open()?, dest, limits),
        Format::Tar => unpack_tar(
            || open().map(|r| Box::new(r) as Box<dyn Read>),
            dest,
            limits,
        ),
        Format::TarGz => unpack_tar(
            || open().map(|r| Box::new(MultiGzDecoder::new(r)) as Box<dyn Read>),
            dest,
            limits,
        ),
    }
}

/// The `st_mode` file-type bits, as zip's unix attributes carry them.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;

fn unpack_zip(
    reader: BufReader<File>,
    dest: &Path,
    limits: &Limits,
) -> Result<Unpacked, PackageError> {
    let unreadable = |e: zip::result::ZipError| {
        PackageError::Invalid(format!(
            "the zip archive cannot be read: {e} (packages use the zip default methods, deflate or store, without encryption)"
        ))
    };
    let mut zip = zip::ZipArchive::new(reader).map_err(unreadable)?;
    // The central directory lists every entry and its size: refuse a bomb
    // before writing anything (the Unpacker still counts what is written).
    let mut declared = 0u64;
    unpack::check_declared(limits, zip.len() as u64, 0)?;
    for i in 0..zip.len() {
        declared = declared.saturating_add(zip.by_index_raw(i).map_err(unreadable)?.size());
    }
    unpack::check_declared(limits, zip.len() as u64, declared)?;
    let mut out = Unpacker::new(dest, *limits);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(unreadable)?;
        let name = PathBuf::from(entry.name().map_err(unreadable)?.as_ref());
        let mode = entry.unix_mode().unwrap_or(0o644);
        if entry.is_dir() {
            out.dir(&name)?;
        } else if entry.is_symlink() {
            let mut target = String::new();
            (&mut entry)
                .take(MAX_LINK_TARGET)
                .read_to_string(&mut target)
                .map_err(|e| {
                    PackageError::Invalid(format!(
                        "symlink '{}' cannot be read from the archive: {e}",
                        name.display()
                    ))
                })?;
            out.symlink(&name, Path::new(&target))?;
        } else if mode & S_IFMT != 0 && mode & S_IFMT != S_IFREG {
            return Err(unpack::special(&name, "device file, FIFO or socket"));
        } else {
            out.file(&name, mode, &mut entry)?;
        }
    }
    Ok(out.finish())
}

fn tar_error(e: io::Error) -> PackageError {
    PackageError::Invalid(format!(
        "the tar archive cannot be read: {e} (a tar.gz must be a gzip-compressed tar)"
    ))
}

/// Two passes over the stream (`open` starts it again): the first reads
/// only headers, to refuse a bomb (counts, declared sizes, oversized
/// extension records that the tar crate would read into memory) before
/// anything is written; the second unpacks.
fn unpack_tar(
    open: impl Fn() -> Result<Box<dyn Read>, PackageError>,
    dest: &Path,
    limits: &Limits,
) -> Result<Unpacked, PackageError> {
    let mut archive = tar::Archive::new(open()?);
    let (mut entries, mut declared) = (0u64, 0u64);
    for entry in archive.entries().map_err(tar_error)?.raw(true) {
        let entry = entry.map_err(tar_error)?;
        let kind = entry.header().entry_type();
        let extension = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        if extension {
            if entry.size() > MAX_TAR_EXTENSION {
                return Err(PackageError::Invalid(format!(
                    "the tar archive has an extension record of {} bytes; at most {MAX_TAR_EXTENSION} are accepted",
                    entry.size()
                )));
            }
        } else {
            entries += 1;
            declared = declared.saturating_add(entry.size());
        }
        unpack::check_declared(limits, entries, declared)?;
    }

    let mut archive = tar::Archive::new(open()?);
    let mut out = Unpacker::new(dest, *limits);
    for entry in archive.entries().map_err(tar_error)? {
        let mut entry = entry.map_err(tar_error)?;
        let name = entry.path().map_err(tar_error)?.into_owned();
        let kind = entry.header().entry_type();
        let link = |entry: &tar::Entry<'_, Box<dyn Read>>| -> Result<PathBuf, PackageError> {
            match entry.link_name().map_err(tar_error)? {
                Some(l) => Ok(l.into_owned()),
                None => Err(PackageError::Invalid(format!(
                    "link '{}' has no target",
                    name.display()
                ))),
            }
        };
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous => {
                let mode = entry.header().mode().unwrap_or(0o644);
                out.file(&name, mode, &mut entry)?
            }
            T::Directory => out.dir(&name)?,
            T::Symlink => {
                let target = link(&entry)?;
                out.symlink(&name, &target)?
            }
            T::Link => {
                let target = link(&entry)?;
                out.hard_link(&name, &target)?
            }
            T::Char | T::Block => return Err(unpack::special(&name, "device file")),
            T::Fifo => return Err(unpack::special(&name, "FIFO")),
            T::XGlobalHeader => {}
            other => {
                return Err(PackageError::Invalid(format!(
                    "entry '{}' is of a tar type this server does not unpack ({other:?}); packages hold files, folders and links",
                    name.display()
                )))
            }
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, data, mode) in entries {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            w.start_file(*name, options).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn unpack_bytes(
        bytes: &[u8],
        limits: &Limits,
    ) -> (tempfile::TempDir, Result<Unpacked, PackageError>) {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        std::fs::write(&archive, bytes).unwrap();
        let dest = dir.path().join("code");
        std::fs::create_dir(&dest).unwrap();
        let format = Format::detect(&bytes[..bytes.len().min(HEAD_BYTES)]).expect("an archive");
        let r = unpack(&archive, format, &dest, limits);
        (dir, r)
    }

    #[test]
    fn formats_are_told_by_their_first_bytes() {
        assert_eq!(
            Format::detect(&zip_of(&[("a", b"1", 0o644)])),
            Some(Format::Zip)
        );
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        tar.append_data(&mut h, "a", &b"1"[..]).unwrap();
        let tar = tar.into_inner().unwrap();
        assert_eq!(Format::detect(&tar[..HEAD_BYTES]), Some(Format::Tar));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        assert_eq!(Format::detect(&gz.finish().unwrap()), Some(Format::TarGz));
        assert_eq!(Format::detect(b"{\"name\": 1}"), None);
        let e = not_an_archive(b"{\"name\": 1}");
        assert!(e.to_string().contains("looks like JSON"), "{e}");
    }

    #[test]
    fn a_zip_unpacks_with_its_folders_and_executable_bits() {
        let bytes = zip_of(&[
            ("app.py", b"print(1)\n", 0o644),
            ("bin/run.sh", b"#!/bin/sh\n", 0o755),
        ]);
        let (dir, r) = unpack_bytes(&bytes, &Limits::default());
        assert_eq!(r.unwrap().files, 2);
        let meta = std::fs::metadata(dir.path().join("code/bin/run.sh")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o555);
        assert_eq!(
            std::fs::read(dir.path().join("code/app.py")).unwrap(),
            b"print(1)\n"
        );
    }

    #[test]
    fn zip_slip_and_links_out_are_refused() {
        let bytes = zip_of(&[("ok.py", b"1", 0o644), ("../evil.py", b"2", 0o644)]);
        let (dir, r) = unpack_bytes(&bytes, &Limits::default());
        assert!(
            matches!(r, Err(PackageError::Invalid(ref m)) if m.contains("'../evil.py' would land outside")),
            "{r:?}"
        );
        assert!(!dir.path().join("evil.py").exists());

        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        w.add_symlink(
            "passwd",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let (_dir, r) = unpack_bytes(&w.finish().unwrap().into_inner(), &Limits::default());
        assert!(
            matches!(r, Err(PackageError::Invalid(ref m)) if m.contains("symlink 'passwd' points at '/etc/passwd'")),
            "{r:?}"
        );
    }

    #[test]
    fn a_zip_bomb_is_refused_before_anything_is_written() {
        let big = vec![0u8; 4096];
        let bytes = zip_of(&[("small", b"1", 0o644), ("zeros", &big, 0o644)]);
        let limits = Limits {
            unpacked_bytes: 1000,
            ..Limits::default()
        };
        let (dir, r) = unpack_bytes(&bytes, &limits);
        assert!(
            matches!(r, Err(PackageError::TooLarge(ref m)) if m.contains("more than 1000 bytes")),
            "{r:?}"
        );
        assert!(
            !dir.path().join("code/small").exists(),
            "checked before writing"
        );
    }

    fn tar_with(kind: tar::EntryType, name: &str, link: Option<&str>) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut ok = tar::Header::new_gnu();
        ok.set_size(2);
        ok.set_mode(0o755);
        tar.append_data(&mut ok, "run.sh", &b"ok"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        // set_path would refuse '..': write the raw name as an attacker would.
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        tar.append(&h, io::empty()).unwrap();
        tar.into_inner().unwrap()
    }

    #[test]
    fn tar_devices_slips_and_outward_links_are_refused() {
        let cases = [
            (
                tar_with(tar::EntryType::Char, "tty", None),
                "'tty' is a device file",
            ),
            (
                tar_with(tar::EntryType::Fifo, "pipe", None),
                "'pipe' is a FIFO",
            ),
            (
                tar_with(tar::EntryType::Regular, "../x", None),
                "'../x' would land outside",
            ),
            (
                tar_with(tar::EntryType::Symlink, "l", Some("/etc")),
                "symlink 'l' points at '/etc'",
            ),
            (
                tar_with(tar::EntryType::Link, "h", Some("/etc/passwd")),
                "outside the package",
            ),
        ];
        for (bytes, want) in cases {
            let (_dir, r) = unpack_bytes(&bytes, &Limits::default());
            assert!(
                matches!(r, Err(PackageError::Invalid(ref m)) if m.contains(want)),
                "{want}: {r:?}"
            );
        }
    }

    #[test]
    fn a_tar_gz_unpacks_and_its_bomb_is_refused_from_the_headers() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o755);
        tar.append_data(&mut h, "./fn/handler", &b"abc"[..])
            .unwrap();
        let mut link = tar::Header::new_ustar();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(&mut link, "fn/alias", "handler").unwrap();
        let mut hard = tar::Header::new_ustar();
        hard.set_entry_type(tar::EntryType::Link);
        hard.set_size(0);
        tar.append_link(&mut hard, "fn/copy", "fn/handler").unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let (dir, r) = unpack_bytes(&gz.finish().unwrap(), &Limits::default());
        assert_eq!(r.unwrap().files, 2);
        let code = dir.path().join("code/fn");
        assert_eq!(std::fs::read(code.join("alias")).unwrap(), b"abc");
        assert_eq!(std::fs::read(code.join("copy")).unwrap(), b"abc");
        assert_eq!(
            std::fs::metadata(code.join("handler")).unwrap().mode() & 0o777,
            0o555
        );

        let limits = Limits {
            unpacked_bytes: 2,
            ..Limits::default()
        };
        let (dir, r) = unpack_bytes(&tar, &limits);
        assert!(matches!(r, Err(PackageError::TooLarge(_))), "{r:?}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("code")).unwrap().count(),
            0
        );
    }
}
