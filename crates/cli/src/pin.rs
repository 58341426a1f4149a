//! `cargo xtask pin`: a worker's lava version in the realms table, planned
//! and checked before it is written.

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use lava_layout::Version;
use lava_ops::pin::{self, Plan, Request, Target};
use lava_ops::{Boots, Clients};

use crate::aws::{block_on, EnvArgs};
use crate::{Context, Failure};

/// Pin the lava version a realm's workers boot, or remove the pin.
///
/// Sets x-workers.<WORKER>.version (or x-workers._.version, the default of
/// every worker without a pin of its own) in the realm's item of the
/// lava.realms table: the version lava-boot installs at the worker's next
/// start, instead of the highest in the code area. Before anything is
/// written it checks that the AWS credentials belong to the environment's
/// account_id, finds the realm's worker stacks (lava-worker template
/// parameters realm and worker) and the runtime of each one's AMI, and
/// prints the plan: the attribute before -> after and, for every worker the
/// change reaches, the bundle it boots before -> after, chosen from the
/// environment's code area by the code lava-boot runs. A change that leaves
/// such a worker without a bundle is refused.
///
/// Only the x-workers attribute is written, on condition that it is still
/// what the plan read: an edit made meanwhile is never overwritten (run the
/// command again).
///
/// Exit status: 0 written (with -n: planned; or already so);
/// 1 the item changed since the plan, the AWS credentials are for another
/// account, or AWS failed;
/// 2 bad input (arguments, configuration, no such realm or worker, a version
/// without a bundle for a runtime an affected worker runs), nothing written.
///
/// Examples:
///   cargo xtask pin -n -e prod --realm ops --worker core 8.3.0
///   cargo xtask pin -e prod --realm ops --worker _ 8.2.0
///   cargo xtask pin -e prod --realm ops --worker core --unset --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("account").required(true).args(["environment"])))]
#[command(group(ArgGroup::new("change").required(true).args(["version", "unset"])))]
pub struct PinArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// The realm (its item in lava.realms).
    #[arg(long)]
    realm: String,
    /// The worker, or _ for every worker without a pin of its own.
    #[arg(long, default_value = "_")]
    worker: String,
    /// The version to pin.
    version: Option<Version>,
    /// Remove the pin: the worker boots the highest version again.
    #[arg(long)]
    unset: bool,
    /// Dry run: print the plan, write nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Print the plan (and whether it was written) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PinArgs, ctx: &Context) -> Result<(), Failure> {
    let (env, code_area) = args.env.code_area(ctx)?;
    let request = Request {
        environment: &env,
        code_area: &code_area,
        realm: &args.realm,
        target: Target::parse(&args.worker),
        version: args.version.clone(),
    };
    block_on(async {
        let clients = Clients::new(&lava_config::load_sdk_config().await);
        let plan = pin::plan(&clients, &request).await?;
        let write = !args.dry_run && !plan.is_noop();
        if !args.json {
            print_plan(&plan);
        }
        if write {
            pin::apply(&clients, &plan).await?;
        }
        if args.json {
            let mut json = serde_json::to_value(&plan).context("cannot render the plan")?;
            json["written"] = write.into();
            println!(
                "{}",
                serde_json::to_string_pretty(&json).context("cannot render")?
            );
        } else if write {
            println!("written: {} of realm {}", plan.attribute, plan.realm);
        } else if plan.is_noop() {
            println!("nothing to write: {} is already so", plan.attribute);
        } else {
            println!("dry run: nothing written");
        }
        Ok::<_, Failure>(())
    })?
}

fn print_plan(plan: &Plan) {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
    println!(
        "realm {} (account {}): {} {} -> {}",
        plan.realm,
        plan.account,
        plan.attribute,
        show(&plan.before),
        show(&plan.after)
    );
    println!("bundles from {}", plan.code_area);
    for w in &plan.workers {
        println!(
            "  {} ({}, {}): {} -> {}",
            w.worker,
            w.stack,
            w.runtime.as_deref().unwrap_or("runtime unknown"),
            boots(&w.before),
            boots(&w.after)
        );
    }
    if plan.workers.is_empty() {
        println!("  no worker stack boots differently");
    }
}

pub(crate) fn boots(b: &Boots) -> String {
    match b {
        Boots::Bundle { key, .. } => key.clone(),
        Boots::Aborts { error } => format!("no bundle ({error})"),
        Boots::UnknownRuntime => "unknown (the AMI is not a lava AMI)".to_string(),
    }
}
