//! The Rust toolchain that builds the release's binaries for an architecture:
//! found on this machine, provisioned when it is missing and this machine can
//! install it, or refused with the commands that would install it.
//!
//! Found, in this order: the compiler cargo runs by default (rustup's, which
//! honours the workspace's toolchain file) when its sysroot has the target's
//! standard library; any other `rustc` on PATH that has it (Debian's
//! `rustc-web` with `libstd-rust-web-dev:<arch>`). A foreign architecture also
//! needs a linker: `CARGO_TARGET_<TRIPLE>_LINKER`, else `<arch>-linux-gnu-gcc`
//! on PATH, with that architecture's C library.
//!
//! `LAVA_TOOLCHAIN_<ARCH>` (e.g. `LAVA_TOOLCHAIN_AARCH64`) overrides the
//! search: the path of the `rustc` to use, or `none` for "this machine cannot
//! build that architecture" (nothing is provisioned).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lava_layout::Arch;

use lava_tools::on_path;

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
    /// The linker for a foreign architecture; `None`: the host's `cc`.
    pub linker: Option<PathBuf>,
}

impl Toolchain {
    /// Point a `cargo build --target <arch>` at this toolchain.
    pub fn configure(&self, cargo: &mut Command) {
        if let Some(rustc) = &self.rustc {
            cargo.env("RUSTC", rustc);
        }
        if let Some(linker) = &self.linker {
            cargo.env(linker_var(self.arch), linker);
        }
    }

    /// One line for logs and summaries.
    pub fn describe(&self) -> String {
        let rustc = match &self.rustc {
            Some(path) => path.display().to_string(),
            None => "cargo's rustc".to_string(),
        };
        match &self.linker {
            Some(linker) => format!("{rustc}, linker {}", linker.display()),
            None => rustc,
        }
    }
}

