//! Reproducible release archives for lava.
//!
//! This crate owns turning a file tree into the `.tar.bz2` bundles and `.zip`
//! packages that a release ships, such that the same inputs give byte-identical
//! archives on any machine and in any run:
//!
//! - [`Tree`] collects the entries, always emitted sorted by path bytes, with
//!   every parent directory present;
//! - [`write_tar_bz2`] and [`write_zip`] write it with normalised metadata
//!   (one fixed mtime, uid/gid 0, no owner names, fixed modes) and replace the
//!   output atomically;
//! - [`bzip2_parallel`] compresses in fixed-size chunks on several threads
//!   without the thread count affecting the bytes;
//! - [`source_date_epoch`] picks the fixed mtime;
//! - [`read_tar_bz2_entries`] lists a bundle, for tests and checks.

mod civil;
mod tar_bz2;
mod tree;
mod zip_archive;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub use civil::rfc3339;
pub use tar_bz2::{
    bzip2_parallel, bzip2_parallel_with, read_tar_bz2_entries, write_tar_bz2, EntryKind,
    ListedEntry, BZIP2_CHUNK_SIZE,
};
pub use tree::Tree;
pub use zip_archive::write_zip;

/// Everything that can go wrong here; each variant names what it failed on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a source or writing an archive failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// An archive entry could not be encoded (e.g. a symlink target tar rejects).
    #[error("archive entry {path:?}: {source}")]
    Entry { path: String, source: io::Error },
    /// An archive path is not relative, `/`-separated and free of `.`/`..`/empty parts.
    #[error("invalid archive path {0:?}: must be relative and `/`-separated, without empty, `.` or `..` parts")]
    InvalidPath(String),
    /// A path is wanted both as a directory and as a file or symlink.
    #[error("archive path {0:?} is needed both as a directory and as a file or symlink")]
    Conflict(String),
    /// A source that is not a regular file, directory or symlink (socket, fifo, device).
    #[error("{}: not a regular file, directory or symlink", .0.display())]
    Unsupported(PathBuf),
    /// A source name or symlink target that is not UTF-8 cannot become an archive path.
    #[error("{}: name or symlink target is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    /// `SOURCE_DATE_EPOCH` is set but is not a number of seconds.
    #[error("SOURCE_DATE_EPOCH={0:?} is not a non-negative integer")]
    BadEpoch(String),
    /// `SOURCE_DATE_EPOCH` is unset and the repository's HEAD commit time is unavailable.
    #[error("SOURCE_DATE_EPOCH is unset and `git log` in {} failed: {reason}", repo.display())]
    NoEpoch { repo: PathBuf, reason: String },
}

/// The timestamp to stamp on every entry: `SOURCE_DATE_EPOCH` if set, else the
/// commit time of `repo`'s HEAD, so rebuilding a commit reproduces its archives.
pub fn source_date_epoch(repo: &Path) -> Result<u64, Error> {
    if let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH") {
        let value = value.to_string_lossy();
        return value
            .parse()
            .map_err(|_| Error::BadEpoch(value.into_owned()));
    }
    let no_epoch = |reason: String| Error::NoEpoch {
        repo: repo.to_path_buf(),
        reason,
    };
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["log", "-1", "--format=%ct"])
        .output()
        .map_err(|e| no_epoch(e.to_string()))?;
    if !output.status.success() {
        return Err(no_epoch(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .trim()
        .parse()
        .map_err(|_| no_epoch(format!("unexpected output {stdout:?}")))
}

/// Runs `write` on a temp file beside `out` and renames it to `out` only if
/// `write` succeeds, so readers never see a partial archive.
fn write_atomically(
    out: &Path,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> Result<(), Error>,
) -> Result<(), Error> {
    let at_out = |source| Error::Io {
        path: out.to_path_buf(),
        source,
    };
    // A release artefact is world-readable.
    lava_files::write_atomic(out, 0o644, at_out, |file| {
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        writer.flush().map_err(at_out)
    })
}
