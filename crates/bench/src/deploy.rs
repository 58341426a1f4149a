//! Deploy figures: cold deploy of the reference release and of 1,000 small
//! objects, and a no-change re-deploy of the 1,000, ours (`xtask deploy`)
//! beside `aws s3 sync`, `s5cmd sync` and `rclone sync`, all against the same
//! loopback S3 server, each tool into its own bucket and a fresh prefix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use lava_layout::{pkg_key, Arch, Os, PackageName, PythonVersion, Runtime, Version};
use lava_local_aws::MOTO_ACCOUNT;
use serde_json::json;

use super::s3::{Requests, Server};
use super::{median, paired_ratio, secs, timed, times, Ctx, Goal, Section};

/// The 1,000 small objects: worker bundles of one version for 10 os
/// directories x 50 Python minors x 2 architectures.
const OSES: [&str; 10] = [
    "amzn2023", "amzn2", "alma9", "centos9", "debian11", "debian12", "rocky8", "rocky9",
    "ubuntu22", "ubuntu24",
];
const PYTHON_MINORS: u32 = 50;
/// A no-change re-deploy slower than this (seconds) is run once only.
const SLOW_NOCHANGE: f64 = 20.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tool {
    Ours,
    Aws,
    S5cmd,
    Rclone,
}

impl Tool {
    const ALL: [Tool; 4] = [Tool::Ours, Tool::Aws, Tool::S5cmd, Tool::Rclone];

    fn name(self) -> &'static str {
        match self {
            Tool::Ours => "ours (xtask deploy)",
            Tool::Aws => "aws s3 sync",
            Tool::S5cmd => "s5cmd sync",
            Tool::Rclone => "rclone sync",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Tool::Ours => "ours",
            Tool::Aws => "aws",
            Tool::S5cmd => "s5cmd",
            Tool::Rclone => "rclone",
        }
    }

    fn bucket(self) -> String {
        format!("bench-{}", self.id())
    }
}

/// What is deployed.
#[derive(Clone, Copy)]
enum Load {
    /// The reference release: the whole dist output.
    Release,
    /// 1,000 small bundles under `_dist_/pkg/`.
    Small,
}

/// Timings (seconds) and request counts of one tool on one server.
#[derive(Default)]
struct Figures {
    cold_release: Vec<f64>,
    cold_small: Vec<f64>,
    nochange: Vec<f64>,
    cold_small_requests: Vec<Requests>,
    nochange_requests: Vec<Requests>,
    /// Objects the no-change re-deploys wrote: PUTs in moto's request log,
    /// object files created or replaced on s3s-fs.
    nochange_writes: Vec<f64>,
    error: Option<String>,
    /// The no-change re-deploy was too slow to repeat: its warm-up run is
    /// the one figure.
    nochange_once: bool,
}

/// One series of a tool's timings.
type Pick = fn(&Figures) -> &Vec<f64>;

struct Setup<'a> {
    ctx: &'a Ctx,
    server: &'a Server,
    work: &'a Path,
    release: &'a Path,
    small: &'a Path,
}

pub fn bench(ctx: &Ctx) -> anyhow::Result<Vec<Section>> {
    let release = ctx.reference_dist()?;
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let small = work.path().join("small");
    let version = ctx.release.version.clone();
    let small_objects = write_small_tree(&small, &version)?;
    let (release_objects, release_bytes) = count_files(&release)?;
    std::fs::create_dir_all(work.path().join("home"))?;

    let mut sections = Vec::new();
    let moto = Server::moto(
        &ctx.tools.join("moto_server"),
        Some(&work.path().join("moto.log")),
    )?;
    let setup = Setup {
        ctx,
        server: &moto,
        work: work.path(),
        release: &release,
        small: &small,
    };
    eprintln!("bench: deploy against moto");
    let on_moto = measure(&setup)?;
    sections.push(section(
        "moto",
        &on_moto,
        (release_objects, release_bytes, small_objects),
    ));

    match ctx.peers.s3s_fs.get() {
        Ok(binary) => {
            let result = Server::s3s_fs(binary, &work.path().join("s3s-root"), moto.endpoint())
                .and_then(|server| {
                    eprintln!("bench: deploy against s3s-fs");
                    measure(&Setup {
                        server: &server,
                        ..setup
                    })
                });
            match result {
                Ok(figures) => sections.push(section(
                    "s3s-fs",
                    &figures,
                    (release_objects, release_bytes, small_objects),
                )),
                Err(e) => sections[0]
                    .notes
                    .push(format!("A second, faster S3 server (s3s-fs) failed: {e:#}")),
            }
        }
        Err(why) => sections[0]
            .notes
            .push(format!("A second, faster S3 server (s3s-fs): {why}")),
    }
    Ok(sections)
}

