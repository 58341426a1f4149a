//! The lava AMI build's inputs and outputs, from this side of packer:
//!
//! - [`stage`]: Oracle instant-client zips, as Oracle named them, verified
//!   (CRCs, version, ELF machine, contents) by [`stage::verify`], which writes
//!   nothing, then copied unchanged to `_ami_/oracle/` with a manifest and
//!   `SHA256SUMS` by [`stage::write`].
//! - [`vars`]: the packer variables of an environment's `ami:` section,
//!   validated.
//! - [`list`]: the account's lava AMIs, the newest of each runtime, and the
//!   `amiId` of each lava worker stack beside them.
//!
//! Every name (Oracle downloads, staged zips, AMI names, runtimes,
//! architectures) is parsed and formatted by `lava-layout`.

pub mod list;
pub mod stage;
pub mod vars;

use std::path::{Path, PathBuf};

/// Why an AMI command did not do its work.
#[derive(Debug, thiserror::Error)]
pub enum AmiError {
    /// The caller's to fix (arguments, configuration, environment); raised
    /// before anything was written.
    #[error("{0}")]
    Input(String),
    /// Every problem found among the zips to stage, at once.
    #[error(
        "{} problem(s) with the Oracle zips in {}; nothing was written:\n  {}",
        problems.len(),
        from.display(),
        problems.join("\n  ")
    )]
    Stage {
        from: PathBuf,
        problems: Vec<String>,
    },
    /// Every problem found in an environment's `ami:` section, at once.
    #[error(
        "{} problem(s) in the AMI build settings (deploy/sample.yaml documents them):\n  {}",
        problems.len(),
        problems.join("\n  ")
    )]
    Settings { problems: Vec<String> },
    #[error(transparent)]
    Config(#[from] lava_config::ConfigError),
    #[error(transparent)]
    Account(#[from] lava_config::AccountError),
    #[error("{operation}: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl AmiError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> AmiError {
        AmiError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the fault is in what the caller gave us (exit status 2).
    pub fn is_input(&self) -> bool {
        match self {
            AmiError::Input(_)
            | AmiError::Stage { .. }
            | AmiError::Settings { .. }
            | AmiError::Config(_) => true,
            AmiError::Account(e) => e.is_input(),
            _ => false,
        }
    }
}
