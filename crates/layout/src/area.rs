//! Keys of the code area, relative to `s3://<s3CodeBucket>/<s3CodePrefix>/`
//! (or to `dist/`). Keys always use `/`.

use std::fmt;
use std::str::FromStr;

use crate::names::{
    framework_name, CfnTemplate, LambdaFunction, NameError, OraclePackage, PackageName,
};
use crate::runtime::{Arch, Os};
use crate::version::Version;

/// The checksum file in every directory of the code area that dist writes.
pub const SHA256SUMS: &str = "SHA256SUMS";

/// The AMI build's resources; the Oracle zips sit in `oracle/` below it.
pub const AMI_DIR: &str = "_ami_";
pub const ORACLE_PREFIX: &str = "_ami_/oracle";
pub const BOOT_PREFIX: &str = "_boot_";
/// lava-boot and a copy of each `_boot_/` scriptlet, with the `SHA256SUMS`
/// that vouches for both. Outside `_boot_/`: upstream's root.boot.sh, which
/// workers may still run, downloads all of `_boot_/` on every boot and runs
/// every file in it, so that directory holds nothing but scriptlets.
pub const BOOT_DIST_DIR: &str = "_dist_/boot";
pub const CFN_PREFIX: &str = "_dist_/cfn";
pub const LAMBDA_PREFIX: &str = "_dist_/lambda";
pub const PKG_PREFIX: &str = "_dist_/pkg";
pub const FRAMEWORK_PREFIX: &str = "_dist_/framework";

/// The per realm/worker primary boot scripts, in the order the instance runs them.
pub const ROOT_BOOT_SCRIPTS: [&str; 2] = ["root.boot0.sh", "root.boot.sh"];

/// A deployable part of a release, as `deploy.sh -l` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Ami,
    Boot,
    Cfn,
    Framework,
    Lambda,
    Pkg,
}

impl Component {
    pub const ALL: [Component; 6] = [
        Component::Ami,
        Component::Boot,
        Component::Cfn,
        Component::Framework,
        Component::Lambda,
        Component::Pkg,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::Ami => "ami",
            Component::Boot => "boot",
            Component::Cfn => "cfn",
            Component::Framework => "framework",
            Component::Lambda => "lambda",
            Component::Pkg => "pkg",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Component::Ami => {
                "What the lava AMI build reads from S3 (_ami_/, e.g. the Oracle instant-client zips; not the AMI itself)."
            }
            Component::Boot => "Worker boot scriptlets and the lava-boot binary (not root.boot*).",
            Component::Cfn => "CloudFormation templates and their generated documents.",
            Component::Framework => "Lava job framework.",
            Component::Lambda => "Lambda function code bundles.",
            Component::Pkg => "Worker code bundles, one per runtime.",
        }
    }

    /// The directory of the code area the component owns.
    pub fn prefix(self) -> &'static str {
        match self {
            Component::Ami => ORACLE_PREFIX,
            Component::Boot => BOOT_PREFIX,
            Component::Cfn => CFN_PREFIX,
            Component::Framework => FRAMEWORK_PREFIX,
            Component::Lambda => LAMBDA_PREFIX,
            Component::Pkg => PKG_PREFIX,
        }
    }

    /// The directory a deploy configuration's `<component>.s3` location names
    /// (upstream's `deploy/sample.yaml`): the component's prefix, except that cfn
    /// names the version folder and ami names `_ami_` itself, above `oracle/`.
    pub fn deploy_dir(self, version: &Version) -> String {
        match self {
            Component::Cfn => cfn_dir(version),
            Component::Ami => AMI_DIR.to_string(),
            _ => self.prefix().to_string(),
        }
    }
}

impl FromStr for Component {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Component::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Component::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "unknown component {s:?}: expected one of {}",
                    known.join(", ")
                )
            })
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub fn pkg_dir(os: &Os) -> String {
    format!("{PKG_PREFIX}/{os}")
}

/// Where a bundle lives: new-style names under their own os; old-style names
/// carry no os, so the caller says which os directory holds them.
pub fn pkg_key(os: &Os, name: &PackageName) -> String {
    format!("{}/{name}", pkg_dir(os))
}

/// The directory of the Lambda zips built for `arch`, named as Lambda names
/// architectures (`x86_64`, `arm64`), so both share one file name and one
/// name parser. Never `_dist_/lambda/` itself: upstream's Python zips live
/// there under the same file names, and a realm still on upstream's template
/// must keep finding its Python code while ours is deployed beside it.
pub fn lambda_dir(arch: Arch) -> String {
    format!("{LAMBDA_PREFIX}/{}", arch.ami())
}

pub fn lambda_key(function: LambdaFunction, version: &Version, arch: Arch) -> String {
    format!("{}/{}", lambda_dir(arch), function.zip_name(version))
}

/// CloudFormation templates of a version live in `_dist_/cfn/v<version>/`.
pub fn cfn_dir(version: &Version) -> String {
    format!("{CFN_PREFIX}/v{version}")
}

