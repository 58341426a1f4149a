//! The artefacts of a version, found in `dist/` (laid out as the code area) by
//! the names `lava-layout` gives them; the AMI build's resources are whatever
//! lies below `_ami_/`; the root boot scripts and the optional scriptlets come
//! from `misc/`, assembled with the helpers they include (`lava-scripts`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use lava_layout::{
    boot_copy_key, boot_script_key, cfn_keys, framework_key, lambda_key, pkg_key, root_boot_key,
    Arch, CfnTemplate, Component, LambdaFunction, Os, PackageName, Version, AMI_DIR, BOOT_DIST_DIR,
    BOOT_PREFIX, PKG_PREFIX, ROOT_BOOT_SCRIPTS, SHA256SUMS,
};

use lava_config::{Deployable, Environment};
use lava_files::{key_path, sha256_file, sha256_reader};
use lava_store::Body;

use crate::DeployError;

/// Where artefacts are read from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The output of `cargo xtask dist`.
    pub dist: PathBuf,
    /// The workspace's `misc/`, holding `root.boot.sh`, `root.boot0.sh`,
    /// the optional scriptlets in `boot.optional/` and the helpers they
    /// include in `lib/`.
    pub misc: PathBuf,
}

/// What to deploy, by its code-area key: a file of `dist/`, or a script of
/// `misc/` as assembled.
#[derive(Debug, Clone)]
pub struct Artefact {
    pub key: String,
    pub body: Body,
    pub size: u64,
    pub sha256: String,
}

/// The artefacts of `component` at `version`; of the environment, the realms
/// and workers matter to the root boot scripts, `boot.optional` to boot.
pub fn collect(
    component: Deployable,
    version: &Version,
    sources: &Sources,
    env: &Environment,
) -> Result<Vec<Artefact>, DeployError> {
    let dist = &sources.dist;
    let mut keys: Vec<String> = match component {
        Deployable::Area(Component::Pkg) => packages(dist, version)?,
        Deployable::Area(Component::Lambda) => Arch::ALL
            .into_iter()
            .flat_map(|a| LambdaFunction::ALL.map(|f| lambda_key(f, version, a)))
            .collect(),
        Deployable::Area(Component::Cfn) => CfnTemplate::ALL
            .into_iter()
            .flat_map(|t| cfn_keys(t, version))
            .collect(),
        Deployable::Area(Component::Framework) => vec![framework_key(version)],
        // The scriptlets, and beside lava-boot their copies, which that
        // directory's SHA256SUMS lists (a leftover `_boot_/bin/` of an
        // earlier layout is no scriptlet: files only).
        Deployable::Area(Component::Boot) => files_in(&dist.join(BOOT_PREFIX))?
            .iter()
            .map(|name| boot_script_key(name))
            .chain(
                files_in(&dist.join(BOOT_DIST_DIR))?
                    .iter()
                    .map(|name| boot_copy_key(name)),
            )
            .collect(),
        Deployable::Area(Component::Ami) => tree(dist, AMI_DIR)?,
        Deployable::Root => return root_scripts(&sources.misc, &env.realms),
    };
    keys.sort();
    keys.dedup();
    let files = keys
        .into_iter()
        .map(|key| {
            let path = key_path(dist, &key);
            (key, path)
        })
        .filter(|(_, path)| path.is_file())
        .collect();
    let mut artefacts = describe_all(files)?;
    if component == Deployable::Area(Component::Boot) {
        artefacts.extend(optional_scripts(&sources.misc, &env.optional_boot)?);
    }
    Ok(artefacts)
}

