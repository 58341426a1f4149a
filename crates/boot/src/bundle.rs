//! Checking a downloaded bundle before any of it lands on the worker: its
//! digest against the directory's `SHA256SUMS`, then every entry of the
//! archive, read to the end, for paths and links that would leave the
//! install directory.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use bzip2::read::MultiBzDecoder;
use tar::EntryType;

/// The installer every bundle carries at its root.
pub const INSTALLER: &str = "install.sh";

/// Symlinks followed while resolving one link, as the kernel's limit.
const MAX_HOPS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("entry {entry:?}: {reason}")]
    Unsafe { entry: String, reason: String },
    #[error("not a readable tar.bz2 (truncated or corrupt): {0}")]
    Corrupt(std::io::Error),
    #[error("no {INSTALLER} at the root of the bundle")]
    NoInstaller,
}

/// Read the whole bundle; refuse it if any entry is absolute, has a `..`,
/// lies below a symlink of the archive, is a link leading outside the target,
/// or is not a file, directory or link. Returns the installer's content.
pub fn scan(path: &Path) -> Result<Vec<u8>, BundleError> {
    let file = File::open(path).map_err(BundleError::Corrupt)?;
    let mut archive = tar::Archive::new(MultiBzDecoder::new(BufReader::new(file)));
    let mut installer = None;
    // Paths and links are checked once the whole archive is read: a symlink
    // may come before or after the entries it would redirect.
    let mut entries: Vec<(Vec<OsString>, String)> = Vec::new();
    let mut symlinks: BTreeMap<Vec<OsString>, PathBuf> = BTreeMap::new();
    let mut hardlinks: Vec<(String, PathBuf)> = Vec::new();
    for entry in archive.entries().map_err(BundleError::Corrupt)? {
        let mut entry = entry.map_err(BundleError::Corrupt)?;
        let raw = entry.path().map_err(BundleError::Corrupt)?.into_owned();
        let shown = raw.display().to_string();
        let unsafe_entry = |reason: &str| BundleError::Unsafe {
            entry: shown.clone(),
            reason: reason.to_string(),
        };
        let parts = relative_parts(&raw).map_err(&unsafe_entry)?;
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                if parts == [OsString::from(INSTALLER)] {
                    let mut bytes = Vec::new();
                    entry
                        .read_to_end(&mut bytes)
                        .map_err(BundleError::Corrupt)?;
                    installer = Some(bytes);
                } else {
                    // Read it all: a truncated member must fail here, not in the installer.
                    std::io::copy(&mut entry, &mut std::io::sink())
                        .map_err(BundleError::Corrupt)?;
                }
            }
            EntryType::Directory | EntryType::XGlobalHeader => {}
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(BundleError::Corrupt)?
                    .ok_or_else(|| unsafe_entry("a symlink without a target"))?;
                symlinks.insert(parts.clone(), target.into_owned());
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(BundleError::Corrupt)?
                    .ok_or_else(|| unsafe_entry("a hard link without a target"))?;
                hardlinks.push((shown.clone(), target.into_owned()));
            }
            other => {
                return Err(unsafe_entry(&format!(
                    "unsupported entry type {other:?} (a bundle holds files, directories and links)"
                )))
            }
        }
        entries.push((parts, shown));
    }
    // The rest of the compressed data (tar padding, further streams): a
    // truncated or corrupt tail fails here.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(BundleError::Corrupt)?;

    for (parts, shown) in &entries {
        if let Some(link) = symlink_ancestor(parts, &symlinks) {
            return Err(BundleError::Unsafe {
                entry: shown.clone(),
                reason: format!("lies below the symlink {link:?}, which extraction would follow"),
            });
        }
    }
    for (link, target) in &symlinks {
        let mut start = link.clone();
        start.pop();
        resolve(start, target, &symlinks).map_err(|reason| BundleError::Unsafe {
            entry: join(link),
            reason: format!("symlink to {}: {reason}", target.display()),
        })?;
    }
    for (shown, target) in &hardlinks {
        let reason = match relative_parts(target) {
            Err(reason) => Some(reason.to_string()),
            Ok(parts) => symlink_ancestor(&parts, &symlinks)
                .map(|link| format!("its target lies below the symlink {link:?}")),
        };
        if let Some(reason) = reason {
            return Err(BundleError::Unsafe {
                entry: shown.clone(),
                reason: format!("hard link to {}: {reason}", target.display()),
            });
        }
    }
    installer.ok_or(BundleError::NoInstaller)
}

/// The normal components of an archive path; absolute paths and `..` refused.
fn relative_parts(path: &Path) -> Result<Vec<OsString>, &'static str> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err("a \"..\" component leaves the install directory"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path lands outside the install directory")
            }
        }
    }
    Ok(parts)
}

/// The nearest proper ancestor of `parts` that is a symlink of the archive.
fn symlink_ancestor(
    parts: &[OsString],
    symlinks: &BTreeMap<Vec<OsString>, PathBuf>,
) -> Option<String> {
    (1..parts.len())
        .map(|n| &parts[..n])
        .find(|prefix| symlinks.contains_key(*prefix))
        .map(join)
}

/// One step of a path being resolved.
enum Step {
    Up,
    Down(OsString),
}

