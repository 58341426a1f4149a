//! The Rust binaries a release ships (the four Lambda functions,
//! `lava-boot` and the operator CLI `lavactl`): one `cargo zigbuild
//! --release` per architecture (static musl executables, see `toolchain`),
//! each binary checked to be a static ELF executable for that architecture.

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
    /// `lava-boot`, which booting workers download from `_dist_/boot/`.
    Boot,
    /// `lavactl`, the operator commands, which operators download from the
    /// release (not from the code area).
    Cli,
}

impl Shipped {
    pub const ALL: [Shipped; 6] = [
        Shipped::Lambda(LambdaFunction::Dispatch),
        Shipped::Lambda(LambdaFunction::Metrics),
        Shipped::Lambda(LambdaFunction::S3trigger),
        Shipped::Lambda(LambdaFunction::Stop),
        Shipped::Boot,
        Shipped::Cli,
    ];

    /// The workspace package.
    pub fn package(self) -> &'static str {
        match self {
            Shipped::Cli => "lava-cli",
            _ => self.binary(),
        }
    }

    /// The binary's name, as cargo builds it.
    pub fn binary(self) -> &'static str {
        match self {
            Shipped::Cli => "lavactl",
            Shipped::Lambda(LambdaFunction::Dispatch) => "lava-dispatch",
            Shipped::Lambda(LambdaFunction::Metrics) => "lava-metrics",
            Shipped::Lambda(LambdaFunction::S3trigger) => "lava-s3trigger",
            Shipped::Lambda(LambdaFunction::Stop) => "lava-stop",
            Shipped::Boot => "lava-boot",
        }
    }

    /// The oldest glibc the binary meets where it runs: `provided.al2023`
    /// for the functions; for `lava-boot`, every os it can reach: the
    /// release's and every worker os upstream supports (amzn2 among them),
    /// since `_boot_/` serves every worker of a code area. `lavactl` runs
    /// where operators are (a bastion may be such a worker), so the same.
    pub fn runs_on(self, release: &Release) -> Glibc {
        match self {
            Shipped::Lambda(_) => {
                Glibc::of(&LAMBDA_OS.parse().expect("a valid os"), "provided.al2023")
            }
            Shipped::Boot | Shipped::Cli => release
                .runtimes
                .iter()
                .map(|r| r.os.clone())
                .chain(Os::upstream_workers())
                .map(|os| Glibc::of(&os, &format!("{os} workers")))
                .min_by_key(|g| g.version)
                .expect("upstream has worker systems"),
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
        .map(|b| b.binary())
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
/// invocation (`$CARGO` if set, under cargo-zigbuild) and that toolchain's
/// compiler and linker, in
/// the target directory cargo picks (CARGO_TARGET_DIR, config, or the
/// workspace's `target/`), then check each against where it runs.
///
/// Always all of them, whatever the caller needs: cargo unifies the features
/// of shared dependencies across the packages of one build, so building a
/// subset could give other bytes for the same binary.
pub fn build(release: &Release, toolchain: &Toolchain) -> Result<Binaries, BuildError> {
    let (root, wanted, arch) = (&release.root, &Shipped::ALL, toolchain.arch);
    let mut command = toolchain.cargo()?;
    command
        .current_dir(root)
        .args(["--release", "--locked", "--target", arch.rust_target()])
        // Cargo names each binary it builds on stdout; diagnostics go to stderr.
        .arg("--message-format=json-render-diagnostics");
    for binary in wanted {
        command.args(["-p", binary.package()]);
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
    tracing::info!(
        "building {} for {arch} (cargo zigbuild --release; {})",
        names(wanted),
        toolchain.describe()
    );
    let output = command
        .output()
        .map_err(|e| BuildError::Tool(format!("cannot run cargo zigbuild: {e}")))?;
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
            "cargo zigbuild of {} failed ({}):\n{}",
            names(wanted),
            output.status,
            diagnostics.join("\n")
        )));
    }
    let executables = executables(&output.stdout);
    let mut paths = BTreeMap::new();
    for &binary in wanted {
        let path = executables.get(binary.binary()).ok_or_else(|| {
            BuildError::Tool(format!("cargo built no binary {}", binary.binary()))
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

/// A shipped binary must be a static ELF executable for `arch` (so no C
/// library of the worker or of Lambda decides whether it starts), and, as
/// every native object we ship, need no glibc newer than where it runs.
fn check_binary(path: &Path, arch: Arch, runs_on: &Glibc) -> Result<(), BuildError> {
    let bytes = std::fs::read(path).map_err(|e| BuildError::io(path, e))?;
    let fail = |why: String| BuildError::Tool(format!("{}: {why}", path.display()));
    check_elf(&bytes, arch, runs_on).map_err(fail)?;
    match interpreter(&bytes) {
        Ok(None) => Ok(()),
        Ok(Some(loader)) => Err(fail(format!(
            "is dynamically linked (its loader is {loader}): the release's binaries are \
             static {} executables",
            arch.rust_target()
        ))),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Why `elf` would not run on `arch` where `runs_on` says: not an ELF for
/// it, or it needs a newer glibc (named with the symbols that need it).
pub fn check_elf(elf: &[u8], arch: Arch, runs_on: &Glibc) -> Result<(), String> {
    if Arch::of_elf(elf) != Some(arch) {
        return Err(format!("not an ELF file for {arch}"));
    }
    let Some(need) = glibc_needs(elf).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let (major, minor) = runs_on.version;
    if need.version <= (major, minor) {
        return Ok(());
    }
    let (need_major, need_minor) = need.version;
    Err(format!(
        "needs GLIBC_{need_major}.{need_minor} ({}), newer than the glibc {major}.{minor} \
         of {}",
        need.symbols.join(", "),
        runs_on.system
    ))
}

/// Why an ELF file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed ELF file: {0}")]
pub struct ElfError(&'static str);

/// The newest `GLIBC_x.y` symbol version an ELF file needs, and the
/// symbols that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlibcNeed {
    pub version: (u32, u32),
    pub symbols: Vec<String>,
}

/// A 64-bit little-endian ELF file's headers, read with bounds checks.
struct Elf<'a>(&'a [u8]);

/// A section header's fields this module reads.
struct Section {
    kind: u32,
    offset: usize,
    size: usize,
    link: u32,
    info: u32,
}

impl<'a> Elf<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Elf<'a>, ElfError> {
        if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
            return Err(ElfError("not a 64-bit little-endian ELF file"));
        }
        Ok(Elf(bytes))
    }

    fn u16_at(&self, at: usize) -> Result<u16, ElfError> {
        self.0
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(ElfError("truncated"))
    }

    fn u32_at(&self, at: usize) -> Result<u32, ElfError> {
        self.0
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or(ElfError("truncated"))
    }

    fn u64_at(&self, at: usize) -> Result<usize, ElfError> {
        self.0
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
            .ok_or(ElfError("truncated"))
    }

    fn sections(&self) -> Result<Vec<Section>, ElfError> {
        let (shoff, shentsize, shnum) = (
            self.u64_at(0x28)?,
            self.u16_at(0x3a)? as usize,
            self.u16_at(0x3c)? as usize,
        );
        (0..shnum)
            .map(|i| {
                let at = shoff + i * shentsize;
                Ok(Section {
                    kind: self.u32_at(at + 4)?,
                    offset: self.u64_at(at + 0x18)?,
                    size: self.u64_at(at + 0x20)?,
                    link: self.u32_at(at + 0x28)?,
                    info: self.u32_at(at + 0x2c)?,
                })
            })
            .collect()
    }

    /// The NUL-terminated string at `offset` of the string table at `table`.
    fn str_at(&self, table: usize, offset: u32) -> Result<&'a str, ElfError> {
        let rest = self
            .0
            .get(table + offset as usize..)
            .ok_or(ElfError("bad string offset"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(ElfError("unterminated string"))?;
        std::str::from_utf8(&rest[..end]).map_err(|_| ElfError("a name is not UTF-8"))
    }
}

/// The program interpreter (dynamic loader) an ELF executable names, from
/// its `PT_INTERP` segment; `None`: a static executable (or a library).
pub fn interpreter(elf: &[u8]) -> Result<Option<String>, ElfError> {
    const PT_INTERP: u32 = 3;
    let elf = Elf::parse(elf)?;
    let (phoff, phentsize, phnum) = (
        elf.u64_at(0x20)?,
        elf.u16_at(0x36)? as usize,
        elf.u16_at(0x38)? as usize,
    );
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        if elf.u32_at(at)? == PT_INTERP {
            let (offset, size) = (elf.u64_at(at + 8)?, elf.u64_at(at + 0x20)?);
            let path = elf
                .0
                .get(offset..offset + size)
                .ok_or(ElfError("truncated interpreter"))?;
            let path = path.split(|&b| b == 0).next().unwrap_or_default();
            return Ok(Some(String::from_utf8_lossy(path).into_owned()));
        }
    }
    Ok(None)
}

/// The newest `GLIBC_x.y` symbol version a 64-bit little-endian ELF file
/// needs (`.gnu.version_r`), with the dynamic symbols bound to it
/// (`.dynsym` through `.gnu.version`); `None`: it needs no glibc symbol
/// version, e.g. a static binary.
pub fn glibc_needs(bytes: &[u8]) -> Result<Option<GlibcNeed>, ElfError> {
    const SHT_DYNSYM: u32 = 11;
    const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
    const SHT_GNU_VERSYM: u32 = 0x6fff_ffff;
    let elf = Elf::parse(bytes)?;
    let sections = elf.sections()?;
    let of_kind = |kind| sections.iter().find(|s| s.kind == kind);
    let Some(verneed) = of_kind(SHT_GNU_VERNEED) else {
        return Ok(None);
    };
    let strtab_of = |s: &Section| -> Result<usize, ElfError> {
        sections
            .get(s.link as usize)
            .map(|t| t.offset)
            .ok_or(ElfError("bad section link"))
    };
    // Version index (vna_other) -> x.y, for every GLIBC_x.y needed.
    let names = strtab_of(verneed)?;
    let mut glibc = std::collections::BTreeMap::new();
    let mut entry = verneed.offset;
    // Verneed entries (sh_info of them, one per library), each with a
    // chain of Vernaux (one per version needed from it).
    for _ in 0..verneed.info {
        let (aux_count, mut aux) = (
            elf.u16_at(entry + 2)?,
            entry + elf.u32_at(entry + 8)? as usize,
        );
        for _ in 0..aux_count {
            let name = elf.str_at(names, elf.u32_at(aux + 8)?)?;
            let version = name
                .strip_prefix("GLIBC_")
                .and_then(|v| v.split_once('.'))
                .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
            if let Some(version) = version {
                glibc.insert(elf.u16_at(aux + 6)?, version);
            }
            aux += elf.u32_at(aux + 12)? as usize;
        }
        entry += elf.u32_at(entry + 12)? as usize;
    }
    let Some(&newest) = glibc.values().max() else {
        return Ok(None);
    };
    let mut symbols = Vec::new();
    if let (Some(dynsym), Some(versym)) = (of_kind(SHT_DYNSYM), of_kind(SHT_GNU_VERSYM)) {
        let names = strtab_of(dynsym)?;
        for i in 0..dynsym.size / 24 {
            let index = elf.u16_at(versym.offset + 2 * i)? & 0x7fff;
            if glibc.get(&index) == Some(&newest) {
                let name = elf.str_at(names, elf.u32_at(dynsym.offset + 24 * i)?)?;
                symbols.push(name.to_string());
            }
        }
    }
    symbols.sort();
    symbols.dedup();
    Ok(Some(GlibcNeed {
        version: newest,
        symbols,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> Release {
        Release::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
    }

    #[test]
    fn every_binary_has_its_package() {
        let names = Shipped::ALL.map(|b| (b.package(), b.binary()));
        assert_eq!(
            names,
            [
                ("lava-dispatch", "lava-dispatch"),
                ("lava-metrics", "lava-metrics"),
                ("lava-s3trigger", "lava-s3trigger"),
                ("lava-stop", "lava-stop"),
                ("lava-boot", "lava-boot"),
                ("lava-cli", "lavactl"),
            ]
        );
    }

    #[test]
    fn the_functions_are_bound_by_amzn2023_and_lava_boot_by_amzn2() {
        let release = release();
        let lambda = Shipped::Lambda(LambdaFunction::Stop).runs_on(&release);
        assert_eq!(lambda.version, (2, 34));
        assert_eq!(lambda.system, "provided.al2023");
        // The default matrix ships amzn2023 bundles only, yet amzn2 workers
        // of the same code area run the same lava-boot.
        let boot = Shipped::Boot.runs_on(&release);
        assert_eq!(boot.version, (2, 26));
        assert_eq!(boot.system, "amzn2 workers");
        assert_eq!(Shipped::Cli.runs_on(&release), boot);
    }

    #[test]
    fn lava_boot_is_bound_by_an_older_os_of_the_matrix() {
        let mut release = release();
        release
            .runtimes
            .push("rocky8-py3.11-x86_64".parse().unwrap());
        assert_eq!(Shipped::Boot.runs_on(&release).version, (2, 26));
        release.runtimes = vec!["amzn2-py3.11-x86_64".parse().unwrap()];
        let boot = Shipped::Boot.runs_on(&release);
        assert_eq!(
            (boot.version, boot.system.as_str()),
            ((2, 26), "amzn2 workers")
        );
    }

    #[test]
    fn reads_what_this_test_binary_needs_of_glibc() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let need = glibc_needs(&me).unwrap().expect("linked against glibc");
        assert_eq!(need.version.0, 2);
        // Every Rust program on glibc needs at least GLIBC_2.2.5.
        assert!(need.version.1 >= 2, "{need:?}");
        assert!(!need.symbols.is_empty(), "{need:?}");
        let loader = interpreter(&me).unwrap().expect("a dynamic executable");
        assert!(loader.contains("ld-linux"), "{loader}");
        assert!(glibc_needs(b"#!/bin/sh\n").is_err());
    }

    /// A minimal x86_64 ELF file whose `.gnu.version_r` needs `versions`
    /// from libc.so.6 and whose `.dynsym` has one undefined symbol per
    /// version, `sym_<version>`: the header and six sections (null, the
    /// string table, the version needs, the symbols, their versions).
    fn elf_needing(versions: &[&str]) -> Vec<u8> {
        let mut strtab = b"\0libc.so.6\0".to_vec();
        let mut add = |s: &str| {
            let at = strtab.len() as u32;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            at
        };
        let names: Vec<u32> = versions.iter().map(|v| add(v)).collect();
        let symbols: Vec<u32> = versions.iter().map(|v| add(&format!("sym_{v}"))).collect();
        let strtab_at = 64;
        let verneed_at = strtab_at + strtab.len();
        let mut verneed = Vec::new();
        verneed.extend_from_slice(&1u16.to_le_bytes()); // vn_version
        verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes());
        verneed.extend_from_slice(&1u32.to_le_bytes()); // vn_file: "libc.so.6"
        verneed.extend_from_slice(&16u32.to_le_bytes()); // vn_aux
        verneed.extend_from_slice(&0u32.to_le_bytes()); // vn_next
        for (i, name) in names.iter().enumerate() {
            verneed.extend_from_slice(&[0; 6]); // vna_hash, vna_flags
            verneed.extend_from_slice(&(i as u16 + 2).to_le_bytes()); // vna_other
            verneed.extend_from_slice(&name.to_le_bytes());
            let next: u32 = if i + 1 < names.len() { 16 } else { 0 };
            verneed.extend_from_slice(&next.to_le_bytes());
        }
        // Symbol 0 is the null symbol (version 0, local).
        let dynsym_at = verneed_at + verneed.len();
        let mut dynsym = vec![0u8; 24];
        let mut versym = vec![0u8; 2];
        for (i, name) in symbols.iter().enumerate() {
            let mut sym = vec![0u8; 24];
            sym[..4].copy_from_slice(&name.to_le_bytes());
            dynsym.extend(sym);
            versym.extend_from_slice(&(i as u16 + 2).to_le_bytes());
        }
        let versym_at = dynsym_at + dynsym.len();
        let shoff = versym_at + versym.len();
        let mut elf = vec![0u8; 64];
        elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        elf[18..20].copy_from_slice(&62u16.to_le_bytes());
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&5u16.to_le_bytes());
        elf.extend_from_slice(&strtab);
        elf.extend_from_slice(&verneed);
        elf.extend_from_slice(&dynsym);
        elf.extend_from_slice(&versym);
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
        elf.extend(section(11, dynsym_at, dynsym.len(), 1, 1)); // SHT_DYNSYM
        elf.extend(section(0x6fff_ffff, versym_at, versym.len(), 3, 0));
        elf
    }

    #[test]
    fn the_newest_glibc_version_needed_is_found_with_its_symbols() {
        let elf = elf_needing(&["GLIBC_2.2.5", "GLIBC_2.35", "GLIBC_PRIVATE", "GLIBC_2.34"]);
        assert_eq!(
            glibc_needs(&elf).unwrap(),
            Some(GlibcNeed {
                version: (2, 35),
                symbols: vec!["sym_GLIBC_2.35".into()]
            })
        );
        assert_eq!(glibc_needs(&elf_needing(&[])).unwrap(), None);
        assert_eq!(interpreter(&elf).unwrap(), None);
        assert!(glibc_needs(&elf[..100]).is_err());
    }

    #[test]
    fn an_object_needing_a_newer_glibc_than_where_it_runs_is_refused_naming_the_symbol() {
        let al2023 = Shipped::Lambda(LambdaFunction::Dispatch).runs_on(&release());
        check_elf(&elf_needing(&["GLIBC_2.34"]), Arch::X86_64, &al2023).unwrap();
        let err = check_elf(&elf_needing(&["GLIBC_2.34"]), Arch::Aarch64, &al2023).unwrap_err();
        assert!(err.contains("not an ELF file for aarch64"), "{err}");
        let err = check_elf(
            &elf_needing(&["GLIBC_2.2.5", "GLIBC_2.38"]),
            Arch::X86_64,
            &al2023,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "needs GLIBC_2.38 (sym_GLIBC_2.38), newer than the glibc 2.34 of provided.al2023"
        );
    }

    #[test]
    fn a_shipped_binary_must_be_static() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap");
        let al2023 = Shipped::Lambda(LambdaFunction::Dispatch).runs_on(&release());
        std::fs::write(&path, elf_needing(&[])).unwrap();
        check_binary(&path, Arch::X86_64, &al2023).unwrap();
        // This test binary is a dynamic glibc executable (of whatever glibc
        // the host has: the bound here is no limit).
        std::fs::copy(std::env::current_exe().unwrap(), &path).unwrap();
        let host = Arch::host().expect("a supported host");
        let anywhere = Glibc {
            version: (u32::MAX, 0),
            system: "anywhere".into(),
        };
        let err = check_binary(&path, host, &anywhere)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is dynamically linked") && err.contains("static"),
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
