//! Wheels for requirements PyPI publishes only as source for a runtime
//! (PyGreSQL): built here from the sdist for the runtime's Python and
//! architecture with `zig cc` for the runtime's glibc (`-target
//! aarch64-linux-gnu.2.34`: no symbol newer than the worker's, on any build
//! host), checked as our own binaries are, and kept in
//! `~/.cache/lava-dist/wheels/<runtime>/<zig>/`, which
//! every resolution of that runtime reads (`--find-links`), so a warm `dist`
//! installs them without building.
//!
//! What the build rests on:
//! - uv accepts a `linux_<arch>` wheel for `--python-platform
//!   <arch>-manylinux_2_34`, so no retagging is needed.
//! - `uv build` passes CC, CFLAGS, LDSHARED, `_PYTHON_HOST_PLATFORM` and
//!   `SETUPTOOLS_EXT_SUFFIX` through to setuptools, which names and tags a
//!   cross build for the target by them.
//! - `CFLAGS=-g0` and `LDSHARED="<zig cc> -shared -s"` make the extension
//!   byte-identical across builds (uv unpacks the sdist in a random
//!   directory, which debug info would record).
//! - A package's `-dev` files for a foreign architecture are unpacked into a
//!   sysroot (`apt-get download` + `dpkg-deb -x`, by lava-tools): installing `libpq-dev:arm64`
//!   would remove the host's `libpq-dev`.

use std::path::{Path, PathBuf};
use std::process::Command;

use lava_layout::{Arch, Runtime};

use crate::binaries::{check_elf, Glibc};
use crate::BuildError;

/// What a package's build needs from Debian besides a C compiler: the
/// packages for the target architecture, and the `*-config` tool its setup
/// script runs, with the answers it must give for a sysroot.
struct Prerequisites {
    package: &'static str,
    debs: &'static [&'static str],
    config_tool: ConfigTool,
}

enum ConfigTool {
    /// `pg_config`: `--includedir` and `--libdir` of the sysroot.
    PgConfig,
}

const KNOWN: &[Prerequisites] = &[Prerequisites {
    package: "pygresql",
    debs: &["libpq5", "libpq-dev"],
    config_tool: ConfigTool::PgConfig,
}];

/// `~/.cache/lava-dist/wheels/<runtime>/<zig>`: the wheels built for
/// `runtime` by this zig (a wheel another compiler made is not reused).
pub fn wheel_dir(cache: &Path, runtime: &Runtime) -> PathBuf {
    let zig = lava_tools::ZIG_PINS[0].replace("==", "-");
    cache.join("wheels").join(runtime.to_string()).join(zig)
}

/// Log the wheels built earlier that this runtime's resolution will find.
pub fn report_cached(wheels: &Path, runtime: &Runtime) -> Result<(), BuildError> {
    let mut names: Vec<String> = std::fs::read_dir(wheels)
        .map_err(|e| BuildError::io(wheels, e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".whl"))
        .collect();
    names.sort();
    for name in names {
        tracing::info!(
            "{runtime}: {name} was built from its sdist earlier ({}): uv installs it \
             from there, it is not built again",
            wheels.display()
        );
    }
    Ok(())
}