/// The optional scriptlets an environment names, from misc/boot.optional.
fn optional_scripts(misc: &Path, names: &[String]) -> Result<Vec<Artefact>, DeployError> {
    let dir = misc.join("boot.optional");
    let mut artefacts = Vec::new();
    for name in names {
        let path = dir.join(name);
        if !path.is_file() {
            let available = files_in(&dir)
                .unwrap_or_default()
                .into_iter()
                .filter(|n| n.ends_with(".sh"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(DeployError::Input(format!(
                "boot.optional: {name}: no such scriptlet in {} (there: {available})",
                dir.display()
            )));
        }
        for key in [boot_script_key(name), boot_copy_key(name)] {
            artefacts.push(assembled(key, misc, &format!("boot.optional/{name}"))?);
        }
    }
    Ok(artefacts)
}

/// Worker bundles of `version` under `_dist_/pkg/<os>/`. A file whose name
/// is not the canonical one for its place (an architecture alias, a bundle
/// in another os's directory) is skipped with a warning: deploying it would
/// put a name where workers do not look.
fn packages(dist: &Path, version: &Version) -> Result<Vec<String>, DeployError> {
    let root = dist.join(PKG_PREFIX);
    let mut keys = Vec::new();
    for dir in dirs_in(&root)? {
        let Ok(os) = dir.parse::<Os>() else {
            tracing::debug!("{}: not an os directory", root.join(&dir).display());
            continue;
        };
        for name in files_in(&root.join(&dir))? {
            let Ok(package) = PackageName::parse(&name) else {
                continue;
            };
            if package.version() != version {
                continue;
            }
            let key = pkg_key(&os, &package);
            if key_path(dist, &key) == root.join(&dir).join(&name) {
                keys.push(key);
            } else {
                tracing::warn!(
                    "{}: skipped: workers look for it as {key}",
                    root.join(&dir).join(&name).display()
                );
            }
        }
    }
    Ok(keys)
}

/// Every file below `dir`, as upstream's `aws s3 sync --exclude '*/.*'` of
/// ami/resources.s3 finds them: symlinks followed, no path with a hidden
/// component (nor the leftovers of `ami stage`'s swaps, which are hidden).
/// dist's checksum files are left out as elsewhere: deploy writes merged ones.
fn tree(dist: &Path, dir: &str) -> Result<Vec<String>, DeployError> {
    let mut keys = Vec::new();
    // Bounded: a directory symlink to its parent would loop for ever.
    const MAX_DEPTH: usize = 32;
    let mut pending = vec![(dir.to_string(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let path = key_path(dist, &dir);
        if depth > MAX_DEPTH {
            return Err(DeployError::Input(format!(
                "{}: more than {MAX_DEPTH} directories deep: a symlink loop?",
                path.display()
            )));
        }
        let read = match std::fs::read_dir(&path) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(DeployError::io(&path, e)),
        };
        for entry in read {
            let entry = entry.map_err(|e| DeployError::io(&path, e))?;
            let name = entry.file_name();
            if name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let key = format!("{dir}/{}", s3_name(&entry.path())?);
            // metadata, not file_type: a symlink counts as what it points to.
            match std::fs::metadata(entry.path()) {
                Ok(meta) if meta.is_dir() => pending.push((key, depth + 1)),
                Ok(meta) if meta.is_file() => {
                    if name != SHA256SUMS {
                        keys.push(key);
                    }
                }
                Ok(_) => tracing::warn!("{}: skipped: not a regular file", entry.path().display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!("{}: skipped: a dangling symlink", entry.path().display())
                }
                Err(e) => return Err(DeployError::io(&entry.path(), e)),
            }
        }
    }
    Ok(keys)
}

/// The last component of `path` as a key segment. A name that is not UTF-8
/// has no key; a control character (a newline above all) would break the
/// directory's SHA256SUMS and S3's XML listings.
fn s3_name(path: &Path) -> Result<&str, DeployError> {
    let name = path.file_name().expect("a directory entry has a name");
    match name.to_str() {
        Some(name) if !name.chars().any(char::is_control) => Ok(name),
        _ => Err(DeployError::Input(format!(
            "{}: not deployable: an S3 key must be UTF-8 without control characters; \
             rename it",
            path.display()
        ))),
    }
}

fn root_scripts(
    misc: &Path,
    realms: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Artefact>, DeployError> {
    let mut scripts = Vec::new();
    for name in ROOT_BOOT_SCRIPTS {
        let path = misc.join(name);
        if !path.is_file() {
            return Err(DeployError::Input(format!(
                "{}: no such file: the root boot scripts come from misc/ of the workspace",
                path.display()
            )));
        }
        scripts.push((name, assembled(String::new(), misc, name)?));
    }
    let mut artefacts = Vec::new();
    for (realm, workers) in realms {
        for worker in workers {
            for (script, template) in &scripts {
                let key = root_boot_key(realm, worker, script)
                    .map_err(|e| DeployError::Input(format!("root.realms.{realm}: {e}")))?;
                artefacts.push(Artefact {
                    key,
                    ..template.clone()
                });
            }
        }
    }
    artefacts.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(artefacts)
}

fn describe(key: String, path: PathBuf) -> Result<Artefact, DeployError> {
    let (size, sha256) = sha256_file(&path).map_err(|e| DeployError::io(&path, e))?;
    Ok(Artefact {
        key,
        body: Body::File(path),
        size,
        sha256,
    })
}

/// The script `misc/<path>` as it ships, assembled with the helpers it
/// includes: from the workspace or from lavactl's built-in copy of `misc/`,
/// the same bytes as dist's scriptlets.
fn assembled(key: String, misc: &Path, path: &str) -> Result<Artefact, DeployError> {
    let text =
        lava_scripts::assemble_file(misc, path).map_err(|e| DeployError::Input(e.to_string()))?;
    let bytes = text.into_bytes();
    let (size, sha256) = sha256_reader(bytes.as_slice()).expect("reading memory cannot fail");
    Ok(Artefact {
        key,
        body: Body::Bytes(Arc::new(bytes)),
        size,
        sha256,
    })
}

/// [`describe`] every file, on every core: a release is mostly a few large
/// bundles, and hashed one after another they keep a core idle while the
/// deploy waits for its plan. In the order given.
fn describe_all(files: Vec<(String, PathBuf)>) -> Result<Vec<Artefact>, DeployError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((key, path)) = files.get(i) else {
                    break;
                };
                let described = describe(key.clone(), path.clone());
                done.lock()
                    .expect("no hashing thread panics")
                    .push((i, described));
            });
        }
    });
    let mut done = done.into_inner().expect("no hashing thread panics");
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, d)| d).collect()
}

/// Regular files directly in `dir`, except checksum files and the hidden
/// leftovers of interrupted atomic writes. A missing directory is empty.
fn files_in(dir: &Path) -> Result<Vec<String>, DeployError> {
    entries(dir, |t| t.is_file())
}

fn dirs_in(dir: &Path) -> Result<Vec<String>, DeployError> {
    entries(dir, |t| t.is_dir())
}

fn entries(dir: &Path, want: fn(&std::fs::FileType) -> bool) -> Result<Vec<String>, DeployError> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DeployError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| DeployError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type().map_err(|e| DeployError::io(dir, e))?;
        if want(&file_type) && !name.starts_with('.') && name != SHA256SUMS {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}
