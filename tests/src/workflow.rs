//! GitHub Actions, locally, for what our workflows use: their `run:` steps as
//! written (bash, `${{ }}` resolved from a context the test gives), with
//! `cargo xtask` being the workspace's built xtask binary, artifacts as
//! directories (their file modes dropped, as GitHub's artifacts drop them),
//! reusable workflows called with their inputs, matrix rows run one after
//! another, step and job outputs passed on. An action, expression or keyword
//! it does not know is a test failure, never skipped silently: a workflow
//! change the rehearsal cannot follow must show.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

use crate::{run, workspace_root};

/// What a workflow run needs from outside: the `github.*`, `vars.*` and
/// `secrets.*` values, the AWS environment `configure-aws-credentials` gives
/// (a moto's), and the jobs not to run (id, why).
pub struct Context {
    pub values: BTreeMap<String, String>,
    pub aws_env: Vec<(String, String)>,
    pub skip_jobs: Vec<(&'static str, &'static str)>,
}

/// One `run:` step that ran: its job, its name, and the summary it wrote.
#[derive(Debug)]
pub struct Ran {
    pub job: String,
    pub step: String,
    pub script: String,
    pub summary: String,
}

/// A workflow run's record: the steps that ran, the `cargo xtask`
/// invocations (arguments after `xtask`), the jobs skipped.
#[derive(Debug, Default)]
pub struct Record {
    pub ran: Vec<Ran>,
    pub xtask: Vec<Vec<String>>,
    pub skipped: Vec<String>,
}

impl Record {
    /// The `run:` steps of `files` that call `cargo xtask` and did not run
    /// (as `file: job: step`).
    pub fn xtask_steps_not_run(&self, files: &[&str]) -> Vec<String> {
        let mut missing = Vec::new();
        for file in files {
            let path = workspace_root().join(".github/workflows").join(file);
            let yaml: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for (id, job) in mapping(&yaml["jobs"]) {
                for step in job["steps"].as_sequence().into_iter().flatten() {
                    let Some(script) = step["run"].as_str() else {
                        continue;
                    };
                    if calls_xtask(script) && !self.ran.iter().any(|r| r.script == script) {
                        missing.push(format!("{file}: {id}: {script}"));
                    }
                }
            }
        }
        missing
    }
}

/// A script that runs `cargo xtask` (a line starting with it, or `$(cargo
/// xtask ...)`), not one that only mentions it in a message.
fn calls_xtask(script: &str) -> bool {
    script
        .lines()
        .any(|l| l.trim_start().starts_with("cargo xtask ") || l.contains("$(cargo xtask "))
}

pub struct Runner {
    work: tempfile::TempDir,
    shim: PathBuf,
    calls: PathBuf,
    artifacts: PathBuf,
    context: Context,
    record: Record,
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {v:?}"))
}

fn mapping(v: &Value) -> Vec<(String, &Value)> {
    match v {
        Value::Mapping(m) => m.iter().map(|(k, v)| (text(k).to_string(), v)).collect(),
        Value::Null => Vec::new(),
        other => panic!("expected a mapping, found {other:?}"),
    }
}

/// Copy a directory tree, every file mode 0644 (what an artifact keeps).
fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

