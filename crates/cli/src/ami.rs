//! `cargo xtask ami`: the lava AMI build's inputs (Oracle zips, packer
//! variables) and which lava AMIs the worker stacks run.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgGroup, Args, Subcommand};
use lava_ami::list::{Clients, StackState};
use lava_layout::Version;

use crate::aws::{block_on, EnvArgs};
use crate::{Context, Failure};

/// The lava AMI: stage its Oracle zips, print its packer variables, list AMIs.
#[derive(Args)]
pub struct AmiArgs {
    #[command(subcommand)]
    command: AmiCommand,
}

#[derive(Subcommand)]
enum AmiCommand {
    Stage(StageArgs),
    List(ListArgs),
    Vars(VarsArgs),
}

/// Verify Oracle instant-client zips and stage them in dist/_ami_/oracle/.
///
/// Reads every *.zip in DIR named as Oracle names its downloads, versioned or
/// not: instantclient-basiclite-linuxx64.zip, instantclient-basic-linux-arm64.zip,
/// instantclient-sqlplus-linux.x64-21.13.0.0.0dbru.zip, ... (other packages,
/// such as sdk, and other files are skipped, and said so).
///
/// Each zip is read in full (every entry's CRC); its entries must sit under one
/// instantclient_<major>_<minor>/ directory, which gives its version (a
/// version in the file name must agree); every ELF file in it must be for the
/// architecture its name claims, with at least one shared library (.so); a
/// basic/basiclite zip must hold libclntsh.so*, a sqlplus zip sqlplus.
/// Each architecture present needs basiclite and sqlplus (what the AMI build
/// installs; basic is optional), of one version, and one zip per package.
///
/// Any problem: all of them are listed, nothing is written, exit status 2.
/// Otherwise _ami_/oracle/ is replaced as a whole by
/// instantclient-<pkg>-linux-<x64|arm64>.zip (Oracle's bytes, unchanged: the
/// same inputs give identical files), manifest.json (package, arch, version,
/// sha256, size, source file of each zip) and SHA256SUMS.
/// Deploy them with: cargo xtask deploy -e ENV ami
///
/// Examples:
///   cargo xtask ami stage --from ~/Downloads/oracle
///   cargo xtask ami stage --from oracle-zips --out /tmp/dist --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct StageArgs {
    /// Directory holding the Oracle zips [default: the current directory].
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
    /// Output directory, laid out as the code area [default: dist/ of the
    /// workspace; for lavactl, dist/ in the current directory].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print what was staged as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// List the account's lava AMIs and the AMI each lava worker stack uses.
///
/// Lava AMIs are the account's own images (EC2 DescribeImages, owner self)
/// named lava-<version>-<os>-py<M.m>-<arch>-<build time>, e.g.
/// lava-8.3.0-amzn2023-py3.11-arm64-2025-07-02T08-43-48Z. The Python version
/// comes from the image's PYTHON_VERSION (or PythonVersion) tag when it has
/// one, else from the name. The newest image of each runtime (os, Python,
/// arch), the one built last, is marked with *.
///
/// Worker stacks are CloudFormation stacks with the lava-worker template's
/// realm, worker and amiId parameters. Each is shown with its amiId and its
/// state: current (the newest AMI of its runtime), LAGGING (an older one; the
/// newest is named), unknown (not one of the account's lava AMIs) or
/// no-instances (blank amiId).
///
/// The environment's account_id (deploy configuration) must be the account of
/// the AWS credentials. Credentials, region and endpoint come from the usual
/// places (AWS_PROFILE, AWS_REGION, ~/.aws; AWS_ENDPOINT_URL).
///
/// Exit status: 0 listed; 1 AWS failed or the credentials are for another
/// account; 2 bad input (arguments, configuration, environment).
///
/// Examples:
///   cargo xtask ami list -e prod
///   cargo xtask ami list -e prod -f deploy/prod.yaml --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("account").required(true).args(["environment"])))]
struct ListArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// Print the listing as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Print the packer variables of the lava AMI build for an environment, as JSON.
///
/// Reads the environment's ami section of the deploy configuration (upstream's
/// keys, documented in deploy/sample.yaml) and checks every key:
///   ami.s3              the _ami_/ directory in S3       -> s3bucket, s3prefix
///   ami.ip              public or private                -> ip, associate_public_ip
///   ami.subnet          subnet-<hex>                     -> subnet
///   ami.sg              sg-<hex>[,sg-<hex>...]           -> security_group_ids
///   ami.tz              e.g. Australia/Sydney            -> timezone
///   ami.python.version  e.g. "3.11.13"                   -> python_version, python_short_version
///   ami.os              optional, default amzn2023       -> os
///   ami.arch            optional, default x86_64         -> arch (x86_64 or arm64)
/// plus lava_version (-v, default the workspace release). Every problem is
/// named at once (exit status 2). The output is a packer -var-file.
///
/// Examples:
///   cargo xtask ami vars -e prod -f deploy/prod.yaml > ami-vars.json
///   packer build -var-file=ami-vars.json -var region=... -var ami_id=... lava-ami.json
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("account").required(true).args(["environment"])))]
struct VarsArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// The lava version the AMI is named for [default: the workspace release version].
    #[arg(short = 'v', long = "lava-version", value_name = "VERSION", value_parser = parse_version)]
    version: Option<Version>,
}