/// The release of a folder of `_dist_/cfn/`, by its name (`v<version>`).
pub fn cfn_folder_release(folder: &str) -> Option<Version> {
    folder.strip_prefix('v')?.parse().ok()
}

pub fn cfn_key(template: CfnTemplate, version: &Version) -> String {
    format!("{}/{}", cfn_dir(version), template.json_name())
}

/// The generated document beside a template.
pub fn cfn_doc_key(template: CfnTemplate, version: &Version) -> String {
    format!("{}/{}", cfn_dir(version), template.doc_name())
}

/// The generated document as a web page.
pub fn cfn_html_key(template: CfnTemplate, version: &Version) -> String {
    format!("{}/{}", cfn_dir(version), template.html_name())
}

/// Everything dist writes and deploy ships for a template: the template,
/// then its document as Markdown and as HTML.
pub fn cfn_keys(template: CfnTemplate, version: &Version) -> [String; 3] {
    [
        cfn_key(template, version),
        cfn_doc_key(template, version),
        cfn_html_key(template, version),
    ]
}

pub fn framework_key(version: &Version) -> String {
    format!("{FRAMEWORK_PREFIX}/{}", framework_name(version))
}

pub fn boot_script_key(script: &str) -> String {
    format!("{BOOT_PREFIX}/{script}")
}

/// The copy of a `_boot_/` scriptlet (or `SHA256SUMS`) in [`BOOT_DIST_DIR`],
/// whose `SHA256SUMS` entry the scriptlet is checked against.
pub fn boot_copy_key(name: &str) -> String {
    format!("{BOOT_DIST_DIR}/{name}")
}

/// The lava-boot binary a booting worker of this architecture downloads.
pub fn boot_binary_key(arch: Arch) -> String {
    boot_copy_key(&format!("lava-boot-{}", arch.uname()))
}

/// Whether the directory `dir` of the code area carries a `SHA256SUMS` of
/// its files: every one but `_boot_/` (see [`BOOT_DIST_DIR`]).
pub fn has_sums(dir: &str) -> bool {
    dir.trim_end_matches('/') != BOOT_PREFIX
}

pub fn oracle_key(package: OraclePackage, arch: Arch) -> String {
    format!("{ORACLE_PREFIX}/{}", package.zip_name(arch))
}

/// `<realm>/<worker>/<script>`: realm and worker names are single path segments.
pub fn root_boot_key(realm: &str, worker: &str, script: &str) -> Result<String, NameError> {
    for (what, value) in [("realm", realm), ("worker", worker)] {
        let reserved = value.starts_with('_') && value.ends_with('_');
        if value.is_empty() || value.contains('/') || value == "." || value == ".." || reserved {
            return Err(NameError::Package {
                name: value.to_string(),
                reason: format!(
                    "a {what} name must be one path segment and not a reserved _x_ prefix"
                ),
            });
        }
    }
    Ok(format!("{realm}/{worker}/{script}"))
}

