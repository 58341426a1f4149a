//! `cargo xtask dist`: build every artefact of the release into `dist/`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::HumanBytes;
use lava_builder::{DistOptions, Manifest, Release, Report, WorkerSource};
use lava_layout::{Arch, Component, Runtime};

use crate::progress::Reporter;
use crate::{workspace_root, Failure};

/// Build the release into a directory laid out exactly as the S3 code area.
///
/// Without options, builds the CloudFormation templates (and their documents),
/// the Lambda zips, one worker bundle per runtime of `[workspace.metadata.lava]
/// runtimes`, the job framework zip, the boot scriptlets and lava-boot, each
/// with a SHA256SUMS beside it. Artefacts are reproducible: the same commit
/// (or SOURCE_DATE_EPOCH) and inputs give byte-identical files.
///
/// Rust binaries: one `cargo build --release` per architecture (in
/// CARGO_TARGET_DIR or target/) before anything is written:
///   _dist_/lambda/x86_64/<fn>-<version>.zip  x86_64 functions, `bootstrap` inside
///   _dist_/lambda/arm64/<fn>-<version>.zip   arm64 functions
///   _dist_/boot/lava-boot-<uname -m>         what booting workers download,
///                                            with a copy of each _boot_/ scriptlet
///                                            (_boot_/ holds only scriptlets, no SHA256SUMS)
/// The functions are built for both architectures (a realm's
/// lambdaArchitecture picks), lava-boot for each architecture of the matrix.
/// The same build makes lavactl, the operator CLI, which `dist cli` copies
/// out (it is not in the code area).
/// A function needing a glibc newer than provided.al2023's (2.34), or
/// lava-boot one newer than the oldest os of the matrix, is refused.
///
/// Worker bundles: requirements.txt and requirements-extra.txt of the worker
/// source, as wheels for the runtime's platform (uv). A requirement PyPI has
/// no wheel of for it (PyGreSQL) is built from its sdist with that runtime's
/// Python and `zig cc` for the runtime's glibc (its `-dev` packages
/// installed or, for another architecture, unpacked into
/// ~/.cache/lava-dist/sysroot/), checked like the binaries, and kept in
/// ~/.cache/lava-dist/wheels/<runtime>/<zig>/ so later runs do not build it
/// again. One that cannot be built fails naming it and the runtime (exit 2).
///
/// Binaries (the Lambda bootstraps, lava-boot) are static musl executables
/// for each architecture: cargo's rustc with the <arch>-unknown-linux-musl
/// standard library, linked by zig (cargo-zigbuild), so they run on every
/// worker (amzn2 too) and on Lambda whatever machine built them. When one
/// is missing, dist installs it first, saying what and why (`rustup target
/// add`, bounded in time; zig and cargo-zigbuild from PyPI into
/// ~/.cache/lava-dist/zig), else exits 1 naming what to install.
/// LAVA_TOOLCHAIN_AARCH64=<rustc> picks the compiler, =none says there is
/// none. --skip-arch builds a release without an architecture, on purpose;
/// the summary lists what it left out.
///
/// Examples:
///   cargo xtask dist
///   cargo xtask dist --only lambda
///   cargo xtask dist --only pkg --runtime amzn2023-py3.11-aarch64
///   cargo xtask dist --worker-source ../lava --out /tmp/dist --json
///   cargo xtask dist --skip-arch aarch64   (an x86_64-only release, on purpose)
///   cargo xtask dist merge shard-x86_64 shard-aarch64 --out dist
///   cargo xtask dist cli --out /tmp/lavactl   (lavactl of each architecture)
///
/// Besides the artefacts, dist writes manifest.json at the root of the output
/// (version, commit, and every artefact's key, component, runtime, arch, size
/// and sha256; schema: docs/schema/manifest.schema.json). `--json` prints the
/// same with the output directory and what was skipped
/// (docs/schema/dist-report.schema.json).
#[derive(Args)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub struct DistArgs {
    #[command(subcommand)]
    command: Option<DistCommand>,
    /// Build only these components: cfn, lambda, pkg, framework, boot.
    #[arg(long, value_name = "COMPONENT", num_args = 1.., value_parser = parse_component)]
    only: Vec<Component>,
    /// Build bundles only for these runtimes, as <os>-py<M.m>-<arch>
    /// (e.g. amzn2023-py3.11-arm64); default: the release matrix.
    #[arg(long, value_name = "RUNTIME", num_args = 1.., value_parser = parse_runtime)]
    runtime: Vec<Runtime>,
    /// Worker source: "pypi" (jinlava of the release version), a lava checkout
    /// directory, or a jinlava sdist (.tar.gz); default: the release matrix.
    #[arg(long, value_name = "SRC")]
    worker_source: Option<String>,
    /// Leave an architecture out of the release: its bundles, its Lambda zips
    /// and its lava-boot (x86_64 or aarch64/arm64).
    #[arg(long, value_name = "ARCH", value_parser = parse_arch)]
    skip_arch: Vec<Arch>,
    /// Output directory [default: dist/ in the workspace].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the artefacts as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum DistCommand {
    Merge(MergeArgs),
    Cli(CliArgs),
}

