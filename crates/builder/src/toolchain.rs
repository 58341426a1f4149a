//! The toolchain that builds the release's binaries for an architecture:
//! static musl executables (`<arch>-unknown-linux-musl`), compiled by the
//! rustc cargo runs with that target's standard library, linked by zig
//! through cargo-zigbuild, which also compiles the C code in them (aws-lc,
//! ring). Nothing of the build host's C library reaches them: a
//! release built on Debian 12 or on ubuntu-24.04 runs on every worker
//! (amzn2's glibc 2.26 as amzn2023's) and on Lambda, and the same inputs
//! give the same bytes on both. ARCHITECTURE.md has the measurements behind
//! static musl over a glibc floor.
//!
//! Found: the musl standard library in the sysroot of cargo's rustc
//! (rustup's, which honours the workspace's toolchain file) and the pinned
//! zig of lava-tools. Provisioned when missing: `rustup target add` (bounded
//! in time) and zig's venv (pip, from PyPI).
//!
//! `LAVA_TOOLCHAIN_<ARCH>` (e.g. `LAVA_TOOLCHAIN_AARCH64`) overrides the
//! search: the path of the `rustc` to use, or `none` for "this machine
//! cannot build that architecture" (nothing is provisioned).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lava_layout::Arch;
use lava_tools::{on_path, Zig, ZIG_PINS};

use crate::BuildError;

/// `rustup target add` needs the network: a machine without it must not hang.
const RUSTUP_TIMEOUT: Duration = Duration::from_secs(180);
/// `apt-get update` and `install` of a few packages.
const APT_TIMEOUT: Duration = Duration::from_secs(900);

/// A way to build binaries for `arch` on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    pub arch: Arch,
    /// The compiler cargo must run (`RUSTC`); `None`: cargo's own.
    pub rustc: Option<PathBuf>,
    /// The C compiler and linker.
    pub zig: Zig,
}

impl Toolchain {
    /// `cargo zigbuild`, pointed at this toolchain; the caller adds the
    /// subcommand's arguments (`--target`, packages).
    pub fn cargo(&self) -> Result<Command, BuildError> {
        let mut cargo = self
            .zig
            .cargo_zigbuild()
            .map_err(|e| BuildError::Tool(e.to_string()))?;
        if let Some(rustc) = &self.rustc {
            cargo.env("RUSTC", rustc);
        }
        Ok(cargo)
    }

    /// One line for logs and summaries.
    pub fn describe(&self) -> String {
        let rustc = match &self.rustc {
            Some(path) => path.display().to_string(),
            None => "cargo's rustc".to_string(),
        };
        format!(
            "{rustc} for {}, linked by zig ({})",
            self.arch.rust_target(),
            ZIG_PINS.join(", ")
        )
    }
}

/// What this machine lacks to build binaries for an architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub arch: Arch,
    /// No compiler here has the target's standard library.
    pub std: bool,
    /// zig is not provisioned yet.
    pub zig: bool,
    /// `LAVA_TOOLCHAIN_<ARCH>` names the toolchain (or `none`): the machine
    /// is not to be changed.
    pub overridden: Option<String>,
}

impl Missing {
    /// What is missing, in a sentence.
    pub fn why(&self) -> String {
        let (var, target) = (override_var(self.arch), self.arch.rust_target());
        let mut parts = Vec::new();
        match self.overridden.as_deref() {
            Some("none") => parts.push(format!("{var}=none")),
            Some(rustc) if self.std => {
                parts.push(format!("{var}={rustc} has no {target} standard library"))
            }
            _ if self.std => parts.push(format!("no rustc here has the {target} standard library")),
            _ => {}
        }
        if self.zig {
            parts.push(format!("zig is not installed ({})", ZIG_PINS.join(", ")));
        }
        format!("no {} toolchain: {}", self.arch, parts.join("; "))
    }

