//! The platform a booting worker runs on, as the bundle names spell it: os from
//! os-release, Python `M.m` from `python3`, architecture from `uname -m`.

use std::path::{Path, PathBuf};
use std::process::Command;

use lava_layout::{Arch, Os, PythonVersion, Runtime, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("cannot read the os-release file ({}): {source} (pass --os)", path.display())]
    OsRelease {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no {field} (pass --os)", path.display())]
    OsReleaseField { path: PathBuf, field: &'static str },
    #[error("cannot learn the {what} from `{command}`: {reason} (pass --{flag})")]
    Probe {
        what: &'static str,
        command: &'static str,
        flag: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Invalid(#[from] RuntimeError),
}

/// What the caller already knows; everything else is detected.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The whole platform; the parts below are then ignored.
    pub platform: Option<Runtime>,
    pub os: Option<Os>,
    pub python: Option<PythonVersion>,
    pub arch: Option<Arch>,
}

/// The platform of this host, `root` being where its file system starts
/// (`/`, or the directory a `--root` boot prepares).
pub fn detect(root: &Path, overrides: &Overrides) -> Result<Runtime, PlatformError> {
    if let Some(platform) = &overrides.platform {
        return Ok(platform.clone());
    }
    let os = match &overrides.os {
        Some(os) => os.clone(),
        None => os_of(root)?,
    };
    let python = match overrides.python {
        Some(python) => python,
        None => probe(
            "Python version",
            "python3",
            &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            "python",
        )?
        .parse()?,
    };
    let arch = match overrides.arch {
        Some(arch) => arch,
        None => probe("architecture", "uname", &["-m"], "arch")?.parse()?,
    };
    Ok(Runtime { os, python, arch })
}

/// `ID` and the major part of `VERSION_ID` from os-release(5): `/etc/os-release`,
/// else `/usr/lib/os-release`, below `root`.
fn os_of(root: &Path) -> Result<Os, PlatformError> {
    let etc = root.join("etc/os-release");
    let text = match std::fs::read_to_string(&etc) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let lib = root.join("usr/lib/os-release");
            std::fs::read_to_string(&lib).map_err(|_| PlatformError::OsRelease {
                path: etc.clone(),
                source: e,
            })?
        }
        Err(source) => return Err(PlatformError::OsRelease { path: etc, source }),
    };
    let field = |name: &'static str| {
        os_release_field(&text, name).ok_or_else(|| PlatformError::OsReleaseField {
            path: etc.clone(),
            field: name,
        })
    };
    Ok(Os::from_os_release(&field("ID")?, &field("VERSION_ID")?)?)
}

/// A `KEY=value` of os-release, the value unquoted; the last assignment wins,
/// as when the file is sourced by a shell.
fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|value| {
            let value = value.trim();
            let unquoted = ['"', '\'']
                .into_iter()
                .find_map(|q| value.strip_prefix(q).and_then(|v| v.strip_suffix(q)));
            unquoted.unwrap_or(value).to_string()
        })
        .rfind(|value| !value.is_empty())
}

fn probe(
    what: &'static str,
    command: &'static str,
    args: &[&str],
    flag: &'static str,
) -> Result<String, PlatformError> {
    let fail = |reason: String| PlatformError::Probe {
        what,
        command,
        flag,
        reason,
    };
    let output = Command::new(command)
        .args(args)
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        return Err(fail(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values_are_unquoted() {
        let text = "NAME=\"Amazon Linux\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID='2023'\n";
        assert_eq!(os_release_field(text, "ID").as_deref(), Some("amzn"));
        assert_eq!(
            os_release_field(text, "VERSION_ID").as_deref(),
            Some("2023")
        );
        assert_eq!(os_release_field(text, "VERSION"), None);
        assert_eq!(
            os_release_field("ID=debian\nVERSION_ID=12.4", "VERSION_ID").as_deref(),
            Some("12.4")
        );
    }

    #[test]
    fn os_comes_from_the_root_and_overrides_win() {
        let root = tempfile::tempdir().unwrap();
        let missing = detect(root.path(), &Overrides::default()).unwrap_err();
        assert!(missing.to_string().contains("--os"), "{missing}");

        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(
            root.path().join("usr/lib/os-release"),
            "ID=rocky\nVERSION_ID=\"9.3\"\n",
        )
        .unwrap();
        let overrides = Overrides {
            python: Some("3.12".parse().unwrap()),
            arch: Some(Arch::Aarch64),
            ..Overrides::default()
        };
        let platform = detect(root.path(), &overrides).unwrap();
        assert_eq!(platform.to_string(), "rocky9-py3.12-aarch64");

        let whole = Overrides {
            platform: Some("amzn2023-py3.11-arm64".parse().unwrap()),
            ..overrides
        };
        assert_eq!(
            detect(root.path(), &whole).unwrap().to_string(),
            "amzn2023-py3.11-aarch64"
        );
    }
}
