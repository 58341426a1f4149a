//! The lava worker source a bundle is made from: the `jinlava` sdist on PyPI,
//! a local sdist, or a local lava checkout.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lava_layout::Version;

use crate::BuildError;

/// Where the worker code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerSource {
    /// The `jinlava` release of the release version, from PyPI.
    Pypi,
    /// A lava checkout (a directory holding `lava/` and `bin/`).
    Dir(PathBuf),
    /// A `jinlava-<version>.tar.gz` sdist.
    Sdist(PathBuf),
}

impl WorkerSource {
    /// `pypi`, or a path (relative to `base`) to a checkout or an sdist.
    pub fn parse(spec: &str, base: &Path) -> Result<WorkerSource, String> {
        if spec == "pypi" {
            return Ok(WorkerSource::Pypi);
        }
        let path = base.join(spec);
        if path.is_dir() {
            Ok(WorkerSource::Dir(path))
        } else if path.is_file() && spec.ends_with(".tar.gz") {
            Ok(WorkerSource::Sdist(path))
        } else if path.exists() {
            Err(format!(
                "{spec:?} is neither a lava checkout directory nor a .tar.gz sdist"
            ))
        } else {
            Err(format!("{spec:?}: no such directory or sdist (expected \"pypi\", a lava checkout or a jinlava .tar.gz)"))
        }
    }

    /// Make the source available under `work` and check it is the release version.
    pub fn fetch(&self, version: &Version, work: &Path) -> Result<SourceTree, BuildError> {
        let root = match self {
            WorkerSource::Dir(dir) => dir.clone(),
            WorkerSource::Sdist(sdist) => unpack_sdist(sdist, work)?,
            WorkerSource::Pypi => {
                let cache = lava_tools::cache_dir().map(|c| c.join("sdist"));
                let sdist = pypi_sdist(version, work, cache.as_deref())?;
                unpack_sdist(&sdist, work)?
            }
        };
        SourceTree::open(self, root, version)
    }
}

impl fmt::Display for WorkerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerSource::Pypi => f.write_str("PyPI jinlava"),
            WorkerSource::Dir(p) | WorkerSource::Sdist(p) => write!(f, "{}", p.display()),
        }
    }
}

/// An unpacked, checked worker source.
#[derive(Debug)]
pub struct SourceTree {
    pub root: PathBuf,
}

impl SourceTree {
    fn open(
        source: &WorkerSource,
        root: PathBuf,
        version: &Version,
    ) -> Result<SourceTree, BuildError> {
        let bad = |what: String| BuildError::Input(format!("worker source {source}: {what}"));
        let required = [
            "lava",
            "bin",
            "requirements.txt",
            "requirements-extra.txt",
            "lava/VERSION.json",
        ];
        for required in required {
            if !root.join(required).exists() {
                return Err(bad(format!(
                    "{} is missing: not a lava source tree",
                    root.join(required).display()
                )));
            }
        }
        let version_file = root.join("lava/VERSION.json");
        let text =
            std::fs::read_to_string(&version_file).map_err(|e| BuildError::io(&version_file, e))?;
        let found = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("__version_num__")?.as_str().map(str::to_owned))
            .ok_or_else(|| {
                bad(format!(
                    "{}: no \"__version_num__\" string",
                    version_file.display()
                ))
            })?;
        if found != version.to_string() {
            return Err(bad(format!(
                "it is lava {found}, but the release is {version} (the release version in Cargo.toml)"
            )));
        }
        Ok(SourceTree { root })
    }

    /// The job framework template shipped as the framework zip.
    pub fn framework_dir(&self) -> PathBuf {
        self.root.join("lava/resources/cookiecutter")
    }
}

