//! The operator commands: deploy a built release, update stacks, read the
//! status of an environment, pin and prune versions, the AMI inputs and a
//! worker's boot plan. `cargo xtask` runs them in the repository, for the
//! workspace's release; `lavactl`, the prebuilt static binary a release
//! ships, runs the same commands anywhere, for the release it was built from.
//! A thin layer over the library crates: arguments, output, exit codes.

mod ami;
mod aws;
mod boot;
mod deploy;
mod pin;
mod prune;
mod stack;
mod status;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use lava_builder::ReleaseId;

/// The operator commands, shared by `cargo xtask` and `lavactl`.
#[derive(Subcommand)]
pub enum Command {
    Ami(ami::AmiArgs),
    Boot(boot::BootArgs),
    Deploy(deploy::DeployArgs),
    Pin(pin::PinArgs),
    Prune(prune::PruneArgs),
    Stack(stack::StackArgs),
    Status(status::StatusArgs),
}

/// What a command line knows of the release it serves.
pub struct Context {
    /// Which release: read when a command needs it, so that `deploy -v`
    /// works beside a workspace whose matrix does not parse.
    pub release: ReleaseSource,
    /// Where built artefacts are when a command is not told (`--dist`).
    pub dist: PathBuf,
    /// `root.boot.sh`, `root.boot0.sh`, `boot.optional/` and the helpers
    /// they include, `lib/`.
    pub misc: Misc,
}

/// Where the release's version and matrix come from.
pub enum ReleaseSource {
    /// The `Cargo.toml` of a workspace at this root.
    Workspace(PathBuf),
    /// The text of the workspace `Cargo.toml` a binary was built from.
    Embedded(&'static str),
}

/// Where the scripts deploy takes from the sources (not from `dist/`) are.
pub enum Misc {
    /// The workspace's `misc/`.
    Dir(PathBuf),
    /// Built into the binary: (path below `misc/`, contents).
    Embedded(&'static [(&'static str, &'static [u8])]),
}

impl Context {
    pub fn release(&self) -> Result<ReleaseId, Failure> {
        Ok(match &self.release {
            ReleaseSource::Workspace(root) => ReleaseId::load(root)?,
            ReleaseSource::Embedded(text) => {
                ReleaseId::parse(std::path::Path::new("Cargo.toml (built in)"), text)?
            }
        })
    }

    /// `misc/` as a directory; embedded files are written to a temporary one
    /// that lives as long as the returned guard.
    fn misc_dir(&self) -> Result<(PathBuf, Option<tempfile::TempDir>), Failure> {
        match &self.misc {
            Misc::Dir(dir) => Ok((dir.clone(), None)),
            Misc::Embedded(files) => {
                let dir = tempfile::Builder::new()
                    .prefix("lavactl-misc-")
                    .tempdir()
                    .context("cannot create a temporary directory for the boot scripts")?;
                for (name, bytes) in *files {
                    let path = dir.path().join(name);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)
                            .with_context(|| format!("cannot create {}", parent.display()))?;
                    }
                    std::fs::write(&path, bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                Ok((dir.path().to_path_buf(), Some(dir)))
            }
        }
    }
}

pub fn run(command: Command, ctx: &Context) -> Result<(), Failure> {
    match command {
        Command::Ami(args) => ami::run(args, ctx),
        Command::Boot(args) => boot::run(args, ctx),
        Command::Deploy(args) => deploy::run(args, ctx),
        Command::Pin(args) => pin::run(args, ctx),
        Command::Prune(args) => prune::run(args, ctx),
        Command::Stack(args) => stack::run(args),
        Command::Status(args) => status::run(args, ctx),
    }
}

/// The help of `command` for a binary invoked as `bin`: the examples are
/// written as `cargo xtask <cmd>`, which becomes `<bin> <cmd>` for each of
/// `command`'s subcommands (a `cargo xtask dist` stays: lavactl has none).
pub fn retitle(command: clap::Command, bin: &str) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let replacements: Vec<(String, String)> = names
        .iter()
        .map(|n| (format!("cargo xtask {n}"), format!("{bin} {n}")))
        .collect();
    rewrite(command, &replacements)
}

fn rewrite(mut command: clap::Command, replacements: &[(String, String)]) -> clap::Command {
    let rename = |text: &clap::builder::StyledStr| {
        replacements
            .iter()
            .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
    };
    if let Some(about) = command.get_about().map(rename) {
        command = command.about(about);
    }
    if let Some(about) = command.get_long_about().map(rename) {
        command = command.long_about(about);
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |s| rewrite(s, replacements));
    }
    command
}

/// Logs on stderr: `info` unless RUST_LOG says otherwise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

/// A failure with the exit status it deserves.
pub struct Failure {
    pub error: anyhow::Error,
    pub status: u8,
}

impl Failure {
    /// Print the failure on stderr and give its exit status.
    pub fn report(self) -> std::process::ExitCode {
        eprintln!("error: {:#}", self.error);
        std::process::ExitCode::from(self.status)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure { error, status: 1 }
    }
}

/// The library errors that say whether they are the caller's to fix.
macro_rules! status_by_input {
    ($($error:ty),*) => {$(
        impl From<$error> for Failure {
            fn from(e: $error) -> Self {
                let status = if e.is_input() { 2 } else { 1 };
                Failure {
                    error: e.into(),
                    status,
                }
            }
        }
    )*};
}

status_by_input!(
    lava_builder::BuildError,
    lava_deploy::DeployError,
    lava_stack::StackError,
    lava_ami::AmiError,
    lava_ops::OpsError
);

impl From<lava_tools::ToolError> for Failure {
    fn from(e: lava_tools::ToolError) -> Self {
        Failure {
            error: e.into(),
            status: 1,
        }
    }
}

impl From<lava_config::ConfigError> for Failure {
    fn from(e: lava_config::ConfigError) -> Self {
        Failure {
            error: e.into(),
            status: 2,
        }
    }
}