/// Build the wheel of `name==version` for `runtime` from its sdist into
/// `wheels`.
pub fn build(
    uv: &Path,
    name: &str,
    version: &str,
    runtime: &Runtime,
    mtime: u64,
    wheels: &Path,
) -> Result<(), BuildError> {
    tracing::info!("{name} {version} for {runtime}: no wheel on PyPI, building it from its sdist");
    let work =
        tempfile::tempdir().map_err(|e| BuildError::io(Path::new("temporary directory"), e))?;
    let context = format!(
        "{name} {version} has no wheel for {runtime} and its sdist cannot be had (pip \
         prepares an sdist's metadata as it downloads it)"
    );
    let sdist = crate::source::pip_download_sdist(
        &format!("{name}=={version}"),
        &work.path().join("sdist"),
        &context,
    )?;
    let python = interpreter(&runtime.python.to_string())?;
    let mut build = Command::new(uv);
    build
        .args(["build", "--no-config", "--no-python-downloads", "--wheel"])
        .args(["--exclude-newer", &lava_archive::rfc3339(mtime)])
        .arg("--out-dir")
        .arg(work.path().join("out"))
        .arg("--python")
        .arg(&python)
        .arg(&sdist);
    configure(&mut build, name, runtime, work.path())?;
    let output = build
        .output()
        .map_err(|e| BuildError::Tool(format!("cannot run {}: {e}", uv.display())))?;
    if !output.status.success() {
        return Err(BuildError::Input(format!(
            "{name} {version} has no wheel for {runtime} and its sdist does not build for it:\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let built = only_wheel(&work.path().join("out"))
        .ok_or_else(|| BuildError::Tool(format!("uv build made no wheel of {name} {version}")))?;
    check_extensions(&built, runtime)?;
    std::fs::create_dir_all(wheels).map_err(|e| BuildError::io(wheels, e))?;
    let kept = wheels.join(built.file_name().expect("a wheel file"));
    let staging = tempfile::NamedTempFile::new_in(wheels).map_err(|e| BuildError::io(wheels, e))?;
    std::fs::copy(&built, staging.path()).map_err(|e| BuildError::io(&built, e))?;
    staging
        .persist(&kept)
        .map_err(|e| BuildError::io(&kept, e.error))?;
    tracing::info!("{name} {version} for {runtime}: built {}", kept.display());
    Ok(())
}

/// The wheel `uv build` wrote into `dir`: one sdist makes one wheel.
fn only_wheel(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
}

/// A CPython `X.Y` interpreter: the newest pyenv version of it (pyenv's
/// shims expose only the global one), else `pythonX.Y` on PATH.
fn interpreter(python: &str) -> Result<PathBuf, BuildError> {
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    pyenv_root
        .and_then(|root| newest_pyenv(&root, python))
        .or_else(|| lava_tools::on_path(format!("python{python}")))
        .ok_or_else(|| {
            BuildError::Tool(format!(
                "building a wheel from source for Python {python} needs a Python {python} \
                 interpreter (python{python} on PATH or a pyenv version): none found"
            ))
        })
}

/// `<root>/versions/<python>.<patch>/bin/python<python>` of the highest patch.
fn newest_pyenv(root: &Path, python: &str) -> Option<PathBuf> {
    let prefix = format!("{python}.");
    std::fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let patch: u32 = name.strip_prefix(&prefix)?.parse().ok()?;
            Some((patch, name))
        })
        .filter_map(|(patch, name)| {
            let exe = root
                .join("versions")
                .join(name)
                .join("bin")
                .join(format!("python{python}"));
            exe.is_file().then_some((patch, exe))
        })
        .max_by_key(|(patch, _)| *patch)
        .map(|(_, exe)| exe)
}

/// The compiler, flags and names of a build for `runtime`, and what the
/// package's setup script needs.
fn configure(
    build: &mut Command,
    name: &str,
    runtime: &Runtime,
    work: &Path,
) -> Result<(), BuildError> {
    let arch = runtime.arch;
    let host = Arch::host() == Some(arch);
    // zig's C library for the target stops at the worker's glibc, whatever
    // the build host's is: the extension cannot need a newer symbol.
    let (major, minor) = runtime
        .os
        .glibc()
        .map_err(|e| BuildError::Input(e.to_string()))?;
    let zig = lava_tools::Zig::provision().map_err(|e| BuildError::Tool(e.to_string()))?;
    let cc = zig
        .cc(&format!("{}-linux-gnu.{major}.{minor}", arch.uname()))
        .map_err(|e| BuildError::Tool(e.to_string()))?;
    let py = runtime.python.to_string().replace('.', "");
    build
        .env("CC", &cc)
        .env("LDSHARED", format!("{cc} -shared -s"))
        .env("CFLAGS", "-g0")
        .env("_PYTHON_HOST_PLATFORM", format!("linux-{}", arch.uname()))
        .env(
            "SETUPTOOLS_EXT_SUFFIX",
            format!(".cpython-{py}-{}-linux-gnu.so", arch.uname()),
        );
    let Some(needs) = KNOWN.iter().find(|k| k.package == name.to_lowercase()) else {
        return Ok(());
    };
    // The config tool runs on the host, from the host's `-dev` packages; for
    // a native build it also names their files.
    host_prerequisites(needs)?;
    if host {
        return Ok(());
    }
    let sysroot = sysroot(needs, arch)?;
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| BuildError::io(&bin, e))?;
    match needs.config_tool {
        ConfigTool::PgConfig => write_pg_config(&bin, &sysroot, arch)?,
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    build.env(
        "PATH",
        std::env::join_paths(dirs).map_err(|e| BuildError::Tool(e.to_string()))?,
    );
    Ok(())
}

/// The package's `-dev` packages on the host, installed with apt-get (as
/// the toolchain is) when missing.
fn host_prerequisites(needs: &Prerequisites) -> Result<(), BuildError> {
    let missing: Vec<String> = needs
        .debs
        .iter()
        .filter(|d| !deb_installed(d))
        .map(|d| d.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    tracing::info!(
        "building {} from source needs {}: installing with apt-get",
        needs.package,
        missing.join(" ")
    );
    crate::toolchain::apt_install(&missing)
}

/// `~/.cache/lava-dist/sysroot/<arch>/<package>`: the target's packages
/// unpacked (`apt-get download` + `dpkg -x`: nothing of the host's changes).
fn sysroot(needs: &Prerequisites, arch: Arch) -> Result<PathBuf, BuildError> {
    let cache = lava_tools::cache_dir()
        .ok_or_else(|| BuildError::Tool("no cache directory (HOME is not set)".into()))?;
    let root = cache.join("sysroot").join(arch.uname()).join(needs.package);
    if !root.is_dir() {
        // A fresh machine may have provisioned its cross toolchain with
        // rustup, never enabling the target's Debian packages.
        crate::toolchain::enable_foreign_arch(arch)?;
    }
    let deb_arch = crate::toolchain::debian_arch(arch);
    let packages: Vec<String> = needs
        .debs
        .iter()
        .map(|d| format!("{d}:{deb_arch}"))
        .collect();
    Ok(lava_tools::debs::unpacked(&root, &packages)?)
}

fn deb_installed(deb: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", deb])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.ends_with(b"installed"))
}

/// A `pg_config` that gives the sysroot's directories; the version is the
/// host's (the headers of one Debian release agree across architectures).
fn write_pg_config(bin: &Path, sysroot: &Path, arch: Arch) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let triple = crate::toolchain::gnu_triple(arch);
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  --includedir) echo '{root}/usr/include/postgresql' ;;\n  \
         --libdir) echo '{root}/usr/lib/{triple}' ;;\n  *) exec /usr/bin/pg_config \"$@\" ;;\nesac\n",
        root = sysroot.display()
    );
    let path = bin.join("pg_config");
    std::fs::write(&path, script).map_err(|e| BuildError::io(&path, e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| BuildError::io(&path, e))
}