impl Runner {
    pub fn new(context: Context) -> Runner {
        let work = tempfile::tempdir().unwrap();
        let shim = work.path().join("bin");
        std::fs::create_dir_all(&shim).unwrap();
        let calls = work.path().join("xtask-calls");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        // `cargo xtask ...` is the built xtask, each call logged one
        // argument per line, a NUL line after; anything else is cargo.
        let script = format!(
            "#!/bin/bash\nif [ \"$1\" = xtask ]; then\n  shift\n  printf '%s\\n' \"$@\" >> '{calls}'\n  \
             printf '\\0\\n' >> '{calls}'\n  exec '{xtask}' \"$@\"\nfi\nexec '{cargo}' \"$@\"\n",
            calls = calls.display(),
            xtask = crate::xtask().display(),
        );
        std::fs::write(shim.join("cargo"), script).unwrap();
        std::fs::set_permissions(shim.join("cargo"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let artifacts = work.path().join("artifacts");
        Runner {
            work,
            shim,
            calls,
            artifacts,
            context,
            record: Record::default(),
        }
    }

    /// The directory a job of this name works in (its checkout).
    pub fn job_dir(&self, job: &str) -> PathBuf {
        self.work.path().join("jobs").join(job)
    }

    /// Run `.github/workflows/<file>`, `setup` called on each job's
    /// directory before its steps (the checkout's files a test adds), and
    /// return what ran. The job directories stay until the runner is dropped.
    pub fn run(&mut self, file: &str, setup: impl Fn(&Path)) -> Record {
        self.workflow(file, &BTreeMap::new(), &mut BTreeMap::new(), &setup);
        let calls = std::fs::read_to_string(&self.calls).unwrap_or_default();
        let mut record = std::mem::take(&mut self.record);
        record.xtask = calls
            .split("\0\n")
            .filter(|c| !c.is_empty())
            .map(|c| c.lines().map(str::to_string).collect())
            .collect();
        record
    }

    fn workflow(
        &mut self,
        file: &str,
        inputs: &BTreeMap<String, String>,
        outputs: &mut BTreeMap<String, String>,
        setup: &dyn Fn(&Path),
    ) {
        let path = workspace_root().join(".github/workflows").join(file);
        let yaml: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut done: Vec<String> = Vec::new();
        for (id, job) in mapping(&yaml["jobs"]) {
            for need in needs(job) {
                assert!(
                    done.contains(&need),
                    "{file}: job {id} needs {need}, which has not run before it"
                );
            }
            done.push(id.clone());
            if let Some((_, why)) = self.context.skip_jobs.iter().find(|(j, _)| *j == id) {
                self.record.skipped.push(format!("{file}: {id} ({why})"));
                continue;
            }
            for key in mapping(job).into_iter().map(|(k, _)| k) {
                assert!(
                    [
                        "name",
                        "needs",
                        "runs-on",
                        "timeout-minutes",
                        "permissions",
                        "outputs",
                        "strategy",
                        "steps",
                        "uses",
                        "with",
                        "environment",
                    ]
                    .contains(&key.as_str()),
                    "{file}: job {id}: the rehearsal does not know `{key}`"
                );
            }
            let mut values = self.context.values.clone();
            values.extend(
                inputs
                    .iter()
                    .map(|(k, v)| (format!("inputs.{k}"), v.clone())),
            );
            values.extend(outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
            if let Some(called) = job["uses"].as_str() {
                let called = called
                    .strip_prefix("$/.github/workflows/")
                    .unwrap_or_else(|| panic!("{file}: job {id} calls {called}"));
                let with = mapping(&job["with"])
                    .into_iter()
                    .map(|(k, v)| (k, resolve(&value_text(v), &values)))
                    .collect();
                // A called workflow sees its inputs, not the caller's needs.
                self.workflow(called, &with, &mut BTreeMap::new(), setup);
                continue;
            }
            let rows = match job["strategy"]["matrix"]["include"].as_sequence() {
                Some(rows) => rows
                    .iter()
                    .map(|row| {
                        mapping(row)
                            .into_iter()
                            .map(|(k, v)| (format!("matrix.{k}"), value_text(v)))
                            .collect()
                    })
                    .collect(),
                None => vec![BTreeMap::new()],
            };
            for row in rows {
                let mut values = values.clone();
                values.extend(row);
                let step_outputs = self.job(file, &id, job, &values, setup);
                values.extend(step_outputs);
                for (name, expr) in mapping(&job["outputs"]) {
                    outputs.insert(
                        format!("needs.{id}.outputs.{name}"),
                        resolve(text(expr), &values),
                    );
                }
            }
        }
    }

    /// One job (one matrix row): its steps in order, in a directory of its
    /// own. Returns `steps.<id>.outputs.<name>` of its steps.
    fn job(
        &mut self,
        file: &str,
        id: &str,
        job: &Value,
        values: &BTreeMap<String, String>,
        setup: &dyn Fn(&Path),
    ) -> BTreeMap<String, String> {
        let name = resolve(job["name"].as_str().unwrap_or(id), values);
        let dir = self.job_dir(&name.replace(' ', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        setup(&dir);
        let mut values = values.clone();
        let mut aws = Vec::new();
        let steps = job["steps"].as_sequence().expect("steps");
        for (n, step) in steps.iter().enumerate() {
            assert!(
                step.get("if").is_none(),
                "{file}: {id} step {n}: the rehearsal does not evaluate `if:`"
            );
            if let Some(action) = step["uses"].as_str() {
                let with: BTreeMap<String, String> = mapping(&step["with"])
                    .into_iter()
                    .map(|(k, v)| (k, resolve(&value_text(v), &values)))
                    .collect();
                self.action(file, id, action, &with, &dir, &mut aws);
                continue;
            }
            let script = text(&step["run"]).to_string();
            let step_name = step["name"].as_str().unwrap_or(&script).to_string();
            let output = dir.join(format!(".github-output-{n}"));
            let summary = dir.join(format!(".github-summary-{n}"));
            std::fs::write(&output, "").unwrap();
            std::fs::write(&summary, "").unwrap();
            let script_file = dir.join(format!(".github-step-{n}.sh"));
            std::fs::write(&script_file, &script).unwrap();
            let path = format!(
                "{}:{}",
                self.shim.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_file)
                .current_dir(&dir)
                .env("PATH", path)
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_WORKSPACE", &dir)
                .envs(aws.clone());
            for (k, v) in mapping(&step["env"]) {
                cmd.env(k, resolve(&value_text(v), &values));
            }
            let out = run(&mut cmd);
            assert!(
                out.status.success(),
                "{file}: job {name}, step `{step_name}` failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if let Some(step_id) = step["id"].as_str() {
                for line in std::fs::read_to_string(&output).unwrap().lines() {
                    let (k, v) = line
                        .split_once('=')
                        .unwrap_or_else(|| panic!("{file}: {id}: GITHUB_OUTPUT line {line:?}"));
                    values.insert(format!("steps.{step_id}.outputs.{k}"), v.to_string());
                }
            }
            self.record.ran.push(Ran {
                job: name.clone(),
                step: step_name,
                script,
                summary: std::fs::read_to_string(&summary).unwrap(),
            });
        }
        values
            .into_iter()
            .filter(|(k, _)| k.starts_with("steps."))
            .collect()
    }

    /// The actions our workflows use, as far as a local run needs them.
    fn action(
        &mut self,
        file: &str,
        job: &str,
        action: &str,
        with: &BTreeMap<String, String>,
        dir: &Path,
        aws: &mut Vec<(String, String)>,
    ) {
        let name = action.split('@').next().unwrap();
        match name {
            // The job's directory is its checkout; this machine has what
            // setup installs (the test command provides it).
            "actions/checkout" | "$/.github/actions/setup" => {}
            "actions/upload-artifact" => {
                let target = self.artifacts.join(&with["name"]);
                assert!(!target.exists(), "artifact {} uploaded twice", with["name"]);
                copy_tree(&dir.join(&with["path"]), &target);
            }
            "actions/download-artifact" => {
                let into = dir.join(&with["path"]);
                if let Some(name) = with.get("name") {
                    copy_tree(&self.artifacts.join(name), &into);
                } else {
                    let pattern = with["pattern"]
                        .strip_suffix('*')
                        .expect("a `prefix*` pattern");
                    for entry in std::fs::read_dir(&self.artifacts).unwrap() {
                        let entry = entry.unwrap();
                        let name = entry.file_name().into_string().unwrap();
                        if name.starts_with(pattern) {
                            copy_tree(&entry.path(), &into.join(&name));
                        }
                    }
                }
            }
            "aws-actions/configure-aws-credentials" => {
                for key in ["role-to-assume", "aws-region"] {
                    assert!(
                        with.get(key).is_some_and(|v| !v.is_empty()),
                        "{file}: {job}: configure-aws-credentials without {key}"
                    );
                }
                aws.clone_from(&self.context.aws_env);
            }
            other => panic!("{file}: job {job}: the rehearsal does not know action {other}"),
        }
    }
}

fn needs(job: &Value) -> Vec<String> {
    match &job["needs"] {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Sequence(s) => s.iter().map(|v| text(v).to_string()).collect(),
        other => panic!("needs: {other:?}"),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// `s` with every `${{ expression }}` replaced by its value.
pub fn resolve(s: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed ${{{{ in {s:?}"))
            + start;
        out.push_str(&evaluate(rest[start + 3..end].trim(), values));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The expressions our workflows use: context names, `'literals'`, and
/// `a || b` (the first non-empty). An unset `vars.X` is empty, as on GitHub.
fn evaluate(expr: &str, values: &BTreeMap<String, String>) -> String {
    for operand in expr.split("||").map(str::trim) {
        let value = if let Some(literal) = operand
            .strip_prefix('\'')
            .and_then(|o| o.strip_suffix('\''))
        {
            literal.to_string()
        } else if let Some(v) = values.get(operand) {
            v.clone()
        } else if operand.starts_with("vars.") {
            String::new()
        } else {
            panic!("the rehearsal has no value for `{operand}` (in `${{{{ {expr} }}}}`)");
        };
        if !value.is_empty() {
            return value;
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        let values: BTreeMap<String, String> =
            [("github.ref_name", "v8.3.0"), ("vars.SET", "mine.yaml")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for (input, expected) in [
            ("${{ github.ref_name }}", "v8.3.0"),
            ("lava-${{github.ref_name}}-x", "lava-v8.3.0-x"),
            ("${{ vars.UNSET || 'deploy.yaml' }}", "deploy.yaml"),
            ("${{ vars.SET || 'deploy.yaml' }}", "mine.yaml"),
            ("no expression", "no expression"),
        ] {
            assert_eq!(resolve(input, &values), expected, "{input}");
        }
    }

    #[test]
    fn scripts_that_run_xtask() {
        for (script, runs) in [
            ("cargo xtask dist --json > d.json\n", true),
            ("set -e\n  cargo xtask deploy -e prod\n", true),
            ("version=$(cargo xtask version --tag \"$TAG\")\n", true),
            (
                "gh release create --notes \"for cargo xtask deploy\"\n",
                false,
            ),
            ("echo done\n", false),
        ] {
            assert_eq!(calls_xtask(script), runs, "{script}");
        }
    }

    #[test]
    #[should_panic(expected = "no value for `github.sha`")]
    fn an_unknown_name_fails() {
        resolve("${{ github.sha }}", &BTreeMap::new());
    }
}
