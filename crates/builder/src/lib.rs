//! Building a lava release: the plan of artefacts for `dist/` and the work that
//! makes them (templates, Lambda zips, worker bundles, the job framework, boot
//! scriptlets and the lava-boot binary), and the operator CLI `lavactl`
//! beside it. `dist/` is laid out exactly as the S3 code area (see
//! `lava-layout`).

pub mod binaries;
pub mod bundle;
pub mod cli;
pub mod dist;
pub mod lambda;
pub mod manifest;
pub mod merge;
pub mod release;
pub mod source;
pub mod toolchain;
pub mod wheels;

use std::path::Path;

pub use dist::{execute, plan, Artefact, DistOptions, Plan, Progress, Step, DIST_COMPONENTS};
pub use manifest::{Manifest, Report, MANIFEST};
pub use merge::MergePlan;
pub use release::{Release, ReleaseId};
pub use source::WorkerSource;

/// Why a build failed. `Input` is the caller's to fix (bad matrix, source,
/// template or option); the rest are the machine's (I/O, tools).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Input(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Tool(String),
    #[error(transparent)]
    Archive(#[from] lava_archive::Error),
    #[error(transparent)]
    Provision(#[from] lava_tools::ToolError),
}

impl BuildError {
    pub fn io(path: &Path, source: std::io::Error) -> BuildError {
        BuildError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the fault is in what the caller gave us (exit status 2).
    pub fn is_input(&self) -> bool {
        matches!(self, BuildError::Input(_))
    }
}