/// The Content-Type each kind of artefact is served with in the code area
/// (deploy writes it; prune keeps it when it rewrites a `SHA256SUMS`).
pub fn content_type(name: &str) -> &'static str {
    const TYPES: [(&str, &str); 7] = [
        (".json", "application/json"),
        (".md", "text/markdown; charset=utf-8"),
        (".html", "text/html; charset=utf-8"),
        (".zip", "application/zip"),
        (".tar.bz2", "application/x-bzip2"),
        (".sh", "text/x-shellscript"),
        (SHA256SUMS, "text/plain; charset=utf-8"),
    ];
    TYPES
        .iter()
        .find(|(suffix, _)| name.ends_with(suffix))
        .map_or("application/octet-stream", |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_per_kind() {
        assert_eq!(content_type("lava-realm.cfn.json"), "application/json");
        assert_eq!(
            content_type("lava-realm.cfn.md"),
            "text/markdown; charset=utf-8"
        );
        assert_eq!(
            content_type("lava-realm.cfn.html"),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type("stop-8.3.0.zip"), "application/zip");
        assert_eq!(
            content_type("lava-8.3.0-amzn2023-py3.11-x86_64.tar.bz2"),
            "application/x-bzip2"
        );
        assert_eq!(content_type("50-lava.sh"), "text/x-shellscript");
        assert_eq!(content_type("SHA256SUMS"), "text/plain; charset=utf-8");
        assert_eq!(content_type("lava-boot-x86_64"), "application/octet-stream");
    }

    #[test]
    fn cfn_folders_name_their_release() {
        let v: Version = "8.3.0rc1".parse().unwrap();
        assert_eq!(cfn_folder_release("v8.3.0rc1"), Some(v.clone()));
        assert_eq!(cfn_dir(&v), format!("{CFN_PREFIX}/v8.3.0rc1"));
        for other in ["8.3.0", "vnext", "v", "latest"] {
            assert_eq!(cfn_folder_release(other), None, "{other}");
        }
    }

    #[test]
    fn keys_match_the_seed_layout() {
        let version: Version = "8.1.0".parse().unwrap();
        let os: Os = "amzn2023".parse().unwrap();
        let name = PackageName::parse("lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2").unwrap();
        assert_eq!(
            pkg_key(&os, &name),
            "_dist_/pkg/amzn2023/lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2"
        );
        assert_eq!(
            lambda_key(LambdaFunction::Dispatch, &version, Arch::X86_64),
            "_dist_/lambda/x86_64/dispatch-8.1.0.zip"
        );
        assert_eq!(
            lambda_key(LambdaFunction::Stop, &version, Arch::Aarch64),
            "_dist_/lambda/arm64/stop-8.1.0.zip"
        );
        assert_eq!(
            cfn_key(CfnTemplate::Common, &version),
            "_dist_/cfn/v8.1.0/lava-common.cfn.json"
        );
        assert_eq!(
            cfn_doc_key(CfnTemplate::Worker, &version),
            "_dist_/cfn/v8.1.0/lava-worker.cfn.md"
        );
        assert_eq!(
            cfn_keys(CfnTemplate::Realm, &version),
            [
                "_dist_/cfn/v8.1.0/lava-realm.cfn.json",
                "_dist_/cfn/v8.1.0/lava-realm.cfn.md",
                "_dist_/cfn/v8.1.0/lava-realm.cfn.html",
            ]
        );
        assert_eq!(
            framework_key(&version),
            "_dist_/framework/lava-job-framework-8.1.0.zip"
        );
        assert_eq!(boot_script_key("50-lava.sh"), "_boot_/50-lava.sh");
        assert_eq!(
            boot_binary_key(Arch::Aarch64),
            "_dist_/boot/lava-boot-aarch64"
        );
        assert_eq!(boot_copy_key("50-lava.sh"), "_dist_/boot/50-lava.sh");
        assert!(!has_sums("_boot_") && !has_sums("_boot_/"));
        assert!(has_sums(BOOT_DIST_DIR) && has_sums("_dist_/pkg/amzn2023"));
        assert_eq!(
            oracle_key(OraclePackage::Sqlplus, Arch::X86_64),
            "_ami_/oracle/instantclient-sqlplus-linux-x64.zip"
        );
        assert_eq!(
            root_boot_key("prod", "core", "root.boot.sh").unwrap(),
            "prod/core/root.boot.sh"
        );
    }

    #[test]
    fn keys_carry_pep_440_versions_as_written() {
        let version: Version = "8.3.0rc1".parse().unwrap();
        assert_eq!(cfn_dir(&version), "_dist_/cfn/v8.3.0rc1");
        assert_eq!(
            cfn_key(CfnTemplate::Realm, &version),
            "_dist_/cfn/v8.3.0rc1/lava-realm.cfn.json"
        );
        let version: Version = "8.3.0.post1".parse().unwrap();
        assert_eq!(
            lambda_key(LambdaFunction::Metrics, &version, Arch::Aarch64),
            "_dist_/lambda/arm64/metrics-8.3.0.post1.zip"
        );
        let version: Version = "8.3.1.dev2".parse().unwrap();
        assert_eq!(
            framework_key(&version),
            "_dist_/framework/lava-job-framework-8.3.1.dev2.zip"
        );
        assert_eq!(
            Component::Cfn.deploy_dir(&version),
            "_dist_/cfn/v8.3.1.dev2"
        );
    }

    #[test]
    fn root_boot_keys_refuse_paths() {
        for (realm, worker) in [("a/b", "w"), ("r", ".."), ("", "w"), ("_dist_", "w")] {
            assert!(
                root_boot_key(realm, worker, "root.boot.sh").is_err(),
                "{realm}/{worker}"
            );
        }
    }

    #[test]
    fn deploy_dirs_are_what_upstream_configurations_name() {
        let version: Version = "8.3.0".parse().unwrap();
        let dirs: Vec<_> = Component::ALL
            .iter()
            .map(|c| c.deploy_dir(&version))
            .collect();
        assert_eq!(
            dirs,
            [
                "_ami_",
                "_boot_",
                "_dist_/cfn/v8.3.0",
                "_dist_/framework",
                "_dist_/lambda",
                "_dist_/pkg"
            ]
        );
        // Every key of a component lies below its deploy directory.
        assert!(oracle_key(OraclePackage::Basic, Arch::X86_64).starts_with("_ami_/"));
        assert!(cfn_key(CfnTemplate::Realm, &version).starts_with(&dirs[2]));
    }

    #[test]
    fn components_parse_and_list() {
        assert_eq!("pkg".parse::<Component>().unwrap(), Component::Pkg);
        let err = "doc".parse::<Component>().unwrap_err();
        assert!(
            err.contains("\"doc\"") && err.contains("framework"),
            "{err}"
        );
    }
}
