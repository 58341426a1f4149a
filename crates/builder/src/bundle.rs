//! Worker bundles: the lava source, its dependencies as binary wheels for one
//! runtime, and our installer, in one reproducible tar.bz2.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;

use lava_archive::Tree;
use lava_layout::Runtime;

use crate::source::SourceTree;
use crate::{wheels, BuildError};

/// The worker source's requirement files: both installed into `pylib/` and
/// shipped at the bundle root, as upstream's `etc/pkg.sh` does.
const REQUIREMENTS: [&str; 2] = ["requirements.txt", "requirements-extra.txt"];

/// How many packages without a wheel one bundle may build from source; each
/// build is followed by another resolution, so this bounds the loop.
const MAX_SOURCE_BUILDS: usize = 4;

/// Files of the bundle root that come from `misc/`, executable.
const ROOT_SCRIPTS: [&str; 2] = ["install.sh", "lava-run"];

/// Upstream's helper commands, ours (`misc/etc/`), at `etc/` as upstream
/// ships them; each finds the bundle's `pylib/` itself.
const ETC_SCRIPTS: [&str; 3] = ["dyn-put-item", "jinja", "yaml2json"];

/// Assemble the bundle for `runtime` into `out` (written atomically).
pub fn build(
    uv: &Path,
    source: &SourceTree,
    misc: &Path,
    runtime: &Runtime,
    mtime: u64,
    out: &Path,
) -> Result<(), BuildError> {
    let work =
        tempfile::tempdir().map_err(|e| BuildError::io(Path::new("temporary directory"), e))?;
    let pylib = work.path().join("pylib");
    install_requirements(uv, &source.root, runtime, mtime, &pylib)?;
    make_scripts_portable(&pylib.join("bin"))?;

    let mut tree = Tree::new();
    tree.add_dir_all(&source.root.join("lava"), "lava")?;
    tree.add_dir_all(&source.root.join("bin"), "bin")?;
    tree.add_dir_all(&pylib, "pylib")?;
    for file in REQUIREMENTS {
        tree.add_file(file, &source.root.join(file), false)?;
    }
    for script in ROOT_SCRIPTS {
        tree.add_file(script, &misc.join(script), true)?;
    }
    for script in ETC_SCRIPTS {
        tree.add_file(
            &format!("etc/{script}"),
            &misc.join("etc").join(script),
            true,
        )?;
    }
    // Bytecode is host-specific and rebuilt on the worker; editor litter is noise.
    tree.remove_where(|p| {
        p.ends_with(".pyc")
            || p.split('/').any(|s| s == "__pycache__" || s == ".DS_Store")
            || p.ends_with(".swp")
    });
    lava_archive::write_tar_bz2(&tree, mtime, out)?;
    Ok(())
}

