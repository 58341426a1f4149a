//! `cargo xtask dist` of the default matrix, warm caches: the xtask binary
//! (what `cargo xtask dist` runs once cargo has found it up to date) into a
//! cache directory, so that the workspace's own dist/ is left alone.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::{median, secs, timed, Ctx, Goal, Section};

/// One `dist` of the default matrix into `out`; its wall time in seconds.
pub fn run_dist(ctx: &Ctx, out: &Path) -> anyhow::Result<f64> {
    timed(Command::new(&ctx.xtask).arg("dist").arg("--out").arg(out))
}

pub fn bench(ctx: &Ctx) -> anyhow::Result<Vec<Section>> {
    let out = ctx.cache.join("dist");
    let mut times = Vec::new();
    for run in 0..=ctx.runs {
        let t = run_dist(ctx, &out)?;
        eprintln!("bench: dist run {run}: {t:.1} s");
        if run > 0 {
            times.push(t);
        }
    }
    let m = median(&times);
    let runtimes: Vec<String> = ctx.release.runtimes.iter().map(|r| r.to_string()).collect();
    Ok(vec![Section {
        title: "`cargo xtask dist`".into(),
        method: format!(
            "`xtask dist --out <cache>/dist` (the binary `cargo xtask dist` runs) of the \
             default matrix ({}), every run into the same output directory after a warm-up \
             run: warm cargo, uv and wheel caches, the worker source already fetched. It \
             includes the `cargo build --release` check of the Lambda functions and \
             `lava-boot` (up to date after the warm-up) and every artefact rebuilt.",
            runtimes.join(", ")
        ),
        header: vec!["".into(), "wall time (median)".into(), "runs".into()],
        rows: vec![vec![
            "dist, default matrix".into(),
            secs(m),
            times
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
        ]],
        goals: vec![Goal::check(
            "`cargo xtask dist`, warm caches: <= 60 s",
            m,
            60.0,
            false,
            |s| secs(Some(s)),
        )],
        notes: Vec::new(),
        json: json!({"group": "dist", "runs_s": times, "median_s": m, "runtimes": runtimes}),
    }])
}
