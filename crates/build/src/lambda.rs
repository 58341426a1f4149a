//! The realm's Lambda functions: one `cargo build --release` of the four
//! function packages for an architecture, each binary checked (ELF machine,
//! the glibc of `provided.al2023`) and zipped as `bootstrap` at the root of
//! its zip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lava_layout::{Arch, LambdaFunction, Os};

use crate::BuildError;

/// `provided.al2023` runs Amazon Linux 2023: its glibc bounds what a
/// `bootstrap` may link against.
const LAMBDA_OS: &str = "amzn2023";

/// The workspace package of a function; its binary has the same name.
fn package(function: LambdaFunction) -> &'static str {
    match function {
        LambdaFunction::Dispatch => "lava-dispatch",
        LambdaFunction::Metrics => "lava-metrics",
        LambdaFunction::S3trigger => "lava-s3trigger",
        LambdaFunction::Stop => "lava-stop",
    }
}

/// The newest glibc a `bootstrap` may require: what `provided.al2023` ships.
pub fn max_glibc() -> (u32, u32) {
    LAMBDA_OS
        .parse::<Os>()
        .and_then(|os| os.glibc())
        .expect("the layout knows the glibc of amzn2023")
}

/// The architecture of the Lambda zips. The code area holds one zip per
/// function and version, which the realm template deploys with its default
/// `lambdaArchitecture`, x86_64.
pub const ARCH: Arch = Arch::X86_64;

/// Why this run builds no arm64 zips.
pub fn arm64_skipped(root: &Path) -> String {
    missing_toolchain(root, Arch::Aarch64).unwrap_or_else(|| {
        "the code area has one zip per function and version, built for x86_64 \
         (the realm template's lambdaArchitecture); arm64 zips need keys of their own"
            .into()
    })
}

/// Why zips for `arch` cannot be built on this machine, or `None` when its
/// Rust target and a linker for it are installed.
fn missing_toolchain(root: &Path, arch: Arch) -> Option<String> {
    let target = arch.rust_target();
    let why = format!("no {target} toolchain (rustup target add {target} and a cross linker)");
    // rustup installs a target's standard library into the sysroot of the
    // rustc cargo runs (which honours rust-toolchain files in the workspace);
    // this also holds for toolchains rustup did not install.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .current_dir(root)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed =
        sysroot.is_some_and(|s| s.join("lib/rustlib").join(target).join("lib").is_dir());
    if !installed || linker(arch).is_none() {
        return Some(why);
    }
    None
}

/// The linker cargo will use for `arch`: the one configured through
/// `CARGO_TARGET_<TRIPLE>_LINKER`, else the host's `cc` when it is native.
fn linker(arch: Arch) -> Option<PathBuf> {
    let var = format!(
        "CARGO_TARGET_{}_LINKER",
        arch.rust_target().to_uppercase().replace('-', "_")
    );
    match std::env::var_os(var) {
        Some(linker) => find_program(Path::new(&linker)),
        None if Arch::host() == Some(arch) => find_program(Path::new("cc")),
        None => None,
    }
}

fn find_program(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The `bootstrap` binary of each function, built for one architecture.
#[derive(Debug)]
pub struct Binaries {
    paths: BTreeMap<LambdaFunction, PathBuf>,
}

impl Binaries {
    pub fn path(&self, function: LambdaFunction) -> &Path {
        &self.paths[&function]
    }
}

/// Build every function for `arch` with one cargo invocation (`$CARGO` if
/// set), in the target directory cargo picks (CARGO_TARGET_DIR, config, or
/// the workspace's `target/`), then check each binary can run on
/// `provided.al2023` for `arch`.
pub fn build(root: &Path, arch: Arch) -> Result<Binaries, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            arch.rust_target(),
        ])
        // Cargo names each binary it builds on stdout; diagnostics go to stderr.
        .arg("--message-format=json-render-diagnostics");
    for function in LambdaFunction::ALL {
        command.args(["-p", package(function)]);
    }
    // Panic locations of dependencies embed their source paths under cargo's
    // home, which differs between machines (CI, developers): remapped, the
    // binaries are the same everywhere. Through --config, which adds to the
    // rustflags of config files; with --target they reach only the functions'
    // own build, not the cache of other builds.
    if let Some(home) = cargo_home() {
        let flag = format!("--remap-path-prefix={}=/cargo", home.display());
        command.arg("--config").arg(format!(
            "build.rustflags=[{}]",
            serde_json::Value::from(flag)
        ));
    }
    tracing::info!("building the Lambda functions for {arch} (cargo build --release)");
    let output = command
        .output()
        .map_err(|e| BuildError::Tool(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Keep the diagnostics, drop cargo's progress lines.
        let diagnostics: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                ![
                    "Compiling ",
                    "Checking ",
                    "Downloaded ",
                    "Downloading ",
                    "Locking ",
                    "Updating ",
                ]
                .iter()
                .any(|p| l.starts_with(p))
            })
            .collect();
        return Err(BuildError::Input(format!(
            "cargo build of the Lambda functions failed ({}):\n{}",
            output.status,
            diagnostics.join("\n")
        )));
    }
    let executables = executables(&output.stdout);
    let mut paths = BTreeMap::new();
    for function in LambdaFunction::ALL {
        let path = executables.get(package(function)).ok_or_else(|| {
            BuildError::Tool(format!(
                "cargo built no binary {} for the {function} function",
                package(function)
            ))
        })?;
        check_binary(path, arch)?;
        paths.insert(function, path.clone());
    }
    Ok(Binaries { paths })
}

