//! `cargo xtask deploy`: push a built release from `dist/` to the code area of
//! an environment, as upstream's `etc/deploy.sh` did, planned before written.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use lava_config::Deployable;
use lava_deploy::{
    Action, Aws, Count, DeployError, Object, Options, Plan, Progress, Request, Sources,
};
use lava_layout::Version;

use crate::aws::{block_on, EnvArgs};
use crate::{Context, Failure};

/// Deploy a built release to an environment's S3 code area (or a file:// mirror).
///
/// Reads the environment's locations from the deploy configuration (upstream's
/// format, unchanged: deploy/sample.yaml documents every key), finds the
/// artefacts of the version in dist/ (build them with `cargo xtask dist`, or
/// unpack a release's lava-VERSION-dist.tar), checks that the AWS
/// credentials belong to the environment's account_id, then plans: every
/// object is new, changed or unchanged, compared by its sha256 (not the
/// ETag, so SSE-KMS buckets are fine). Without -n the plan is
/// pushed: concurrent uploads, multipart for large files, referenced artefacts
/// first (pkg and lambda before cfn, bundles before boot scripts), each
/// directory's SHA256SUMS last. Nothing is ever deleted: older versions stay.
/// Deploys may run at once into one code area (two pipelines, two versions):
/// a SHA256SUMS is written only over the version this deploy read, and when
/// another deploy wrote it meanwhile, this one merges its entries into the
/// new file and writes again, so no deploy's entries are lost.
///
/// Components (-l lists them): ami, boot, cfn, framework, lambda, pkg, and
/// root (the <REALM>/<WORKER>/root.boot*.sh scripts for the realms listed in
/// root.realms). Without COMPONENT, every component the environment
/// configures is deployed; one without configuration is skipped and said so.
///
/// AWS credentials and region come from the usual places (AWS_PROFILE,
/// AWS_REGION, ~/.aws, instance roles); AWS_ENDPOINT_URL redirects to a local
/// endpoint. file:// targets need no AWS at all.
///
/// Exit status: 0 deployed (with -n: planned); 1 the deploy failed (network,
/// AWS, wrong account), re-running converges; 2 bad input (arguments,
/// configuration, no built artefacts of the version), nothing written.
///
/// Examples:
///   cargo xtask deploy -l
///   cargo xtask deploy -n -e dev -f deploy/my-config.yaml
///   cargo xtask deploy -e dev -f deploy/my-config.yaml
///   cargo xtask deploy -e prod pkg lambda cfn -v 8.3.0 --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("what").required(true).args(["environment", "list"])))]
pub struct DeployArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// Dry run: print the plan and write nothing (-d is the same).
    #[arg(short = 'n', short_alias = 'd', long)]
    dry_run: bool,
    /// List the deployable components and exit.
    #[arg(short = 'l', long)]
    list: bool,
    /// The lava version to deploy [default: the workspace release version].
    #[arg(short = 'v', long = "lava-version", value_name = "VERSION", value_parser = parse_version)]
    version: Option<Version>,
    /// Print the plan and what was written as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Where the built release is [default: dist/ of the workspace; for
    /// lavactl, dist/ in the current directory].
    #[arg(long, value_name = "DIR")]
    dist: Option<PathBuf>,
    /// Directories inspected and objects uploaded at once.
    #[arg(short = 'j', long, value_name = "N", default_value_t = Options::default().jobs)]
    jobs: usize,
    /// Replace objects of VERSION (the version deployed) that the code area
    /// already holds with other bytes. Without it such a deploy is refused
    /// (exit 2, nothing written): a released version is immutable, and
    /// workers pinned to it or realms running it would change under the
    /// same name. Naming the version makes the override deliberate.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    replace: Option<Version>,
    /// Deploy only these components (see -l).
    #[arg(value_name = "COMPONENT", value_parser = parse_component)]
    components: Vec<Deployable>,
}

fn parse_version(s: &str) -> Result<Version, String> {
    s.parse().map_err(|e: lava_layout::NameError| e.to_string())
}

fn parse_component(s: &str) -> Result<Deployable, String> {
    s.parse()
}

