use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// The entries of an archive, keyed by archive path.
///
/// Paths are relative and `/`-separated, without empty, `.` or `..` parts.
/// Adding an entry also adds its parent directories, so every archive lists
/// the directories it extracts into. Entries iterate (and are written) sorted
/// by path bytes, so the order of insertion never affects the archive.
///
/// Adding a file or symlink where one already exists replaces it; a path that
/// would be both a directory and a non-directory is an [`Error::Conflict`].
#[derive(Debug, Clone, Default)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Dir,
    File {
        contents: Contents,
        executable: bool,
    },
    Symlink(String),
}

/// File contents, read from disk only when an archive is written.
#[derive(Debug, Clone)]
pub(crate) enum Contents {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

impl Entry {
    /// Permission bits every archive format records for this entry.
    pub(crate) fn mode(&self) -> u32 {
        match self {
            Entry::Dir => 0o755,
            Entry::File {
                executable: true, ..
            } => 0o755,
            Entry::File { .. } => 0o644,
            Entry::Symlink(_) => 0o777,
        }
    }
}

impl Contents {
    pub(crate) fn read(&self) -> Result<Cow<'_, [u8]>, Error> {
        match self {
            Contents::Bytes(bytes) => Ok(Cow::Borrowed(bytes)),
            Contents::Path(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })
            }
        }
    }
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tree of the directory `root`, placed under `prefix` (`""` for the
    /// archive root); see [`Tree::add_dir_all`].
    pub fn from_dir(root: &Path, prefix: &str) -> Result<Self, Error> {
        let mut tree = Self::new();
        tree.add_dir_all(root, prefix)?;
        Ok(tree)
    }

    /// Adds everything below the directory `root` under `prefix` (`""` for the
    /// archive root). Symlinks are recorded as symlinks, never followed; a file
    /// is executable if any execute bit is set on it. Contents are read when
    /// the archive is written.
    pub fn add_dir_all(&mut self, root: &Path, prefix: &str) -> Result<(), Error> {
        if !prefix.is_empty() {
            self.add_dir(prefix)?;
        }
        for item in walkdir::WalkDir::new(root).min_depth(1).follow_links(false) {
            let item = item.map_err(|e| Error::Io {
                path: e.path().unwrap_or(root).to_path_buf(),
                source: e.into(),
            })?;
            let source = item.path();
            let relative = source
                .strip_prefix(root)
                .expect("walkdir yields paths below its root")
                .to_str()
                .ok_or_else(|| Error::NotUtf8(source.to_path_buf()))?;
            let path = match prefix {
                "" => relative.to_owned(),
                _ => format!("{prefix}/{relative}"),
            };
            let kind = item.file_type();
            if kind.is_dir() {
                self.add_dir(&path)?;
            } else if kind.is_symlink() {
                let target = std::fs::read_link(source).map_err(|e| Error::Io {
                    path: source.to_path_buf(),
                    source: e,
                })?;
                let target = target
                    .to_str()
                    .ok_or_else(|| Error::NotUtf8(source.to_path_buf()))?;
                self.add_symlink(&path, target)?;
            } else if kind.is_file() {
                let metadata = item.metadata().map_err(|e| Error::Io {
                    path: source.to_path_buf(),
                    source: e.into(),
                })?;
                let executable = metadata.permissions().mode() & 0o111 != 0;
                self.add_file(&path, source, executable)?;
            } else {
                return Err(Error::Unsupported(source.to_path_buf()));
            }
        }
        Ok(())
    }

    /// Adds a file whose contents are `bytes`.
    pub fn add_bytes(
        &mut self,
        path: &str,
        bytes: impl Into<Vec<u8>>,
        executable: bool,
    ) -> Result<(), Error> {
        let contents = Contents::Bytes(bytes.into());
        self.insert(
            path,
            Entry::File {
                contents,
                executable,
            },
        )
    }

    /// Adds a file whose contents are read from `source` when the archive is
    /// written (so a missing source fails the write, not this call).
    pub fn add_file(&mut self, path: &str, source: &Path, executable: bool) -> Result<(), Error> {
        let contents = Contents::Path(source.to_path_buf());
        self.insert(
            path,
            Entry::File {
                contents,
                executable,
            },
        )
    }

    /// Adds a directory (a no-op if it is already there).
    pub fn add_dir(&mut self, path: &str) -> Result<(), Error> {
        self.insert(path, Entry::Dir)
    }

    /// Adds a symlink pointing at `target`, stored verbatim.
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<(), Error> {
        self.insert(path, Entry::Symlink(target.to_owned()))
    }

    /// Removes every entry for which `matches` is true, together with
    /// everything below it: `matches` sees each path and its ancestors, so
    /// dropping a directory such as `__pycache__` drops its contents too.
    pub fn remove_where(&mut self, mut matches: impl FnMut(&str) -> bool) {
        self.entries.retain(|path, _| {
            let ancestors = path.match_indices('/').map(|(end, _)| &path[..end]);
            !std::iter::once(path.as_str())
                .chain(ancestors)
                .any(&mut matches)
        });
    }

    /// All archive paths, including implicit parent directories, in the order
    /// they are written.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_str(), entry))
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<(), Error> {
        if path.split('/').any(|part| matches!(part, "" | "." | "..")) || path.contains('\0') {
            return Err(Error::InvalidPath(path.to_owned()));
        }
        for (end, _) in path.match_indices('/') {
            self.put(&path[..end], Entry::Dir)?;
        }
        self.put(path, entry)
    }

    fn put(&mut self, path: &str, entry: Entry) -> Result<(), Error> {
        match (self.entries.get(path), &entry) {
            (Some(Entry::Dir), Entry::Dir) => Ok(()),
            (Some(Entry::Dir), _) | (Some(_), Entry::Dir) => Err(Error::Conflict(path.to_owned())),
            _ => {
                self.entries.insert(path.to_owned(), entry);
                Ok(())
            }
        }
    }
}
