//! The GitHub workflows and the setup action: actionlint and zizmor find
//! nothing in them (and do find what they are for in a bad workflow), every
//! third-party action is pinned to a full commit, every job asks for its own
//! permissions. tests/rehearsal.rs runs their `cargo xtask` steps.

use std::path::Path;
use std::process::Command;

use lava_tests::{run, tool, workspace_root};
use serde_yaml::Value;

/// actionlint over `root`'s workflows, its run scripts through shellcheck.
fn actionlint(root: &Path) -> std::process::Output {
    run(Command::new(tool("actionlint"))
        .arg("-shellcheck")
        .arg(tool("shellcheck"))
        .arg("-no-color")
        .current_dir(root))
}

/// zizmor over `root`, offline, pedantic: findings of every severity.
fn zizmor(root: &Path) -> std::process::Output {
    run(Command::new(tool("zizmor"))
        .args([
            "--offline",
            "--pedantic",
            "--no-progress",
            "--format",
            "plain",
        ])
        .arg(".")
        .current_dir(root))
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_workflows_pass_actionlint_and_zizmor() {
    let root = workspace_root();
    let lint = actionlint(&root);
    assert!(lint.status.success(), "actionlint:\n{}", text(&lint));
    let audit = zizmor(&root);
    assert!(audit.status.success(), "zizmor:\n{}", text(&audit));
}

#[test]
fn the_linters_catch_what_they_are_for() {
    let dir = tempfile::tempdir().unwrap();
    // actionlint finds workflows from the repository's root.
    let init = run(Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path()));
    assert!(init.status.success(), "git init: {}", text(&init));
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    // An action by tag, and a pull request's title pasted into a script.
    std::fs::write(
        workflows.join("bad.yml"),
        "name: bad\non: pull_request_target\npermissions: {}\njobs:\n  bad:\n    \
         runs-on: ubuntu-24.04\n    permissions:\n      contents: read\n    steps:\n      \
         - uses: actions/checkout@v4\n      - run: echo \"${{ github.event.pull_request.title }}\"\n",
    )
    .unwrap();
    let lint = actionlint(dir.path());
    assert!(!lint.status.success());
    assert!(
        text(&lint).contains("potentially untrusted"),
        "{}",
        text(&lint)
    );
    let audit = zizmor(dir.path());
    assert!(!audit.status.success());
    for audit_name in ["unpinned-uses", "template-injection"] {
        assert!(text(&audit).contains(audit_name), "{}", text(&audit));
    }
}

fn yaml(path: &str) -> Value {
    let path = workspace_root().join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Every `uses:` of a workflow or action file, with where it is.
fn uses(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                if let ("uses", Value::String(s)) = (key, v) {
                    found.push((at.to_string(), s.clone()));
                }
                uses(v, &format!("{at}.{key}"), found);
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                uses(v, &format!("{at}[{i}]"), found);
            }
        }
        _ => {}
    }
}

const FILES: [&str; 4] = [
    ".github/workflows/ci.yml",
    ".github/workflows/release.yml",
    ".github/workflows/deploy.yml",
    ".github/actions/setup/action.yml",
];

#[test]
fn third_party_actions_are_pinned_to_a_commit() {
    let mut found = Vec::new();
    for file in FILES {
        uses(&yaml(file), file, &mut found);
    }
    assert!(found.len() > 10, "{found:?}");
    for (at, action) in found {
        if action.starts_with("$/") {
            continue;
        }
        let (_, sha) = action
            .split_once('@')
            .unwrap_or_else(|| panic!("{at}: {action} has no ref"));
        assert!(
            sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{at}: {action} is not pinned to a full commit SHA"
        );
    }
    // The version each pin stands for is written beside it.
    for file in FILES {
        let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
        for line in text
            .lines()
            .filter(|l| l.contains("uses:") && l.contains('@'))
        {
            assert!(line.contains(" # v"), "{file}: {line}");
        }
    }
}

#[test]
fn every_job_asks_for_its_own_permissions() {
    for file in &FILES[..3] {
        let workflow = yaml(file);
        assert_eq!(
            workflow["permissions"],
            Value::Mapping(Default::default()),
            "{file}: the workflow grants nothing by default"
        );
        let jobs = workflow["jobs"].as_mapping().unwrap();
        for (name, job) in jobs {
            assert!(
                job["permissions"].is_mapping(),
                "{file}: job {name:?} has no permissions of its own"
            );
        }
    }
    // Only the jobs that need them may write or mint tokens.
    let release = yaml(".github/workflows/release.yml");
    for (name, job) in release["jobs"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let permissions = job["permissions"].as_mapping().unwrap();
        let writes: Vec<&str> = permissions
            .iter()
            .filter(|(_, v)| v.as_str() == Some("write"))
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        let expected: &[&str] = match name {
            "publish" => &["contents"],
            "staging" | "prod" => &["id-token"],
            _ => &[],
        };
        assert_eq!(writes, expected, "release.yml job {name}");
    }
}