fn parse_version(s: &str) -> Result<Version, String> {
    s.parse().map_err(|e: lava_layout::NameError| e.to_string())
}

pub fn run(args: AmiArgs, ctx: &Context) -> Result<(), Failure> {
    match args.command {
        AmiCommand::Stage(args) => stage(args, ctx),
        AmiCommand::List(args) => list(args, ctx),
        AmiCommand::Vars(args) => vars(args, ctx),
    }
}

fn stage(args: StageArgs, ctx: &Context) -> Result<(), Failure> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let from = args
        .from
        .map(|f| cwd.join(f))
        .unwrap_or_else(|| cwd.clone());
    let out = args
        .out
        .map(|o| cwd.join(o))
        .unwrap_or_else(|| ctx.dist.clone());
    let staging = lava_ami::stage::verify(&from)?;
    for why in &staging.skipped {
        tracing::warn!("skipped {why}");
    }
    let written = lava_ami::stage::write(&staging, &out)?;
    if args.json {
        let report = serde_json::json!({
            "out": out,
            "zips": staging.zips,
            "written": written,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("cannot render JSON")?
        );
        return Ok(());
    }
    for z in &staging.zips {
        println!(
            "{:<48} {:<9} {:<5} {:>6}  {}  from {}",
            z.key,
            z.package.name(),
            z.arch.oracle(),
            z.version.to_string(),
            &z.sha256[..12],
            z.source
        );
    }
    println!(
        "{} zips staged in {} (with manifest.json and SHA256SUMS)",
        staging.zips.len(),
        out.join(lava_layout::ORACLE_PREFIX).display()
    );
    Ok(())
}

fn vars(args: VarsArgs, ctx: &Context) -> Result<(), Failure> {
    let version = match args.version {
        Some(v) => v,
        None => ctx.release()?.version,
    };
    let (config, env) = args.env.load(&version)?;
    let vars = lava_ami::vars::packer_vars(&config, &env, &version)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&vars).context("cannot render JSON")?
    );
    Ok(())
}

fn list(args: ListArgs, ctx: &Context) -> Result<(), Failure> {
    // Only account_id is read; locations name no version here.
    let version = ctx.release()?.version;
    let (_, env) = args.env.load(&version)?;
    let listing = block_on(async {
        let config = lava_config::load_sdk_config().await;
        lava_ami::list::list(&Clients::new(&config), &env).await
    })??;
    if args.json {
        println!("{}", listing.to_json());
        return Ok(());
    }
    println!(
        "lava AMIs of account {} (* newest of its runtime):",
        listing.account
    );
    if listing.images.is_empty() {
        println!("  none");
    }
    for i in &listing.images {
        let mark = if i.newest { '*' } else { ' ' };
        println!(
            "{mark} {:<24} {:<22} {}",
            i.runtime.to_string(),
            i.id,
            i.name
        );
    }
    println!("worker stacks:");
    if listing.stacks.is_empty() {
        println!("  none");
    }
    for s in &listing.stacks {
        let state = ami_state(s.state, s.newest.as_deref());
        let ami = if s.ami_id.is_empty() { "-" } else { &s.ami_id };
        println!(
            "  {:<32} {:<24} {:<22} {:<24} {state}",
            s.stack,
            format!("{}/{}", s.realm, s.worker),
            ami,
            s.runtime.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

/// A worker stack's AMI against the newest of its runtime, for people.
pub(crate) fn ami_state(state: StackState, newest: Option<&str>) -> String {
    match state {
        StackState::Current => "current".to_string(),
        StackState::Lagging => format!("LAGGING: newest is {}", newest.unwrap_or_default()),
        StackState::Unknown => "unknown: not a lava AMI of this account".to_string(),
        StackState::NoInstances => "no-instances".to_string(),
    }
}