/// Queue `target`'s steps ahead of what remains; absolute targets refused.
fn push_steps(pending: &mut VecDeque<Step>, target: &Path) -> Result<(), String> {
    let mut steps = Vec::new();
    for component in target.components() {
        match component {
            Component::Normal(part) => steps.push(Step::Down(part.to_os_string())),
            Component::ParentDir => steps.push(Step::Up),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute target leaves the install directory".into())
            }
        }
    }
    for step in steps.into_iter().rev() {
        pending.push_front(step);
    }
    Ok(())
}

/// Follow `target` from directory `dir` through the archive's own symlinks;
/// an error if any step leaves the install directory. The directory is empty
/// when the installer extracts, so the archive's links are all there is.
fn resolve(
    dir: Vec<OsString>,
    target: &Path,
    symlinks: &BTreeMap<Vec<OsString>, PathBuf>,
) -> Result<(), String> {
    let mut at = dir;
    let mut pending = VecDeque::new();
    push_steps(&mut pending, target)?;
    let mut hops = 0;
    while let Some(step) = pending.pop_front() {
        match step {
            Step::Up => {
                if at.pop().is_none() {
                    return Err("it leads outside the install directory".into());
                }
            }
            Step::Down(part) => {
                at.push(part);
                if let Some(next) = symlinks.get(&at) {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err("too many levels of symlinks".into());
                    }
                    at.pop();
                    push_steps(&mut pending, next)?;
                }
            }
        }
    }
    Ok(())
}

fn join(parts: &[OsString]) -> String {
    parts
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    enum E {
        File(&'static str),
        Dir(&'static str),
        Sym(&'static str, &'static str),
        Hard(&'static str, &'static str),
    }

    /// A tar.bz2 with names written raw, as a hostile archive would have them.
    fn archive(entries: &[E]) -> tempfile::NamedTempFile {
        let mut tar = tar::Builder::new(Vec::new());
        for e in std::iter::once(&E::File(INSTALLER)).chain(entries) {
            let mut h = tar::Header::new_gnu();
            let (name, kind, link) = match e {
                E::File(n) => (n, EntryType::Regular, None),
                E::Dir(n) => (n, EntryType::Directory, None),
                E::Sym(n, t) => (n, EntryType::Symlink, Some(t)),
                E::Hard(n, t) => (n, EntryType::Link, Some(t)),
            };
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(t) = link {
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
            }
            h.set_entry_type(kind);
            h.set_mode(0o755);
            let data: &[u8] = if kind == EntryType::Regular {
                b"#!/bin/sh\n"
            } else {
                b""
            };
            h.set_size(data.len() as u64);
            h.set_cksum();
            tar.append(&h, data).unwrap();
        }
        let bytes = tar.into_inner().unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&bytes).unwrap();
        file.write_all(&bz.finish().unwrap()).unwrap();
        file
    }

    fn verdict(entries: &[E]) -> Result<(), String> {
        scan(archive(entries).path())
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn links_inside_the_tree_are_fine() {
        verdict(&[
            E::Dir("./lava/"),
            E::File("lava/version.py"),
            E::Sym("lava/current", "version.py"),
            E::Sym("bin/up", "../lava/./version.py"),
            E::Sym("dot", "."),
            E::Hard("lava/again.py", "lava/version.py"),
        ])
        .unwrap();
    }

    #[test]
    fn escapes_are_refused_with_the_entry_named() {
        for (entries, needle) in [
            (vec![E::File("../evil")], "\"..\""),
            (vec![E::File("lava/../../evil")], "\"..\""),
            (vec![E::File("/etc/evil")], "absolute path"),
            (vec![E::Sym("lava/x", "/etc")], "absolute target"),
            (vec![E::Sym("lava/x", "../../etc")], "outside"),
            // Lexically inside, but x is `.`, so x/.. is above the root.
            (vec![E::Sym("x", "."), E::Sym("y", "x/..")], "outside"),
            (vec![E::Sym("a", "b"), E::Sym("b", "a")], "too many levels"),
            (
                vec![E::File("d/f"), E::Sym("d", "lava")],
                "below the symlink \"d\"",
            ),
            (vec![E::Hard("h", "../etc/passwd")], "hard link"),
            (vec![E::Hard("h", "/etc/passwd")], "hard link"),
            (
                vec![E::Sym("d", "lava"), E::Hard("h", "d/f")],
                "below the symlink",
            ),
        ] {
            let err = verdict(&entries).unwrap_err();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn truncation_and_a_missing_installer_are_errors() {
        let good = archive(&[E::File("lava/version.py")]);
        let bytes = std::fs::read(good.path()).unwrap();
        let cut = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(cut.path(), &bytes[..bytes.len() - 20]).unwrap();
        assert!(matches!(scan(cut.path()), Err(BundleError::Corrupt(_))));

        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_path("lava/version.py").unwrap();
        h.set_size(0);
        h.set_cksum();
        tar.append(&h, &b""[..]).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&tar.into_inner().unwrap()).unwrap();
        std::fs::write(cut.path(), bz.finish().unwrap()).unwrap();
        assert!(matches!(scan(cut.path()), Err(BundleError::NoInstaller)));
    }
}
