//! `cargo xtask`: the lava release command line. A thin layer over the library
//! crates: it parses arguments, reports progress and maps errors to exit codes.

mod ami;
mod aws;
mod bench;
mod boot;
mod deploy;
mod dist;
mod pin;
mod progress;
mod prune;
mod stack;
mod status;
mod test;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build, test and ship lava releases.
///
/// Exit status: 0 success; 1 the work failed (I/O, a tool, the network);
/// 2 bad input (an option, the release matrix, the worker source), in which
/// case nothing was written.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Ami(ami::AmiArgs),
    Bench(bench::BenchArgs),
    Boot(boot::BootArgs),
    Dist(dist::DistArgs),
    Deploy(deploy::DeployArgs),
    Pin(pin::PinArgs),
    Prune(prune::PruneArgs),
    Stack(stack::StackArgs),
    Status(status::StatusArgs),
    Test(test::TestArgs),
    Version(version::VersionArgs),
}

/// A failure with the exit status it deserves.
pub struct Failure {
    pub error: anyhow::Error,
    pub status: u8,
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

/// The workspace the release is read from: this checkout, or `LAVA_WORKSPACE`
/// to build another checkout with this toolchain.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("LAVA_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let xtask = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            xtask
                .parent()
                .expect("xtask sits in the workspace")
                .to_path_buf()
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let result = match cli.command {
        Command::Ami(args) => ami::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Boot(args) => boot::run(args),
        Command::Dist(args) => dist::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Pin(args) => pin::run(args),
        Command::Prune(args) => prune::run(args),
        Command::Stack(args) => stack::run(args),
        Command::Status(args) => status::run(args),
        Command::Test(args) => test::run(args),
        Command::Version(args) => version::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.status)
        }
    }
}
