//! The Rust binaries a release ships (the four Lambda functions and
//! `lava-boot`): one `cargo build --release` per architecture, each binary
//! checked to be an ELF for that architecture that runs on the oldest glibc
//! of the systems it is shipped to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lava_layout::{Arch, LambdaFunction, Os};

use crate::release::Release;
use crate::toolchain::Toolchain;
use crate::BuildError;

/// A binary of the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shipped {
    /// A Lambda function's `bootstrap`.
    Lambda(LambdaFunction),
    /// `lava-boot`, which booting workers download from `_boot_/bin/`.
    Boot,
}

impl Shipped {
    pub const ALL: [Shipped; 5] = [
        Shipped::Lambda(LambdaFunction::Dispatch),
        Shipped::Lambda(LambdaFunction::Metrics),
        Shipped::Lambda(LambdaFunction::S3trigger),
        Shipped::Lambda(LambdaFunction::Stop),
        Shipped::Boot,
    ];

    /// The workspace package; its binary has the same name.
    pub fn package(self) -> &'static str {
        match self {
            Shipped::Lambda(LambdaFunction::Dispatch) => "lava-dispatch",
            Shipped::Lambda(LambdaFunction::Metrics) => "lava-metrics",
            Shipped::Lambda(LambdaFunction::S3trigger) => "lava-s3trigger",
            Shipped::Lambda(LambdaFunction::Stop) => "lava-stop",
            Shipped::Boot => "lava-boot",
        }
    }

    /// The oldest glibc the binary meets where it runs: `provided.al2023`
    /// for the functions; for `lava-boot`, every os the release ships
    /// worker bundles for.
    pub fn runs_on(self, release: &Release) -> Glibc {
        match self {
            Shipped::Lambda(_) => {
                Glibc::of(&LAMBDA_OS.parse().expect("a valid os"), "provided.al2023")
            }
            Shipped::Boot => release
                .runtimes
                .iter()
                .map(|r| Glibc::of(&r.os, &format!("{} workers", r.os)))
                .min_by_key(|g| g.version)
                .expect("a release has runtimes"),
        }
    }
}

/// `provided.al2023` runs Amazon Linux 2023.
const LAMBDA_OS: &str = "amzn2023";

/// The newest glibc a binary may need, and the system that sets the bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glibc {
    pub version: (u32, u32),
    pub system: String,
}

impl Glibc {
    pub fn of(os: &Os, system: &str) -> Glibc {
        Glibc {
            // Release::load refuses an os whose glibc the layout does not know.
            version: os
                .glibc()
                .expect("the layout knows the glibc of a release os"),
            system: system.to_string(),
        }
    }
}