/// Every available tool, run 0 the warm-up (checked for completeness).
fn measure(setup: &Setup) -> anyhow::Result<BTreeMap<Tool, Figures>> {
    let mut figures: BTreeMap<Tool, Figures> = BTreeMap::new();
    for tool in Tool::ALL {
        let entry = figures.entry(tool).or_default();
        if let Err(why) = setup.command(tool, Load::Small, "probe") {
            entry.error = Some(why);
            continue;
        }
        if let Err(e) = setup.create_bucket(&tool.bucket()) {
            entry.error = Some(format!("cannot create its bucket: {e:#}"));
        }
    }
    for run in 0..=setup.ctx.runs {
        for tool in Tool::ALL {
            let f = figures.get_mut(&tool).expect("every tool");
            if f.error.is_some() {
                continue;
            }
            eprintln!("bench: deploy run {run}: {}", tool.name());
            if let Err(e) = setup.round(tool, run, f) {
                f.error = Some(format!("failed: {e:#}"));
            }
        }
    }
    Ok(figures)
}

impl Setup<'_> {
    fn round(&self, tool: Tool, run: usize, f: &mut Figures) -> anyhow::Result<()> {
        let warm = run == 0;
        let release_prefix = format!("release-{run}");
        let small_prefix = format!("small-{run}");
        let t = timed(
            &mut self
                .command(tool, Load::Release, &release_prefix)
                .map_err(anyhow::Error::msg)?,
        )?;
        if warm {
            self.check_complete(tool, Load::Release, &release_prefix)?;
        } else {
            f.cold_release.push(t);
        }
        let mark = self.server.log_mark();
        let t = timed(
            &mut self
                .command(tool, Load::Small, &small_prefix)
                .map_err(anyhow::Error::msg)?,
        )?;
        let cold_requests = self.server.requests_since(mark);
        if warm {
            self.check_complete(tool, Load::Small, &small_prefix)?;
        } else {
            f.cold_small.push(t);
            f.cold_small_requests.extend(cold_requests);
        }
        if f.nochange_once {
            return Ok(());
        }
        let mark = self.server.log_mark();
        let written_below = format!("{}/{small_prefix}", tool.bucket());
        let files = self.server.files(&written_below)?;
        let t = timed(
            &mut self
                .command(tool, Load::Small, &small_prefix)
                .map_err(anyhow::Error::msg)?,
        )?;
        let requests = self.server.requests_since(mark);
        let writes = match (&requests, &files) {
            (Some(requests), _) => Some(requests.writes() as f64),
            (None, Some(files)) => self
                .server
                .files_written_since(&written_below, files)?
                .map(|n| n as f64),
            (None, None) => None,
        };
        if warm && t > SLOW_NOCHANGE {
            // Repeating it would take longer than the rest of the group.
            f.nochange_once = true;
        } else if warm {
            return Ok(());
        }
        f.nochange.push(t);
        f.nochange_requests.extend(requests);
        f.nochange_writes.extend(writes);
        Ok(())
    }

    /// The environment of every tool: the server, an empty HOME (no user
    /// configuration), the PATH.
    fn env(&self, command: &mut Command) {
        command
            .env_clear()
            .envs(self.server.env())
            .env("HOME", self.work.join("home"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .current_dir(self.work);
    }

    /// The command deploying `load` with `tool` to `s3://bench-<tool>/<prefix>/`.
    fn command(&self, tool: Tool, load: Load, prefix: &str) -> Result<Command, String> {
        let peers = &self.ctx.peers;
        let bucket = tool.bucket();
        let (source, dest) = match load {
            Load::Release => (self.release.to_path_buf(), format!("{bucket}/{prefix}")),
            Load::Small => (
                self.small.join("_dist_/pkg"),
                format!("{bucket}/{prefix}/_dist_/pkg"),
            ),
        };
        let mut command = match tool {
            Tool::Ours => {
                let config = self.config(&bucket, prefix).map_err(|e| format!("{e:#}"))?;
                let dist = match load {
                    Load::Release => self.release,
                    Load::Small => self.small,
                };
                let mut c = Command::new(&self.ctx.xtask);
                c.args(["deploy", "-e", "bench", "--json", "-f"])
                    .arg(config)
                    .arg("--dist")
                    .arg(dist);
                if matches!(load, Load::Small) {
                    c.arg("pkg");
                }
                c
            }
            Tool::Aws => {
                let mut c = Command::new(peers.aws.get()?);
                c.args(["--endpoint-url", &self.server.endpoint()])
                    .args(["s3", "sync", "--only-show-errors"])
                    .arg(&source)
                    .arg(format!("s3://{dest}/"));
                c
            }
            Tool::S5cmd => {
                let mut c = Command::new(peers.s5cmd.get()?);
                c.args(["--endpoint-url", &self.server.endpoint()])
                    .args(["sync"])
                    .arg(format!("{}/*", source.display()))
                    .arg(format!("s3://{dest}/"));
                c
            }
            Tool::Rclone => {
                let mut c = Command::new(peers.rclone.get()?);
                c.arg("sync").arg(&source).arg(format!("bench:{dest}"));
                for (k, v) in [
                    ("TYPE", "s3"),
                    ("PROVIDER", "Other"),
                    ("ENDPOINT", &self.server.endpoint()),
                    ("ACCESS_KEY_ID", "testing"),
                    ("SECRET_ACCESS_KEY", "testing"),
                    ("REGION", "us-east-1"),
                ] {
                    c.env(format!("RCLONE_CONFIG_BENCH_{k}"), v);
                }
                // Set after env_clear below: keep the remote's variables.
                let vars: Vec<(String, String)> = c
                    .get_envs()
                    .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
                    .collect();
                self.env(&mut c);
                c.envs(vars);
                return Ok(c);
            }
        };
        self.env(&mut command);
        Ok(command)
    }

    /// Our deploy configuration (upstream's format) for one prefix: the
    /// components at the keys `dist` lays out, so every tool writes the
    /// same keys.
    fn config(&self, bucket: &str, prefix: &str) -> anyhow::Result<PathBuf> {
        let path = self.work.join(format!("deploy-{bucket}-{prefix}.yaml"));
        let yaml = format!(
            r#"# written by cargo xtask bench
bench:
  _:
    s3base: s3://{bucket}/{prefix}
  account_id: "{MOTO_ACCOUNT}"
  pkg:
    s3: _dist_/pkg/
  boot:
    s3: _boot_/
  framework:
    s3: _dist_/framework/
  lambda:
    s3: _dist_/lambda/
  cfn:
    s3: _dist_/cfn/v${{version}}/
"#
        );
        std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// The test tools' aws CLI, for set-up and checks (not timed).
    fn aws(&self) -> Command {
        let mut c = Command::new(self.ctx.tools.join("aws"));
        self.env(&mut c);
        c.args(["--endpoint-url", &self.server.endpoint()]);
        c
    }

    fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        timed(
            self.aws()
                .args(["s3api", "create-bucket", "--bucket", bucket]),
        )?;
        Ok(())
    }

    /// After the warm-up: the tool wrote every file of the load.
    fn check_complete(&self, tool: Tool, load: Load, prefix: &str) -> anyhow::Result<()> {
        let (local, dest) = match load {
            Load::Release => (self.release.to_path_buf(), prefix.to_string()),
            Load::Small => (
                self.small.join("_dist_/pkg"),
                format!("{prefix}/_dist_/pkg"),
            ),
        };
        let (files, _) = count_files(&local)?;
        let output = self
            .aws()
            .args(["s3", "ls", "--recursive"])
            .arg(format!("s3://{}/{dest}/", tool.bucket()))
            .output()?;
        let remote = String::from_utf8_lossy(&output.stdout).lines().count();
        // Ours adds a SHA256SUMS per directory the small tree lacks; the
        // release's own SHA256SUMS files are in dist.
        if remote < files {
            bail!(
                "{} wrote {remote} objects under s3://{}/{dest}/, expected {files}",
                tool.name(),
                tool.bucket()
            );
        }
        Ok(())
    }
}

/// Regular files under `dir` and their bytes.
fn count_files(dir: &Path) -> anyhow::Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?
        {
            let entry = entry?;
            let t = entry.file_type()?;
            if t.is_dir() {
                stack.push(entry.path());
            } else if t.is_file() {
                files += 1;
                bytes += entry.metadata()?.len();
            }
        }
    }
    Ok((files, bytes))
}