/// Where cargo keeps registry and git sources: `CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// Binary name -> path, from cargo's `compiler-artifact` messages.
fn executables(messages: &[u8]) -> BTreeMap<String, PathBuf> {
    String::from_utf8_lossy(messages)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_string();
            let path = m["executable"].as_str()?;
            Some((name, PathBuf::from(path)))
        })
        .collect()
}

/// A `bootstrap` must be an ELF for `arch` needing no glibc newer than
/// `provided.al2023`'s, or Lambda would fail it at its first cold start.
fn check_binary(path: &Path, arch: Arch) -> Result<(), BuildError> {
    let bytes = std::fs::read(path).map_err(|e| BuildError::io(path, e))?;
    if Arch::of_elf(&bytes) != Some(arch) {
        return Err(BuildError::Tool(format!(
            "{}: not an ELF executable for {arch}",
            path.display()
        )));
    }
    let glibc =
        glibc_required(&bytes).map_err(|e| BuildError::Tool(format!("{}: {e}", path.display())))?;
    let (major, minor) = max_glibc();
    if let Some((need_major, need_minor)) = glibc.filter(|&v| v > (major, minor)) {
        return Err(BuildError::Tool(format!(
            "{}: needs GLIBC_{need_major}.{need_minor}, but provided.al2023 has glibc {major}.{minor}: \
             build on a system with glibc <= {major}.{minor}",
            path.display()
        )));
    }
    Ok(())
}

