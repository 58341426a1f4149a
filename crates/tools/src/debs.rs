//! Debian packages unpacked into a directory of their own (`apt-get
//! download` + `dpkg-deb -x`): nothing of the host changes, and a package
//! of another architecture (`libpq-dev:arm64`) unpacks as readily as the
//! host's.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, ToolError};

/// `packages` (`name` or `name:arch`) unpacked under `root`, made on first
/// use and kept. They are unpacked beside `root` and renamed in, so `root`
/// is whole or absent. When the download fails the package lists are
/// refreshed (a fresh machine may have none) and it is tried once more.
pub fn unpacked(root: &Path, packages: &[String]) -> Result<PathBuf, ToolError> {
    if root.is_dir() {
        return Ok(root.to_path_buf());
    }
    let io = |what: &str, path: &Path, e: std::io::Error| {
        ToolError(format!("cannot {what} {}: {e}", path.display()))
    };
    let parent = root.parent().expect("an unpack root has a parent");
    std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(lava_files::TEMP_PREFIX)
        .tempdir_in(parent)
        .map_err(|e| io("create a directory in", parent, e))?;
    let download = staging.path().join("debs");
    std::fs::create_dir(&download).map_err(|e| io("create", &download, e))?;
    tracing::info!("fetching {} (apt-get download)", packages.join(" "));
    let fetch = || {
        run(Command::new("apt-get")
            .arg("download")
            .args(packages)
            .current_dir(&download))
    };
    if fetch().is_err() {
        run(Command::new("apt-get").args(["-q", "update"]))?;
        fetch()?;
    }
    let tree = staging.path().join("root");
    for entry in std::fs::read_dir(&download).map_err(|e| io("read", &download, e))? {
        let deb = entry.map_err(|e| io("read", &download, e))?.path();
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
    }
    if let Err(e) = std::fs::rename(&tree, root) {
        // Another caller unpacked the same packages first.
        if !root.is_dir() {
            return Err(io("create", root, e));
        }
    }
    Ok(root.to_path_buf())
}
