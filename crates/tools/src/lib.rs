//! The tools the release is built and tested with, found on the host or
//! provisioned into a cache directory this toolchain owns (never
//! system-wide): programs on PATH, Python venvs installed with pip (uv, the
//! test tools, the bench's peers), uv itself, and Debian packages unpacked
//! into a directory (a cross sysroot, the bench's rclone).

pub mod debs;
mod uv;
mod venv;

use std::path::{Path, PathBuf};

pub use uv::find_or_provision as uv;
pub use venv::{test_tools, venv};

/// A tool that could not be found, run or installed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

/// `$XDG_CACHE_HOME/lava-dist` or `~/.cache/lava-dist`: what the toolchain
/// keeps between runs (uv, worker sdists, wheels, the test tools, the
/// bench's peers); `None` when neither variable is set.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("lava-dist"))
}

/// `name` as a program: itself if it has a directory, else the first match
/// on PATH.
pub fn on_path(name: impl AsRef<Path>) -> Option<PathBuf> {
    let name = name.as_ref();
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Run `cmd` to its end; a failure carries its stderr.
fn run(cmd: &mut std::process::Command) -> Result<(), ToolError> {
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ToolError(format!("cannot run {:?}: {e}", cmd.get_program())))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ToolError(format!(
            "{:?} failed ({}):\n{}",
            cmd.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
