//! `cargo xtask stack`: changes to the lava CloudFormation stacks: the realm's
//! Lambda version through its parameters, and moves of realm and worker
//! stacks to a release's templates.

use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use lava_layout::Version;
use lava_stack::{Clients, Request, StackError, Update, Wait, WorkerRequest};

use crate::aws::{block_on, EnvArgs};
use crate::Failure;

/// Change a lava CloudFormation stack: its parameters, or its template.
#[derive(Args)]
pub struct StackArgs {
    #[command(subcommand)]
    command: StackCommand,
}

#[derive(Subcommand)]
enum StackCommand {
    Realm(RealmArgs),
    Worker(WorkerArgs),
}

/// How to run the update.
#[derive(Args)]
struct Run {
    /// Dry run: show the change set and change nothing (-d is the same).
    #[arg(short = 'n', short_alias = 'd', long)]
    dry_run: bool,
    /// Give up waiting for the update after this many minutes (it goes on).
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    timeout: u64,
}

/// Select the version of a realm's Lambda functions.
///
/// Updates the realm stack's lambdaVersion parameter to VERSION, keeping the
/// template and every other parameter as they are, as the seed prescribes
/// ("Lambda Functions"). Before anything changes it checks that the AWS
/// credentials belong to the environment's account_id (from the deploy
/// configuration, as `cargo xtask deploy` does), that the realm stack exists
/// (the stack whose `realm` parameter is REALM, or --stack), and that the four
/// zips _dist_/lambda/<lambdaArchitecture>/{dispatch,metrics,s3trigger,stop}-VERSION.zip
/// are in the code area the
/// stack's own s3CodeBucket/s3CodePrefix parameters name (deploy them first:
/// cargo xtask deploy -e ENV lambda -v VERSION).
///
/// The zips are native (provided.al2023). A stack still on upstream's
/// template runs its functions on a Python runtime (lambdaRuntime), where they
/// cannot run: it is refused, nothing changed, unless --template moves it to
/// this release's realm template in the same update. --template takes
/// _dist_/cfn/vVERSION/lava-realm.cfn.json from the same code area (deploy it
/// first: cargo xtask deploy -e ENV cfn -v VERSION), sets Version and
/// lambdaVersion to VERSION and keeps every other parameter the template
/// has; the plan lists the template's new parameters (their defaults apply)
/// and the stack's parameters it drops.
///
/// Then it prints the plan, updates the stack and prints its events as they
/// come until the update completes or rolls back. With -n it prints the same
/// plan, creates a change set of it, prints the resource changes, deletes the
/// change set and leaves the stack as it was.
///
/// Exit status: 0 updated (with -n: previewed; or already at VERSION);
/// 1 the update failed or rolled back, timed out, the AWS credentials are
/// for another account, or AWS failed;
/// 2 bad input (arguments, configuration, environment, no such stack, missing
/// zips or template, a Python runtime without --template), nothing changed.
///
/// Examples:
///   cargo xtask stack realm -n -e prod --realm ops --lambda-version 8.3.0
///   cargo xtask stack realm -e prod -f deploy/prod.yaml --realm ops --lambda-version 8.3.0
///   # off upstream's Python template: preview, then do it
///   cargo xtask stack realm -n -e prod --realm ops --lambda-version 8.3.0 --template
///   cargo xtask stack realm -e prod --realm ops --lambda-version 8.3.0 --template
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("account").required(true).args(["environment"])))]
struct RealmArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// The realm whose stack is updated.
    #[arg(long, value_name = "REALM")]
    realm: String,
    /// The Lambda version to select, e.g. 8.3.0.
    #[arg(long = "lambda-version", value_name = "VERSION", value_parser = parse_version)]
    version: Version,
    /// The realm stack's name [default: the one stack whose realm parameter is REALM].
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,
    /// Also move the stack to the realm template of VERSION (from the code area).
    #[arg(long)]
    template: bool,
    #[command(flatten)]
    run: Run,
}

