//! The platform a worker bundle targets: operating system, Python, architecture.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a runtime, os, Python version or architecture was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("unknown architecture {0:?}: expected x86_64 (x64, amd64) or aarch64 (arm64)")]
    Arch(String),
    #[error(
        "bad os {0:?}: expected an os-release ID and major VERSION_ID, e.g. amzn2023, ubuntu24"
    )]
    Os(String),
    #[error("bad Python version {0:?}: expected MAJOR.MINOR, e.g. 3.11")]
    Python(String),
    #[error("bad runtime {0:?}: expected <os>-py<M.m>-<arch>, e.g. amzn2023-py3.11-x86_64")]
    Runtime(String),
    #[error("no known glibc for os {0:?}: add it to the os table in crates/layout")]
    UnknownGlibc(String),
}

/// A CPU architecture. Spelled differently by `uname -m` (package names), AMI
/// names and Oracle's zips; parsing accepts every spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// What `uname -m` prints on Linux; used in package names.
    pub fn uname(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The spelling in AMI names and EC2/Lambda APIs.
    pub fn ami(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The spelling in Oracle instant-client zip names.
    pub fn oracle(self) -> &'static str {
        match self {
            Arch::X86_64 => "x64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The Rust target of the binaries the release ships for this
    /// architecture: static musl executables, which need no C library of
    /// the worker or Lambda (crates/builder's toolchain says why).
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// `e_machine` of an ELF file built for this architecture.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Aarch64 => 183,
        }
    }

    /// The architecture of an ELF image from its header, `None` if `bytes` is
    /// not a little-endian ELF file or is for another machine.
    pub fn of_elf(bytes: &[u8]) -> Option<Arch> {
        if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" || bytes[5] != 1 {
            return None;
        }
        let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
        Arch::ALL.into_iter().find(|a| a.elf_machine() == machine)
    }

    /// The architecture this program runs on.
    pub fn host() -> Option<Arch> {
        std::env::consts::ARCH.parse().ok()
    }
}

impl FromStr for Arch {
    type Err = RuntimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" | "x64" | "amd64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            _ => Err(RuntimeError::Arch(s.to_string())),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uname())
    }
}

impl TryFrom<String> for Arch {
    type Error = RuntimeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Arch> for String {
    fn from(a: Arch) -> String {
        a.uname().to_string()
    }
}

/// An operating system as lava names it: os-release `ID` followed by the major
/// part of `VERSION_ID` (`amzn2023`, `amzn2`, `ubuntu24`, `rocky9`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Os(String);

impl Os {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Build the lava name from os-release fields.
    pub fn from_os_release(id: &str, version_id: &str) -> Result<Os, RuntimeError> {
        let major = version_id.split('.').next().unwrap_or_default();
        format!("{id}{major}").parse()
    }

    /// The worker operating systems upstream builds lava AMIs for
    /// (`ami/os/`). `_boot_/` is shared by every worker of a code area, so
    /// what it holds must run on each of them, whatever the matrix builds.
    pub fn upstream_workers() -> [Os; 2] {
        [Os("amzn2".into()), Os("amzn2023".into())]
    }

