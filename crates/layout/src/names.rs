//! Artefact names: worker packages (new and old style), Lambda zips, CloudFormation
//! templates, the job framework zip and Oracle instant-client zips.

use std::fmt;
use std::str::FromStr;

use crate::runtime::{Arch, Runtime, RuntimeError};
use crate::version::Version;

/// Why a name is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{name:?} is not a lava package: {reason}")]
    Package { name: String, reason: String },
    #[error("bad version {0:?}: expected a PEP 440 public version such as 8.3.0, 8.3.0rc1, 8.3.0.post1 or 8.3.1.dev2")]
    Version(String),
    #[error("unknown Lambda function {0:?}: expected dispatch, metrics, s3trigger or stop")]
    Lambda(String),
    #[error("unknown Oracle package {0:?}: expected basic, basiclite or sqlplus")]
    Oracle(String),
}

const PKG_PREFIX: &str = "lava-";
const PKG_SUFFIX: &str = ".tar.bz2";

/// A worker bundle file name under `_dist_/pkg/<os>/`. `<VER>` is a PEP 440
/// public [`Version`], which never contains `-`, so the first `-` after the
/// prefix ends it.
///
/// New style: `lava-<VER>-<os>-py<M.m>-<arch>.tar.bz2`.
/// Old style: `lava-<VER>.tar.bz2`, exactly: unlike upstream's `lava-*.tar.bz2`
/// glob, a new-style name of another platform is never taken for an old one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PackageName {
    New { version: Version, runtime: Runtime },
    Old { version: Version },
}

impl PackageName {
    pub fn version(&self) -> &Version {
        match self {
            PackageName::New { version, .. } | PackageName::Old { version } => version,
        }
    }

    /// Parse a file name (no directory part), saying why it is rejected.
    pub fn parse(name: &str) -> Result<PackageName, NameError> {
        let reject = |reason: &str| NameError::Package {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let body = name
            .strip_prefix(PKG_PREFIX)
            .ok_or_else(|| reject("it does not start with \"lava-\""))?
            .strip_suffix(PKG_SUFFIX)
            .ok_or_else(|| reject("it does not end with \".tar.bz2\""))?;
        let (version, runtime) = match body.split_once('-') {
            Some((v, r)) => (v, Some(r)),
            None => (body, None),
        };
        let version: Version = version
            .parse()
            .map_err(|e: NameError| reject(&e.to_string()))?;
        match runtime {
            None => Ok(PackageName::Old { version }),
            Some(r) => {
                let runtime: Runtime = r
                    .parse()
                    .map_err(|e: RuntimeError| reject(&e.to_string()))?;
                Ok(PackageName::New { version, runtime })
            }
        }
    }
}

impl FromStr for PackageName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageName::parse(s)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageName::New { version, runtime } => {
                write!(f, "{PKG_PREFIX}{version}-{runtime}{PKG_SUFFIX}")
            }
            PackageName::Old { version } => write!(f, "{PKG_PREFIX}{version}{PKG_SUFFIX}"),
        }
    }
}

/// The realm's Lambda functions; each ships as `_dist_/lambda/<name>-<version>.zip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LambdaFunction {
    Dispatch,
    Metrics,
    S3trigger,
    Stop,
}

impl LambdaFunction {
    pub const ALL: [LambdaFunction; 4] = [
        LambdaFunction::Dispatch,
        LambdaFunction::Metrics,
        LambdaFunction::S3trigger,
        LambdaFunction::Stop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LambdaFunction::Dispatch => "dispatch",
            LambdaFunction::Metrics => "metrics",
            LambdaFunction::S3trigger => "s3trigger",
            LambdaFunction::Stop => "stop",
        }
    }

    pub fn zip_name(self, version: &Version) -> String {
        format!("{}-{version}.zip", self.name())
    }

    /// Parse `<function>-<version>.zip`.
    pub fn parse_zip_name(name: &str) -> Option<(LambdaFunction, Version)> {
        let (function, version) = name.strip_suffix(".zip")?.split_once('-')?;
        Some((function.parse().ok()?, version.parse().ok()?))
    }
}

impl FromStr for LambdaFunction {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LambdaFunction::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| NameError::Lambda(s.to_string()))
    }
}

impl fmt::Display for LambdaFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The CloudFormation templates of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CfnTemplate {
    Common,
    Realm,
    Worker,
}

impl CfnTemplate {
    pub const ALL: [CfnTemplate; 3] =
        [CfnTemplate::Common, CfnTemplate::Realm, CfnTemplate::Worker];

    /// The stem shared by the source, the rendered template and its document.
    pub fn stem(self) -> &'static str {
        match self {
            CfnTemplate::Common => "lava-common",
            CfnTemplate::Realm => "lava-realm",
            CfnTemplate::Worker => "lava-worker",
        }
    }

    pub fn source_name(self) -> String {
        format!("{}.cfn.yaml", self.stem())
    }

    pub fn json_name(self) -> String {
        format!("{}.cfn.json", self.stem())
    }

    pub fn doc_name(self) -> String {
        format!("{}.cfn.md", self.stem())
    }

    /// The same document as a web page, as upstream's cfdoc also ships it.
    pub fn html_name(self) -> String {
        format!("{}.cfn.html", self.stem())
    }
}

