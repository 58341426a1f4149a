//! `manifest.json` at the root of `dist/`: what a release is, one entry per
//! artefact. dist writes it for what it built; `dist merge` checks each
//! shard against its own and writes the union. Its schema is
//! `docs/schema/manifest.schema.json`. deploy does not upload it: it reads
//! only the component directories.

use std::path::Path;
use std::process::Command;

use lava_layout::Version;
use serde::{Deserialize, Serialize};

use crate::{Artefact, BuildError};

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: String,
    /// The workspace's git commit, with `-dirty` when tracked files differ
    /// from it; null when the workspace is not a git checkout.
    pub commit: Option<String>,
    /// Sorted by key.
    pub artefacts: Vec<Artefact>,
}

impl Manifest {
    pub fn new(version: &Version, commit: Option<String>, artefacts: &[Artefact]) -> Manifest {
        let mut artefacts = artefacts.to_vec();
        artefacts.sort_by(|a, b| a.key.cmp(&b.key));
        Manifest {
            version: version.to_string(),
            commit,
            artefacts,
        }
    }

    /// `dir/manifest.json`; a missing or malformed one is the caller's to fix.
    pub fn read(dir: &Path) -> Result<Manifest, BuildError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            BuildError::Input(format!(
                "{}: {e}: not a directory `cargo xtask dist` wrote",
                path.display()
            ))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| BuildError::Input(format!("{}: not a dist manifest: {e}", path.display())))
    }

    /// Written whole to `dir/manifest.json`, as pretty JSON ending in a
    /// newline.
    pub fn write(&self, dir: &Path) -> Result<(), BuildError> {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        text.push('\n');
        let path = dir.join(MANIFEST);
        lava_files::write_bytes_atomic(&path, 0o644, text.as_bytes())
            .map_err(|e| BuildError::io(&path, e))
    }
}

/// What `dist --json` and `dist merge --json` print: the manifest, where it
/// was written and what was left out on purpose
/// (`docs/schema/dist-report.schema.json`).
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    #[serde(flatten)]
    pub manifest: &'a Manifest,
    pub out: &'a Path,
    pub skipped: &'a [String],
}

/// `git rev-parse HEAD` of the workspace, with `-dirty` when a tracked file
/// differs from it; `None` outside a git checkout (a source tarball).
pub fn commit(root: &Path) -> Option<String> {
    let git = |args: &[&str]| Command::new("git").arg("-C").arg(root).args(args).output();
    let head = git(&["rev-parse", "--verify", "HEAD"]).ok()?;
    if !head.status.success() {
        return None;
    }
    let sha = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let clean = git(&["diff", "--quiet", "HEAD", "--"]).is_ok_and(|o| o.status.success());
    Some(if clean { sha } else { format!("{sha}-dirty") })
}
