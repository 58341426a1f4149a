//! Names around the lava AMI build: Oracle instant-client downloads, however
//! Oracle spelled them, the Oracle version inside a zip, and lava AMI names.

use std::fmt;
use std::str::FromStr;

use crate::area::ORACLE_PREFIX;
use crate::names::OraclePackage;
use crate::runtime::{Arch, PythonVersion, Runtime, RuntimeError};
use crate::version::Version;

/// Why a name is not an Oracle download or a lava AMI name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmiNameError {
    /// An instant-client zip of a package the AMI build does not install
    /// (sdk, odbc, tools, ...).
    #[error("{name:?}: Oracle package {package:?} is not one the AMI build installs (basic, basiclite, sqlplus)")]
    OtherOraclePackage { name: String, package: String },
    #[error("{name:?} is not an Oracle instant-client zip name: {reason}")]
    Oracle { name: String, reason: String },
    #[error("{name:?} is not a lava AMI name: {reason}")]
    Ami { name: String, reason: String },
}

/// The staging manifest beside the staged zips.
pub fn oracle_manifest_key() -> String {
    format!("{ORACLE_PREFIX}/manifest.json")
}

/// An Oracle instant-client release, `MAJOR.MINOR` (`21.13`): the version
/// the zip's top directory `instantclient_21_13/` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OracleVersion {
    pub major: u32,
    pub minor: u32,
}

impl OracleVersion {
    /// The version a top directory names: `instantclient_<major>_<minor>`.
    pub fn from_top_dir(dir: &str) -> Option<OracleVersion> {
        let (major, minor) = dir.strip_prefix("instantclient_")?.split_once('_')?;
        Some(OracleVersion {
            major: number(major)?,
            minor: number(minor)?,
        })
    }

    pub fn top_dir(self) -> String {
        format!("instantclient_{}_{}", self.major, self.minor)
    }
}

impl fmt::Display for OracleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

fn number(s: &str) -> Option<u32> {
    let digits = !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| s.parse().ok()).flatten()
}

/// An Oracle instant-client download as Oracle names it:
/// `instantclient-<pkg>-linux<sep><arch>[-<version>].zip`, where `<sep>` is
/// nothing (`linuxx64`), `-` (`linux-arm64`) or `.` (`linux.x64`), `<arch>`
/// any architecture alias, and `<version>` starts with `MAJOR.MINOR`
/// (`21.13.0.0.0dbru`, `23.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OracleDownload {
    pub package: OraclePackage,
    pub arch: Arch,
    /// The version the name claims, if it carries one.
    pub version: Option<OracleVersion>,
}

impl OracleDownload {
    pub fn parse(name: &str) -> Result<OracleDownload, AmiNameError> {
        let reject = |reason: String| AmiNameError::Oracle {
            name: name.to_string(),
            reason,
        };
        let body = name
            .strip_suffix(".zip")
            .ok_or_else(|| reject("it does not end with \".zip\"".into()))?
            .strip_prefix("instantclient-")
            .ok_or_else(|| reject("it does not start with \"instantclient-\"".into()))?;
        let (package, rest) = body
            .split_once("-linux")
            .ok_or_else(|| reject("no \"-linux\" after the package name".into()))?;
        let package: OraclePackage =
            package
                .parse()
                .map_err(|_| AmiNameError::OtherOraclePackage {
                    name: name.to_string(),
                    package: package.to_string(),
                })?;
        let rest = rest
            .strip_prefix('-')
            .or_else(|| rest.strip_prefix('.'))
            .unwrap_or(rest);
        let (arch, version) = match rest.split_once('-') {
            Some((arch, version)) => (arch, Some(version)),
            None => (rest, None),
        };
        let arch: Arch = arch
            .parse()
            .map_err(|e: RuntimeError| reject(e.to_string()))?;
        let version = version
            .map(|v| {
                let mut parts = v.split('.');
                match (parts.next().and_then(number), parts.next().map(leading)) {
                    (Some(major), Some(Some(minor))) => Ok(OracleVersion { major, minor }),
                    _ => Err(reject(format!(
                        "version {v:?} does not start with MAJOR.MINOR, e.g. 21.13"
                    ))),
                }
            })
            .transpose()?;
        Ok(OracleDownload {
            package,
            arch,
            version,
        })
    }
}

/// The number a version part starts with: `0dbru` is 0.
fn leading(part: &str) -> Option<u32> {
    let end = part
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(part.len());
    number(&part[..end])
}