/// `lava-job-framework-<version>.zip`.
pub fn framework_name(version: &Version) -> String {
    format!("lava-job-framework-{version}.zip")
}

/// The operator CLI of a release, as the release ships it (not in the code
/// area): `lavactl-<version>-<arch>`, arch as `uname -m` prints it.
pub fn cli_name(version: &Version, arch: Arch) -> String {
    format!("lavactl-{version}-{}", arch.uname())
}

/// The release a file of the code area belongs to, by its name: a worker
/// bundle (either style), a Lambda zip, the job framework. `None` for every
/// other name (`SHA256SUMS`, boot scripts, anything unknown).
pub fn release_of(name: &str) -> Option<Version> {
    if let Ok(package) = PackageName::parse(name) {
        return Some(package.version().clone());
    }
    if let Some((_, version)) = LambdaFunction::parse_zip_name(name) {
        return Some(version);
    }
    name.strip_prefix("lava-job-framework-")?
        .strip_suffix(".zip")?
        .parse()
        .ok()
}

/// The Oracle instant-client packages the lava AMI bakes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OraclePackage {
    Basic,
    Basiclite,
    Sqlplus,
}

impl OraclePackage {
    pub const ALL: [OraclePackage; 3] = [
        OraclePackage::Basic,
        OraclePackage::Basiclite,
        OraclePackage::Sqlplus,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OraclePackage::Basic => "basic",
            OraclePackage::Basiclite => "basiclite",
            OraclePackage::Sqlplus => "sqlplus",
        }
    }

    /// The staged name, `instantclient-<pkg>-linux-<x64|arm64>.zip`.
    pub fn zip_name(self, arch: Arch) -> String {
        format!("instantclient-{}-linux-{}.zip", self.name(), arch.oracle())
    }
}

impl FromStr for OraclePackage {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic" => Ok(OraclePackage::Basic),
            "basiclite" => Ok(OraclePackage::Basiclite),
            "sqlplus" => Ok(OraclePackage::Sqlplus),
            _ => Err(NameError::Oracle(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn the_release_of_a_code_area_file() {
        for (name, release) in [
            ("lava-8.3.0-amzn2023-py3.11-x86_64.tar.bz2", Some("8.3.0")),
            ("lava-8.3.0-amzn2023-py3.12-arm64.tar.bz2", Some("8.3.0")),
            ("lava-8.1.0.tar.bz2", Some("8.1.0")),
            ("dispatch-8.2.0rc1.zip", Some("8.2.0rc1")),
            ("s3trigger-8.2.0.zip", Some("8.2.0")),
            ("lava-job-framework-8.3.0.post1.zip", Some("8.3.0.post1")),
            ("SHA256SUMS", None),
            ("50-lava.sh", None),
            ("unknown-8.3.0.zip", None),
            ("lava-job-framework-x.zip", None),
        ] {
            assert_eq!(release_of(name), release.map(v), "{name}");
        }
    }

    #[test]
    fn pep_440_versions_in_package_names_round_trip() {
        let x86 = "amzn2023-py3.11-x86_64";
        for version in [
            "8.3.0",
            "8.3",
            "8.3.0rc1",
            "8.3.0a1",
            "8.3.0b2",
            "8.3.0.post1",
            "8.3.1.dev2",
            "8.3.1rc1.post2.dev3",
        ] {
            let new = format!("lava-{version}-{x86}.tar.bz2");
            let parsed = PackageName::parse(&new).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                parsed,
                PackageName::New {
                    version: v(version),
                    runtime: x86.parse().unwrap()
                },
                "{new}"
            );
            assert_eq!(parsed.version().to_string(), version);
            assert_eq!(parsed.to_string(), new);

            let old = format!("lava-{version}.tar.bz2");
            let parsed = PackageName::parse(&old).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                parsed,
                PackageName::Old {
                    version: v(version)
                },
                "{old}"
            );
            assert_eq!(parsed.version().to_string(), version);
            assert_eq!(parsed.to_string(), old);
        }
    }

    #[test]
    fn non_canonical_versions_make_no_package_name() {
        for (name, why) in [
            // The `-` spelling splits into a version and a bogus runtime.
            ("lava-8.3.0-rc1.tar.bz2", "runtime"),
            ("lava-8.3.0-rc1-amzn2023-py3.11-x86_64.tar.bz2", "runtime"),
            (
                "lava-8.3.0RC1-amzn2023-py3.11-x86_64.tar.bz2",
                "bad version \"8.3.0RC1\"",
            ),
            ("lava-8.3.0.rc1.tar.bz2", "bad version \"8.3.0.rc1\""),
            ("lava-v8.3.0.tar.bz2", "bad version \"v8.3.0\""),
            ("lava-08.3.0.tar.bz2", "bad version \"08.3.0\""),
            ("lava-8.3.0+local.tar.bz2", "bad version \"8.3.0+local\""),
            ("lava-1!8.3.0.tar.bz2", "bad version \"1!8.3.0\""),
            ("lava-.tar.bz2", "bad version \"\""),
        ] {
            let err = PackageName::parse(name).unwrap_err().to_string();
            assert!(err.contains(why), "{name}: {err}");
        }
    }