fn names(wanted: &[Shipped]) -> String {
    wanted
        .iter()
        .map(|b| b.package())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The binaries of one build, for one architecture.
#[derive(Debug)]
pub struct Binaries {
    paths: BTreeMap<Shipped, PathBuf>,
}

impl Binaries {
    pub fn path(&self, binary: Shipped) -> &Path {
        &self.paths[&binary]
    }
}

/// Build every shipped binary for the toolchain's architecture with one cargo
/// invocation (`$CARGO` if set) and that toolchain's compiler and linker, in
/// the target directory cargo picks (CARGO_TARGET_DIR, config, or the
/// workspace's `target/`), then check each against where it runs.
///
/// Always all of them, whatever the caller needs: cargo unifies the features
/// of shared dependencies across the packages of one build, so building a
/// subset could give other bytes for the same binary.
pub fn build(release: &Release, toolchain: &Toolchain) -> Result<Binaries, BuildError> {
    let (root, wanted, arch) = (&release.root, &Shipped::ALL, toolchain.arch);
    let mut command = lava_tools::cargo();
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
    for binary in wanted {
        command.args(["-p", binary.package()]);
    }
    toolchain.configure(&mut command);
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
    tracing::info!(
        "building {} for {arch} (cargo build --release; {})",
        names(wanted),
        toolchain.describe()
    );
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
            "cargo build of {} failed ({}):\n{}",
            names(wanted),
            output.status,
            diagnostics.join("\n")
        )));
    }
    let executables = executables(&output.stdout);
    let mut paths = BTreeMap::new();
    for &binary in wanted {
        let path = executables.get(binary.package()).ok_or_else(|| {
            BuildError::Tool(format!("cargo built no binary {}", binary.package()))
        })?;
        check_binary(path, arch, &binary.runs_on(release))?;
        paths.insert(binary, path.clone());
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

/// A shipped binary must be an ELF for `arch` needing no glibc newer than
/// the oldest where it runs, or it would fail there on its first start.
fn check_binary(path: &Path, arch: Arch, runs_on: &Glibc) -> Result<(), BuildError> {
    let bytes = std::fs::read(path).map_err(|e| BuildError::io(path, e))?;
    check_elf(&bytes, arch, runs_on)
        .map_err(|why| BuildError::Tool(format!("{}: {why}", path.display())))
}

/// Why `elf` would not run on `arch` where `runs_on` says: not an ELF for
/// it, or it needs a newer glibc.
pub fn check_elf(elf: &[u8], arch: Arch, runs_on: &Glibc) -> Result<(), String> {
    if Arch::of_elf(elf) != Some(arch) {
        return Err(format!("not an ELF file for {arch}"));
    }
    let glibc = glibc_required(elf).map_err(|e| e.to_string())?;
    let (major, minor) = runs_on.version;
    if let Some((need_major, need_minor)) = glibc.filter(|&v| v > (major, minor)) {
        return Err(format!(
            "needs GLIBC_{need_major}.{need_minor}, newer than the glibc {major}.{minor} of {}: \
             build on a system with glibc <= {major}.{minor}",
            runs_on.system
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> Release {
        Release::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
    }

    #[test]
    fn every_binary_has_its_package() {
        let packages = Shipped::ALL.map(Shipped::package);
        assert_eq!(
            packages,
            [
                "lava-dispatch",
                "lava-metrics",
                "lava-s3trigger",
                "lava-stop",
                "lava-boot"
            ]
        );
    }

    #[test]
    fn the_functions_and_lava_boot_are_bound_by_amzn2023() {
        let release = release();
        let lambda = Shipped::Lambda(LambdaFunction::Stop).runs_on(&release);
        assert_eq!(lambda.version, (2, 34));
        assert_eq!(lambda.system, "provided.al2023");
        // The default matrix ships amzn2023 bundles only.
        assert_eq!(Shipped::Boot.runs_on(&release).version, (2, 34));
    }

    #[test]
    fn lava_boot_is_bound_by_the_oldest_os_of_the_matrix() {
        let mut release = release();
        release
            .runtimes
            .push("amzn2-py3.11-x86_64".parse().unwrap());
        let boot = Shipped::Boot.runs_on(&release);
        assert_eq!(
            boot.version,
            "amzn2".parse::<Os>().unwrap().glibc().unwrap()
        );
        assert!(boot.version < (2, 34));
        assert_eq!(boot.system, "amzn2 workers");
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
    fn a_binary_needing_a_newer_glibc_than_where_it_runs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap");
        let al2023 = Shipped::Lambda(LambdaFunction::Dispatch).runs_on(&release());
        std::fs::write(&path, elf_needing(&["GLIBC_2.34"])).unwrap();
        check_binary(&path, Arch::X86_64, &al2023).unwrap();
        let err = check_binary(&path, Arch::Aarch64, &al2023)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an ELF file for aarch64"), "{err}");
        std::fs::write(&path, elf_needing(&["GLIBC_2.2.5", "GLIBC_2.35"])).unwrap();
        let err = check_binary(&path, Arch::X86_64, &al2023)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("needs GLIBC_2.35") && err.contains("glibc 2.34 of provided.al2023"),
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