/// The Python `MAJOR.MINOR` of a full version (`3.11.13`, or `3.11`), as the
/// AMI build's `python.version` setting and the image's Python tag carry it.
pub fn python_of_full_version(s: &str) -> Result<PythonVersion, RuntimeError> {
    let mut parts = s.split('.');
    let short = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(major), Some(minor), patch, None) if patch.is_none_or(|p| number(p).is_some()) => {
            format!("{major}.{minor}")
        }
        _ => return Err(RuntimeError::Python(s.to_string())),
    };
    short
        .parse()
        .map_err(|_: RuntimeError| RuntimeError::Python(s.to_string()))
}

/// When packer built an AMI: its ISO time with `:` made `-`, as in
/// `2025-07-02T08-43-48Z`. The fixed width makes text order time order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildTime(String);

impl BuildTime {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BuildTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const SHAPE: &[u8] = b"0000-00-00T00-00-00Z";
        let valid = s.len() == SHAPE.len()
            && s.bytes().zip(SHAPE).all(|(c, &want)| match want {
                b'0' => c.is_ascii_digit(),
                _ => c == want,
            });
        if valid {
            Ok(BuildTime(s.to_string()))
        } else {
            Err(format!(
                "build time {s:?} is not YYYY-MM-DDTHH-MM-SSZ, e.g. 2025-07-02T08-43-48Z"
            ))
        }
    }
}

impl fmt::Display for BuildTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lava AMI name, `lava-<VER>-<os>-py<M.m>-<arch>-<build time>`, e.g.
/// `lava-8.1.0-amzn2023-py3.11-arm64-2025-07-02T08-43-48Z`. The architecture
/// is written as AMI names spell it (`arm64`, `x86_64`); parsing takes any alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AmiName {
    pub version: Version,
    pub runtime: Runtime,
    pub built: BuildTime,
}

impl AmiName {
    pub fn parse(name: &str) -> Result<AmiName, AmiNameError> {
        let reject = |reason: String| AmiNameError::Ami {
            name: name.to_string(),
            reason,
        };
        let body = name
            .strip_prefix("lava-")
            .ok_or_else(|| reject("it does not start with \"lava-\"".into()))?;
        let parts: Vec<&str> = body.splitn(5, '-').collect();
        let [version, os, python, arch, built] = parts[..] else {
            return Err(reject(
                "expected lava-<version>-<os>-py<M.m>-<arch>-<build time>".into(),
            ));
        };
        Ok(AmiName {
            version: version.parse().map_err(|e| reject(format!("{e}")))?,
            runtime: format!("{os}-{python}-{arch}")
                .parse()
                .map_err(|e: RuntimeError| reject(e.to_string()))?,
            built: built.parse().map_err(reject)?,
        })
    }
}