/// Install both requirement files from binary wheels for the target
/// platform. A requirement PyPI has no wheel of for it is built from its
/// sdist (see [`wheels`](crate::wheels)) into the runtime's wheel cache, which
/// every resolution reads, and the resolution runs again.
fn install_requirements(
    uv: &Path,
    source: &Path,
    runtime: &Runtime,
    mtime: u64,
    target: &Path,
) -> Result<(), BuildError> {
    let scratch;
    let wheels = match lava_tools::cache_dir() {
        Some(cache) => wheels::wheel_dir(&cache, runtime),
        None => {
            scratch = tempfile::tempdir()
                .map_err(|e| BuildError::io(Path::new("temporary directory"), e))?;
            scratch.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&wheels).map_err(|e| BuildError::io(&wheels, e))?;
    wheels::report_cached(&wheels, runtime)?;
    let mut built: Vec<String> = Vec::new();
    loop {
        let missing = match install_wheels(uv, source, runtime, mtime, &wheels, target)? {
            None => return Ok(()),
            Some(missing) => missing,
        };
        let pinned = missing.requirement.split_once("==");
        match pinned {
            Some((name, version))
                if !built.contains(&missing.requirement) && built.len() < MAX_SOURCE_BUILDS =>
            {
                wheels::build(uv, name, version, runtime, mtime, &wheels)?;
                built.push(missing.requirement);
            }
            _ => return Err(missing.error(runtime)),
        }
    }
}

/// A requirement uv found no wheel of, with what uv said.
struct NoWheel {
    requirement: String,
    platform: String,
    stderr: String,
}

impl NoWheel {
    fn error(&self, runtime: &Runtime) -> BuildError {
        BuildError::Input(format!(
            "{} has no binary wheel for {runtime} ({}, Python {}); uv said:\n{}",
            self.requirement, self.platform, runtime.python, self.stderr
        ))
    }
}

/// One resolution and install of both requirement files, wheels only, from
/// PyPI and `wheels`. `--exclude-newer` pins resolution to the release's
/// timestamp, so a rebuild of the same commit months later picks the same
/// dependency versions. `Some` names a requirement without a wheel.
fn install_wheels(
    uv: &Path,
    source: &Path,
    runtime: &Runtime,
    mtime: u64,
    wheels: &Path,
    target: &Path,
) -> Result<Option<NoWheel>, BuildError> {
    let platform = runtime
        .wheel_platform()
        .map_err(|e| BuildError::Input(e.to_string()))?;
    tracing::info!("resolving wheels for {runtime} ({platform})");
    let mut install = Command::new(uv);
    install
        .args([
            "pip",
            "install",
            "--quiet",
            "--no-config",
            "--link-mode",
            "copy",
            "--only-binary",
            ":all:",
        ])
        .args(["--python-platform", &platform])
        .args(["--python-version", &runtime.python.to_string()])
        .args(["--exclude-newer", &lava_archive::rfc3339(mtime)])
        .arg("--find-links")
        .arg(wheels)
        .arg("--target")
        .arg(target);
    for file in REQUIREMENTS {
        install.arg("-r").arg(source.join(file));
    }
    let output = install
        .output()
        .map_err(|e| BuildError::Tool(format!("cannot run {}: {e}", uv.display())))?;
    if output.status.success() {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    match missing_wheel(&stderr) {
        Some(requirement) => Ok(Some(NoWheel {
            requirement,
            platform,
            stderr,
        })),
        None => Err(BuildError::Tool(format!(
            "uv could not install the dependencies for {runtime}:\n{stderr}"
        ))),
    }
}

/// The requirement uv names when it finds no wheel for the platform, as in
/// "Because psutil==7.2.2 has no wheels with a matching platform tag".
fn missing_wheel(stderr: &str) -> Option<String> {
    let (_, rest) = stderr.split_once("Because ")?;
    let (package, tail) = rest.split_once(' ')?;
    tail.starts_with("has no").then(|| package.to_string())
}

/// Console scripts that uv writes into `pylib/bin` carry the build host's
/// interpreter path; point them at `python3` on the worker instead.
fn make_scripts_portable(bin: &Path) -> Result<(), BuildError> {
    let Ok(entries) = std::fs::read_dir(bin) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry.map_err(|e| BuildError::io(bin, e))?.path();
        let first = {
            let file = std::fs::File::open(&path).map_err(|e| BuildError::io(&path, e))?;
            let mut line = Vec::new();
            BufReader::new(file)
                .read_until(b'\n', &mut line)
                .map_err(|e| BuildError::io(&path, e))?;
            line
        };
        if first.starts_with(b"#!") && first.windows(6).any(|w| w == b"python") {
            let content = std::fs::read(&path).map_err(|e| BuildError::io(&path, e))?;
            let mut portable = b"#!/usr/bin/env python3\n".to_vec();
            portable.extend_from_slice(&content[first.len()..]);
            std::fs::write(&path, portable).map_err(|e| BuildError::io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_missing_wheel_message_names_the_package() {
        let stderr = "  × No solution found when resolving dependencies:\n  ╰─▶ Because pygresql==6.2.3 has no usable wheels and you require pygresql==6.2.3, we can conclude that your requirements are unsatisfiable.";
        assert_eq!(missing_wheel(stderr).as_deref(), Some("pygresql==6.2.3"));
        assert_eq!(missing_wheel("error: network unreachable"), None);
    }

    #[test]
    fn host_shebangs_become_portable() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("tool"),
            "#!/root/.pyenv/versions/3.11.7/bin/python\nimport x\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("sh"), "#!/bin/sh\necho\n").unwrap();
        make_scripts_portable(tmp.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("tool")).unwrap(),
            "#!/usr/bin/env python3\nimport x\n"
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("sh")).unwrap(),
            "#!/bin/sh\necho\n"
        );
    }
}
