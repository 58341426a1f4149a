//! The report: the machine, the peers' versions, every goal and every
//! group's table, as Markdown (docs/benchmarks.md) or JSON.

use std::path::Path;

use serde_json::{json, Value};

use super::peers::Peers;
use super::{first_line, Section};

/// What the figures were taken on, read at the start of the run.
pub struct Machine {
    pub facts: Vec<(&'static str, String)>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "?".into());
        let processors = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let memory = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or("?".into(), |kib| {
                format!("{:.1} GiB", kib / (1 << 20) as f64)
            });
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map_or("?".into(), |v| v.trim_matches('"').to_string());
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
        let load = read("/proc/loadavg");
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        let others = busy_processes();
        let mut facts = vec![
            ("CPU", model),
            (
                "cores",
                format!("{cores} available ({processors} in /proc/cpuinfo)"),
            ),
            ("memory", memory),
            ("OS", format!("{os}, Linux {kernel}")),
            ("load average at start (1/5/15 min)", load.join(" / ")),
            (
                "other builds running at start",
                if others.is_empty() {
                    "none seen".into()
                } else {
                    others.join(", ")
                },
            ),
        ];
        let rustc = first_line(Path::new("rustc"), &["--version"]).unwrap_or_else(|| "?".into());
        facts.push(("rustc", rustc));
        let date =
            first_line(Path::new("date"), &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
        facts.push(("date", date));
        Machine { facts }
    }
}

/// Other compilers and test runs on the machine (not this process's own).
fn busy_processes() -> Vec<String> {
    let me = std::process::id();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let comm = read(&format!("/proc/{pid}/comm")).trim().to_string();
        if ["rustc", "cc1", "cc1plus", "ld", "moto_server", "pytest"]
            .iter()
            .any(|c| comm == *c)
            || comm.starts_with("lava_tests")
        {
            *seen.entry(comm).or_default() += 1;
        }
    }
    seen.into_iter().map(|(c, n)| format!("{c} x{n}")).collect()
}

/// Everything one bench run measured, and on what.
pub struct Report {
    pub machine: Machine,
    pub peers: Peers,
    pub runs: usize,
    /// moto's pin in tests/tools-requirements.txt.
    pub moto: String,
    pub sections: Vec<Section>,
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let line = |cells: &[String]| {
        format!(
            "| {} |\n",
            cells
                .iter()
                .map(|c| cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    out.push_str(&line(header));
    out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for row in rows {
        out.push_str(&line(row));
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# Benchmarks\n\n");
        out.push_str(&format!(
            "Written by `cargo xtask bench` (see `cargo xtask bench --help` for what each group \
             measures and how). Every figure is the median of {} measured runs after one \
             untimed warm-up; every ratio is taken run by run, ours and the peer back to back \
             in the same round, and its median reported. Peers are installed by the bench \
             into `~/.cache/lava-dist/bench-peers/`. A missed goal is reported as missed.\n\n",
            self.runs
        ));
        out.push_str("## Machine\n\n");
        let rows: Vec<Vec<String>> = self
            .machine
            .facts
            .iter()
            .map(|(k, v)| vec![k.to_string(), v.clone()])
            .collect();
        table(&mut out, &["".into(), "".into()], &rows);
        out.push_str(
            "\nTimes are wall clock on a shared machine: absolute figures move with its load, \
             the same-round ratios much less.\n\n",
        );
        out.push_str("## Tools\n\n");
        let rows: Vec<Vec<String>> = self
            .peers
            .all()
            .iter()
            .map(|t| {
                vec![
                    t.name.to_string(),
                    match &t.path {
                        Ok(_) => t.version.clone().unwrap_or_else(|| "?".into()),
                        Err(why) => format!("not available: {why}"),
                    },
                    t.source.to_string(),
                ]
            })
            .chain([vec![
                "moto_server".to_string(),
                self.moto.clone(),
                "test tools venv (tests/tools-requirements.txt)".to_string(),
            ]])
            .collect();
        table(
            &mut out,
            &["tool".into(), "version".into(), "installed from".into()],
            &rows,
        );
        out.push_str("\n## Goals\n\n");
        let mut rows = Vec::new();
        for s in &self.sections {
            for g in &s.goals {
                let met = match g.met {
                    Some(true) => "met",
                    Some(false) => "**missed**",
                    None => "not measured",
                };
                rows.push(vec![
                    format!("{} ({})", g.text, s.title),
                    g.measured.clone(),
                    met.into(),
                ]);
            }
        }
        table(
            &mut out,
            &["goal".into(), "measured".into(), "".into()],
            &rows,
        );
        for s in &self.sections {
            out.push_str(&format!("\n## {}\n\n", s.title));
            if !s.method.is_empty() {
                out.push_str(&format!("{}\n\n", s.method));
            }
            if !s.header.is_empty() {
                table(&mut out, &s.header, &s.rows);
                out.push('\n');
            }
            for n in &s.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "runs": self.runs,
            "machine": self.machine.facts.iter().map(|(k, v)| json!({"fact": k, "value": v})).collect::<Vec<_>>(),
            "tools": self.peers.all().iter().map(|t| t.json()).collect::<Vec<_>>(),
            "moto": self.moto,
            "goals": self.sections.iter().flat_map(|s| s.goals.iter().map(|g| g.json())).collect::<Vec<_>>(),
            "groups": self.sections.iter().map(|s| s.json.clone()).collect::<Vec<_>>(),
        })
    }
}