impl fmt::Display for AmiName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.runtime;
        write!(
            f,
            "lava-{}-{}-py{}-{}-{}",
            self.version,
            r.os,
            r.python,
            r.arch.ami(),
            self.built
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn download(name: &str) -> OracleDownload {
        OracleDownload::parse(name).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_oracle_spelling_parses() {
        let v = |major, minor| Some(OracleVersion { major, minor });
        let cases = [
            (
                "instantclient-basiclite-linuxx64.zip",
                OraclePackage::Basiclite,
                Arch::X86_64,
                None,
            ),
            (
                "instantclient-basic-linux-arm64.zip",
                OraclePackage::Basic,
                Arch::Aarch64,
                None,
            ),
            (
                "instantclient-basic-linux.x64-21.13.0.0.0dbru.zip",
                OraclePackage::Basic,
                Arch::X86_64,
                v(21, 13),
            ),
            (
                "instantclient-sqlplus-linux.arm64-19.19.0.0.0dbru.zip",
                OraclePackage::Sqlplus,
                Arch::Aarch64,
                v(19, 19),
            ),
            (
                "instantclient-sqlplus-linux-x64-23.7.zip",
                OraclePackage::Sqlplus,
                Arch::X86_64,
                v(23, 7),
            ),
            (
                "instantclient-basiclite-linux-arm64.zip",
                OraclePackage::Basiclite,
                Arch::Aarch64,
                None,
            ),
        ];
        for (name, package, arch, version) in cases {
            assert_eq!(
                download(name),
                OracleDownload {
                    package,
                    arch,
                    version
                },
                "{name}"
            );
            // The staged name is the layout's, whatever Oracle called it.
            assert_eq!(
                package.zip_name(arch),
                format!(
                    "instantclient-{}-linux-{}.zip",
                    package.name(),
                    arch.oracle()
                )
            );
        }
    }

    #[test]
    fn bad_oracle_names_say_why() {
        assert!(matches!(
            OracleDownload::parse("instantclient-sdk-linuxx64.zip"),
            Err(AmiNameError::OtherOraclePackage { package, .. }) if package == "sdk"
        ));
        for (name, why) in [
            ("instantclient-basic-linuxx64.tar.gz", ".zip"),
            ("oracle-basic-linuxx64.zip", "instantclient-"),
            ("instantclient-basic-windows.x64.zip", "-linux"),
            ("instantclient-basic-linux.sparc64.zip", "architecture"),
            ("instantclient-basic-linux-x64-latest.zip", "MAJOR.MINOR"),
        ] {
            let err = OracleDownload::parse(name).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn oracle_versions_from_top_directories() {
        let v = OracleVersion::from_top_dir("instantclient_21_13").unwrap();
        assert_eq!((v.major, v.minor, v.to_string()), (21, 13, "21.13".into()));
        assert_eq!(v.top_dir(), "instantclient_21_13");
        for bad in [
            "instantclient_21",
            "instantclient_x_1",
            "instantclient-21-13",
            "lib",
        ] {
            assert_eq!(OracleVersion::from_top_dir(bad), None, "{bad}");
        }
        assert_eq!(oracle_manifest_key(), "_ami_/oracle/manifest.json");
    }

    #[test]
    fn ami_names_round_trip() {
        let name = "lava-8.1.0-amzn2023-py3.11-arm64-2025-07-02T08-43-48Z";
        let parsed = AmiName::parse(name).unwrap();
        assert_eq!(parsed.version, "8.1.0".parse().unwrap());
        assert_eq!(parsed.runtime.to_string(), "amzn2023-py3.11-aarch64");
        assert_eq!(parsed.built.as_str(), "2025-07-02T08-43-48Z");
        assert_eq!(parsed.to_string(), name);
        // Any alias parses; the name is written with the AMI spelling.
        let alias = AmiName::parse("lava-8.1.0-amzn2023-py3.11-aarch64-2025-07-02T08-43-48Z");
        assert_eq!(alias.unwrap(), parsed);
        let older = AmiName::parse("lava-8.1.0-amzn2023-py3.11-arm64-2024-12-31T23-59-59Z");
        assert!(older.unwrap().built < parsed.built);
        for version in ["8.3.0rc1", "8.3.0.post1", "8.3.1.dev2", "8.3"] {
            let name = format!("lava-{version}-amzn2023-py3.11-arm64-2025-07-02T08-43-48Z");
            let parsed = AmiName::parse(&name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.version.to_string(), version);
            assert_eq!(parsed.to_string(), name);
        }
    }

    #[test]
    fn bad_ami_names_say_why() {
        for (name, why) in [
            ("amzn2023-ami-2025", "\"lava-\""),
            (
                "lava-8.1.0RC1-amzn2023-py3.11-arm64-2025-07-02T08-43-48Z",
                "bad version \"8.1.0RC1\"",
            ),
            ("lava-8.1.0-amzn2023-py3.11-arm64", "expected lava-"),
            (
                "lava-8.1.0-amzn2023-3.11-arm64-2025-07-02T08-43-48Z",
                "runtime",
            ),
            (
                "lava-8.1.0-amzn2023-py3.11-sparc-2025-07-02T08-43-48Z",
                "architecture",
            ),
            (
                "lava-8.1.0-amzn2023-py3.11-arm64-2025-07-02T08:43:48Z",
                "build time",
            ),
        ] {
            let err = AmiName::parse(name).unwrap_err().to_string();
            assert!(err.contains(why), "{name}: {err}");
        }
    }

    #[test]
    fn python_of_full_versions() {
        let py = |s: &str| python_of_full_version(s).map(|p| p.to_string());
        assert_eq!(py("3.11.13").unwrap(), "3.11");
        assert_eq!(py("3.12").unwrap(), "3.12");
        for bad in ["3", "3.11.x", "3.11.1.2", "", "py3.11"] {
            assert!(py(bad).is_err(), "{bad}");
        }
    }
}
