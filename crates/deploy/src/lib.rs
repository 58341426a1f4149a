//! Deploying a lava release to its code area: S3 (or a `file://` mirror).
//!
//! Three stages, each a function, so that nothing is written before every
//! input has been checked and the real run does exactly what the dry run shows:
//!
//! 1. `lava_config`: the environment, every location resolved (upstream's
//!    `deploy/sample.yaml` format).
//! 2. [`prepare`]: the local artefacts of the version for each configured
//!    component, read from `dist/` by their `lava-layout` names. Local only.
//! 3. [`Prepared::plan`]: checks the AWS account (STS) before any S3 request,
//!    then compares with the remote state: one listing per directory, one GET
//!    of its `SHA256SUMS`, a HEAD only for objects that file does not cover.
//!    [`execute`] then pushes exactly the plan.

mod aws;
mod local;
mod plan;
mod push;

use std::path::{Path, PathBuf};

pub use aws::Aws;
pub use local::{Artefact, Sources};
pub use plan::{
    prepare, Action, Adopted, Count, Group, Object, Options, Plan, Prepared, Request, Skipped,
    Summary, SummaryObject, Target,
};
pub use push::{execute, Progress, Report};

/// Why a deploy did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The caller's to fix (configuration, arguments, missing artefacts);
    /// always raised before anything is written.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Config(#[from] lava_config::ConfigError),
    #[error("{0}; nothing was written")]
    Account(#[from] lava_config::AccountError),
    #[error(transparent)]
    Store(#[from] lava_store::StoreError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} object(s) failed ({written} written); the SHA256SUMS of a directory with a failure \
         was left as it was, so a re-run uploads what is missing:\n  {}",
        failures.len(),
        failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
    )]
    Push {
        failures: Vec<lava_store::StoreError>,
        written: usize,
    },
}

impl DeployError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> DeployError {
        DeployError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the fault is in what the caller gave us (exit status 2).
    pub fn is_input(&self) -> bool {
        match self {
            DeployError::Input(_) | DeployError::Config(_) => true,
            DeployError::Account(e) => e.is_input(),
            _ => false,
        }
    }
}
