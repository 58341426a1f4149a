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
