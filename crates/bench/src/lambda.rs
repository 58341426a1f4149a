//! Lambda cold start and peak RSS: each function's Rust `bootstrap` beside a
//! Python handler on boto3 (the upstream approach), both through the local
//! Lambda Runtime API (the one the end-to-end tests use) against moto.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use lava_builder::binaries::{self, Shipped};
use lava_builder::toolchain;
use lava_lambda_harness::{invoke_once, Outcome, Run};
use lava_layout::{Arch, LambdaFunction};
use serde_json::{json, Value};

use super::s3::Server;
use super::{median, paired_ratio, times, Ctx, Section};

/// The Python side: handlers, Runtime API loop and the moto set-up.
const BENCH_PY: &str = include_str!("bench.py");
const REALM: &str = "bench";
/// The functions' timeout: ample for one event on a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One function's runs, Rust and Python alternating.
struct Row {
    function: LambdaFunction,
    rust: Vec<Run>,
    python: Vec<Run>,
}

fn cold_ms(runs: &[Run]) -> Vec<f64> {
    runs.iter()
        .map(|r| r.cold_start.as_secs_f64() * 1000.0)
        .collect()
}

fn init_ms(runs: &[Run]) -> Vec<f64> {
    runs.iter().map(|r| r.init.as_secs_f64() * 1000.0).collect()
}

fn rss_mib(runs: &[Run]) -> Vec<f64> {
    runs.iter()
        .map(|r| r.peak_rss_kib.map_or(f64::NAN, |k| k as f64 / 1024.0))
        .collect()
}

pub fn bench(ctx: &Ctx, functions: &[LambdaFunction]) -> anyhow::Result<Vec<Section>> {
    // As dist builds them: release, for this host (timed natively).
    let host = Arch::host().context("this host's architecture has no lava binaries")?;
    let binaries = binaries::build(&ctx.release, &toolchain::ensure(&ctx.release.root, host)?)?;
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let script = work.path().join("bench.py");
    std::fs::write(&script, BENCH_PY).context("cannot write bench.py")?;

    let moto = Server::moto(&ctx.tools.join("moto_server"), None)?;
    let python = ctx.tools.join("python");
    let setup = Command::new(&python)
        .arg(&script)
        .arg("setup")
        .env_clear()
        .envs(moto.env())
        .env("LAVA_REALM", REALM)
        .output()
        .context("cannot run the Python set-up")?;
    if !setup.status.success() {
        bail!(
            "setting up the realm in moto failed:\n{}",
            String::from_utf8_lossy(&setup.stderr)
        );
    }
    let instance: Value =
        serde_json::from_slice(&setup.stdout).context("the set-up printed no JSON")?;
    let instance = instance["instance_id"].as_str().context("no instance_id")?;

    let mut rows = Vec::new();
    for &function in functions {
        let event = event(function, instance);
        let rust = || {
            let mut command = Command::new(binaries.path(Shipped::Lambda(function)));
            command.env_clear().envs(moto.env());
            command
        };
        let python = || {
            let mut command = Command::new(&python);
            command
                .arg(&script)
                .arg(function.name())
                .env_clear()
                .envs(moto.env());
            command
        };
        eprintln!("bench: lambda {function}");
        let mut row = Row {
            function,
            rust: Vec::new(),
            python: Vec::new(),
        };
        // Run 0 is the warm-up (page cache, Python bytecode).
        for run in 0..=ctx.runs {
            let r = invoke(function, rust(), &event)?;
            let p = invoke(function, python(), &event)?;
            if run > 0 {
                row.rust.push(r);
                row.python.push(p);
            }
        }
        rows.push(row);
    }

    let mut table = Vec::new();
    let mut json_rows = Vec::new();
    for row in &rows {
        let (rc, pc) = (cold_ms(&row.rust), cold_ms(&row.python));
        let (rm, pm) = (rss_mib(&row.rust), rss_mib(&row.python));
        let cold_ratio = paired_ratio(&pc, &rc);
        let rss_ratio = paired_ratio(&pm, &rm);
        let ms = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.1}"));
        table.push(vec![
            row.function.name().to_string(),
            ms(median(&rc)),
            ms(median(&pc)),
            times(cold_ratio),
            ms(median(&init_ms(&row.rust))),
            ms(median(&init_ms(&row.python))),
            ms(median(&rm)),
            ms(median(&pm)),
            times(rss_ratio),
        ]);
        json_rows.push(json!({
            "function": row.function.name(),
            "rust": {"cold_start_ms": rc, "init_ms": init_ms(&row.rust), "peak_rss_mib": rm},
            "python": {"cold_start_ms": pc, "init_ms": init_ms(&row.python), "peak_rss_mib": pm},
            "median": {
                "rust_cold_start_ms": median(&rc), "python_cold_start_ms": median(&pc),
                "rust_peak_rss_mib": median(&rm), "python_peak_rss_mib": median(&pm),
                "cold_start_ratio": cold_ratio, "peak_rss_ratio": rss_ratio,
            },
        }));
    }
    Ok(vec![Section {
        title: "Lambda cold start and peak RSS".into(),
        method: "Each function's Rust `bootstrap` (built as `dist` builds it: release, \
                 x86_64) and a Python handler doing the same work on boto3 (the upstream \
                 approach, `xtask/src/bench.py`) each get one event from a local Lambda \
                 Runtime API (`lava-lambda-harness`, the one the end-to-end tests use) in a \
                 freshly started process, against moto holding a realm. **Cold start**: from \
                 starting the process to its answer reaching the Runtime API; **init**: until \
                 its first request; **peak RSS**: the process's VmHWM once it has answered. \
                 Rust and Python alternate; the ratio is Python / Rust, run by run."
            .into(),
        header: [
            "function",
            "cold start Rust (ms)",
            "cold start Python (ms)",
            "Python / Rust",
            "init Rust (ms)",
            "init Python (ms)",
            "peak RSS Rust (MiB)",
            "peak RSS Python (MiB)",
            "Python / Rust",
        ]
        .map(String::from)
        .into(),
        rows: table,
        goals: Vec::new(),
        notes: vec!["The Lambda issue sets no numeric goal: the figures are reported.".into()],
        json: json!({"group": "lambda", "functions": json_rows}),
    }])
}

/// One invocation in a fresh process; it must answer with a response.
fn invoke(function: LambdaFunction, mut command: Command, event: &Value) -> anyhow::Result<Run> {
    let name = format!("lava-{REALM}-{function}");
    command.env("LAVA_REALM", REALM);
    let run = invoke_once(command, &name, event.to_string().as_bytes(), TIMEOUT)?;
    if !matches!(run.outcome, Outcome::Response(_)) {
        bail!(
            "{name} did not answer with a response: {:?}\n{}",
            run.outcome,
            run.output
        );
    }
    Ok(run)
}

/// The bench's event for each function: a realistic one with little work.
fn event(function: LambdaFunction, instance: &str) -> Value {
    match function {
        LambdaFunction::Dispatch => json!({"job_id": "bench", "parameters": {"day": "31"}}),
        LambdaFunction::S3trigger => json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2025-01-31T10:20:30.123Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "lava",
                   "bucket": {"name": "bench-landing", "arn": "arn:aws:s3:::bench-landing"},
                   "object": {"key": "incoming/data.csv", "size": 1024, "eTag": "0123456789abcdef"}}
        }]}),
        LambdaFunction::Metrics => json!({"version": "0", "detail-type": "Scheduled Event",
                                          "source": "aws.events", "detail": {}}),
        LambdaFunction::Stop => json!({"EC2InstanceId": instance}),
    }
}