/// Why an ELF file's version needs could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed ELF file: {0}")]
pub struct ElfError(&'static str);

/// The highest `GLIBC_x.y` symbol version a 64-bit little-endian ELF file
/// needs, from its `.gnu.version_r` section (`None`: it needs no glibc
/// symbol version, e.g. a static binary).
pub fn glibc_required(elf: &[u8]) -> Result<Option<(u32, u32)>, ElfError> {
    const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
    let u16_at = |at: usize| -> Result<u16, ElfError> {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(ElfError("truncated"))
    };
    let u32_at = |at: usize| -> Result<u32, ElfError> {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or(ElfError("truncated"))
    };
    let u64_at = |at: usize| -> Result<usize, ElfError> {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
            .ok_or(ElfError("truncated"))
    };
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err(ElfError("not a 64-bit little-endian ELF file"));
    }
    let (shoff, shentsize, shnum) = (
        u64_at(0x28)?,
        u16_at(0x3a)? as usize,
        u16_at(0x3c)? as usize,
    );
    let section = |i: usize| shoff + i * shentsize;
    let mut verneed = None;
    for i in 0..shnum {
        if u32_at(section(i) + 4)? == SHT_GNU_VERNEED {
            verneed = Some(section(i));
            break;
        }
    }
    let Some(header) = verneed else {
        return Ok(None);
    };
    let (mut entry, count) = (u64_at(header + 0x18)?, u32_at(header + 0x2c)?);
    let strtab = u64_at(section(u32_at(header + 0x28)? as usize) + 0x18)?;
    let name_at = |offset: u32| -> Result<&[u8], ElfError> {
        let start = strtab + offset as usize;
        let rest = elf.get(start..).ok_or(ElfError("bad string offset"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(ElfError("unterminated string"))?;
        Ok(&rest[..end])
    };
    let mut newest = None;
    // Verneed entries (one per library), each with a chain of Vernaux (one
    // per version needed from it).
    for _ in 0..count {
        let (aux_count, mut aux) = (u16_at(entry + 2)?, entry + u32_at(entry + 8)? as usize);
        for _ in 0..aux_count {
            let name = name_at(u32_at(aux + 8)?)?;
            let version = std::str::from_utf8(name)
                .ok()
                .and_then(|n| n.strip_prefix("GLIBC_"))
                .and_then(|v| v.split_once('.'))
                .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
            newest = newest.max(version);
            aux += u32_at(aux + 12)? as usize;
        }
        entry += u32_at(entry + 12)? as usize;
    }
    Ok(newest)
}

/// Zip `binary` as `bootstrap` (mode 0755) at the root of `out`, stamped with
/// `mtime`: the shape `provided.al2023` runs.
pub fn zip(binary: &Path, mtime: u64, out: &Path) -> Result<(), BuildError> {
    let mut tree = lava_archive::Tree::new();
    tree.add_file("bootstrap", binary, true)?;
    lava_archive::write_zip(&tree, mtime, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_a_package() {
        let packages: Vec<_> = LambdaFunction::ALL.into_iter().map(package).collect();
        assert_eq!(
            packages,
            [
                "lava-dispatch",
                "lava-metrics",
                "lava-s3trigger",
                "lava-stop"
            ]
        );
    }

    #[test]
    fn provided_al2023_has_glibc_2_34() {
        assert_eq!(max_glibc(), (2, 34));
    }

    #[test]
    fn reads_the_glibc_versions_this_test_binary_needs() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let (major, minor) = glibc_required(&me).unwrap().expect("linked against glibc");
        assert_eq!(major, 2);
        // Every Rust program on glibc needs at least GLIBC_2.2.5.
        assert!(minor >= 2, "{major}.{minor}");
        assert!(glibc_required(b"#!/bin/sh\n").is_err());
    }

    /// A minimal x86_64 ELF file whose `.gnu.version_r` needs `versions`
    /// from libc.so.6: just the header and three sections (null, the string
    /// table, the version needs).
    fn elf_needing(versions: &[&str]) -> Vec<u8> {
        let mut strtab = b"\0libc.so.6\0".to_vec();
        let mut names = Vec::new();
        for v in versions {
            names.push(strtab.len() as u32);
            strtab.extend_from_slice(v.as_bytes());
            strtab.push(0);
        }
        let strtab_at = 64;
        let verneed_at = strtab_at + strtab.len();
        let mut verneed = Vec::new();
        verneed.extend_from_slice(&1u16.to_le_bytes()); // vn_version
        verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes());
        verneed.extend_from_slice(&1u32.to_le_bytes()); // vn_file: "libc.so.6"
        verneed.extend_from_slice(&16u32.to_le_bytes()); // vn_aux
        verneed.extend_from_slice(&0u32.to_le_bytes()); // vn_next
        for (i, name) in names.iter().enumerate() {
            verneed.extend_from_slice(&[0; 8]); // vna_hash, vna_flags, vna_other
            verneed.extend_from_slice(&name.to_le_bytes());
            let next: u32 = if i + 1 < names.len() { 16 } else { 0 };
            verneed.extend_from_slice(&next.to_le_bytes());
        }
        let shoff = verneed_at + verneed.len();
        let mut elf = vec![0u8; 64];
        elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        elf[18..20].copy_from_slice(&62u16.to_le_bytes());
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        elf.extend_from_slice(&strtab);
        elf.extend_from_slice(&verneed);
        let section = |kind: u32, offset: usize, size: usize, link: u32, info: u32| {
            let mut header = vec![0u8; 64];
            header[4..8].copy_from_slice(&kind.to_le_bytes());
            header[0x18..0x20].copy_from_slice(&(offset as u64).to_le_bytes());
            header[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            header[0x28..0x2c].copy_from_slice(&link.to_le_bytes());
            header[0x2c..0x30].copy_from_slice(&info.to_le_bytes());
            header
        };
        elf.extend(section(0, 0, 0, 0, 0));
        elf.extend(section(3, strtab_at, strtab.len(), 0, 0)); // SHT_STRTAB
        elf.extend(section(0x6fff_fffe, verneed_at, verneed.len(), 1, 1));
        elf
    }

    #[test]
    fn the_newest_glibc_version_needed_is_found() {
        let elf = elf_needing(&["GLIBC_2.2.5", "GLIBC_2.35", "GLIBC_PRIVATE", "GLIBC_2.34"]);
        assert_eq!(glibc_required(&elf).unwrap(), Some((2, 35)));
        assert_eq!(glibc_required(&elf_needing(&[])).unwrap(), None);
        assert!(glibc_required(&elf[..100]).is_err());
    }

    #[test]
    fn a_bootstrap_needing_a_newer_glibc_than_al2023_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap");
        std::fs::write(&path, elf_needing(&["GLIBC_2.34"])).unwrap();
        check_binary(&path, Arch::X86_64).unwrap();
        let err = check_binary(&path, Arch::Aarch64).unwrap_err().to_string();
        assert!(err.contains("not an ELF executable for aarch64"), "{err}");
        std::fs::write(&path, elf_needing(&["GLIBC_2.2.5", "GLIBC_2.35"])).unwrap();
        let err = check_binary(&path, Arch::X86_64).unwrap_err().to_string();
        assert!(
            err.contains("needs GLIBC_2.35") && err.contains("glibc 2.34"),
            "{err}"
        );
    }

    #[test]
    fn cargo_messages_name_the_executables() {
        let messages = br#"{"reason":"compiler-artifact","target":{"name":"lava-stop","kind":["bin"]},"executable":"/t/release/lava-stop"}
{"reason":"compiler-artifact","target":{"name":"lava_lambda","kind":["lib"]},"executable":null}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executables(messages),
            BTreeMap::from([(
                "lava-stop".to_string(),
                PathBuf::from("/t/release/lava-stop")
            )])
        );
    }
}