/// 1,000 small bundles (1-8 KiB, distinct content) that one deploy of `pkg`
/// pushes: names deploy accepts for `version`, in 10 os directories.
fn write_small_tree(root: &Path, version: &Version) -> anyhow::Result<usize> {
    let mut n = 0;
    for os in OSES {
        let os: Os = os.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        for minor in 0..PYTHON_MINORS {
            for arch in Arch::ALL {
                let package = PackageName::New {
                    version: version.clone(),
                    runtime: Runtime {
                        os: os.clone(),
                        python: PythonVersion { major: 3, minor },
                        arch,
                    },
                };
                let key = pkg_key(&os, &package);
                let path = lava_files::key_path(root, &key);
                std::fs::create_dir_all(path.parent().expect("in a directory"))?;
                let size = 1024 + (n * 7919) % (7 * 1024);
                let line = format!("{key} {n}\n");
                let body: Vec<u8> = line.bytes().cycle().take(size).collect();
                std::fs::write(&path, body)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn section(
    server: &str,
    figures: &BTreeMap<Tool, Figures>,
    (release_objects, release_bytes, small_objects): (usize, u64, usize),
) -> Section {
    let ours = &figures[&Tool::Ours];
    let mut rows = Vec::new();
    let mut json_tools = Vec::new();
    for (&tool, f) in figures {
        if let Some(e) = &f.error {
            rows.push(vec![
                tool.name().to_string(),
                e.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            json_tools.push(json!({"tool": tool.id(), "error": e}));
            continue;
        }
        let ratio = |a: &[f64], b: &[f64]| {
            if tool == Tool::Ours || ours.error.is_some() {
                None
            } else {
                paired_ratio(a, b)
            }
        };
        let r_release = ratio(&ours.cold_release, &f.cold_release);
        let r_small = ratio(&ours.cold_small, &f.cold_small);
        let r_nochange = ratio(&ours.nochange, &f.nochange);
        let last = f.nochange_requests.last();
        let totals: Vec<f64> = f
            .nochange_requests
            .iter()
            .map(|r| r.total() as f64)
            .collect();
        let writes = &f.nochange_writes;
        let count = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0}"));
        let dash = |r: Option<f64>| {
            if tool == Tool::Ours {
                "-".into()
            } else {
                times(r)
            }
        };
        rows.push(vec![
            tool.name().to_string(),
            secs(median(&f.cold_release)),
            dash(r_release),
            secs(median(&f.cold_small)),
            dash(r_small),
            secs(median(&f.nochange)),
            dash(r_nochange),
            format!(
                "{} ({} writes)",
                count(median(&totals)),
                count(median(writes))
            ),
            last.map_or("not counted".into(), Requests::describe),
        ]);
        json_tools.push(json!({
            "tool": tool.id(),
            "cold_release_s": f.cold_release,
            "cold_small_s": f.cold_small,
            "nochange_s": f.nochange,
            "median": {
                "cold_release_s": median(&f.cold_release),
                "cold_small_s": median(&f.cold_small),
                "nochange_s": median(&f.nochange),
                "nochange_requests": median(&totals),
                "nochange_writes": median(writes),
            },
            "ours_over_tool": {"cold_release": r_release, "cold_small": r_small, "nochange": r_nochange},
            "cold_small_requests": f.cold_small_requests.iter().map(|r| json!(r.by_kind)).collect::<Vec<_>>(),
            "nochange_requests": f.nochange_requests.iter().map(|r| json!(r.by_kind)).collect::<Vec<_>>(),
        }));
    }

    let peer_ratio = |tool: Tool, pick: Pick| {
        let f = &figures[&tool];
        if f.error.is_some() || ours.error.is_some() {
            None
        } else {
            paired_ratio(pick(ours), pick(f))
        }
    };
    let ours_ok = ours.error.is_none();
    let loads: [(&str, Pick); 2] = [
        ("reference release", |f| &f.cold_release),
        ("1,000 objects", |f| &f.cold_small),
    ];
    let mut goals = Vec::new();
    for (load, pick) in loads {
        // Issue 16: on the faster server, where the client's own cost shows,
        // the 1,000 small objects must go at least as fast as with s5cmd.
        let s5cmd_limit = match (load, server) {
            ("1,000 objects", "s3s-fs") => 1.0,
            _ => 1.2,
        };
        for (tool, limit) in [(Tool::Aws, 0.5), (Tool::S5cmd, s5cmd_limit)] {
            goals.push(Goal::check(
                &format!("cold deploy, {load}: <= {limit}x {}", tool.name()),
                peer_ratio(tool, pick),
                limit,
                false,
                |r| times(Some(r)),
            ));
        }
    }
    goals.push(Goal::check(
        "no-change re-deploy, 1,000 objects: 0 writes",
        ours_ok.then(|| median(&ours.nochange_writes)).flatten(),
        0.0,
        false,
        |w| format!("{w:.0} writes"),
    ));
    goals.push(Goal::check(
        "no-change re-deploy, 1,000 objects: <= 0.3 s",
        ours_ok.then(|| median(&ours.nochange)).flatten(),
        0.3,
        false,
        |s| secs(Some(s)),
    ));

    let mut notes: Vec<String> = figures
        .iter()
        .filter(|(_, f)| f.nochange_once)
        .map(|(t, f)| {
            format!(
                "{}: its no-change re-deploy took {} in the warm-up, so it ran once only \
                 (that run is its figure and its ratio's denominator).",
                t.name(),
                secs(f.nochange.first().copied())
            )
        })
        .collect();
    notes.extend([
        format!(
            "Reference release: the default `dist` output, {release_objects} files, {:.1} MiB \
             (`SHA256SUMS` included). 1,000 objects: {small_objects} worker bundles of 1-8 KiB.",
            release_bytes as f64 / (1 << 20) as f64
        ),
        "Why these 1,000 objects: one deploy pushes the artefacts of one version, so they \
         are 1,000 worker bundles of that version in `_dist_/pkg/<os>/` (10 os directories x \
         50 Python minors x 2 architectures), names `deploy` accepts, which take the path a \
         release's bundles take (a listing and a `SHA256SUMS` per directory). The other way \
         to get 1,000 objects into one deploy, the root boot scripts of 500 realm/worker \
         pairs, is no operator's case: those directories have no `SHA256SUMS`, so a \
         re-deploy would cost a listing per directory and a HEAD per object."
            .into(),
        "Ours also writes one merged `SHA256SUMS` per directory (10 for the 1,000 objects), \
         which the peers do not; it is part of our time."
            .into(),
    ]);
    if server == "moto" {
        notes.push(
            "Requests are counted from moto's request log (werkzeug, one line per request): \
             LIST is a GET of the bucket (ListObjects v1/v2), STS ours' GetCallerIdentity \
             account check, PUT includes rclone's bucket check (`PUT /<bucket>`) on every run."
                .into(),
        );
    } else {
        notes.push(format!(
            "{server} keeps no request log: requests are counted on moto only, and a \
             no-change re-deploy's writes here are the object files it created or replaced \
             below {server}'s directory. STS for ours comes from moto (AWS_ENDPOINT_URL_STS), \
             S3 from {server}."
        ));
    }
    Section {
        title: format!("Deploy ({server})"),
        method: format!(
            "Every tool runs as an operator runs it, as a process, with its defaults, against \
             the same loopback S3 server ({server}, started by the bench on a free 127.0.0.1 \
             port), each into its own bucket and, every run, a fresh prefix: **cold** is the \
             first deploy into that prefix, **no-change** an immediate second one of the same \
             1,000 objects. Ours: `xtask deploy -e bench --dist <dir> [pkg]` (the binary \
             `cargo xtask deploy` runs) with an upstream-format configuration whose `_.s3base` \
             is `s3://bench-ours/<prefix>` and `account_id` moto's; peers: \
             `aws s3 sync <dir> s3://…`, `s5cmd sync '<dir>/*' s3://…/`, \
             `rclone sync <dir> bench:…` (an environment-defined S3 remote). The warm-up run \
             checks that each tool wrote every file. Ratios are ours / tool, run by run."
        ),
        header: [
            "tool",
            "cold: release",
            "ours / tool",
            "cold: 1,000 objects",
            "ours / tool",
            "no-change: 1,000",
            "ours / tool",
            "no-change requests",
            "by kind (last run)",
        ]
        .map(String::from)
        .into(),
        rows,
        goals,
        notes,
        json: json!({"group": "deploy", "server": server, "tools": json_tools}),
    }
}