/// Build lavactl, the operator commands as a static binary per architecture.
///
/// lavactl runs deploy, stack, status, pin, prune, ami and boot plan from any
/// directory on any Linux machine (amzn2 and newer, x86_64 or aarch64),
/// without this repository or a Rust toolchain: the release ships it beside
/// its dist tar. It belongs to this release: its default version is the
/// workspace's, and the root boot scripts and optional boot scriptlets of
/// misc/ are built in.
///
/// Writes OUT/lavactl-<version>-<arch> (arch as `uname -m` prints it) and
/// OUT/SHA256SUMS. Built by the very cargo invocation that builds the Lambda
/// bootstraps and lava-boot, so after a dist it compiles nothing new.
///
/// Examples:
///   cargo xtask dist cli
///   cargo xtask dist cli --arch x86_64 --out /tmp/lavactl --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct CliArgs {
    /// Only these architectures (x86_64, aarch64/arm64) [default: both].
    #[arg(long, value_name = "ARCH", value_parser = parse_arch)]
    arch: Vec<Arch>,
    /// Output directory [default: target/lavactl/ in the workspace].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print what was built as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Merge release shards built on several machines into one dist directory.
///
/// Each shard is a directory `cargo xtask dist --out DIR` wrote, from the same
/// commit (say x86_64 on one runner and aarch64 on another). The result is
/// exactly what one machine would have built: the same files, SHA256SUMS for
/// the union, and the union's manifest.json.
///
/// Every shard is checked before anything is written; the merge is refused
/// (exit 2, nothing written) when the shards are of different versions or
/// commits, when a key was built twice with different bytes, or when a
/// shard's files do not match its manifest.json or its SHA256SUMS.
///
/// Examples:
///   cargo xtask dist merge shard-1 shard-2 --out dist
///   cargo xtask dist merge shard-* --out dist --dry-run
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct MergeArgs {
    /// The shard directories.
    #[arg(required = true, value_name = "SHARD")]
    shards: Vec<PathBuf>,
    /// Output directory [default: dist/ in the workspace].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Check the shards and print the plan; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the merged release as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_component(s: &str) -> Result<Component, String> {
    s.parse()
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    s.parse()
        .map_err(|e: lava_layout::RuntimeError| e.to_string())
}

fn parse_runtime(s: &str) -> Result<Runtime, String> {
    s.parse()
        .map_err(|e: lava_layout::RuntimeError| e.to_string())
}

pub fn run(mut args: DistArgs) -> Result<(), Failure> {
    match args.command {
        Some(DistCommand::Merge(merge)) => return run_merge(merge),
        Some(DistCommand::Cli(cli)) => return run_cli(cli),
        None => {}
    }
    args.skip_arch.sort();
    args.skip_arch.dedup();
    let root = workspace_root();
    let release = Release::load(&root)?;
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let worker_source = args
        .worker_source
        .map(|s| WorkerSource::parse(&s, &cwd))
        .transpose()
        .map_err(|e| lava_builder::BuildError::Input(format!("--worker-source: {e}")))?;
    let options = DistOptions {
        only: args.only,
        runtimes: (!args.runtime.is_empty()).then_some(args.runtime),
        worker_source,
        out: args
            .out
            .map(|o| cwd.join(o))
            .unwrap_or_else(|| root.join("dist")),
        skip_archs: args.skip_arch,
    };
    let plan = lava_builder::plan(&release, &options)?;
    for why in &plan.skipped {
        tracing::warn!("{why}");
    }
    for line in plan.provisions() {
        tracing::info!("{line}");
    }
    let reporter = Reporter::new(plan.steps.len());
    let manifest = lava_builder::execute(&release, &plan, &reporter)?;
    reporter.finish();
    report(&manifest, &plan.out, &plan.skipped, args.json)
}

fn run_merge(args: MergeArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let out = args
        .out
        .map(|o| cwd.join(o))
        .unwrap_or_else(|| workspace_root().join("dist"));
    let shards: Vec<PathBuf> = args.shards.iter().map(|s| cwd.join(s)).collect();
    let plan = lava_builder::merge::plan(&shards, &out)?;
    if args.dry_run {
        println!("{plan}");
        println!("dry run: nothing written");
        return Ok(());
    }
    lava_builder::merge::execute(&plan)?;
    report(&plan.manifest, &plan.out, &[], args.json)
}

fn run_cli(args: CliArgs) -> Result<(), Failure> {
    let root = workspace_root();
    let release = Release::load(&root)?;
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let out = args
        .out
        .map(|o| cwd.join(o))
        .unwrap_or_else(|| root.join("target/lavactl"));
    let plan = lava_builder::cli::plan(&release, &args.arch, &out)?;
    for line in plan.toolchains.values().filter_map(|t| t.as_ref().err()) {
        tracing::info!("{}: dist installs it before building", line.why());
    }
    let built = lava_builder::cli::execute(&release, &plan)?;
    if args.json {
        let report = serde_json::json!({ "out": out, "artefacts": built });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    for a in &built {
        println!(
            "{}  {:>10}  {}",
            a.key,
            HumanBytes(a.size).to_string(),
            &a.sha256[..12]
        );
    }
    println!(
        "{} binaries in {} (with SHA256SUMS)",
        built.len(),
        out.display()
    );
    Ok(())
}

/// The summary table, or with `--json` the manifest with the output
/// directory and what was skipped.
fn report(manifest: &Manifest, out: &Path, skipped: &[String], json: bool) -> Result<(), Failure> {
    if json {
        let report = Report {
            manifest,
            out,
            skipped,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    let artefacts = &manifest.artefacts;
    let width = artefacts.iter().map(|a| a.key.len()).max().unwrap_or(0);
    println!("{:width$}  {:>10}  sha256", "artefact", "size");
    for a in artefacts {
        println!(
            "{:width$}  {:>10}  {}",
            a.key,
            HumanBytes(a.size).to_string(),
            &a.sha256[..12]
        );
    }
    println!("{} artefacts in {}", artefacts.len(), out.display());
    for why in skipped {
        println!("skipped: {why}");
    }
    Ok(())
}
