//! The command layer: bad input is refused with a clear message, exit status 2
//! and nothing written.

use std::path::Path;
use std::process::{Command, Output};

fn xtask(args: &[&str], workspace: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).env("RUST_LOG", "warn");
    if let Some(ws) = workspace {
        cmd.env("LAVA_WORKSPACE", ws);
    }
    cmd.output().expect("run xtask")
}

fn refused(args: &[&str], workspace: Option<&Path>, needles: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let dist = out.path().join("dist");
    let mut full = args.to_vec();
    let dist_arg = dist.to_str().unwrap().to_string();
    full.extend(["--out", &dist_arg]);
    let output = xtask(&full, workspace);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
    assert!(!dist.exists(), "{args:?} wrote {}", dist.display());
}

#[test]
fn unknown_component_is_refused() {
    refused(&["dist", "--only", "docs"], None, &["\"docs\"", "cfn"]);
    refused(&["dist", "--only", "ami"], None, &["ami stage"]);
}

#[test]
fn malformed_runtime_is_refused() {
    refused(
        &["dist", "--runtime", "amzn2023-py3-x86_64"],
        None,
        &["\"3\""],
    );
    refused(
        &["dist", "--runtime", "amzn2023-py3.11-sparc"],
        None,
        &["\"sparc\""],
    );
}

#[test]
fn unreachable_worker_source_is_refused() {
    refused(
        &["dist", "--worker-source", "/nonexistent/lava"],
        None,
        &["/nonexistent/lava"],
    );
}

#[test]
fn malformed_matrix_is_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let broken = manifest.replacen("python = \"3.12\"", "python = \"three\"", 1);
    assert_ne!(
        manifest, broken,
        "the matrix has no python = \"3.12\" entry to break"
    );
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("Cargo.toml"), broken).unwrap();
    refused(
        &["dist"],
        Some(ws.path()),
        &["Cargo.toml", "runtimes[", "\"three\""],
    );
}

#[test]
fn help_teaches_the_options() {
    let output = xtask(&["dist", "--help"], None);
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--only",
        "--runtime",
        "--worker-source",
        "--out",
        "--json",
        "amzn2023-py3.11",
    ] {
        assert!(help.contains(needle), "{needle} not in dist --help");
    }
}

/// `dist --only framework` with the worker source from the PyPI index at
/// `index`, nothing cached.
fn dist_from_index(index: &str) -> (Output, bool) {
    let work = tempfile::tempdir().unwrap();
    let dist = work.path().join("dist");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["dist", "--only", "framework", "--out"])
        .arg(&dist)
        .env("RUST_LOG", "warn")
        .env("XDG_CACHE_HOME", work.path().join("cache"))
        .env("PIP_INDEX_URL", index)
        .env("PIP_RETRIES", "0")
        .env("PIP_TIMEOUT", "5")
        .output()
        .expect("run xtask");
    (output, dist.exists())
}

#[test]
fn an_unreachable_pypi_is_a_failure_not_bad_input() {
    // A closed loopback port: the outside world failed (exit 1).
    let (output, wrote) = dist_from_index("http://127.0.0.1:9/simple");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("jinlava=="), "{stderr}");
    assert!(!wrote, "a failed dist wrote dist/");
}

#[test]
fn a_release_pypi_does_not_have_is_bad_input() {
    // A simple index on disk whose jinlava page lists another release only:
    // the workspace version names nothing there (exit 2).
    let index = tempfile::tempdir().unwrap();
    let project = index.path().join("jinlava");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("jinlava-0.1.0.tar.gz"), b"not read").unwrap();
    std::fs::write(
        project.join("index.html"),
        r#"<a href="jinlava-0.1.0.tar.gz">jinlava-0.1.0.tar.gz</a>"#,
    )
    .unwrap();
    let url = format!("file://{}", index.path().display());
    let (output, wrote) = dist_from_index(&url);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("0.1.0"), "{stderr}");
    assert!(!wrote, "a refused dist wrote dist/");
}
