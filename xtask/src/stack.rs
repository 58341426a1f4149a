//! `cargo xtask stack`: changes to the lava CloudFormation stacks that the
//! seed makes through stack parameters.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use lava_deploy::{Config, Substitution};
use lava_layout::Version;
use lava_stack::{Clients, Request, StackError, Wait};

use crate::Failure;

/// Change a lava CloudFormation stack through its parameters.
#[derive(Args)]
pub struct StackArgs {
    #[command(subcommand)]
    command: StackCommand,
}

#[derive(Subcommand)]
enum StackCommand {
    Realm(RealmArgs),
}

/// Select the version of a realm's Lambda functions.
///
/// Updates the realm stack's lambdaVersion parameter to VERSION, keeping the
/// template and every other parameter as they are, as the seed prescribes
/// ("Lambda Functions"). Before anything changes it checks that the AWS
/// credentials belong to the environment's account_id (from the deploy
/// configuration, as `cargo xtask deploy` does), that the realm stack exists
/// (the stack whose `realm` parameter is REALM, or --stack), and that the four
/// zips _dist_/lambda/{dispatch,metrics,s3trigger,stop}-VERSION.zip are in
/// the code area the stack's own s3CodeBucket/s3CodePrefix parameters name
/// (deploy them first: cargo xtask deploy -e ENV lambda -v VERSION).
///
/// Then it updates the stack and prints its events as they come until the
/// update completes or rolls back. With -n it creates a change set, prints
/// the resource changes, deletes the change set and leaves the stack as it was.
///
/// Exit status: 0 updated (with -n: previewed; or already at VERSION);
/// 1 the update failed or rolled back, timed out, the AWS credentials are
/// for another account, or AWS failed;
/// 2 bad input (arguments, configuration, environment, no such stack, missing
/// zips), nothing changed.
///
/// Examples:
///   cargo xtask stack realm -n -e prod --realm ops --lambda-version 8.3.0
///   cargo xtask stack realm -e prod -f deploy/prod.yaml --realm ops --lambda-version 8.3.0
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct RealmArgs {
    /// Environment: a top-level key of the deploy configuration (for its account_id).
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    environment: String,
    /// Deploy configuration, relative to the current directory (format:
    /// deploy/sample.yaml).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "deploy.yaml"
    )]
    file: PathBuf,
    /// The realm whose stack is updated.
    #[arg(long, value_name = "REALM")]
    realm: String,
    /// The Lambda version to select, e.g. 8.3.0.
    #[arg(long = "lambda-version", value_name = "VERSION", value_parser = parse_version)]
    version: Version,
    /// The realm stack's name [default: the one stack whose realm parameter is REALM].
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,
    /// Dry run: show the change set and change nothing (-d is the same).
    #[arg(short = 'n', short_alias = 'd', long)]
    dry_run: bool,
    /// Give up waiting for the update after this many minutes (it goes on).
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    timeout: u64,
}

fn parse_version(s: &str) -> Result<Version, String> {
    s.parse().map_err(|e: lava_layout::NameError| e.to_string())
}

impl From<StackError> for Failure {
    fn from(e: StackError) -> Self {
        let status = if e.is_input() { 2 } else { 1 };
        Failure {
            error: e.into(),
            status,
        }
    }
}

pub fn run(args: StackArgs) -> Result<(), Failure> {
    match args.command {
        StackCommand::Realm(args) => realm(args),
    }
}

fn realm(args: RealmArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let config = Config::load(&cwd.join(&args.file))?;
    let env_var = |name: &str| std::env::var(name).ok();
    let env = config.environment(
        &args.environment,
        &Substitution {
            version: &args.version,
            env: &env_var,
        },
    )?;
    let wait = Wait {
        timeout: Duration::from_secs(args.timeout * 60),
        ..Wait::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let clients = Clients::new(&config);
        let request = Request {
            environment: &env,
            realm: &args.realm,
            stack: args.stack.as_deref(),
            version: args.version.clone(),
        };
        let update = lava_stack::prepare(&clients, &request).await?;
        let current = if update.current.is_empty() {
            "\"\" (no functions)"
        } else {
            &update.current
        };
        println!(
            "stack {} ({}, account {}): lambdaVersion {current} -> {}",
            update.stack_name, update.status, update.account, update.version
        );
        for zip in &update.zips {
            println!("  found {zip}");
        }
        if update.is_noop() {
            println!("already at {}: nothing to do", update.version);
            return Ok(());
        }
        if args.dry_run {
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
            "stack {} {status}: lambdaVersion {}",
            update.stack_name, update.version
        );
        Ok(())
    })
}