/// The release's sdist from `cache` (`jinlava-<version>.tar.gz`), else from
/// PyPI, kept in `cache` for the next run. PyPI never lets a file be replaced
/// under the same name, so a cached sdist stays the release's.
fn pypi_sdist(version: &Version, work: &Path, cache: Option<&Path>) -> Result<PathBuf, BuildError> {
    let name = format!("jinlava-{version}.tar.gz");
    if let Some(cached) = cache.map(|c| c.join(&name)).filter(|c| c.is_file()) {
        tracing::info!("worker source: {}", cached.display());
        return Ok(cached);
    }
    let sdist = download_sdist(version, work)?;
    let Some(cache) = cache else {
        return Ok(sdist);
    };
    // Copied beside its final name and renamed in: a cached sdist is whole.
    let keep = || -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(cache)?;
        let staging = tempfile::NamedTempFile::new_in(cache)?;
        std::fs::copy(&sdist, staging.path())?;
        let cached = cache.join(&name);
        staging.persist(&cached)?;
        Ok(cached)
    };
    if let Err(e) = keep() {
        tracing::warn!("cannot keep {name} in {}: {e}", cache.display());
    }
    Ok(sdist)
}

fn download_sdist(version: &Version, work: &Path) -> Result<PathBuf, BuildError> {
    let requirement = format!("jinlava=={version}");
    pip_download_sdist(&requirement, &work.join("download"), "worker source PyPI")
}

/// The sdist of `requirement` (`name==version`), downloaded by pip into
/// `dest`. When pip could not reach the index (the network, PyPI itself)
/// the outside world failed; any other refusal (no such release, an sdist
/// whose metadata cannot be prepared) is the input's fault. `context`
/// starts the message.
pub(crate) fn pip_download_sdist(
    requirement: &str,
    dest: &Path,
    context: &str,
) -> Result<PathBuf, BuildError> {
    pip_download(requirement, dest).map_err(|(unreachable, why)| {
        let message = format!("{context}: {why}");
        if unreachable {
            BuildError::Tool(message)
        } else {
            BuildError::Input(message)
        }
    })
}

/// What pip says when it did not get an answer from the index. pip reports
/// an index it could not reach as a project without releases ("from
/// versions: none"), which jinlava and every pinned requirement have.
const UNREACHABLE: [&str; 6] = [
    "(from versions: none)",
    "NewConnectionError",
    "Max retries exceeded",
    "Read timed out",
    "Could not fetch URL",
    "SSLError",
];

fn unreachable(pip_stderr: &str) -> bool {
    UNREACHABLE.iter().any(|m| pip_stderr.contains(m))
}

