//! `cargo xtask prune`: old releases out of the code area, planned first.

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use lava_ops::prune::{self, Deletion, OnDeleted, Plan, Request};
use lava_ops::Clients;

use crate::aws::{block_on, EnvArgs};
use crate::{Context, Failure};

/// Delete old releases from the environment's code area.
///
/// Keeps the newest KEEP releases and, whatever their age, every release a
/// realm's Lambda functions run (its stack's lambdaVersion), every release
/// pinned in any realm's x-workers, and every release a worker boots; plans
/// the deletion of every other release's worker bundles, Lambda zips, job
/// framework and cfn version folder. Before anything is read it checks that
/// the AWS credentials belong to the environment's account_id.
///
/// A dry run by default: it prints the plan and deletes nothing. With --yes
/// it rewrites each touched directory's SHA256SUMS without the entries it
/// deletes (over the version it read, merging again when a deploy wrote it
/// meanwhile), then deletes the planned objects, JOBS at a time, so every
/// SHA256SUMS stays consistent with its directory. A prune that fails midway
/// leaves files no SHA256SUMS lists (status reports them); run it again.
///
/// Exit status: 0 done (or planned); 1 the AWS credentials are for another
/// account, or AWS failed; 2 bad input (arguments, configuration).
///
/// Examples:
///   cargo xtask prune -e prod --keep 3            # the plan
///   cargo xtask prune -e prod --keep 3 --yes      # delete
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("account").required(true).args(["environment"])))]
pub struct PruneArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// How many of the newest releases to keep (at least the newest is kept).
    #[arg(long, value_name = "N")]
    keep: usize,
    /// Delete: without it, prune only prints the plan.
    #[arg(long)]
    yes: bool,
    /// Objects deleted at once.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 10)]
    jobs: usize,
    /// Print the plan (and what was deleted) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PruneArgs, ctx: &Context) -> Result<(), Failure> {
    let (env, code_area) = args.env.code_area(ctx)?;
    let request = Request {
        environment: &env,
        code_area: &code_area,
        keep: args.keep,
    };
    block_on(async {
        let clients = Clients::new(&lava_config::load_sdk_config().await);
        let plan = prune::plan(&clients, &request).await?;
        if !args.json {
            print_plan(&plan);
        }
        let report = if args.yes && !plan.delete.is_empty() {
            let bar = deletion_bar(plan.delete.len());
            let shown = bar.clone();
            let on_deleted: OnDeleted = Arc::new(move |d: &Deletion| match &shown {
                Some(bar) => bar.inc(1),
                None => eprintln!("deleted {}", d.key),
            });
            let report = prune::apply(&clients, &plan, &code_area, args.jobs, &on_deleted).await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            Some(report?)
        } else {
            None
        };
        if args.json {
            let mut json = serde_json::to_value(&plan).context("cannot render the plan")?;
            json["report"] = serde_json::to_value(&report).context("cannot render")?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json).context("cannot render")?
            );
        } else {
            match report {
                Some(r) => println!(
                    "deleted {} objects ({}), rewrote {} SHA256SUMS",
                    r.deleted,
                    HumanBytes(r.bytes),
                    r.sums_rewritten
                ),
                None if plan.delete.is_empty() => println!("nothing to delete"),
                None => println!("dry run: nothing deleted (--yes deletes)"),
            }
        }
        Ok::<_, Failure>(())
    })?
}

/// A bar of deleted objects on a terminal; `None` (plain lines) otherwise.
fn deletion_bar(objects: usize) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(objects as u64);
        bar.set_style(
            ProgressStyle::with_template("deleting {bar:30} {pos}/{len}").expect("valid template"),
        );
        bar
    })
}

fn print_plan(plan: &Plan) {
    println!("account {}, code area {}", plan.account, plan.code_area);
    for k in &plan.kept {
        println!("  keep    {:<12} {}", k.release, k.why.join("; "));
    }
    for r in &plan.pruned {
        println!("  prune   {r}");
    }
    for d in &plan.delete {
        println!(
            "  delete  {:>10}  {}",
            HumanBytes(d.size).to_string(),
            d.key
        );
    }
    for (key, names) in &plan.sums {
        println!("  rewrite {key} without {}", names.join(", "));
    }
}
