//! `dist merge`: the shards of one release, each built by `cargo xtask dist
//! --out shard-N` on its own machine, made into one `dist/` that is exactly
//! what one machine would have built: the same files, `SHA256SUMS` for the
//! union, and the union's `manifest.json`.
//!
//! Planning reads and checks every shard before anything is written: the
//! shards agree on version and commit, each shard's files match its manifest
//! and its `SHA256SUMS`, and a key two shards both built has the same bytes
//! in both. Executing copies the files in through a staging directory, as
//! dist moves its artefacts in.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lava_layout::{has_sums, Component, Sums, SHA256SUMS};

use crate::manifest::{Manifest, MANIFEST};
use crate::{Artefact, BuildError};

/// What a merge will write, decided before anything is.
#[derive(Debug)]
pub struct MergePlan {
    pub out: PathBuf,
    /// The union, as `out/manifest.json` will hold it.
    pub manifest: Manifest,
    /// Where each artefact is copied from: the first shard that has it.
    pub sources: BTreeMap<String, PathBuf>,
}

impl fmt::Display for MergePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, shard) in &self.sources {
            writeln!(f, "{key}  <- {}", shard.display())?;
        }
        write!(
            f,
            "{} artefacts of lava {} into {}",
            self.sources.len(),
            self.manifest.version,
            self.out.display()
        )
    }
}

/// Read and check every shard; writes nothing.
pub fn plan(shards: &[PathBuf], out: &Path) -> Result<MergePlan, BuildError> {
    if shards.is_empty() {
        return Err(BuildError::Input(
            "dist merge needs at least one shard".into(),
        ));
    }
    let out_real = std::fs::canonicalize(out).ok();
    let mut union: BTreeMap<String, (Artefact, PathBuf)> = BTreeMap::new();
    let mut release: Option<(Manifest, &PathBuf)> = None;
    for shard in shards {
        if out_real.is_some() && std::fs::canonicalize(shard).ok() == out_real {
            return Err(BuildError::Input(format!(
                "{}: the output directory is also a shard",
                shard.display()
            )));
        }
        let manifest = Manifest::read(shard)?;
        check_shard(shard, &manifest)?;
        if let Some((seen, from)) = &release {
            for (what, a, b) in [
                ("version", &seen.version, &manifest.version),
                ("commit", &display(&seen.commit), &display(&manifest.commit)),
            ] {
                if a != b {
                    return Err(BuildError::Input(format!(
                        "the shards are not of one release: {} has {what} {a}, {} has {what} {b}",
                        from.display(),
                        shard.display()
                    )));
                }
            }
        }
        for artefact in &manifest.artefacts {
            match union.get(&artefact.key) {
                Some((other, from)) if other != artefact => {
                    return Err(BuildError::Input(format!(
                        "{} was built twice with different bytes: {} has sha256 {} ({} bytes), {} has {} ({} bytes)",
                        artefact.key,
                        from.display(),
                        other.sha256,
                        other.size,
                        shard.display(),
                        artefact.sha256,
                        artefact.size
                    )));
                }
                Some(_) => {}
                None => {
                    union.insert(artefact.key.clone(), (artefact.clone(), shard.clone()));
                }
            }
        }
        if release.is_none() {
            release = Some((manifest, shard));
        }
    }
    let (release, _) = release.expect("at least one shard");
    let artefacts: Vec<Artefact> = union.values().map(|(a, _)| a.clone()).collect();
    Ok(MergePlan {
        out: out.to_path_buf(),
        manifest: Manifest {
            version: release.version,
            commit: release.commit,
            artefacts,
        },
        sources: union
            .into_iter()
            .map(|(key, (_, shard))| (key, shard))
            .collect(),
    })
}

fn display(commit: &Option<String>) -> String {
    commit.clone().unwrap_or_else(|| "(none)".into())
}

