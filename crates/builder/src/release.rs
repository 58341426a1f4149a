//! The release being built: its version and the matrix in
//! `[workspace.metadata.lava]` of the workspace `Cargo.toml`. The version is
//! `[workspace.metadata.lava] version` when set (any PEP 440 version, such as
//! 8.3.0rc1, which Cargo's semver `[workspace.package] version` cannot hold),
//! else `[workspace.package] version`.

use std::path::{Path, PathBuf};

use lava_layout::{Runtime, Version};
use serde::Deserialize;

use crate::source::WorkerSource;
use crate::BuildError;

/// What `cargo xtask dist` builds by default.
#[derive(Debug, Clone)]
pub struct Release {
    /// The workspace root: sources (`cfn/`, `misc/`) are read from here.
    pub root: PathBuf,
    pub version: Version,
    pub runtimes: Vec<Runtime>,
    pub worker_source: WorkerSource,
}

/// Which release this is, without where it is built from: its version and
/// the runtimes of its matrix. What the operator commands need, which run
/// where no worker source is (the prebuilt `lavactl` reads the `Cargo.toml`
/// it was built from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseId {
    pub version: Version,
    pub runtimes: Vec<Runtime>,
}

#[derive(Deserialize)]
struct Manifest {
    workspace: Workspace,
}

#[derive(Deserialize)]
struct Workspace {
    package: Package,
    metadata: Metadata,
}

#[derive(Deserialize)]
struct Package {
    version: String,
}

#[derive(Deserialize)]
struct Metadata {
    lava: Matrix,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Matrix {
    version: Option<String>,
    runtimes: Vec<MatrixRuntime>,
    worker_source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixRuntime {
    os: String,
    python: String,
    arch: String,
}

impl Release {
    /// Check that a release tag (as pushed: `v8.3.0`) names this release, so
    /// a pipeline never ships artefacts named for another version.
    pub fn check_tag(&self, tag: &str) -> Result<(), BuildError> {
        let expected = format!("v{}", self.version);
        if tag == expected {
            return Ok(());
        }
        Err(BuildError::Input(format!(
            "tag {tag:?} does not name the workspace release {}: tag the commit {expected}, \
             or change the version in Cargo.toml ([workspace.metadata.lava] version, \
             else [workspace.package] version)",
            self.version
        )))
    }

    /// Read the release from the workspace at `root`.
    pub fn load(root: &Path) -> Result<Release, BuildError> {
        let path = root.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| BuildError::io(&path, e))?;
        Release::parse(root, &path, &text)
    }

    fn parse(root: &Path, path: &Path, text: &str) -> Result<Release, BuildError> {
        let (id, matrix) = ReleaseId::parse_matrix(path, text)?;
        let worker_source = WorkerSource::parse(&matrix.worker_source, root).map_err(|e| {
            BuildError::Input(format!(
                "{}: [workspace.metadata.lava] worker-source: {e}",
                path.display()
            ))
        })?;
        Ok(Release {
            root: root.to_path_buf(),
            version: id.version,
            runtimes: id.runtimes,
            worker_source,
        })
    }
}

impl ReleaseId {
    /// The release of a workspace `Cargo.toml`'s text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<ReleaseId, BuildError> {
        Ok(ReleaseId::parse_matrix(path, text)?.0)
    }