/// Move a worker stack to a release's worker template.
///
/// Updates the worker stack (the stack whose `realm` and `worker` parameters
/// are REALM and WORKER, or --stack) to the worker template of VERSION,
/// _dist_/cfn/vVERSION/lava-worker.cfn.json in the code area the realm
/// stack's s3CodeBucket/s3CodePrefix parameters name (the realm stack is the
/// one whose `realm` parameter is REALM, or --realm-stack; deploy the template
/// first: cargo xtask deploy -e ENV cfn -v VERSION). Version is set to
/// VERSION and every other parameter the template has keeps its value; the
/// plan lists the template's new parameters (their defaults apply) and the
/// stack's parameters it drops. Before anything changes it checks that the
/// AWS credentials belong to the environment's account_id (from the deploy
/// configuration, as `cargo xtask deploy` does).
///
/// Then it prints the plan, updates the stack and prints its events as they
/// come until the update completes or rolls back. With -n it prints the same
/// plan, creates a change set of it, prints the resource changes, deletes the
/// change set and leaves the stack as it was.
///
/// Exit status: 0 updated (with -n: previewed; or already at VERSION);
/// 1 the update failed or rolled back, timed out, the AWS credentials are
/// for another account, or AWS failed;
/// 2 bad input (arguments, configuration, environment, no such stack, missing
/// template), nothing changed.
///
/// Examples:
///   cargo xtask stack worker -n -e prod --realm ops --worker core --version 8.3.0
///   cargo xtask stack worker -e prod --realm ops --worker core --version 8.3.0
///   cargo xtask stack worker -e prod --realm ops --worker core --version 8.3.0 --stack lava-ops-core
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("account").required(true).args(["environment"])))]
struct WorkerArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// The realm of the worker.
    #[arg(long, value_name = "REALM")]
    realm: String,
    /// The worker whose stack is updated.
    #[arg(long, value_name = "WORKER")]
    worker: String,
    /// The release whose worker template the stack moves to, e.g. 8.3.0.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    version: Version,
    /// The worker stack's name [default: the one stack whose realm and worker
    /// parameters are REALM and WORKER].
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,
    /// The realm stack's name [default: the one stack whose realm parameter is REALM].
    #[arg(long = "realm-stack", value_name = "NAME")]
    realm_stack: Option<String>,
    #[command(flatten)]
    run: Run,
}

fn parse_version(s: &str) -> Result<Version, String> {
    s.parse().map_err(|e: lava_layout::NameError| e.to_string())
}

pub fn run(args: StackArgs) -> Result<(), Failure> {
    match args.command {
        StackCommand::Realm(args) => {
            let (_, env) = args.env.load(&args.version)?;
            update(&args.run, async |clients| {
                let request = Request {
                    environment: &env,
                    realm: &args.realm,
                    stack: args.stack.as_deref(),
                    version: args.version.clone(),
                };
                if args.template {
                    lava_stack::prepare_with_template(clients, &request).await
                } else {
                    lava_stack::prepare(clients, &request).await
                }
            })
        }
        StackCommand::Worker(args) => {
            let (_, env) = args.env.load(&args.version)?;
            update(&args.run, async |clients| {
                let request = WorkerRequest {
                    environment: &env,
                    realm: &args.realm,
                    worker: &args.worker,
                    stack: args.stack.as_deref(),
                    realm_stack: args.realm_stack.as_deref(),
                    version: args.version.clone(),
                };
                lava_stack::prepare_worker(clients, &request).await
            })
        }
    }
}

/// Prepare with `prepare`, print the plan, then preview or apply exactly it.
fn update(
    run: &Run,
    prepare: impl AsyncFnOnce(&Clients) -> Result<Update, StackError>,
) -> Result<(), Failure> {
    let wait = Wait {
        timeout: Duration::from_secs(run.timeout * 60),
        ..Wait::default()
    };
    block_on(async {
        let clients = Clients::new(&lava_config::load_sdk_config().await);
        let update = prepare(&clients).await?;
        print!("{update}");
        if update.is_noop() {
            println!("already at {}: nothing to do", update.version);
            return Ok(());
        }
        if run.dry_run {
            let changes = lava_stack::preview(&clients, &update, &wait).await?;
            if changes.is_empty() {
                println!("change set: no resource changes");
            }
            for c in &changes {
                println!("  {c}");
            }
            println!("dry run: the change set was deleted, the stack is unchanged");
            return Ok(());
        }
        let status =
            lava_stack::apply(&clients, &update, &wait, &mut |e| println!("  {e}")).await?;
        println!(
            "stack {} {status}: {} {}",
            update.stack_name, update.selector, update.version
        );
        Ok(())
    })?
}