/// What this machine lacks to build binaries for an architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub arch: Arch,
    /// No compiler here has the target's standard library.
    pub std: bool,
    /// Why there is no usable linker, if there is none.
    pub linker: Option<String>,
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
        parts.extend(self.linker.clone());
        format!("no {} toolchain: {}", self.arch, parts.join("; "))
    }

    /// The commands that would install what is missing, by hand.
    pub fn commands(&self) -> Vec<String> {
        let target = self.arch.rust_target();
        let deb = debian_arch(self.arch);
        let mut commands = Vec::new();
        if self.std {
            commands.push(format!(
                "rustup target add {target}   # or, on Debian 12 without rustup's network: \
                 dpkg --add-architecture {deb} && apt-get update && \
                 apt-get install rustc-web libstd-rust-web-dev:{deb}"
            ));
        }
        if self.linker.is_some() || self.std {
            commands.push(format!(
                "apt-get install {}",
                linker_packages(self.arch).join(" ")
            ));
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

    /// Whether `provision` may try: not overridden, and rustup or apt-get
    /// (as root on Debian) can install what is missing.
    pub fn can_provision(&self) -> bool {
        if self.overridden.is_some() {
            return false;
        }
        let apt = apt_usable();
        let std_ok = !self.std || apt || on_path("rustup").is_some();
        let linker_ok = self.linker.is_none() || apt;
        std_ok && linker_ok
    }
}

/// The toolchain for `arch`, or what is missing.
pub fn find(root: &Path, arch: Arch) -> Result<Toolchain, Missing> {
    let overridden = std::env::var(override_var(arch))
        .ok()
        .filter(|v| !v.is_empty());
    let linker = if Arch::host() == Some(arch) {
        Ok(None)
    } else {
        cross_linker(arch).map(Some)
    };
    let rustc = match overridden.as_deref() {
        Some("none") => None,
        Some(path) => {
            Some(Some(PathBuf::from(path))).filter(|_| has_std(root, Path::new(path), arch))
        }
        None => find_rustc(root, arch),
    };
    match (rustc, linker) {
        (Some(rustc), Ok(linker)) if overridden.as_deref() != Some("none") => Ok(Toolchain {
            arch,
            rustc,
            linker,
        }),
        (rustc, linker) => Err(Missing {
            arch,
            std: rustc.is_none(),
            linker: linker.err(),
            overridden,
        }),
    }
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
/// (bounded in time), else Debian's packages; the linker from Debian's
/// packages. Fails naming the commands when the result still does not build.
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
    let still = match find(root, arch) {
        Ok(toolchain) => return Ok(toolchain),
        Err(still) => still,
    };
    if !apt_usable() {
        return Err(still.error());
    }
    let deb = debian_arch(arch);
    let mut packages = Vec::new();
    if still.std {
        packages.extend([
            "rustc-web".to_string(),
            format!("libstd-rust-web-dev:{deb}"),
        ]);
        enable_foreign_arch(arch)?;
    }
    if still.linker.is_some() {
        packages.extend(linker_packages(arch));
    }
    tracing::info!(
        "{} to build {arch} binaries: installing {} with apt-get",
        still.why(),
        packages.join(" ")
    );
    apt_install(&packages)?;
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

fn linker_var(arch: Arch) -> String {
    format!(
        "CARGO_TARGET_{}_LINKER",
        arch.rust_target().to_uppercase().replace('-', "_")
    )
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

/// Debian's cross compiler and C library for `arch`.
fn linker_packages(arch: Arch) -> Vec<String> {
    vec![
        format!("gcc-{}", gnu_triple(arch).replace('_', "-")),
        format!("libc6-dev-{}-cross", debian_arch(arch)),
    ]
}

/// The first rustc (cargo's own, then every other on PATH) that has the
/// target's standard library; `Some(None)` is cargo's own.
fn find_rustc(root: &Path, arch: Arch) -> Option<Option<PathBuf>> {
    let default = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if has_std(root, Path::new(&default), arch) {
        return Some(None);
    }
    let default = on_path(Path::new(&default)).and_then(|p| p.canonicalize().ok());
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("rustc"))
        .filter(|p| p.is_file())
        .filter(|p| p.canonicalize().ok() != default)
        .find(|p| has_std(root, p, arch))
        .map(Some)
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

/// The linker for a foreign `arch`, checked to find that architecture's C
/// library (Debian's cross gcc without `libc6-dev-<arch>-cross` links nothing).
fn cross_linker(arch: Arch) -> Result<PathBuf, String> {
    let var = linker_var(arch);
    // Kept as given (a name stays a name): cargo's fingerprints include the
    // linker, so builds by hand with the same setting share the cache.
    let linker = match std::env::var_os(&var) {
        Some(name) => {
            let name = PathBuf::from(name);
            if on_path(&name).is_none() {
                return Err(format!("{var}={} is not a program", name.display()));
            }
            name
        }
        None => {
            let name = PathBuf::from(format!("{}-gcc", gnu_triple(arch)));
            if on_path(&name).is_none() {
                return Err(format!("no linker {} on PATH", name.display()));
            }
            name
        }
    };
    let libc = Command::new(&linker)
        .arg("-print-file-name=libc.so")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match libc {
        Some(path) if path.is_absolute() && path.exists() => Ok(linker),
        _ => Err(format!(
            "{} finds no {arch} C library (libc.so)",
            linker.display()
        )),
    }
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
    fn debian_names_of_the_cross_tools() {
        assert_eq!(
            linker_packages(Arch::Aarch64),
            ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"]
        );
        assert_eq!(
            linker_packages(Arch::X86_64),
            ["gcc-x86-64-linux-gnu", "libc6-dev-amd64-cross"]
        );
        assert_eq!(override_var(Arch::Aarch64), "LAVA_TOOLCHAIN_AARCH64");
        assert_eq!(
            linker_var(Arch::Aarch64),
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"
        );
    }

    #[test]
    fn a_missing_toolchain_names_every_command_and_the_opt_out() {
        let missing = Missing {
            arch: Arch::Aarch64,
            std: true,
            linker: Some("no linker aarch64-linux-gnu-gcc on PATH".into()),
            overridden: None,
        };
        let err = missing.error().to_string();
        for expected in [
            "no aarch64 toolchain",
            "no rustc here has the aarch64-unknown-linux-gnu standard library",
            "no linker aarch64-linux-gnu-gcc on PATH",
            "rustup target add aarch64-unknown-linux-gnu",
            "apt-get install rustc-web libstd-rust-web-dev:arm64",
            "dpkg --add-architecture arm64",
            "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
            "--skip-arch aarch64",
        ] {
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
        let none = Missing {
            overridden: Some("none".into()),
            std: true,
            linker: None,
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
    fn the_host_toolchain_is_cargos_own() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let host = Arch::host().expect("a supported host");
        assert_eq!(
            find(&root, host),
            Ok(Toolchain {
                arch: host,
                rustc: None,
                linker: None
            })
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