    /// Read the release of the workspace at `root`.
    pub fn load(root: &Path) -> Result<ReleaseId, BuildError> {
        let path = root.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| BuildError::io(&path, e))?;
        ReleaseId::parse(&path, &text)
    }

    fn parse_matrix(path: &Path, text: &str) -> Result<(ReleaseId, Matrix), BuildError> {
        let bad = |what: String| BuildError::Input(format!("{}: {what}", path.display()));
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| bad(format!("[workspace.metadata.lava]: {}", e.message())))?;
        let ws = manifest.workspace;
        let (key, version) = match &ws.metadata.lava.version {
            Some(v) => ("[workspace.metadata.lava] version", v),
            None => ("[workspace.package] version", &ws.package.version),
        };
        let version: Version = version.parse().map_err(|e| bad(format!("{key}: {e}")))?;
        let mut runtimes = Vec::new();
        for (i, r) in ws.metadata.lava.runtimes.iter().enumerate() {
            let runtime: Runtime = format!("{}-py{}-{}", r.os, r.python, r.arch)
                .parse()
                .map_err(|e| bad(format!("[workspace.metadata.lava] runtimes[{i}]: {e}")))?;
            // Fail here, not halfway through a build, for an os we cannot map to wheels.
            runtime
                .wheel_platform()
                .map_err(|e| bad(format!("[workspace.metadata.lava] runtimes[{i}]: {e}")))?;
            if runtimes.contains(&runtime) {
                return Err(bad(format!(
                    "[workspace.metadata.lava] runtimes[{i}]: {runtime} is listed twice"
                )));
            }
            runtimes.push(runtime);
        }
        if runtimes.is_empty() {
            return Err(bad(
                "[workspace.metadata.lava] runtimes: the matrix is empty".into(),
            ));
        }
        Ok((ReleaseId { version, runtimes }, ws.metadata.lava))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(matrix: &str) -> Result<Release, BuildError> {
        let text = format!(
            "[workspace.package]\nversion = \"8.3.0\"\n[workspace.metadata.lava]\n{matrix}"
        );
        Release::parse(Path::new("/ws"), Path::new("/ws/Cargo.toml"), &text)
    }

    #[test]
    fn reads_the_real_workspace_matrix() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let release = Release::load(&root).unwrap();
        assert_eq!(release.version.to_string(), env!("CARGO_PKG_VERSION"));
        let names: Vec<_> = release.runtimes.iter().map(|r| r.to_string()).collect();
        assert!(
            names.contains(&"amzn2023-py3.11-aarch64".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"amzn2023-py3.12-x86_64".to_string()),
            "{names:?}"
        );
        assert_eq!(release.worker_source, WorkerSource::Pypi);
    }

    #[test]
    fn a_release_tag_must_name_the_version() {
        // (workspace version, tag, accepted)
        let table = [
            ("8.3.0", "v8.3.0", true),
            ("8.3.0rc1", "v8.3.0rc1", true),
            ("8.3.0", "8.3.0", false),
            ("8.3.0", "v8.3.1", false),
            ("8.3.0", "v8.3", false),
            ("8.3.0", "v8.3.0-rc1", false),
            ("8.3.0rc1", "v8.3.0", false),
            ("8.3.0", "refs/tags/v8.3.0", false),
        ];
        for (version, tag, accepted) in table {
            let release = versions(version, None).unwrap();
            let result = release.check_tag(tag);
            assert_eq!(result.is_ok(), accepted, "{version} {tag}");
            if let Err(e) = result {
                let message = e.to_string();
                assert!(e.is_input(), "{message}");
                assert!(
                    message.contains(&format!("{tag:?}")) && message.contains(version),
                    "{message}"
                );
            }
        }
    }

    const MATRIX: &str = "worker-source = \"pypi\"\nruntimes = [{ os = \"amzn2023\", python = \"3.11\", arch = \"x86_64\" }]\n";

    fn versions(package: &str, lava: Option<&str>) -> Result<Release, BuildError> {
        let lava = lava.map_or(String::new(), |v| format!("version = \"{v}\"\n"));
        let text = format!(
            "[workspace.package]\nversion = \"{package}\"\n[workspace.metadata.lava]\n{lava}{MATRIX}"
        );
        Release::parse(Path::new("/ws"), Path::new("/ws/Cargo.toml"), &text)
    }

    #[test]
    fn the_lava_version_key_overrides_the_package_version() {
        let version = |package, lava| versions(package, lava).unwrap().version.to_string();
        assert_eq!(version("8.3.0", None), "8.3.0");
        assert_eq!(version("8.3.0", Some("8.3.0rc1")), "8.3.0rc1");
        assert_eq!(version("8.3.0", Some("8.3.0.post1")), "8.3.0.post1");
        assert_eq!(version("8.3.0-rc.1", Some("8.3.1.dev2")), "8.3.1.dev2");
    }

    #[test]
    fn a_bad_release_version_names_its_key() {
        let msg = |package, lava| versions(package, lava).unwrap_err().to_string();
        let err = msg("8.3.0", Some("8.3.0-rc1"));
        assert!(
            err.contains("[workspace.metadata.lava] version: bad version \"8.3.0-rc1\"")
                && err.contains("PEP 440"),
            "{err}"
        );
        // A semver pre-release is legal for Cargo but not a lava version.
        let err = msg("8.3.0-rc.1", None);
        assert!(
            err.contains("[workspace.package] version: bad version \"8.3.0-rc.1\""),
            "{err}"
        );
        assert!(versions("8.3.0", Some("")).unwrap_err().is_input());
    }

    #[test]
    fn malformed_entries_are_named() {
        let err = parse(
            "worker-source = \"pypi\"\nruntimes = [{ os = \"amzn2023\", python = \"3.11\", arch = \"x86_64\" },\n{ os = \"amzn2023\", python = \"3\", arch = \"x86_64\" }]",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("Cargo.toml") && msg.contains("runtimes[1]") && msg.contains("\"3\""),
            "{msg}"
        );

        let msg = parse("worker-source = \"pypi\"\nruntimes = [{ os = \"plan9\", python = \"3.11\", arch = \"x86_64\" }]")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("plan9") && msg.contains("glibc"), "{msg}");

        let msg = parse("worker-source = \"pypi\"\nruntimes = [{ os = \"amzn2023\", python = \"3.11\", arch = \"sparc\" }]")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("sparc"), "{msg}");

        let msg = parse("worker-source = \"pypi\"\nruntimes = [{ os = \"amzn2023\", py = \"3.11\", arch = \"x86_64\" }]")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("py"), "{msg}");

        let msg = parse("worker-source = \"pypi\"\nruntimes = []")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("empty"), "{msg}");
        assert!(parse("worker-source = \"pypi\"\nruntimes = []")
            .unwrap_err()
            .is_input());
    }
}