    /// The commands that would install what is missing, by hand.
    pub fn commands(&self) -> Vec<String> {
        let mut commands = Vec::new();
        if self.std {
            commands.push(format!("rustup target add {}", self.arch.rust_target()));
        }
        if self.zig {
            commands.push(
                "python3 with venv and pip, and PyPI: dist installs zig itself into \
                 ~/.cache/lava-dist/zig"
                    .to_string(),
            );
        }
        commands
    }

    /// The error `dist` fails with when nothing can be provisioned.
    pub fn error(&self) -> BuildError {
        let commands: String = self
            .commands()
            .iter()
            .map(|c| format!("\n    {c}"))
            .collect();
        BuildError::Tool(format!(
            "{}; install it:{commands}\nor leave {} out of the release: --skip-arch {}",
            self.why(),
            self.arch,
            self.arch
        ))
    }

    /// Whether `provision` may try: not overridden, and rustup (for the
    /// standard library) and python3 (for zig's venv) are here.
    pub fn can_provision(&self) -> bool {
        self.overridden.is_none()
            && (!self.std || on_path("rustup").is_some())
            && (!self.zig || on_path("python3").is_some())
    }
}

/// The toolchain of each of `archs`, found here or missing (for `provision`
/// to install before the build). Reads only this machine; an architecture
/// whose toolchain can be neither found nor installed fails.
pub fn find_all(
    root: &Path,
    archs: impl IntoIterator<Item = Arch>,
) -> Result<BTreeMap<Arch, Result<Toolchain, Missing>>, BuildError> {
    let mut toolchains = BTreeMap::new();
    for arch in archs {
        if toolchains.contains_key(&arch) {
            continue;
        }
        let found = find(root, arch);
        if let Err(missing) = &found {
            if !missing.can_provision() {
                return Err(missing.error());
            }
        }
        toolchains.insert(arch, found);
    }
    Ok(toolchains)
}

/// The toolchain for `arch`, or what is missing.
pub fn find(root: &Path, arch: Arch) -> Result<Toolchain, Missing> {
    let overridden = std::env::var(override_var(arch))
        .ok()
        .filter(|v| !v.is_empty());
    let rustc = match overridden.as_deref() {
        Some("none") => None,
        Some(path) => Some(Some(PathBuf::from(path))),
        None => Some(None),
    }
    .filter(|rustc| {
        let program = rustc.clone().unwrap_or_else(cargo_rustc);
        has_std(root, &program, arch)
    });
    let zig = Zig::find();
    match (rustc, zig) {
        (Some(rustc), Some(zig)) if overridden.as_deref() != Some("none") => {
            Ok(Toolchain { arch, rustc, zig })
        }
        (rustc, zig) => Err(Missing {
            arch,
            std: rustc.is_none(),
            zig: zig.is_none() && overridden.as_deref() != Some("none"),
            overridden,
        }),
    }
}

/// The rustc cargo runs by default: `$RUSTC`, else `rustc` from PATH.
fn cargo_rustc() -> PathBuf {
    std::env::var_os("RUSTC").map_or_else(|| PathBuf::from("rustc"), PathBuf::from)
}

/// The toolchain for `arch`, installed first if it is missing and this
/// machine can install it (saying what and why); else the commands to run.
pub fn ensure(root: &Path, arch: Arch) -> Result<Toolchain, BuildError> {
    match find(root, arch) {
        Ok(toolchain) => Ok(toolchain),
        Err(missing) if missing.can_provision() => provision(root, &missing),
        Err(missing) => Err(missing.error()),
    }
}

