use std::fs::File;
use std::io::{self, BufReader, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use bzip2::read::MultiBzDecoder;
use bzip2::write::BzEncoder;
use bzip2::Compression;
use tar::{EntryType, Header};

use crate::tree::{Entry, Tree};
use crate::{write_atomically, Error};

/// Input bytes per independent bzip2 stream in [`bzip2_parallel`]: one
/// level-9 block. bzip2 compresses block by block anyway, so small streams
/// cost only about 15 bytes of framing each, and many of them keep every
/// thread busy to the end.
pub const BZIP2_CHUNK_SIZE: usize = 900_000;

/// Writes `tree` to `out` as a GNU tar compressed with [`bzip2_parallel`],
/// every entry stamped with `mtime`, replacing `out` atomically.
pub fn write_tar_bz2(tree: &Tree, mtime: u64, out: &Path) -> Result<(), Error> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let compressed = bzip2_parallel(&tar_bytes(tree, mtime)?, threads);
    write_atomically(out, |file| {
        file.write_all(&compressed).map_err(|source| Error::Io {
            path: out.to_path_buf(),
            source,
        })
    })
}

/// The tar of `tree` with normalised metadata: GNU headers (whose long-name
/// extension carries paths over 100 bytes), uid/gid 0, no owner names.
fn tar_bytes(tree: &Tree, mtime: u64) -> Result<Vec<u8>, Error> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in tree.entries() {
        let mut header = Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(entry.mode());
        header.set_size(0);
        let appended = match entry {
            Entry::Dir => {
                header.set_entry_type(EntryType::Directory);
                builder.append_data(&mut header, format!("{path}/"), io::empty())
            }
            Entry::File { contents, .. } => {
                let data = contents.read()?;
                header.set_entry_type(EntryType::Regular);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, &*data)
            }
            Entry::Symlink(target) => {
                header.set_entry_type(EntryType::Symlink);
                builder.append_link(&mut header, path, target)
            }
        };
        appended.map_err(|source| Error::Entry {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(builder
        .into_inner()
        .expect("writing a tar into memory cannot fail"))
}

/// Compresses `input` as a concatenation of independent level-9 bzip2
/// streams, one per [`BZIP2_CHUNK_SIZE`] bytes, compressed on up to `threads`
/// threads. The chunking does not depend on `threads`, so neither do the
/// bytes; stock `bzip2 -d` and `tar -xjf` read concatenated streams.
pub fn bzip2_parallel(input: &[u8], threads: usize) -> Vec<u8> {
    bzip2_parallel_with(input, threads, compress)
}

/// [`bzip2_parallel`] with another encoder of one level-9 stream: the bench
/// times other bzip2 implementations on exactly the same work.
pub fn bzip2_parallel_with(
    input: &[u8],
    threads: usize,
    compress: impl Fn(&[u8]) -> Vec<u8> + Sync,
) -> Vec<u8> {
    if input.is_empty() {
        // No chunks would give no bytes at all, which is not a bzip2 file.
        return compress(input);
    }
    let chunks: Vec<&[u8]> = input.chunks(BZIP2_CHUNK_SIZE).collect();
    // A shared queue rather than a fixed share per thread: chunks compress at
    // very different speeds (text, binaries, wheels), so fixed shares leave a
    // thread idle while another works through its slow run.
    let next = AtomicUsize::new(0);
    let mut streams: Vec<Vec<u8>> = vec![Vec::new(); chunks.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, chunks.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(i) else {
                            return done;
                        };
                        done.push((i, compress(chunk)));
                    }
                })
            })
            .collect();
        for worker in workers {
            for (i, stream) in worker.join().expect("bzip2 worker panicked") {
                streams[i] = stream;
            }
        }
    });
    streams.concat()
}

fn compress(chunk: &[u8]) -> Vec<u8> {
    let mut encoder = BzEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(chunk)
        .expect("compressing into memory cannot fail");
    encoder
        .finish()
        .expect("compressing into memory cannot fail")
}

/// What an archive entry is, as read back by [`read_tar_bz2_entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (or any other entry that is no directory or symlink).
    File,
    Dir,
    Symlink(String),
}

/// One entry of a `.tar.bz2`, as read back by [`read_tar_bz2_entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// Archive path, without the trailing `/` tar gives directories.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits, e.g. `0o755`.
    pub mode: u32,
}

/// Lists the entries of the `.tar.bz2` at `path` in archive order, reading
/// every concatenated bzip2 stream (as [`bzip2_parallel`] writes them).
pub fn read_tar_bz2_entries(path: &Path) -> Result<Vec<ListedEntry>, Error> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let mut archive = tar::Archive::new(MultiBzDecoder::new(BufReader::new(file)));
    let mut listed = Vec::new();
    for entry in archive.entries().map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let header = entry.header();
        let kind = match header.entry_type() {
            EntryType::Directory => EntryKind::Dir,
            EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default();
                EntryKind::Symlink(String::from_utf8_lossy(&target).into_owned())
            }
            _ => EntryKind::File,
        };
        listed.push(ListedEntry {
            path: String::from_utf8_lossy(&entry.path_bytes())
                .trim_end_matches('/')
                .to_owned(),
            kind,
            mode: header.mode().map_err(io_error)?,
        });
    }
    Ok(listed)
}