/// Every extension in the wheel must be an ELF for the runtime's
/// architecture needing no glibc newer than its os's.
fn check_extensions(wheel: &Path, runtime: &Runtime) -> Result<(), BuildError> {
    let file = std::fs::File::open(wheel).map_err(|e| BuildError::io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| BuildError::Tool(format!("{}: {e}", wheel.display())))?;
    let runs_on = Glibc::of(&runtime.os, &format!("{} workers", runtime.os));
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| BuildError::Tool(format!("{}: {e}", wheel.display())))?;
        if !entry.name().ends_with(".so") {
            continue;
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| BuildError::io(wheel, e))?;
        check_elf(&bytes, runtime.arch, &runs_on).map_err(|why| {
            BuildError::Tool(format!("{} in {}: {why}", entry.name(), wheel.display()))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_patch_of_a_pyenv_python_is_chosen() {
        let root = tempfile::tempdir().unwrap();
        for (version, exe) in [
            ("3.12.9", "python3.12"),
            ("3.12.10", "python3.12"),
            ("3.12.11", "python3.11"),
            ("3.12.12rc1", "python3.12"),
            ("3.11.7", "python3.11"),
        ] {
            let bin = root.path().join("versions").join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join(exe), "").unwrap();
        }
        let found = |python| newest_pyenv(root.path(), python);
        assert_eq!(
            found("3.12"),
            Some(root.path().join("versions/3.12.10/bin/python3.12"))
        );
        assert_eq!(
            found("3.11"),
            Some(root.path().join("versions/3.11.7/bin/python3.11"))
        );
        assert_eq!(found("3.13"), None);
    }

    #[test]
    fn pg_config_names_the_sysroot_and_asks_the_host_for_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        write_pg_config(dir.path(), Path::new("/sr"), Arch::Aarch64).unwrap();
        let ask = |arg: &str| {
            let out = Command::new(dir.path().join("pg_config"))
                .arg(arg)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(ask("--includedir"), "/sr/usr/include/postgresql\n");
        assert_eq!(ask("--libdir"), "/sr/usr/lib/aarch64-linux-gnu\n");
        let script = std::fs::read_to_string(dir.path().join("pg_config")).unwrap();
        assert!(
            script.contains("exec /usr/bin/pg_config \"$@\""),
            "{script}"
        );
    }

    #[test]
    fn a_built_extension_for_another_arch_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("x-1.0-cp312-cp312-linux_aarch64.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
        zip.start_file(
            "x/_x.cpython-312-aarch64-linux-gnu.so",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(&mut zip, b"\x7fELF not really").unwrap();
        zip.finish().unwrap();
        let runtime: Runtime = "amzn2023-py3.12-aarch64".parse().unwrap();
        let err = check_extensions(&wheel, &runtime).unwrap_err().to_string();
        assert!(
            err.contains("x/_x.cpython-312-aarch64-linux-gnu.so")
                && err.contains("not an ELF file for aarch64"),
            "{err}"
        );
    }
}
