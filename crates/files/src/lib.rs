//! Files as every lava artefact and object is written: whole or not at all
//! (a temporary name beside the target, then a rename), with the sha256 of
//! their content. One implementation for dist, the `file://` store, the AMI
//! staging and the worker boot.

use std::fs::{File, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The name prefix of a file still being written. Hidden, and skipped by
/// whatever lists a directory, so an interrupted write is never taken for an
/// artefact.
pub const TEMP_PREFIX: &str = ".lava-tmp-";

/// A key (`/`-separated, as in the code area) as a path below `root`.
pub fn key_path(root: &Path, key: &str) -> PathBuf {
    key.split('/').fold(root.to_path_buf(), |p, s| p.join(s))
}

/// Size and hex sha256 of a file's content.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    sha256_reader(File::open(path)?)
}

/// Size and hex sha256 of everything `reader` yields.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<(u64, String)> {
    let mut hashing = Hashing::new(std::io::sink());
    std::io::copy(&mut reader, &mut hashing)?;
    let (_, size, sha256) = hashing.finish();
    Ok((size, sha256))
}

/// A writer that hashes what passes through it to `inner`.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Hashing<W> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The inner writer, the bytes written and their hex sha256.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.size, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write `path` whole: `write` fills a temporary file beside it, which gets
/// `mode` and then `path`'s name only if `write` succeeds. On any failure the
/// temporary file is removed and `path` is as it was. `io` turns the helper's
/// own I/O failures into the caller's error.
pub fn write_atomic<T, E>(
    path: &Path,
    mode: u32,
    io: impl Fn(std::io::Error) -> E,
    write: impl FnOnce(&mut File) -> Result<T, E>,
) -> Result<T, E> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(&io)?;
    let value = write(tmp.as_file_mut())?;
    // Temporary files are created 0600.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(&io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(value)
}

/// [`write_atomic`] of bytes held in memory.
pub fn write_bytes_atomic(path: &Path, mode: u32, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, mode, |e| e, |file| file.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256() {
        // FIPS 180-2's "abc" example.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_reader(&b"abc"[..]).unwrap(), (3, abc.to_string()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(sha256_file(&path).unwrap(), (3, abc.to_string()));
        let (out, size, sha256) = {
            let mut w = Hashing::new(Vec::new());
            w.write_all(b"abc").unwrap();
            w.finish()
        };
        assert_eq!((out, size, sha256.as_str()), (b"abc".to_vec(), 3, abc));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artefact");
        std::fs::write(&path, b"old").unwrap();
        let failed: Result<(), std::io::Error> = write_atomic(
            &path,
            0o644,
            |e| e,
            |file| {
                file.write_all(b"half")?;
                Err(std::io::Error::other("disk full"))
            },
        );
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["artefact"]);

        write_bytes_atomic(&path, 0o755, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
