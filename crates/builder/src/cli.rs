//! The operator CLI a release ships beside its `dist/`: `lavactl-<version>-<arch>`
//! per architecture and a SHA256SUMS, in a directory of their own (operators
//! download them; nothing of it goes to the code area). Built by the same
//! cargo invocation as the code area's binaries (`binaries::build`), so
//! after a dist it costs no compile, and the reverse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lava_layout::{cli_name, Arch, Version};

use crate::binaries::{self, Shipped};
use crate::dist::{staging_beside, write_file, write_sums, Artefact};
use crate::release::Release;
use crate::toolchain::{self, Missing, Toolchain};
use crate::BuildError;

/// The CLI binaries a run will write, decided before anything is built.
#[derive(Debug)]
pub struct CliPlan {
    pub version: Version,
    pub out: PathBuf,
    /// Per architecture: a toolchain found here, or what `execute` installs.
    pub toolchains: BTreeMap<Arch, Result<Toolchain, Missing>>,
}

impl CliPlan {
    /// The file each architecture's binary is written as, below `out`.
    pub fn outputs(&self) -> Vec<(Arch, String)> {
        self.toolchains
            .keys()
            .map(|&arch| (arch, cli_name(&self.version, arch)))
            .collect()
    }
}

/// Plan `lavactl` for `archs` (every architecture when empty) into `out`.
/// Reads only this machine; a toolchain it cannot install fails the plan.
pub fn plan(release: &Release, archs: &[Arch], out: &Path) -> Result<CliPlan, BuildError> {
    let archs = if archs.is_empty() {
        &Arch::ALL[..]
    } else {
        archs
    };
    let toolchains = toolchain::find_all(&release.root, archs.iter().copied())?;
    Ok(CliPlan {
        version: release.version.clone(),
        out: out.to_path_buf(),
        toolchains,
    })
}

/// Build the plan: every binary is built and checked before the first moves
/// into `out`, so a failure leaves `out` as it was. `out`'s SHA256SUMS then
/// lists every file there.
pub fn execute(release: &Release, plan: &CliPlan) -> Result<Vec<Artefact>, BuildError> {
    let stage = staging_beside(&plan.out)?;
    let mut built = Vec::new();
    for ((arch, found), (_, name)) in plan.toolchains.iter().zip(plan.outputs()) {
        let toolchain = match found {
            Ok(toolchain) => toolchain.clone(),
            Err(missing) => toolchain::provision(&release.root, missing)?,
        };
        let binaries = binaries::build(release, &toolchain)?;
        let src = binaries.path(Shipped::Cli);
        let bytes = std::fs::read(src).map_err(|e| BuildError::io(src, e))?;
        let staged = stage.path().join(&name);
        write_file(&staged, &bytes, true)?;
        let (size, sha256) =
            lava_files::sha256_file(&staged).map_err(|e| BuildError::io(&staged, e))?;
        built.push(Artefact {
            key: name,
            component: "cli".into(),
            runtime: None,
            arch: Some(arch.to_string()),
            size,
            sha256,
        });
    }
    std::fs::create_dir_all(&plan.out).map_err(|e| BuildError::io(&plan.out, e))?;
    for artefact in &built {
        let to = plan.out.join(&artefact.key);
        std::fs::rename(stage.path().join(&artefact.key), &to)
            .map_err(|e| BuildError::io(&to, e))?;
    }
    write_sums(&plan.out, &built)?;
    Ok(built)
}
