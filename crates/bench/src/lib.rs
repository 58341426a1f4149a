//! The product's speed beside the tools operators use today, measured on
//! this machine (`cargo xtask bench`, which writes docs/benchmarks.md).
//!
//! One module per group; this file holds the options, the shared context
//! (runs, caches, the installed peers) and the statistics. The product's own
//! commands are timed as processes of the xtask binary, as operators run
//! them; failures are reported in the report as text, so this crate, an edge
//! like xtask, uses `anyhow`.

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
use lava_builder::Release;
use lava_layout::LambdaFunction;
use serde_json::{json, Value};

pub use report::Report;

/// The pinned test tools (moto_server, and python with boto3 for the Lambda
/// comparison), relative to the workspace.
const TOOLS_REQUIREMENTS: &str = "tests/tools-requirements.txt";

/// A group of figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Dist,
    Deploy,
    Bundle,
    Compress,
    Lambda,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Dist,
        Group::Deploy,
        Group::Bundle,
        Group::Compress,
        Group::Lambda,
    ];

    /// As `--only` names it.
    pub fn name(self) -> &'static str {
        match self {
            Group::Dist => "dist",
            Group::Deploy => "deploy",
            Group::Bundle => "bundle",
            Group::Compress => "compress",
            Group::Lambda => "lambda",
        }
    }
}

/// What every group shares.
pub struct Ctx {
    pub release: Release,
    /// The xtask binary.
    pub xtask: PathBuf,
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
            dist::run_dist(self, &out)?;
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

/// What to measure, and with what.
pub struct Options {
    /// The workspace whose release is measured.
    pub root: PathBuf,
    /// The xtask binary: `dist` and `deploy` are timed as operators run them.
    pub xtask: PathBuf,
    /// Measured runs per figure, after one untimed warm-up.
    pub runs: usize,
    pub groups: Vec<Group>,
    /// The Lambda functions the lambda group measures.
    pub functions: Vec<LambdaFunction>,
}

/// Measure `options.groups`, each as far as it can go: a group that fails
/// is in the report as not measured, with the reason.
pub fn run(options: &Options) -> anyhow::Result<Report> {
    let root = &options.root;
    let release = Release::load(root)?;
    let machine = report::Machine::describe();
    let cache = cache_dir()?.join("bench");
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create {}", cache.display()))?;
    let tools = lava_tools::test_tools(&root.join(TOOLS_REQUIREMENTS))?.join("bin");
    let peers = peers::Peers::install(&cache_dir()?.join("bench-peers"));
    let ctx = Ctx {
        release,
        xtask: options.xtask.clone(),
        runs: options.runs,
        cache,
        tools,
        peers,
    };

    let mut sections = Vec::new();
    for &group in &options.groups {
        eprintln!("bench: {group:?} ({} runs after a warm-up)", ctx.runs);
        let result = match group {
            Group::Dist => dist::bench(&ctx),
            Group::Deploy => deploy::bench(&ctx),
            Group::Bundle => bundle::bench(&ctx),
            Group::Compress => compress::bench(&ctx),
            Group::Lambda => lambda::bench(&ctx, &options.functions),
        };
        match result {
            Ok(mut s) => sections.append(&mut s),
            Err(e) => {
                eprintln!("bench: {group:?} failed: {e:#}");
                sections.push(Section::failed(group, &e));
            }
        }
    }

    Ok(Report {
        machine,
        peers: ctx.peers,
        runs: ctx.runs,
        moto: std::fs::read_to_string(root.join(TOOLS_REQUIREMENTS))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("moto"))
            .unwrap_or("?")
            .to_string(),
        sections,
    })
}

/// ~/.cache/lava-dist (or $XDG_CACHE_HOME/lava-dist).
fn cache_dir() -> anyhow::Result<PathBuf> {
    lava_tools::cache_dir().context("neither XDG_CACHE_HOME nor HOME is set")
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
}