/// `Err((unreachable, why))`: `unreachable` when pip, or the index, could not
/// be reached at all.
fn pip_download(requirement: &str, dest: &Path) -> Result<PathBuf, (bool, String)> {
    tracing::info!("downloading the sdist of {requirement} from PyPI");
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
        ])
        .arg(dest)
        .arg(requirement)
        .output()
        .map_err(|e| (true, format!("cannot run python3 -m pip: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err((
            unreachable(&stderr),
            format!("pip could not download {requirement}:\n{stderr}"),
        ));
    }
    // pip names the file as the project does (`PyGreSQL-6.2.3.tar.gz`,
    // `jinlava-8.3.0.tar.gz`): it is the one file in `dest`.
    let mut files = std::fs::read_dir(dest)
        .map_err(|e| (true, format!("{}: {e}", dest.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file());
    match (files.next(), files.next()) {
        (Some(sdist), None) => Ok(sdist),
        _ => Err((
            true,
            format!(
                "pip did not leave exactly one sdist of {requirement} in {}",
                dest.display()
            ),
        )),
    }
}

fn unpack_sdist(sdist: &Path, work: &Path) -> Result<PathBuf, BuildError> {
    let bad =
        |what: String| BuildError::Input(format!("worker source {}: {what}", sdist.display()));
    let dest = work.join("source");
    let file = std::fs::File::open(sdist).map_err(|e| BuildError::io(sdist, e))?;
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(&dest)
        .map_err(|e| bad(format!("cannot unpack: {e}")))?;
    // An sdist holds exactly one top directory, `jinlava-<version>/`.
    let mut tops = std::fs::read_dir(&dest)
        .map_err(|e| BuildError::io(&dest, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir());
    match (tops.next(), tops.next()) {
        (Some(top), None) => Ok(top),
        _ => Err(bad("expected exactly one top-level directory".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_failures_are_told_apart() {
        // What pip 23 printed here for each case.
        let cases = [
            // A closed port as the index (PIP_RETRIES=0).
            ("ERROR: Could not find a version that satisfies the requirement jinlava==8.3.0 (from versions: none)\nERROR: No matching distribution found for jinlava==8.3.0", true),
            ("WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError(...)': /simple/jinlava/", true),
            // PyPI has the project, not the release.
            ("ERROR: Could not find a version that satisfies the requirement jinlava==0.0.0.1 (from versions: 8.2.0, 8.3.0)\nERROR: No matching distribution found for jinlava==0.0.0.1", false),
            // An sdist whose metadata cannot be prepared.
            ("error: subprocess-exited-with-error\n× Getting requirements to build wheel did not run successfully.\nerror: metadata-generation-failed", false),
        ];
        for (stderr, expected) in cases {
            assert_eq!(unreachable(stderr), expected, "{stderr}");
        }
    }

    fn fake_checkout(dir: &Path, version: &str) {
        std::fs::create_dir_all(dir.join("lava")).unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("requirements.txt"), "").unwrap();
        std::fs::write(dir.join("requirements-extra.txt"), "").unwrap();
        std::fs::write(
            dir.join("lava/VERSION.json"),
            format!("{{\"__version_num__\": \"{version}\"}}"),
        )
        .unwrap();
    }

    #[test]
    fn parse_names_what_is_wrong() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            WorkerSource::parse("pypi", tmp.path()).unwrap(),
            WorkerSource::Pypi
        );
        let err = WorkerSource::parse("nowhere", tmp.path()).unwrap_err();
        assert!(
            err.contains("\"nowhere\"") && err.contains("no such"),
            "{err}"
        );
        std::fs::write(tmp.path().join("x.zip"), "").unwrap();
        assert!(WorkerSource::parse("x.zip", tmp.path())
            .unwrap_err()
            .contains("neither"));
    }

    #[test]
    fn checkout_must_be_the_release_version() {
        let tmp = tempfile::tempdir().unwrap();
        fake_checkout(tmp.path(), "8.2.0");
        let source = WorkerSource::Dir(tmp.path().to_path_buf());
        let err = source
            .fetch(&"8.3.0".parse().unwrap(), tmp.path())
            .unwrap_err();
        assert!(err.is_input());
        assert!(
            err.to_string().contains("8.2.0") && err.to_string().contains("8.3.0"),
            "{err}"
        );
        assert!(source.fetch(&"8.2.0".parse().unwrap(), tmp.path()).is_ok());
    }

    #[test]
    fn a_cached_sdist_is_used_without_pypi() {
        // No jinlava 0.0.1 exists on PyPI: only the cache can answer.
        let tmp = tempfile::tempdir().unwrap();
        let checkout = tmp.path().join("jinlava-0.0.1");
        fake_checkout(&checkout, "0.0.1");
        let cache = tmp.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        let gz = std::fs::File::create(cache.join("jinlava-0.0.1.tar.gz")).unwrap();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(gz, Default::default()));
        tar.append_dir_all("jinlava-0.0.1", &checkout).unwrap();
        tar.into_inner().unwrap().finish().unwrap();

        let version: Version = "0.0.1".parse().unwrap();
        let work = tmp.path().join("work");
        let sdist = pypi_sdist(&version, &work, Some(&cache)).unwrap();
        assert_eq!(sdist, cache.join("jinlava-0.0.1.tar.gz"));
        let root = unpack_sdist(&sdist, &work).unwrap();
        SourceTree::open(&WorkerSource::Pypi, root, &version).unwrap();
    }

    #[test]
    fn incomplete_checkout_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("lava")).unwrap();
        let err = WorkerSource::Dir(tmp.path().to_path_buf())
            .fetch(&"8.3.0".parse().unwrap(), tmp.path())
            .unwrap_err();
        assert!(
            err.to_string().contains("bin") && err.to_string().contains("missing"),
            "{err}"
        );
    }
}
