//! `cargo xtask bench`: cold start and peak memory of each Lambda function,
//! beside the upstream approach (a Python handler on boto3).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use lava_build::binaries::{self, Binaries, Shipped};
use lava_build::Release;
use lava_lambda_harness::{invoke_once, Outcome, Run};
use lava_layout::{Arch, LambdaFunction};
use serde_json::{json, Value};

use crate::{workspace_root, Failure};

/// The Python side: handlers, Runtime API loop and the moto set-up.
const BENCH_PY: &str = include_str!("bench.py");
const REALM: &str = "bench";
/// The functions' timeout. Short enough that stop, whose handler keeps a
/// 10 s margin from the deadline, sends its SSM command but does not wait for
/// it to finish (which would time moto's polling interval, not the function).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Time each Lambda function's cold start and peak memory beside a Python
/// function doing the same work with boto3 (the upstream approach).
///
/// Builds the functions as dist does (release, x86_64), installs the test
/// tools (moto, boto3) like `cargo xtask test`, starts moto on a free port and
/// creates a realm in it. Then for each function, first the Rust `bootstrap`
/// and then a Python handler on boto3 under a minimal Runtime API client loop
/// each get one event from a local Lambda Runtime API (the one the end-to-end
/// tests use), in a freshly started process:
///
///   cold start  from starting the process to its answer reaching the
///               Runtime API (the `init` part: until its first request)
///   peak RSS    VmHWM of the process once it has answered
///
/// Events: dispatch a job (raw JSON), an S3 object event matching a trigger,
/// the metrics schedule, a stop request for the worker's instance. Each
/// process runs once untimed first (page cache, Python bytecode), then once
/// measured: the ratios (Python / Rust) are from that one run, on this
/// machine, and vary between runs.
///
/// Examples:
///   cargo xtask bench
///   cargo xtask bench --only dispatch stop --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct BenchArgs {
    /// Only these functions: dispatch, metrics, s3trigger, stop.
    #[arg(long, value_name = "FUNCTION", num_args = 1.., value_parser = parse_function)]
    only: Vec<LambdaFunction>,
    /// Print the measurements as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_function(s: &str) -> Result<LambdaFunction, String> {
    s.parse().map_err(|e: lava_layout::NameError| e.to_string())
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let root = workspace_root();
    let functions = if args.only.is_empty() {
        LambdaFunction::ALL.to_vec()
    } else {
        args.only
    };
    // A compile error is the caller's to fix (exit status 2), as in dist.
    let release = Release::load(&root)?;
    let binaries = binaries::build(&release, Arch::X86_64)?;
    let rows = bench(&root, &binaries, functions)?;
    if args.json {
        let report: Vec<Value> = rows.iter().map(Row::json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
        );
    } else {
        print_table(&rows);
    }
    Ok(())
}

/// Set up moto and the Python side, then measure each function both ways.
fn bench(
    root: &Path,
    binaries: &Binaries,
    functions: Vec<LambdaFunction>,
) -> anyhow::Result<Vec<Row>> {
    let tools = crate::test::provision(&root.join("tests/tools-requirements.txt"))?.join("bin");
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let script = work.path().join("bench.py");
    std::fs::write(&script, BENCH_PY).context("cannot write bench.py")?;

    let moto = Moto::start(&tools.join("moto_server"))?;
    let python = tools.join("python");
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
    for function in functions {
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
        eprintln!("bench {function}");
        let rust = measure(function, rust, &event)?;
        let python = measure(function, python, &event)?;
        rows.push(Row {
            function,
            rust,
            python,
        });
    }
    Ok(rows)
}

/// One untimed run, then the measured one; both must answer with a response.
fn measure(
    function: LambdaFunction,
    command: impl Fn() -> Command,
    event: &Value,
) -> anyhow::Result<Run> {
    let name = format!("lava-{REALM}-{function}");
    let mut last = None;
    for _ in 0..2 {
        let mut command = command();
        command.env("LAVA_REALM", REALM);
        let run = invoke_once(command, &name, event.to_string().as_bytes(), TIMEOUT)?;
        if !matches!(run.outcome, Outcome::Response(_)) {
            bail!(
                "{name} did not answer with a response: {:?}\n{}",
                run.outcome,
                run.output
            );
        }
        last = Some(run);
    }
    Ok(last.expect("ran twice"))
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

struct Row {
    function: LambdaFunction,
    rust: Run,
    python: Run,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Python / Rust, `None` when a value is missing or zero.
fn ratio(python: Option<f64>, rust: Option<f64>) -> Option<f64> {
    match (python, rust) {
        (Some(p), Some(r)) if r > 0.0 => Some(p / r),
        _ => None,
    }
}

impl Row {
    fn rss(run: &Run) -> Option<f64> {
        run.peak_rss_kib.map(|kib| kib as f64)
    }

    fn cold_start_ratio(&self) -> Option<f64> {
        ratio(
            Some(millis(self.python.cold_start)),
            Some(millis(self.rust.cold_start)),
        )
    }

    fn rss_ratio(&self) -> Option<f64> {
        ratio(Row::rss(&self.python), Row::rss(&self.rust))
    }

    fn json(&self) -> Value {
        let side = |run: &Run| {
            json!({
                "cold_start_ms": millis(run.cold_start),
                "init_ms": millis(run.init),
                "peak_rss_kib": run.peak_rss_kib,
            })
        };
        json!({
            "function": self.function.name(),
            "rust": side(&self.rust),
            "python": side(&self.python),
            "cold_start_ratio": self.cold_start_ratio(),
            "peak_rss_ratio": self.rss_ratio(),
        })
    }
}

fn print_table(rows: &[Row]) {
    let mib = |run: &Run| {
        run.peak_rss_kib
            .map_or("?".to_string(), |kib| format!("{:.1}", kib as f64 / 1024.0))
    };
    let times = |r: Option<f64>| r.map_or("?".to_string(), |r| format!("{r:.1}x"));
    println!(
        "{:<10}  {:^25}  {:^17}  {:^25}",
        "", "cold start (ms)", "init (ms)", "peak RSS (MiB)"
    );
    println!(
        "{:<10}  {:>7} {:>8} {:>8}  {:>7} {:>9}  {:>7} {:>8} {:>8}",
        "function", "rust", "python", "ratio", "rust", "python", "rust", "python", "ratio"
    );
    for row in rows {
        println!(
            "{:<10}  {:>7.1} {:>8.1} {:>8}  {:>7.1} {:>9.1}  {:>7} {:>8} {:>8}",
            row.function.name(),
            millis(row.rust.cold_start),
            millis(row.python.cold_start),
            times(row.cold_start_ratio()),
            millis(row.rust.init),
            millis(row.python.init),
            mib(&row.rust),
            mib(&row.python),
            times(row.rss_ratio()),
        );
    }
    println!("ratio: Python / Rust, from one measured run each (after an untimed one)");
}

/// moto_server on a free loopback port, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start(moto_server: &Path) -> anyhow::Result<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(moto_server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", moto_server.display()))?;
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("moto_server did not listen on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// The AWS environment of a process that must talk to this moto only.
    fn env(&self) -> Vec<(&'static str, String)> {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
