//! The boot runner (`root.boot.sh`'s job): fetch the code area's `_boot_/`
//! scriptlets and run them in order of name, each with the code area, realm
//! and worker as arguments.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lava_layout::{boot_script_key, Sums, BOOT_PREFIX, SHA256SUMS};
use lava_store::Location;

use crate::{check_name, Aws, BootError};

/// The environment variable that tells scriptlets where this lava-boot is,
/// so `50-lava.sh` need not download it again.
pub const LAVA_BOOT_ENV: &str = "LAVA_BOOT";

/// One scriptlet that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRun {
    pub name: String,
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
}

/// Names in `_boot_/` that are not scriptlets.
fn skipped(name: &str) -> bool {
    name.starts_with("README") || name == SHA256SUMS || name.starts_with('.')
}

/// Fetch and run the scriptlets directly in `<area>/_boot_/` (not those in
/// directories below it), in byte order of name, as `<script> AREA REALM
/// WORKER` with stdin from /dev/null. Exit status 1 aborts the boot; any
/// other failure is logged and the next scriptlet runs. A scriptlet listed in
/// `_boot_/SHA256SUMS` must match it; unlisted ones (local additions) run
/// unverified. `lava_boot` is passed to them as `LAVA_BOOT`.
pub async fn run_scripts(
    area: &Location,
    realm: &str,
    worker: &str,
    aws: &Aws,
    lava_boot: Option<&Path>,
) -> Result<Vec<ScriptRun>, BootError> {
    check_name("realm", realm)?;
    check_name("worker", worker)?;
    let store = aws.code_area(area);
    let mut names: Vec<String> = Vec::new();
    for listed in store.list(BOOT_PREFIX).await? {
        if skipped(&listed.name) {
            tracing::info!("skipping {}", listed.name);
        } else {
            names.push(listed.name);
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(BootError::NoScripts {
            url: store.url(&format!("{BOOT_PREFIX}/")),
        });
    }
    let sums_key = boot_script_key(SHA256SUMS);
    let sums = store
        .get(&sums_key)
        .await?
        .map(|bytes| Sums::parse(&String::from_utf8_lossy(&bytes)).0);

    let work = tempfile::Builder::new()
        .prefix("lava-boot.")
        .tempdir()
        .map_err(BootError::io(std::env::temp_dir()))?;
    let mut scripts = Vec::new();
    for name in names {
        let key = boot_script_key(&name);
        let url = store.url(&key);
        let path = work.path().join(&name);
        store
            .download(&key, &path)
            .await?
            .ok_or_else(|| BootError::Vanished { url: url.clone() })?;
        match sums.as_ref().and_then(|s| s.get(&name)).map(str::to_string) {
            Some(expected) => {
                let (_, actual) = lava_files::sha256_file(&path).map_err(BootError::io(&path))?;
                if actual != expected {
                    return Err(BootError::Mismatch {
                        url,
                        expected,
                        actual,
                    });
                }
            }
            None => tracing::warn!("{name}: not in {}: run unverified", store.url(&sums_key)),
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(BootError::io(&path))?;
        scripts.push((name, path));
    }

    // Scriptlets get the area as given to us, without the trailing slash.
    let area_arg = area.to_string().trim_end_matches('/').to_string();
    let (realm, worker) = (realm.to_string(), worker.to_string());
    let lava_boot = lava_boot.map(Path::to_path_buf);
    // `work` moves in: the scriptlets stay until the last has run.
    tokio::task::spawn_blocking(move || {
        run_all(
            &scripts,
            [&area_arg, &realm, &worker],
            lava_boot.as_deref(),
            work.path(),
        )
    })
    .await
    .expect("running scriptlets does not panic")
}

fn run_all(
    scripts: &[(String, PathBuf)],
    args: [&String; 3],
    lava_boot: Option<&Path>,
    dir: &Path,
) -> Result<Vec<ScriptRun>, BootError> {
    let mut ran = Vec::new();
    for (name, path) in scripts {
        tracing::info!("running boot script {name}");
        let mut cmd = Command::new(path);
        cmd.args(args).stdin(Stdio::null()).current_dir(dir);
        if let Some(lava_boot) = lava_boot {
            cmd.env(LAVA_BOOT_ENV, lava_boot);
        }
        let status = cmd.status().map_err(|source| BootError::Spawn {
            what: format!("boot script {name}"),
            source,
        })?;
        ran.push(ScriptRun {
            name: name.clone(),
            code: status.code(),
        });
        match status.code() {
            Some(0) => tracing::info!("boot script {name}: OK"),
            Some(1) => return Err(BootError::ScriptAborted { name: name.clone() }),
            _ => tracing::error!("boot script {name} failed ({status}): continuing"),
        }
    }
    Ok(ran)
}