pub fn run(args: DeployArgs, ctx: &Context) -> Result<(), Failure> {
    if args.list {
        for c in Deployable::ALL {
            println!("{:<10} {}", c.name(), c.description());
        }
        return Ok(());
    }
    let version = match args.version {
        Some(v) => v,
        None => ctx.release()?.version,
    };
    if let Some(named) = &args.replace {
        if *named != version {
            return Err(DeployError::Input(format!(
                "--replace {named} names another version than the one deployed ({version}): \
                 name the version whose objects may be replaced"
            ))
            .into());
        }
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let (_, env) = args.env.load(&version)?;
    let (misc, _written) = ctx.misc_dir()?;
    let request = Request {
        environment: &env,
        components: &args.components,
        version,
        sources: Sources {
            dist: args
                .dist
                .map(|d| cwd.join(d))
                .unwrap_or_else(|| ctx.dist.clone()),
            misc,
        },
    };
    let prepared = lava_deploy::prepare(&request)?;

    block_on(async {
        let aws = if prepared.needs_aws() {
            Some(Aws::new(&lava_config::load_sdk_config().await))
        } else {
            None
        };
        let options = Options {
            jobs: args.jobs,
            replace: args.replace.is_some(),
            ..Options::default()
        };
        let plan = prepared.plan(aws.as_ref(), &options).await?;
        if !args.json {
            print_plan(&plan);
        }
        let report = if args.dry_run {
            None
        } else {
            let bars = Arc::new(Bars::new());
            let report = lava_deploy::execute(&plan, bars.clone(), args.jobs).await;
            bars.finish();
            Some(report?)
        };
        if args.json {
            let summary = plan.summary(report.as_ref());
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).context("cannot render the summary")?
            );
        } else {
            match report {
                None => println!("dry run: nothing written"),
                Some(r) => println!(
                    "deployed lava {} to {}: {} objects written ({})",
                    plan.version,
                    plan.environment,
                    r.written.objects,
                    HumanBytes(r.written.bytes)
                ),
            }
        }
        Ok(())
    })?
}

fn print_plan(plan: &Plan) {
    let account = plan
        .account
        .as_deref()
        .map(|a| format!(" (account {a})"))
        .unwrap_or_default();
    println!("lava {} -> {}{account}", plan.version, plan.environment);
    for s in &plan.skipped {
        println!("  skip       {}: {}", s.component, s.reason);
    }
    for o in plan.objects() {
        let action = match o.action {
            Action::New => "new",
            Action::Changed => "changed",
            Action::Unchanged => "unchanged",
        };
        println!(
            "  {action:<9}  {:>10}  {}",
            HumanBytes(o.size).to_string(),
            o.url
        );
    }
    for a in plan.adopted() {
        println!(
            "  adopt      {:>10}  {} (another tool wrote it: SHA256SUMS lists its sha256 {})",
            HumanBytes(a.size).to_string(),
            a.url,
            a.sha256
        );
    }
    let show = |c: Count| format!("{} ({})", c.objects, HumanBytes(c.bytes));
    println!(
        "plan: new {}, changed {}, unchanged {}; to write {}",
        show(plan.count(Action::New)),
        show(plan.count(Action::Changed)),
        show(plan.count(Action::Unchanged)),
        show(plan.to_write()),
    );
}

/// A byte bar on a terminal, plain lines otherwise (CI logs).
struct Bars {
    bar: Option<ProgressBar>,
    /// Objects in flight (url, name), for the bar's message.
    current: Mutex<Vec<(String, String)>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            bar: std::io::stderr().is_terminal().then(ProgressBar::hidden),
            current: Mutex::new(Vec::new()),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn show_current(&self, bar: &ProgressBar) {
        let current = self.current.lock().expect("progress lock");
        let names: Vec<&str> = current.iter().map(|(_, name)| name.as_str()).collect();
        bar.set_message(names.join(", "));
    }
}

impl Progress for Bars {
    fn begin(&self, to_write: Count) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(to_write.bytes);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {wide_msg}",
                    )
                    .expect("valid template"),
                );
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            None if to_write.objects > 0 => eprintln!(
                "uploading {} objects ({})",
                to_write.objects,
                HumanBytes(to_write.bytes)
            ),
            None => {}
        }
    }

    fn started(&self, object: &Object) {
        match &self.bar {
            Some(bar) => {
                let name = object.key.rsplit('/').next().unwrap_or(&object.key);
                self.current
                    .lock()
                    .expect("progress lock")
                    .push((object.url.clone(), name.to_string()));
                self.show_current(bar);
            }
            None => eprintln!("uploading {} ({})", object.url, HumanBytes(object.size)),
        }
    }

    fn advanced(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finished(&self, object: &Object) {
        match &self.bar {
            Some(bar) => {
                self.current
                    .lock()
                    .expect("progress lock")
                    .retain(|(url, _)| *url != object.url);
                self.show_current(bar);
                bar.println(format!("uploaded {}", object.url));
            }
            None => eprintln!("uploaded {}", object.url),
        }
    }
}
