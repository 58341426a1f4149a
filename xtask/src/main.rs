//! `cargo xtask`: the lava release command line. A thin layer over the library
//! crates: it parses arguments, reports progress and maps errors to exit codes.

mod bench;
mod dist;
mod progress;
mod test;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lava_cli::{Context, Failure, Misc, ReleaseSource};

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
    Bench(bench::BenchArgs),
    Dist(dist::DistArgs),
    Test(test::TestArgs),
    Version(version::VersionArgs),
    /// The operator commands, which lavactl runs too.
    #[command(flatten)]
    Operator(lava_cli::Command),
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
    lava_cli::init_logging();
    let result = match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Dist(args) => dist::run(args),
        Command::Test(args) => test::run(args),
        Command::Version(args) => version::run(args),
        Command::Operator(command) => {
            let root = workspace_root();
            let ctx = Context {
                release: ReleaseSource::Workspace(root.clone()),
                dist: root.join("dist"),
                misc: Misc::Dir(root.join("misc")),
            };
            lava_cli::run(command, &ctx)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