/// A shard's files are exactly its manifest's artefacts (plus `SHA256SUMS`
/// and `manifest.json`), each with the size and digest the manifest gives,
/// and each directory's `SHA256SUMS` lists exactly its files.
fn check_shard(shard: &Path, manifest: &Manifest) -> Result<(), BuildError> {
    let bad = |what: String| BuildError::Input(format!("{}: {what}", shard.display()));
    let listed: BTreeMap<&str, &Artefact> = manifest
        .artefacts
        .iter()
        .map(|a| (a.key.as_str(), a))
        .collect();
    let mut sums_files = Vec::new();
    for entry in walkdir::WalkDir::new(shard).sort_by_file_name() {
        let entry = entry.map_err(|e| bad(format!("cannot read: {e}")))?;
        let key = entry
            .path()
            .strip_prefix(shard)
            .expect("below the shard")
            .to_string_lossy()
            .into_owned();
        if entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            return Err(bad(format!("{key} is not a regular file")));
        }
        if key == MANIFEST {
            continue;
        }
        if entry.file_name() == SHA256SUMS {
            sums_files.push(key);
            continue;
        }
        let Some(artefact) = listed.get(key.as_str()) else {
            return Err(bad(format!(
                "{key} is not in its {MANIFEST}: merge takes directories that \
                 `cargo xtask dist --out` wrote fresh"
            )));
        };
        let (size, sha256) =
            lava_files::sha256_file(entry.path()).map_err(|e| BuildError::io(entry.path(), e))?;
        if (size, sha256.as_str()) != (artefact.size, artefact.sha256.as_str()) {
            return Err(bad(format!(
                "{key} has sha256 {sha256} ({size} bytes), its {MANIFEST} says {} ({} bytes)",
                artefact.sha256, artefact.size
            )));
        }
    }
    for key in listed.keys() {
        if !shard.join(key).is_file() {
            return Err(bad(format!(
                "{key} is in its {MANIFEST} but not in the shard"
            )));
        }
    }
    // Every directory holding an artefact has SHA256SUMS listing exactly
    // its files, with the digests just checked against the manifest.
    let mut by_dir: BTreeMap<&str, Sums> = BTreeMap::new();
    for (key, artefact) in &listed {
        let (dir, name) = key.rsplit_once('/').unwrap_or(("", key));
        if !has_sums(dir) {
            continue;
        }
        by_dir
            .entry(dir)
            .or_default()
            .insert(name, artefact.sha256.clone());
    }
    for (dir, want) in &by_dir {
        let key = if dir.is_empty() {
            SHA256SUMS.to_string()
        } else {
            format!("{dir}/{SHA256SUMS}")
        };
        let text =
            std::fs::read_to_string(shard.join(&key)).map_err(|e| bad(format!("{key}: {e}")))?;
        let (got, malformed) = Sums::parse(&text);
        if let Some(line) = malformed.first() {
            return Err(bad(format!("{key}: not a sha256sum line: {line:?}")));
        }
        for (name, sha) in &want.0 {
            match got.get(name) {
                Some(listed) if listed == sha => {}
                Some(listed) => {
                    return Err(bad(format!(
                        "{key} lists {name} with sha256 {listed}, the file's is {sha}"
                    )))
                }
                None => return Err(bad(format!("{key} does not list {name}"))),
            }
        }
        if let Some(extra) = got.0.keys().find(|n| !want.0.contains_key(*n)) {
            return Err(bad(format!(
                "{key} lists {extra}, which the shard does not have"
            )));
        }
    }
    if let Some(orphan) = sums_files.iter().find(|k| {
        let dir = k.rsplit_once('/').map_or("", |(d, _)| d);
        !by_dir.contains_key(dir)
    }) {
        return Err(bad(format!("{orphan} is in a directory without artefacts")));
    }
    Ok(())
}

/// Copy every artefact in, checking each copy's digest against the plan (a
/// shard changed since it was planned fails, leaving `out` as it was), then
/// rewrite `SHA256SUMS` and write the manifest.
pub fn execute(plan: &MergePlan) -> Result<(), BuildError> {
    let stage = crate::dist::staging_beside(&plan.out)?;
    for artefact in &plan.manifest.artefacts {
        let from = plan.sources[&artefact.key].join(&artefact.key);
        let to = stage.path().join(&artefact.key);
        let dir = to.parent().expect("keys have a directory");
        std::fs::create_dir_all(dir).map_err(|e| BuildError::io(dir, e))?;
        let mut input = std::fs::File::open(&from).map_err(|e| BuildError::io(&from, e))?;
        let file = std::fs::File::create(&to).map_err(|e| BuildError::io(&to, e))?;
        let mut copy = lava_files::Hashing::new(file);
        std::io::copy(&mut input, &mut copy).map_err(|e| BuildError::io(&to, e))?;
        copy.flush().map_err(|e| BuildError::io(&to, e))?;
        let (_, _, sha256) = copy.finish();
        if sha256 != artefact.sha256 {
            return Err(BuildError::Input(format!(
                "{} changed while merging: sha256 {sha256}, planned {}",
                from.display(),
                artefact.sha256
            )));
        }
        // The modes dist gives, whatever the shard's files have now: a CI
        // system's artifact store may not keep them.
        let mode = if artefact.component == Component::Boot.name() {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
            .map_err(|e| BuildError::io(&to, e))?;
    }
    crate::dist::publish(stage.path(), &plan.out, &plan.manifest)
}
