//! `cargo xtask deploy` at the command line: bad input is refused with a clear
//! message, exit status 2 and nothing written; a `file://` target works with
//! no AWS at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lava_layout::{boot_script_key, framework_key, Version};

/// A closed loopback port: any AWS request made by mistake fails (exit 1),
/// so an exit 2 proves the input was refused before the network.
const NO_AWS: &str = "http://127.0.0.1:9";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A tiny built release of the workspace version in `dist/`, and a
    /// `deploy.yaml` whose environment `local` targets `area/` by file://.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let version: Version = env!("CARGO_PKG_VERSION").parse().unwrap();
        for key in [framework_key(&version), boot_script_key("50-lava.sh")] {
            let path = dir.path().join("dist").join(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, key.as_bytes()).unwrap();
        }
        let fixture = Fixture { dir };
        fixture.config(
            "deploy.yaml",
            &format!(
                "local:\n  _:\n    s3base: file://{}\n  framework:\n    s3: lava/_dist_/framework/\n  boot:\n    s3: lava/_boot_/\ncloud:\n  _:\n    s3base: code-bucket/lava\n  pkg:\n    s3: _dist_/pkg/\n",
                fixture.area().display()
            ),
        );
        fixture
    }

    fn area(&self) -> PathBuf {
        self.dir.path().join("area")
    }

    fn config(&self, name: &str, yaml: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("deploy")
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .env("AWS_ENDPOINT_URL", NO_AWS)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run xtask")
    }

    /// Exit status 2, every needle in the message, and the target untouched.
    fn refused(&self, args: &[&str], needles: &[&str]) {
        let mut full = vec!["--dist", "dist"];
        full.extend(args);
        let output = self.run(&full);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle:?} not in {stderr}"
            );
        }
        assert!(
            !self.area().exists(),
            "{args:?} wrote {}",
            self.area().display()
        );
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn missing_configuration_is_refused() {
    let f = Fixture::new();
    f.refused(&["-e", "local", "-f", "nope.yaml"], &["nope.yaml", "-f"]);
    std::fs::remove_file(f.dir.path().join("deploy.yaml")).unwrap();
    f.refused(&["-e", "local"], &["deploy.yaml", "No such file"]);
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    let f = Fixture::new();
    f.config("bad.yaml", "local:\n  pkg:\n    s3: [lava\n  boot: {}\n");
    let output = f.run(&["-e", "local", "-f", "bad.yaml"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let at = stderr.split("bad.yaml:").nth(1).expect("the file is named");
    let mut fields = at.split(':');
    let line: u32 = fields.next().unwrap().parse().expect("a line number");
    let column: u32 = fields.next().unwrap().parse().expect("a column number");
    assert!(line >= 3 && column >= 1, "{stderr}");
    assert!(stderr.contains("YAML syntax error"), "{stderr}");
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    Fixture::new().refused(&["-e", "prod"], &["\"prod\"", "local, cloud"]);
}

#[test]
fn unknown_component_is_refused() {
    Fixture::new().refused(&["-e", "local", "docs"], &["\"docs\"", "framework", "root"]);
}

#[test]
fn malformed_locations_are_named() {
    let f = Fixture::new();
    f.config("bad.yaml", "local:\n  pkg:\n    s3: 's3:/code-bucket/x'\n");
    f.refused(
        &["-e", "local", "-f", "bad.yaml"],
        &["bad.yaml", "local.pkg.s3", "s3:/code-bucket/x"],
    );
    f.config("bad.yaml", "local:\n  pkg:\n    s3: 's3://Code_Bucket/x'\n");
    f.refused(
        &["-e", "local", "-f", "bad.yaml"],
        &["local.pkg.s3", "bucket name"],
    );
    f.config("bad.yaml", "local:\n  pkg:\n    s3: lava/_dist_/pkg/\n");
    f.refused(&["-e", "local", "-f", "bad.yaml"], &["local._.s3base"]);
    f.config(
        "bad.yaml",
        "local:\n  pkg:\n    s3: 's3://b-${NOT_SET_ANYWHERE}/x'\n",
    );
    f.refused(
        &["-e", "local", "-f", "bad.yaml"],
        &["${NOT_SET_ANYWHERE} is not set"],
    );
}

#[test]
fn a_version_without_artefacts_is_refused() {
    let f = Fixture::new();
    f.refused(
        &["-e", "local", "-v", "9.9.9"],
        &["9.9.9", "cargo xtask dist"],
    );
    f.refused(
        &["-e", "local", "-v", "8.3.0-rc1"],
        &["\"8.3.0-rc1\"", "PEP 440"],
    );
    // Asked for by name, a component with nothing to deploy is an error too.
    f.config(
        "more.yaml",
        &format!(
            "local:\n  lambda:\n    s3: file://{}/lambda/\n",
            f.area().display()
        ),
    );
    f.refused(
        &["-e", "local", "-f", "more.yaml", "lambda"],
        &["no lambda artefacts"],
    );
}

#[test]
fn an_s3_target_without_account_id_is_refused_before_any_request() {
    let f = Fixture::new();
    let output = f.run(&["-e", "cloud", "--dist", "dist", "pkg", "-v", "8.3.0"]);
    // No pkg artefacts here: refused for that first.
    assert_eq!(output.status.code(), Some(2));
    let version = env!("CARGO_PKG_VERSION");
    let key = format!("_dist_/pkg/amzn2023/lava-{version}-amzn2023-py3.11-x86_64.tar.bz2");
    let path = f.dir.path().join("dist").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"bundle").unwrap();
    f.refused(&["-e", "cloud", "pkg"], &["cloud.account_id", "missing"]);
}

#[test]
fn an_unreachable_aws_is_a_failure_and_writes_nothing() {
    let f = Fixture::new();
    f.config(
        "cloud.yaml",
        "cloud:\n  account_id: \"123456789012\"\n  _:\n    s3base: code-bucket/lava\n  framework:\n    s3: _dist_/framework/\n",
    );
    // AWS_ENDPOINT_URL is a closed loopback port: the account check cannot
    // reach STS, a failure of the outside world (exit 1), before any write.
    let output = f.run(&["-e", "cloud", "-f", "cloud.yaml", "--dist", "dist"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("STS GetCallerIdentity") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(!f.area().exists());
}

#[test]
fn list_needs_no_environment() {
    let output = Fixture::new().run(&["-l"]);
    assert!(output.status.success());
    let list = stdout(&output);
    for name in ["ami", "boot", "cfn", "framework", "lambda", "pkg", "root"] {
        assert!(
            list.lines()
                .any(|l| l.starts_with(name) && l.len() > name.len() + 10),
            "{name} is not listed with a description:\n{list}"
        );
    }
    let output = Fixture::new().run(&[]);
    assert_eq!(output.status.code(), Some(2), "-e is required without -l");
}

#[test]
fn help_teaches_the_options_and_exit_codes() {
    let output = Fixture::new().run(&["--help"]);
    let help = stdout(&output);
    for needle in [
        "-e, --env",
        "-f, --file",
        "-n, --dry-run",
        "-l, --list",
        "-v, --lava-version",
        "--json",
        "--dist",
        "deploy.yaml",
        "Exit status",
        "2 bad input",
        "sample.yaml",
        "root",
    ] {
        assert!(
            help.contains(needle),
            "{needle} not in deploy --help:\n{help}"
        );
    }
}

fn area_files(area: &Path) -> Vec<String> {
    let mut files: Vec<String> = walk(area)
        .into_iter()
        .map(|p| p.strip_prefix(area).unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn file_target_deploys_without_aws() {
    let f = Fixture::new();
    let dry = f.run(&["-n", "-e", "local", "--dist", "dist"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan = stdout(&dry);
    assert!(plan.contains("new") && plan.contains("dry run"), "{plan}");
    assert!(plan.contains("skip       pkg: not configured"), "{plan}");
    assert!(!f.area().exists(), "the dry run wrote");

    let real = f.run(&["-e", "local", "--dist", "dist"]);
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        area_files(&f.area()),
        [
            "lava/_boot_/50-lava.sh".to_string(),
            "lava/_dist_/framework/SHA256SUMS".into(),
            format!("lava/_dist_/framework/lava-job-framework-{version}.zip"),
        ]
    );

    let again = f.run(&["-d", "-e", "local", "--dist", "dist", "--json"]);
    assert!(again.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(summary["dry_run"], true);
    // The scriptlet, the framework zip and its SHA256SUMS (_boot_/ has none).
    assert_eq!(summary["unchanged"]["objects"], 3);
    assert_eq!(summary["written"]["objects"], 0);
    assert_eq!(summary["objects"][0]["action"], "unchanged");
}
