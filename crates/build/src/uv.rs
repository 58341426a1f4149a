//! Finding uv, the resolver that installs wheels for a foreign platform, and
//! provisioning it when the machine has none.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{on_path, BuildError};

/// The uv release provisioned when none is on PATH.
const UV_VERSION: &str = "0.13.9";

/// `uv` from PATH, else a private copy under the user's cache directory,
/// installed there with pip on first use.
pub fn find_or_provision() -> Result<PathBuf, BuildError> {
    if let Some(uv) = on_path("uv") {
        return Ok(uv);
    }
    let cache = crate::cache_dir().ok_or_else(|| {
        BuildError::Tool("uv is not on PATH and neither HOME nor XDG_CACHE_HOME is set".into())
    })?;
    let venv = cache.join(format!("uv-{UV_VERSION}"));
    let uv = venv.join("bin/uv");
    if uv.is_file() {
        return Ok(uv);
    }
    provision(&venv)?;
    Ok(uv)
}

/// Build the venv beside its final place and rename it in, so a concurrent or
/// interrupted provisioning never leaves a half-made uv behind.
fn provision(venv: &Path) -> Result<(), BuildError> {
    tracing::info!(
        "uv is not on PATH: installing uv {UV_VERSION} into {}",
        venv.display()
    );
    let parent = venv.parent().expect("venv path has a parent");
    std::fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".uv-")
        .tempdir_in(parent)
        .map_err(|e| BuildError::io(parent, e))?;
    run(Command::new("python3")
        .args(["-m", "venv"])
        .arg(staging.path()))?;
    run(Command::new(staging.path().join("bin/python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        &format!("uv=={UV_VERSION}"),
    ]))?;
    let staged = staging.keep();
    if std::fs::rename(&staged, venv).is_err() {
        // Someone else finished first; theirs is as good as ours.
        let _ = std::fs::remove_dir_all(&staged);
    }
    // A venv records its own path, so the moved one's scripts would point at the
    // staging directory; uv itself is a plain binary and does not care.
    if venv.join("bin/uv").is_file() {
        Ok(())
    } else {
        Err(BuildError::Tool(format!(
            "provisioning uv left no {}",
            venv.join("bin/uv").display()
        )))
    }
}

fn run(cmd: &mut Command) -> Result<(), BuildError> {
    let output = cmd
        .output()
        .map_err(|e| BuildError::Tool(format!("cannot run {:?}: {e}", cmd.get_program())))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BuildError::Tool(format!(
            "{:?} failed while provisioning uv:\n{}",
            cmd.get_program(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
