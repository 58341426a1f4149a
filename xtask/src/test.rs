//! `cargo xtask test`: provision the harness's Python tools, then run the
//! workspace tests with them.

use std::process::Command;

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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
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
            let status = Command::new(&cargo)
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
    worker_libraries()?;
    for arch in Arch::ALL {
        if Arch::host() != Some(arch) {
            toolchain::ensure(&root, arch)?;
            emulator(arch)?;
        }
    }
    let status = Command::new(cargo)
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

/// The system libraries a worker has for the bundle's extensions (the AMI
/// installs them): unixODBC's for pyodbc and libpq for PyGreSQL. The dist
/// test imports both from the host's bundle; installed with apt-get when
/// missing.
fn worker_libraries() -> Result<(), lava_builder::BuildError> {
    const NEEDED: [(&str, &str); 2] = [("libodbc.so.2", "libodbc2"), ("libpq.so.5", "libpq5")];
    let cache = Command::new("ldconfig").arg("-p").output();
    let known = cache.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let missing: Vec<String> = NEEDED
        .iter()
        .filter(|(library, _)| {
            !known
                .as_ref()
                .is_ok_and(|k| k.contains(&format!("{library} ")))
        })
        .map(|(_, deb)| deb.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "the tests import the bundle's pyodbc and PyGreSQL, which need a worker's \
         libraries: installing {}",
        missing.join(" ")
    );
    toolchain::apt_install(&missing)
}

/// qemu's user-mode emulator of `arch`, installed with Debian's
/// qemu-user-static when it is missing.
fn emulator(arch: Arch) -> Result<(), lava_builder::BuildError> {
    let program = format!("qemu-{}-static", arch.uname());
    let found = || lava_tools::on_path(&program).is_some();
    if found() {
        return Ok(());
    }
    eprintln!("the tests run {arch} binaries with {program}: installing qemu-user-static");
    toolchain::apt_install(&["qemu-user-static".to_string()])?;
    if found() {
        Ok(())
    } else {
        Err(lava_builder::BuildError::Tool(format!(
            "installing qemu-user-static gave no {program} on PATH"
        )))
    }
}
