//! The `lava-boot` command line. Lives in the library so that the binary is
//! one line and tests can build the very same command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use lava_layout::{Arch, Os, PythonVersion, Runtime};
use lava_store::Location;

use crate::platform::{self, Overrides};
use crate::syslog::{self, Lines};
use crate::{Aws, Request};

/// Boot a lava worker: choose, verify and install the lava bundle for this
/// host from the code area, and start the worker daemons the realms table
/// (lava.realms, x-workers) asks for.
///
/// The bundle and each scriptlet are checked against their directory's
/// SHA256SUMS. One the file does not vouch for (no SHA256SUMS, as upstream's
/// deploy.sh leaves a directory; no entry; an entry another tool made stale)
/// is used with a loud warning, as upstream's boot uses whatever it finds,
/// unless the realm sets x-workers._.verify (or the worker's own entry) to
/// "required"; then the boot aborts. The realm's x-workers secupdate,
/// secupdate_reboot and secupdate_fail_exit reach 10-secupdate.sh.
///
/// Exit status: 0 done; 1 the boot is aborted (the cause is printed); 2 bad
/// arguments.
///
/// AWS credentials and region come from the usual places (on a worker: the
/// instance role); AWS_ENDPOINT_URL redirects to a local endpoint.
#[derive(Parser)]
#[command(name = "lava-boot", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what `apply` would do (bundle and why, install, accounts,
    /// daemons, environment); change nothing.
    Plan {
        #[command(flatten)]
        target: Target,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Carry out the plan: download, verify and install the bundle, check
    /// lava-version, create the accounts and start the daemons.
    Apply {
        #[command(flatten)]
        target: Target,
    },
    /// Run the boot scriptlets in CODE_AREA/_boot_/ in order of name, each as
    /// `<script> CODE_AREA REALM WORKER`: exit status 1 aborts the boot, any
    /// other failure is logged and the next one runs. README*, SHA256SUMS,
    /// dot-files and directories are skipped.
    RunScripts {
        /// s3://bucket/prefix (or file:///dir)
        #[arg(value_parser = parse_location)]
        code_area: Location,
        realm: String,
        worker: String,
    },
}

#[derive(Args)]
struct Target {
    /// The code area: s3://bucket/prefix (or file:///dir).
    #[arg(long, value_name = "URL", value_parser = parse_location)]
    code_area: Location,
    /// The realm: its item in lava.realms holds the x-workers settings.
    #[arg(long)]
    realm: String,
    /// The instance's worker; x-workers.<WORKER>.workers may add parasitic ones.
    #[arg(long)]
    worker: String,
    /// Land every file system effect below DIR (its etc/os-release gives the
    /// os), create no account and start no daemon.
    #[arg(long, value_name = "DIR", env = "LAVA_BOOT_ROOT")]
    root: Option<PathBuf>,
    /// The whole platform, as <os>-py<M.m>-<arch> (e.g. amzn2023-py3.11-aarch64).
    #[arg(long, value_name = "RUNTIME", conflicts_with_all = ["os", "python", "arch"])]
    platform: Option<Runtime>,
    /// The os instead of os-release's ID and major VERSION_ID (e.g. amzn2023).
    #[arg(long)]
    os: Option<Os>,
    /// The Python M.m instead of python3's.
    #[arg(long, value_name = "M.m")]
    python: Option<PythonVersion>,
    /// The architecture instead of uname -m's (x86_64, aarch64 and aliases).
    #[arg(long)]
    arch: Option<Arch>,
    /// Install a bundle SHA256SUMS does not vouch for, with a warning, although
    /// the realm requires verification (x-workers.<worker>|_.verify: required).
    #[arg(long)]
    no_verify: bool,
}

fn parse_location(s: &str) -> Result<Location, String> {
    Location::parse(s).map_err(|e| e.to_string())
}

/// Run `lava-boot` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("ABORT {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Lines on stderr, and for the boot's own steps in syslog (local0) under
/// the tag of the upstream script that did them, so the worker's log reads
/// as it did (`LAVA_BOOT_SYSLOG` moves the socket; `LAVA_BOOT_LOG` filters).
fn init_logging(command: &Command) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LAVA_BOOT_LOG")
        .unwrap_or_else(|_| "info".into());
    let tag = match command {
        Command::Plan { .. } => None,
        Command::Apply { .. } => Some("50-lava.sh"),
        Command::RunScripts { .. } => Some("root.boot.sh"),
    };
    let socket = std::env::var_os(syslog::SOCKET_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(syslog::DEFAULT_SOCKET));
    tracing_subscriber::registry()
        .with(filter)
        .with(Lines::stderr("lava-boot"))
        .with(tag.and_then(|tag| Lines::syslog(&socket, tag)))
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let aws = Aws::new(&config);
    match cli.command {
        Command::Plan { target, json } => {
            let plan = crate::plan(&request(target)?, &aws).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{plan}");
            }
        }
        Command::Apply { target } => {
            let plan = crate::plan(&request(target)?, &aws).await?;
            eprint!("{plan}");
            let applied = crate::apply(&plan, &aws).await?;
            let started: Vec<String> = applied
                .started
                .iter()
                .map(|(worker, n)| format!("{worker} x {n}"))
                .collect();
            tracing::info!(
                "lava {} installed; daemons started: {}",
                applied.installed,
                if started.is_empty() {
                    "none".into()
                } else {
                    started.join(", ")
                }
            );
            tracing::info!("Done");
        }
        Command::RunScripts {
            code_area,
            realm,
            worker,
        } => {
            let this = std::env::current_exe().ok();
            let ran =
                crate::run_scripts(&code_area, &realm, &worker, &aws, this.as_deref()).await?;
            tracing::info!("{} boot script(s) run", ran.len());
            tracing::info!("Done");
        }
    }
    Ok(())
}

fn request(target: Target) -> anyhow::Result<Request> {
    // Paths below the root end up in scripts: make them absolute.
    let root = target
        .root
        .map(|dir| std::path::absolute(&dir).with_context(|| format!("--root {}", dir.display())))
        .transpose()?;
    let overrides = Overrides {
        platform: target.platform,
        os: target.os,
        python: target.python,
        arch: target.arch,
    };
    let platform = platform::detect(root.as_deref().unwrap_or(Path::new("/")), &overrides)?;
    Ok(Request {
        code_area: target.code_area,
        realm: target.realm,
        worker: target.worker,
        platform,
        root,
        verify: !target.no_verify,
    })
}