    #[test]
    fn new_style_names_round_trip() {
        let name = "lava-8.1.0-amzn2023-py3.11-aarch64.tar.bz2";
        let parsed = PackageName::parse(name).unwrap();
        let PackageName::New { version, runtime } = &parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(version, &v("8.1.0"));
        assert_eq!(runtime.to_string(), "amzn2023-py3.11-aarch64");
        assert_eq!(parsed.to_string(), name);
        // Aliases are accepted; the canonical name uses uname's spelling.
        let alias = PackageName::parse("lava-8.1.0-amzn2023-py3.11-arm64.tar.bz2").unwrap();
        assert_eq!(alias, parsed);
    }

    #[test]
    fn old_style_is_exactly_version_only() {
        assert_eq!(
            PackageName::parse("lava-7.1.0.tar.bz2").unwrap(),
            PackageName::Old {
                version: v("7.1.0")
            }
        );
        assert_eq!(
            PackageName::Old {
                version: v("7.1.0")
            }
            .to_string(),
            "lava-7.1.0.tar.bz2"
        );
    }

    #[test]
    fn rejected_names_say_why() {
        let reason = |name: &str| match PackageName::parse(name) {
            Err(NameError::Package { reason, .. }) => reason,
            other => panic!("{name}: {other:?}"),
        };
        assert!(reason("lava-8.1.0.tar.gz").contains(".tar.bz2"));
        assert!(reason("lava8.1.0.tar.bz2").contains("lava-"));
        assert!(reason("lava-8.1.x.tar.bz2").contains("bad version"));
        assert!(reason("lava-8.1.0-amzn2023-py3.11.tar.bz2").contains("runtime"));
        assert!(reason("lava-8.1.0-amzn2023-py3.11-sparc.tar.bz2").contains("architecture"));
    }

    #[test]
    fn lambda_zip_names() {
        let version = v("8.3.0");
        assert_eq!(
            LambdaFunction::S3trigger.zip_name(&version),
            "s3trigger-8.3.0.zip"
        );
        assert_eq!(
            LambdaFunction::parse_zip_name("stop-8.3.0.zip"),
            Some((LambdaFunction::Stop, version))
        );
        assert_eq!(LambdaFunction::parse_zip_name("start-8.3.0.zip"), None);
        for version in ["8.3.0rc1", "8.3.0.post1", "8.3.1.dev2", "8.3"] {
            let zip = LambdaFunction::Dispatch.zip_name(&v(version));
            assert_eq!(zip, format!("dispatch-{version}.zip"));
            let (function, parsed) = LambdaFunction::parse_zip_name(&zip).unwrap();
            assert_eq!(
                (function, parsed.to_string()),
                (LambdaFunction::Dispatch, version.to_string())
            );
        }
        for bad in [
            "stop-8.3.0-rc1.zip",
            "stop-8.3.0RC1.zip",
            "stop-v8.3.0.zip",
            "stop-.zip",
        ] {
            assert_eq!(LambdaFunction::parse_zip_name(bad), None, "{bad}");
        }
        assert!("dispatcher".parse::<LambdaFunction>().is_err());
    }

    #[test]
    fn oracle_and_framework_names() {
        assert_eq!(
            OraclePackage::Basiclite.zip_name(Arch::X86_64),
            "instantclient-basiclite-linux-x64.zip"
        );
        assert_eq!(
            OraclePackage::Sqlplus.zip_name(Arch::Aarch64),
            "instantclient-sqlplus-linux-arm64.zip"
        );
        assert_eq!(framework_name(&v("8.3.0")), "lava-job-framework-8.3.0.zip");
        assert_eq!(
            framework_name(&v("8.3.1rc1.post2.dev3")),
            "lava-job-framework-8.3.1rc1.post2.dev3.zip"
        );
        for p in OraclePackage::ALL {
            assert_eq!(p.name().parse::<OraclePackage>(), Ok(p));
        }
        assert_eq!(CfnTemplate::Realm.json_name(), "lava-realm.cfn.json");
    }

    #[test]
    fn the_cli_is_named_for_its_release_and_uname() {
        assert_eq!(cli_name(&v("8.3.0"), Arch::X86_64), "lavactl-8.3.0-x86_64");
        assert_eq!(
            cli_name(&v("8.3.0rc1"), Arch::Aarch64),
            "lavactl-8.3.0rc1-aarch64"
        );
    }
}