/// Install what `missing` lacks: the target's standard library with rustup
/// (bounded in time), zig's venv with pip. Fails naming the commands when
/// the result still does not build.
pub fn provision(root: &Path, missing: &Missing) -> Result<Toolchain, BuildError> {
    let (arch, target) = (missing.arch, missing.arch.rust_target());
    if missing.std && on_path("rustup").is_some() {
        tracing::info!(
            "{arch} binaries need the {target} standard library: running `rustup target add {target}`"
        );
        let mut rustup = Command::new("rustup");
        rustup.current_dir(root).args(["target", "add", target]);
        if let Err(e) = run_bounded(&mut rustup, RUSTUP_TIMEOUT) {
            tracing::warn!("rustup target add {target}: {e}");
        }
    }
    if missing.zig {
        tracing::info!(
            "{arch} binaries are linked by zig: installing {} with pip",
            ZIG_PINS.join(" ")
        );
        Zig::provision().map_err(|e| BuildError::Tool(e.to_string()))?;
    }
    find(root, arch).map_err(|m| m.error())
}

/// Let apt-get see `arch`'s packages (`dpkg --add-architecture`; the package
/// lists follow at the next `apt-get update`). Nothing to do for the host's
/// architecture or one already enabled; without root it fails naming the
/// command.
pub fn enable_foreign_arch(arch: Arch) -> Result<(), BuildError> {
    let deb = debian_arch(arch);
    if Arch::host() == Some(arch) || foreign_arch_enabled(deb) {
        return Ok(());
    }
    if !apt_usable() {
        return Err(BuildError::Tool(format!(
            "Debian's {deb} packages are not enabled: run `dpkg --add-architecture {deb} && \
             apt-get update` as root"
        )));
    }
    tracing::info!("enabling Debian's {deb} packages (dpkg --add-architecture {deb})");
    run_bounded(
        Command::new("dpkg").args(["--add-architecture", deb]),
        APT_TIMEOUT,
    )
}

/// Install Debian packages (apt-get update, then install), bounded in time.
pub fn apt_install(packages: &[String]) -> Result<(), BuildError> {
    if !apt_usable() {
        return Err(BuildError::Tool(format!(
            "cannot install {} here (apt-get as root on Debian or Ubuntu is needed): \
             install them by hand",
            packages.join(" ")
        )));
    }
    run_bounded(Command::new("apt-get").args(["-q", "update"]), APT_TIMEOUT)?;
    run_bounded(
        Command::new("apt-get")
            .args(["-q", "install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        APT_TIMEOUT,
    )
}

/// The system libraries a worker has for the bundle's extensions (the AMI
/// installs them): unixODBC's for pyodbc and libpq for PyGreSQL. The dist
/// test imports both from the host's bundle; installed with apt-get when
/// missing.
pub fn worker_libraries() -> Result<(), BuildError> {
    const NEEDED: [(&str, &str); 2] = [("libodbc.so.2", "libodbc2"), ("libpq.so.5", "libpq5")];
    let cache = Command::new("ldconfig").arg("-p").output();
    let known = cache.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let missing: Vec<String> = NEEDED
        .iter()
        .filter(|(library, _)| {
            !known
                .as_ref()
                .is_ok_and(|k| k.contains(&format!("{library} ")))
        })
        .map(|(_, deb)| deb.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "the tests import the bundle's pyodbc and PyGreSQL, which need a worker's \
         libraries: installing {}",
        missing.join(" ")
    );
    apt_install(&missing)
}

/// qemu's user-mode emulator of `arch`, installed with Debian's
/// qemu-user-static when it is missing.
pub fn emulator(arch: Arch) -> Result<(), BuildError> {
    let program = format!("qemu-{}-static", arch.uname());
    let found = || lava_tools::on_path(&program).is_some();
    if found() {
        return Ok(());
    }
    eprintln!("the tests run {arch} binaries with {program}: installing qemu-user-static");
    apt_install(&["qemu-user-static".to_string()])?;
    if found() {
        Ok(())
    } else {
        Err(BuildError::Tool(format!(
            "installing qemu-user-static gave no {program} on PATH"
        )))
    }
}

/// `LAVA_TOOLCHAIN_AARCH64` and `LAVA_TOOLCHAIN_X86_64`.
pub fn override_var(arch: Arch) -> String {
    format!("LAVA_TOOLCHAIN_{}", arch.uname().to_uppercase())
}

/// Debian's name of an architecture (dpkg, multiarch package suffixes).
pub fn debian_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "amd64",
        Arch::Aarch64 => "arm64",
    }
}

