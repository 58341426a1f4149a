//! `cargo xtask boot plan`: which bundle a worker will boot from a deployed
//! code area, and why, decided by the worker's own code (lava-boot's plan).

use anyhow::Context as _;
use clap::{ArgGroup, Args, Subcommand};
use lava_boot::{Aws, Request};
use lava_layout::Runtime;
use lava_store::Location;

use crate::aws::{block_on, EnvArgs};
use crate::{Context, Failure};

/// A worker's boot, decided here by lava-boot's own code: `boot plan`.
#[derive(Args)]
pub struct BootArgs {
    #[command(subcommand)]
    command: BootCommand,
}

#[derive(Subcommand)]
enum BootCommand {
    Plan(PlanArgs),
}

/// Preview a worker boot: the bundle worker WORKER of realm REALM installs from
/// the environment's code area, and why; its install, accounts, daemons and
/// environment. Reads the code area (S3 or file://) and the realms table
/// (lava.realms, DynamoDB); changes nothing.
///
/// The code area is --code-area, else the environment's root.s3 location,
/// else its pkg.s3 location without the trailing _dist_/pkg/. Without
/// --platform, every runtime of the release matrix is previewed.
///
/// Exit status: 0 every platform boots; 1 one would abort (the cause is
/// printed) or AWS failed; 2 bad input.
///
/// Examples:
///   cargo xtask boot plan -e dev -f deploy/my-config.yaml --realm prod --worker core
///   cargo xtask boot plan --code-area s3://bucket/lava --realm prod --worker core \
///       --platform amzn2023-py3.11-aarch64 --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("area").required(true).args(["environment", "code_area"])))]
struct PlanArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// The code area itself (s3://bucket/prefix or file:///dir), instead of -e.
    #[arg(long, value_name = "URL", value_parser = parse_location)]
    code_area: Option<Location>,
    /// The realm: its item in lava.realms holds the x-workers settings.
    #[arg(long)]
    realm: String,
    /// The instance's worker; x-workers.<WORKER>.workers may add parasitic ones.
    #[arg(long)]
    worker: String,
    /// The worker's platform, <os>-py<M.m>-<arch>; repeatable.
    #[arg(long, value_name = "RUNTIME")]
    platform: Vec<Runtime>,
    /// Print the plans as a JSON array.
    #[arg(long)]
    json: bool,
}

fn parse_location(s: &str) -> Result<Location, String> {
    Location::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: BootArgs, ctx: &Context) -> Result<(), Failure> {
    let BootCommand::Plan(args) = args.command;
    let release = ctx.release()?;
    let code_area = match args.code_area {
        Some(area) => area,
        None => args.env.code_area(ctx)?.1,
    };
    let platforms = if args.platform.is_empty() {
        release.runtimes.clone()
    } else {
        args.platform
    };

    let (plans, aborted) = block_on(async {
        let aws = Aws::new(&lava_config::load_sdk_config().await);
        let mut plans = Vec::new();
        let mut aborted = 0;
        for platform in platforms {
            let request = Request {
                code_area: code_area.clone(),
                realm: args.realm.clone(),
                worker: args.worker.clone(),
                platform: platform.clone(),
                root: None,
                verify: true,
            };
            match lava_boot::plan(&request, &aws).await {
                Ok(plan) => plans.push(plan),
                Err(e) => {
                    aborted += 1;
                    eprintln!("{platform}: the boot would abort: {e}");
                }
            }
        }
        (plans, aborted)
    })?;
    if args.json {
        let json = serde_json::to_string_pretty(&plans).context("cannot render the plans")?;
        println!("{json}");
    } else {
        let text: Vec<String> = plans.iter().map(ToString::to_string).collect();
        print!("{}", text.join("\n"));
    }
    if aborted > 0 {
        return Err(anyhow::anyhow!("{aborted} platform(s) would not boot").into());
    }
    Ok(())
}
