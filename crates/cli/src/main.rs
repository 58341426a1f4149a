//! `lavactl`: the operator commands of one lava release, as a static binary
//! that runs from any directory, without the repository or a Rust toolchain.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use lava_cli::{Context, Misc, ReleaseSource};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Deploy and operate a lava release: push its artefacts to an environment's
/// code area, update the realm and worker stacks, read what every realm runs,
/// pin and prune versions.
///
/// lavactl belongs to one release: without -v/--lava-version it deploys and
/// reports on that release, reads the built artefacts from dist/ in the
/// current directory (--dist DIR says otherwise) and the deploy
/// configuration from deploy.yaml (-f FILE). The root boot scripts and the
/// optional boot scriptlets are built in.
///
/// Exit status: 0 success; 1 the work failed (AWS, the network, problems
/// found); 2 bad input (an option, the configuration), nothing written.
#[derive(Parser)]
#[command(name = "lavactl")]
struct Cli {
    #[command(subcommand)]
    command: lava_cli::Command,
}

fn main() -> ExitCode {
    let ctx = Context {
        release: ReleaseSource::Embedded(embedded::WORKSPACE_MANIFEST),
        dist: "dist".into(),
        misc: Misc::Embedded(embedded::MISC),
    };
    // The release's own (PEP 440) version, which the crate's semver may not hold.
    let version = match ctx.release() {
        Ok(release) => release.version.to_string(),
        Err(_) => env!("CARGO_PKG_VERSION").to_string(),
    };
    let command = lava_cli::retitle(Cli::command().version(version), "lavactl");
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    lava_cli::init_logging();
    match lava_cli::run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
