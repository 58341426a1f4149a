//! Python venvs with packages from PyPI, made once and kept.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{cache_dir, run, ToolError};

/// What a complete venv holds, written last: a venv without it, or with
/// other content, was interrupted or made for other pins and is made again.
const MARKER: &str = ".lava-venv";

/// The venv of the pinned test tools (moto_server, cfn-lint, awscli, ...)
/// that `cargo xtask test` and the bench run: below `$LAVA_TOOLS_VENV`, else
/// the cache directory, named by a hash of `requirements`, so that a changed
/// pin makes a fresh one.
pub fn test_tools(requirements: &Path) -> Result<PathBuf, ToolError> {
    let text = std::fs::read(requirements)
        .map_err(|e| ToolError(format!("cannot read {}: {e}", requirements.display())))?;
    let digest = hex::encode(&Sha256::digest(&text)[..6]);
    let base = match std::env::var_os("LAVA_TOOLS_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => cache_dir().ok_or_else(|| {
            ToolError("neither LAVA_TOOLS_VENV, XDG_CACHE_HOME nor HOME is set".into())
        })?,
    };
    let requirements = requirements.to_string_lossy();
    venv(
        &base.join(format!("tools-{digest}")),
        &["-r", &requirements],
    )
}

/// Whether the venv at `dir` is complete with `pip_args` installed.
pub(crate) fn is_made(dir: &Path, pip_args: &[&str]) -> bool {
    std::fs::read_to_string(dir.join(MARKER)).ok() == Some(pip_args.join("\n"))
}

/// A venv at `dir` with `pip_args` installed (`pkg==1.0` pins, or
/// `-r requirements.txt`), made on first use and again when `pip_args`
/// change. A venv's scripts embed its path, so it is built in place; callers
/// at once (parallel tests) take turns under a lock file beside it.
pub fn venv(dir: &Path, pip_args: &[&str]) -> Result<PathBuf, ToolError> {
    let want = pip_args.join("\n");
    let marker = dir.join(MARKER);
    let complete = || is_made(dir, pip_args);
    if complete() {
        return Ok(dir.to_path_buf());
    }
    let io = |what: &str, path: &Path, e: std::io::Error| {
        ToolError(format!("cannot {what} {}: {e}", path.display()))
    };
    let parent = dir.parent().expect("a venv directory has a parent");
    std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    let name = dir.file_name().expect("a venv directory has a name");
    let lock_path = parent.join(format!("{}.lock", name.to_string_lossy()));
    let lock = File::create(&lock_path).map_err(|e| io("create", &lock_path, e))?;
    lock.lock().map_err(|e| io("lock", &lock_path, e))?;
    // Another caller may have finished it while this one waited.
    if complete() {
        return Ok(dir.to_path_buf());
    }
    tracing::info!("installing {} into {}", pip_args.join(" "), dir.display());
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| io("remove", dir, e))?;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(dir))?;
    run(Command::new(dir.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet"])
        .args(pip_args))?;
    std::fs::write(&marker, &want).map_err(|e| io("write", &marker, e))?;
    Ok(dir.to_path_buf())
}
