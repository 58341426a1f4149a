//! The tools the release is built and tested with, found on the host or
//! provisioned into a cache directory this toolchain owns (never
//! system-wide): programs on PATH, Python venvs installed with pip (uv, the
//! test tools, the bench's peers), uv itself, zig (the C compiler and
//! linker of what the release ships as native code), and Debian packages
//! unpacked into a directory (a cross sysroot, the bench's rclone).

pub mod debs;
mod uv;
mod venv;
mod zig;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use uv::find_or_provision as uv;
pub use venv::{test_tools, venv};
pub use zig::{Zig, ZIG_PINS};

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

/// What cargo sets for the program it runs (`cargo run`, `cargo test`), which
/// a cargo started from that program must not see.
const CALLER_VARS: [&str; 7] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// Cargo (`$CARGO` if set) with the environment a shell would give it. A
/// build script that reads a variable cargo sets for its caller (ring's reads
/// CARGO_MANIFEST_DIR and CARGO_PKG_NAME) reruns, with everything built on
/// it, whenever the caller changes: dist under `cargo xtask`, under a test,
/// `cargo xtask test` after a cargo from the shell.
pub fn cargo() -> Command {
    as_from_a_shell(Command::new(cargo_program()))
}

/// `$CARGO` if set, else `cargo` from PATH.
fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `command` without the variables cargo sets for the program it runs.
fn as_from_a_shell(mut command: Command) -> Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if CALLER_VARS.contains(&name.as_ref())
            || ["CARGO_PKG_", "CARGO_BIN_EXE_"]
                .iter()
                .any(|p| name.starts_with(p))
        {
            command.env_remove(name.as_ref());
        }
    }
    command
}