/// The GNU triple prefix of cross tools: `aarch64-linux-gnu-gcc`.
pub fn gnu_triple(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64-linux-gnu",
        Arch::Aarch64 => "aarch64-linux-gnu",
    }
}

/// Whether `rustc` (run in the workspace, so rustup honours its toolchain
/// file) has `arch`'s standard library in its sysroot.
fn has_std(root: &Path, rustc: &Path, arch: Arch) -> bool {
    let Ok(output) = Command::new(rustc)
        .current_dir(root)
        .args(["--print", "sysroot"])
        .stderr(Stdio::null())
        .output()
    else {
        return false;
    };
    if !output.status.success() {
        return false;
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let lib = sysroot
        .join("lib/rustlib")
        .join(arch.rust_target())
        .join("lib");
    std::fs::read_dir(lib).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libstd-") && name.ends_with(".rlib")
        })
    })
}

/// apt-get can install packages: Debian or a derivative, and we are root.
fn apt_usable() -> bool {
    Path::new("/etc/debian_version").is_file()
        && on_path("apt-get").is_some()
        && Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0")
}

fn foreign_arch_enabled(deb: &str) -> bool {
    Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|a| a == deb)
        })
}

/// Run `cmd` to completion within `limit` (killed after it); its output is
/// kept for the error.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<(), BuildError> {
    use std::io::{Read, Seek};
    let shown = format!("{cmd:?}");
    let temp = |e| BuildError::io(Path::new("temporary file"), e);
    let mut log = tempfile::tempfile().map_err(temp)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(temp)?)
        .stderr(log.try_clone().map_err(temp)?)
        .spawn()
        .map_err(|e| BuildError::Tool(format!("cannot run {shown}: {e}")))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(200)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BuildError::Tool(format!(
                    "{shown} did not finish within {} s",
                    limit.as_secs()
                )));
            }
            Err(e) => return Err(BuildError::Tool(format!("waiting for {shown}: {e}"))),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = log.rewind().and_then(|_| log.read_to_string(&mut text));
    let lines: Vec<&str> = text.lines().collect();
    Err(BuildError::Tool(format!(
        "{shown} failed ({status}):\n{}",
        lines[lines.len().saturating_sub(20)..].join("\n")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_built_for_musl() {
        assert_eq!(Arch::Aarch64.rust_target(), "aarch64-unknown-linux-musl");
        assert_eq!(Arch::X86_64.rust_target(), "x86_64-unknown-linux-musl");
        assert_eq!(override_var(Arch::Aarch64), "LAVA_TOOLCHAIN_AARCH64");
    }

    #[test]
    fn a_missing_toolchain_names_every_command_and_the_opt_out() {
        let missing = Missing {
            arch: Arch::Aarch64,
            std: true,
            zig: true,
            overridden: None,
        };
        let err = missing.error().to_string();
        for expected in [
            "no aarch64 toolchain",
            "no rustc here has the aarch64-unknown-linux-musl standard library",
            "zig is not installed (ziglang==",
            "rustup target add aarch64-unknown-linux-musl",
            "python3 with venv and pip",
            "--skip-arch aarch64",
        ] {
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
        let none = Missing {
            overridden: Some("none".into()),
            zig: false,
            ..missing
        };
        assert!(!none.can_provision());
        assert!(
            none.why().contains("LAVA_TOOLCHAIN_AARCH64=none"),
            "{}",
            none.why()
        );
    }

    #[test]
    fn a_slow_command_is_stopped_at_its_limit() {
        let err = run_bounded(Command::new("sleep").arg("30"), Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish within"), "{err}");
        let err = run_bounded(
            Command::new("sh").args(["-c", "echo oops >&2; exit 3"]),
            Duration::from_secs(30),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("oops") && err.contains("exit status: 3"),
            "{err}"
        );
    }
}
