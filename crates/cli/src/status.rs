//! `cargo xtask status`: what an environment's code area holds and what each
//! realm runs from it.

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use lava_ops::status::{self, Request, Status};
use lava_ops::Clients;

use crate::ami::ami_state;
use crate::aws::{block_on, EnvArgs};
use crate::pin::boots;
use crate::{Context, Failure};

/// Show the releases in the code area and what every realm runs.
///
/// Read-only. After checking that the AWS credentials belong to the
/// environment's account_id, it lists:
///
/// - every directory of the environment's code area that holds releases
///   (bundles per os, Lambda zips per architecture, the job framework, each
///   cfn version folder) and the boot directories: the releases present, and
///   whether its SHA256SUMS lists exactly its files with their digests;
/// - every realm of the lava.realms table (or --realm): its realm stack's
///   lambdaVersion and lambdaArchitecture and whether those four zips are in
///   the code area the stack names; for each worker stack of the realm, its
///   pin (x-workers.<worker> or x-workers._), the bundle it boots (chosen by
///   the code lava-boot runs, for the runtime of its AMI), and its AMI
///   against the newest lava AMI of that runtime.
///
/// Problems (a pin with no bundle for a worker's runtime, a lambdaVersion
/// without its zips, a SHA256SUMS that does not match its directory) are
/// listed last.
///
/// Exit status: 0 no problem; 1 problems found, the AWS credentials are for
/// another account, or AWS failed; 2 bad input (arguments, configuration,
/// no such realm).
///
/// Examples:
///   cargo xtask status -e prod
///   cargo xtask status -e prod --realm ops --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("account").required(true).args(["environment"])))]
pub struct StatusArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// Only this realm.
    #[arg(long)]
    realm: Option<String>,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: StatusArgs, ctx: &Context) -> Result<(), Failure> {
    let (env, code_area) = args.env.code_area(ctx)?;
    let request = Request {
        environment: &env,
        code_area: &code_area,
        realm: args.realm.as_deref(),
    };
    let status = block_on(async {
        let clients = Clients::new(&lava_config::load_sdk_config().await);
        status::status(&clients, &request).await
    })??;
    if args.json {
        let json = serde_json::to_string_pretty(&status).context("cannot render the status")?;
        println!("{json}");
    } else {
        print_status(&status);
    }
    if status.problems.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{} problem(s) found", status.problems.len()).into())
    }
}

fn print_status(status: &Status) {
    println!("account {}, code area {}", status.account, status.code_area);
    for d in &status.directories {
        let sums = if !d.sums.present {
            "no SHA256SUMS".to_string()
        } else if d.sums.is_consistent() {
            "SHA256SUMS ok".to_string()
        } else {
            "SHA256SUMS does not match".to_string()
        };
        println!(
            "  {:<32} {:>3} files  {:<16}  {}",
            d.dir,
            d.files,
            sums,
            d.releases.join(" ")
        );
    }
    for realm in &status.realms {
        let stack = realm.stack.as_deref().unwrap_or("no realm stack");
        let lambda = match (&realm.lambda_version, &realm.lambda_architecture) {
            (Some(v), Some(a)) if realm.missing_zips.is_empty() => {
                format!("lambdaVersion {v} ({a})")
            }
            (Some(v), Some(a)) => format!("lambdaVersion {v} ({a}), zips missing"),
            (Some(v), None) => format!("lambdaVersion {v}"),
            _ => String::new(),
        };
        println!("realm {} ({stack}) {lambda}", realm.realm);
        for w in &realm.workers {
            let pin = w
                .pin
                .as_ref()
                .map(|p| format!("pinned {} by {}", p.version, p.from))
                .unwrap_or_else(|| "unpinned".into());
            let ami = format!("{} {}", w.ami_id, ami_state(w.ami, w.newest_ami.as_deref()));
            println!(
                "  {} ({}, {}): {pin}, boots {}; AMI {ami}",
                w.worker,
                w.stack,
                w.runtime.as_deref().unwrap_or("runtime unknown"),
                boots(&w.boots)
            );
        }
    }
    if !status.problems.is_empty() {
        println!("problems:");
        for p in &status.problems {
            println!("  {p}");
        }
    }
}
