//! `cargo xtask test`: provision the harness's Python tools, then run the
//! workspace tests with them.

use anyhow::Context;
use clap::Args;
use lava_builder::toolchain;
use lava_layout::Arch;

use crate::{workspace_root, Failure};

/// Run the whole test suite the way CI does.
///
/// First the code is checked as CI wants it: `cargo fmt --all --check` and
/// `cargo clippy --workspace --all-targets -- -D warnings` (--no-lint skips
/// both, for a quick focused run). Then it installs the pinned tools of tests/tools-requirements.txt (moto server,
/// cfn-lint, awscli, uv, shellcheck) into a venv this command owns, under
/// $LAVA_TOOLS_VENV or ~/.cache/lava-dist/, then runs `cargo test --workspace`
/// with LAVA_TOOLS pointing at the venv's bin/. The venv is rebuilt only when
/// the requirements change.
///
/// The tests build and run the binaries of every architecture: like `dist`,
/// this command first provides the toolchain of each (see `cargo xtask dist
/// --help`), qemu-user-static to run the foreign ones, and the libraries a
/// worker has for the bundle's extensions (libodbc2, libpq5) (as root on
/// Debian, with apt-get; elsewhere it fails naming what to install).
///
/// Examples:
///   cargo xtask test
///   cargo xtask test -- dist_    (extra arguments go to cargo test)
///   cargo xtask test --no-lint -- -p lava-tests --test deploy
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct TestArgs {
    /// Skip the format and clippy checks.
    #[arg(long)]
    no_lint: bool,
    /// Arguments passed on to `cargo test`.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

pub fn run(args: TestArgs) -> Result<(), Failure> {
    let root = workspace_root();
    if !args.no_lint {
        let lints: [&[&str]; 2] = [
            &["fmt", "--all", "--check"],
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ];
        for lint in lints {
            let status = lava_tools::cargo()
                .current_dir(&root)
                .args(lint)
                .status()
                .with_context(|| format!("cannot run cargo {}", lint[0]))?;
            if !status.success() {
                return Err(anyhow::anyhow!("cargo {} failed ({status})", lint.join(" ")).into());
            }
        }
    }
    let tools = lava_tools::test_tools(&root.join("tests/tools-requirements.txt"))?;
    toolchain::worker_libraries()?;
    for arch in Arch::ALL {
        if Arch::host() != Some(arch) {
            toolchain::ensure(&root, arch)?;
            toolchain::emulator(arch)?;
        }
    }
    let status = lava_tools::cargo()
        .current_dir(&root)
        .args(["test", "--workspace"])
        .args(&args.cargo_args)
        .env("LAVA_TOOLS", tools.join("bin"))
        .status()
        .context("cannot run cargo test")?;
    if !status.success() {
        return Err(anyhow::anyhow!("cargo test failed ({status})").into());
    }
    Ok(())
}
