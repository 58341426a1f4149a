//! uv, the resolver that installs wheels for a foreign platform: from PATH,
//! or provisioned when the machine has none.

use std::path::PathBuf;

use crate::{cache_dir, on_path, venv, ToolError};

/// The uv release provisioned when none is on PATH.
const UV_VERSION: &str = "0.13.9";

/// `uv` from PATH, else a private copy in a venv under the cache directory,
/// installed there with pip on first use.
pub fn find_or_provision() -> Result<PathBuf, ToolError> {
    if let Some(uv) = on_path("uv") {
        return Ok(uv);
    }
    let cache = cache_dir().ok_or_else(|| {
        ToolError("uv is not on PATH and neither HOME nor XDG_CACHE_HOME is set".into())
    })?;
    let pin = format!("uv=={UV_VERSION}");
    let uv = venv(&cache.join(format!("uv-{UV_VERSION}")), &[&pin])?.join("bin/uv");
    if uv.is_file() {
        Ok(uv)
    } else {
        Err(ToolError(format!(
            "provisioning uv left no {}",
            uv.display()
        )))
    }
}