    /// The glibc the os ships, which decides the manylinux wheels it can run.
    pub fn glibc(&self) -> Result<(u32, u32), RuntimeError> {
        let glibc = match self.0.as_str() {
            "amzn2" => (2, 26),
            "amzn2023" | "rocky9" | "rhel9" | "almalinux9" => (2, 34),
            "rocky8" | "rhel8" | "almalinux8" => (2, 28),
            "ubuntu20" => (2, 31),
            "ubuntu22" => (2, 35),
            "ubuntu24" => (2, 39),
            "debian11" => (2, 31),
            "debian12" => (2, 36),
            _ => return Err(RuntimeError::UnknownGlibc(self.0.clone())),
        };
        Ok(glibc)
    }
}

impl FromStr for Os {
    type Err = RuntimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let letters = s.trim_end_matches(|c: char| c.is_ascii_digit());
        let valid = !letters.is_empty()
            && letters.len() < s.len()
            && letters.chars().all(|c| c.is_ascii_lowercase());
        if valid {
            Ok(Os(s.to_string()))
        } else {
            Err(RuntimeError::Os(s.to_string()))
        }
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Os {
    type Error = RuntimeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Os> for String {
    fn from(o: Os) -> String {
        o.0
    }
}

/// A Python `MAJOR.MINOR` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PythonVersion {
    pub major: u32,
    pub minor: u32,
}

impl FromStr for PythonVersion {
    type Err = RuntimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RuntimeError::Python(s.to_string());
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        let number = |p: &str| {
            let digits = !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| p.parse::<u32>().ok()).flatten()
        };
        match (number(major), number(minor)) {
            (Some(major), Some(minor)) if major > 0 => Ok(PythonVersion { major, minor }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl TryFrom<String> for PythonVersion {
    type Error = RuntimeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PythonVersion> for String {
    fn from(p: PythonVersion) -> String {
        p.to_string()
    }
}

/// The platform a worker bundle is built for, written `<os>-py<M.m>-<arch>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Runtime {
    pub os: Os,
    pub python: PythonVersion,
    pub arch: Arch,
}

impl Runtime {
    /// The `--python-platform` uv resolves wheels for: the manylinux tag of the
    /// os glibc on this architecture.
    pub fn wheel_platform(&self) -> Result<String, RuntimeError> {
        let (major, minor) = self.os.glibc()?;
        Ok(format!("{}-manylinux_{major}_{minor}", self.arch.uname()))
    }
}

impl FromStr for Runtime {
    type Err = RuntimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RuntimeError::Runtime(s.to_string());
        let mut parts = s.splitn(3, '-');
        let (os, py, arch) = match (parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(py), Some(arch)) => (os, py, arch),
            _ => return Err(bad()),
        };
        Ok(Runtime {
            os: os.parse()?,
            python: py.strip_prefix("py").ok_or_else(bad)?.parse()?,
            arch: arch.parse()?,
        })
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-py{}-{}", self.os, self.python, self.arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_aliases_parse_both_ways() {
        for s in ["x86_64", "x64", "amd64"] {
            assert_eq!(s.parse::<Arch>().unwrap(), Arch::X86_64);
        }
        for s in ["aarch64", "arm64"] {
            assert_eq!(s.parse::<Arch>().unwrap(), Arch::Aarch64);
        }
        assert_eq!(Arch::Aarch64.uname(), "aarch64");
        assert_eq!(Arch::Aarch64.ami(), "arm64");
        assert_eq!(Arch::X86_64.oracle(), "x64");
        assert!(matches!("arm".parse::<Arch>(), Err(RuntimeError::Arch(a)) if a == "arm"));
    }

    #[test]
    fn elf_header_gives_arch() {
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[5] = 1;
        header[18..20].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(Arch::of_elf(&header), Some(Arch::Aarch64));
        header[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert_eq!(Arch::of_elf(&header), Some(Arch::X86_64));
        header[18..20].copy_from_slice(&40u16.to_le_bytes());
        assert_eq!(Arch::of_elf(&header), None);
        assert_eq!(Arch::of_elf(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn os_names() {
        assert_eq!(
            Os::from_os_release("amzn", "2023").unwrap().as_str(),
            "amzn2023"
        );
        assert_eq!(
            Os::from_os_release("ubuntu", "24.04").unwrap().as_str(),
            "ubuntu24"
        );
        assert_eq!(
            Os::from_os_release("rocky", "9.3").unwrap().as_str(),
            "rocky9"
        );
        for bad in ["", "2023", "amzn", "Amzn2023", "amzn-2023"] {
            assert!(bad.parse::<Os>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn runtime_round_trips_and_maps_to_wheel_platform() {
        let r: Runtime = "amzn2023-py3.11-arm64".parse().unwrap();
        assert_eq!(r.arch, Arch::Aarch64);
        assert_eq!(
            r.python,
            PythonVersion {
                major: 3,
                minor: 11
            }
        );
        assert_eq!(r.to_string(), "amzn2023-py3.11-aarch64");
        assert_eq!(r.wheel_platform().unwrap(), "aarch64-manylinux_2_34");
        let unknown: Runtime = "plan9-py3.11-x86_64".parse().unwrap();
        assert!(matches!(
            unknown.wheel_platform(),
            Err(RuntimeError::UnknownGlibc(_))
        ));
    }

    #[test]
    fn bad_runtimes_are_rejected_with_the_part_named() {
        assert!(matches!(
            "amzn2023-3.11-x86_64".parse::<Runtime>(),
            Err(RuntimeError::Runtime(_))
        ));
        assert!(matches!(
            "amzn2023-py3-x86_64".parse::<Runtime>(),
            Err(RuntimeError::Python(_))
        ));
        assert!(matches!(
            "amzn2023-py3.11-sparc".parse::<Runtime>(),
            Err(RuntimeError::Arch(_))
        ));
        assert!(matches!(
            "amzn2023".parse::<Runtime>(),
            Err(RuntimeError::Runtime(_))
        ));
        assert!(matches!(
            "py3.11-x86_64-x".parse::<Runtime>(),
            Err(RuntimeError::Os(_))
        ));
    }
}
