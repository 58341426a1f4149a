//! What a booting lava worker does, as a library: choose the bundle for this
//! platform from the code area and the realms table ([`plan`]), then verify
//! and install it and start the worker daemons ([`apply`]); and run the
//! code area's boot scriptlets in order ([`run_scripts`]).
//!
//! A [`Plan`] is computed without changing anything; `apply` does exactly
//! what it says. With a root directory every file system effect lands below
//! it and no account or daemon is touched (tests, previews).

mod apply;
mod aws;
pub mod bundle;
pub mod cli;
mod plan;
pub mod platform;
mod scripts;
pub mod select;
pub mod settings;
pub mod syslog;
mod verify;

use std::path::PathBuf;
use std::process::ExitStatus;

pub use apply::{apply, Applied};
pub use aws::{plain_item, typed_realm_item, Aws, REALMS_TABLE};
pub use plan::{plan, Account, Bundle, DaemonPlan, Install, Pin, Plan, Request, LAVA_GROUP};
pub use platform::{Overrides, PlatformError};
pub use scripts::{run_scripts, ScriptRun, LAVA_BOOT_ENV};
pub use select::{select, Reason, SelectError, Selection, Skipped};
pub use settings::{Daemon, SettingsError, WorkerSettings};
pub use verify::{Policy, Unverifiable};

/// Why a boot stopped. Every one aborts the boot: nothing after it ran.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("bad {what} name {name:?}: expected letters, digits, '_', '.' or '-', starting with a letter or digit")]
    Name { what: &'static str, name: String },
    #[error("cannot read realm {realm:?} from the {REALMS_TABLE} table: {message}")]
    Realm { realm: String, message: String },
    #[error("{realm}: no such realm in the {REALMS_TABLE} table")]
    NoSuchRealm { realm: String },
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Store(#[from] lava_store::StoreError),
    #[error("{url} is missing, so {name} cannot be verified, and {setting} is \"required\" (deploy the release with lavactl deploy, which writes SHA256SUMS, or pass --no-verify)")]
    NoSums {
        url: String,
        name: String,
        setting: String,
    },
    #[error("{url} has no entry for {name}, so it cannot be verified, and {setting} is \"required\" (deploy the release with lavactl deploy, which lists every file, or pass --no-verify)")]
    NotListed {
        url: String,
        name: String,
        setting: String,
    },
    #[error("{url} is gone: it was listed a moment ago")]
    Vanished { url: String },
    #[error("{url}: sha256 {actual}, but SHA256SUMS says {expected}: refusing it, as {setting} is \"required\" (another tool replaced it after SHA256SUMS was written)")]
    Mismatch {
        url: String,
        expected: String,
        actual: String,
        setting: String,
    },
    #[error("{url}: {source}: refusing to install it")]
    Bundle {
        url: String,
        source: bundle::BundleError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} failed ({status})")]
    Failed { what: String, status: ExitStatus },
    #[error("the installed lava-version prints {got:?}, but lava {expected} was installed")]
    VersionCheck { expected: String, got: String },
    #[error("no boot scripts in {url}")]
    NoScripts { url: String },
    #[error("Boot script {name} failed")]
    ScriptAborted { name: String },
}

impl BootError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BootError {
        let path = path.into();
        move |source| BootError::Io { path, source }
    }
}

/// Realm and worker names become account names, paths and script arguments:
/// only a conservative character set is let through.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), BootError> {
    let mut bytes = name.bytes();
    let first = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    if first && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        Ok(())
    } else {
        Err(BootError::Name {
            what,
            name: name.to_string(),
        })
    }
}
