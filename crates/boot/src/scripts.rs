//! The boot runner (`root.boot.sh`'s job): fetch the code area's `_boot_/`
//! scriptlets and run them in order of name, each with the code area, realm
//! and worker as arguments.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lava_layout::{boot_copy_key, boot_script_key, Sums, BOOT_PREFIX, SHA256SUMS};
use lava_store::Location;

use crate::settings::WorkerSettings;
use crate::verify::{Policy, Unverifiable};
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

/// Names in `_boot_/` that are not scriptlets (a `SHA256SUMS` left there by
/// an earlier layout of ours too).
fn skipped(name: &str) -> bool {
    name.starts_with("README") || name == SHA256SUMS || name.starts_with('.')
}

/// Fetch and run the scriptlets directly in `<area>/_boot_/` (not those in
/// directories below it), in byte order of name, as `<script> AREA REALM
/// WORKER` with stdin from /dev/null. Exit status 1 aborts the boot; any
/// other failure is logged and the next scriptlet runs. A scriptlet that
/// `_dist_/boot/SHA256SUMS` does not vouch for (unlisted, stale, no file) runs
/// with a warning, as upstream's root.boot.sh runs whatever it finds, unless
/// the realm's `x-workers` requires verification. `lava_boot` is passed to
/// them as `LAVA_BOOT`, and the realm's scriptlet settings (`secupdate*`)
/// as their variables.
pub async fn run_scripts(
    area: &Location,
    realm: &str,
    worker: &str,
    aws: &Aws,
    lava_boot: Option<&Path>,
) -> Result<Vec<ScriptRun>, BootError> {
    check_name("realm", realm)?;
    check_name("worker", worker)?;
    // Upstream's root.boot.sh reads no realm: a realm it cannot read leaves
    // the scriptlets their defaults, and 50-lava.sh reports the realm.
    let item = match aws.realm_item(realm).await {
        Ok(item) => item,
        Err(e) => {
            tracing::warn!("{e}: the boot scripts run with default settings");
            serde_json::json!({})
        }
    };
    let settings = WorkerSettings::resolve(&item, worker)?;
    let policy = Policy::of(&settings, true);
    let store = aws.code_area(area);
    tracing::info!(
        "Checking {} for boot scripts",
        store.url(&format!("{BOOT_PREFIX}/"))
    );
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
    // The copies beside lava-boot are what our deploy wrote: _boot_/ itself
    // holds nothing but scriptlets, for upstream's root.boot.sh.
    let sums_key = boot_copy_key(SHA256SUMS);
    let sums = store
        .get(&sums_key)
        .await?
        .map(|bytes| Sums::parse(&String::from_utf8_lossy(&bytes)).0);

    let work = tempfile::Builder::new()
        .prefix("lava-boot.")
        .tempdir()
        .map_err(BootError::io(std::env::temp_dir()))?;
    let sums_url = store.url(&sums_key);
    let mut scripts = Vec::new();
    for name in names {
        let key = boot_script_key(&name);
        let url = store.url(&key);
        let path = work.path().join(&name);
        store
            .download(&key, &path)
            .await?
            .ok_or_else(|| BootError::Vanished { url: url.clone() })?;
        match sums.as_ref().map(|s| s.get(&name)) {
            Some(Some(expected)) => {
                let (_, actual) = lava_files::sha256_file(&path).map_err(BootError::io(&path))?;
                if actual != expected {
                    policy.mismatch(&url, expected, &actual)?;
                }
            }
            Some(None) => {
                policy.unverifiable(Unverifiable::Unlisted, &name, &sums_url)?;
            }
            None => {
                policy.unverifiable(Unverifiable::NoSums, &name, &sums_url)?;
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(BootError::io(&path))?;
        scripts.push((name, path));
    }

    // Scriptlets get the area as given to us, without the trailing slash.
    let area_arg = area.to_string().trim_end_matches('/').to_string();
    let (realm, worker) = (realm.to_string(), worker.to_string());
    let mut env: Vec<(String, String)> = settings
        .scriptlet_env
        .into_iter()
        .map(|(var, value)| (var.to_string(), value))
        .collect();
    if let Some(lava_boot) = lava_boot {
        env.push((LAVA_BOOT_ENV.to_string(), lava_boot.display().to_string()));
    }
    // `work` moves in: the scriptlets stay until the last has run.
    tokio::task::spawn_blocking(move || {
        run_all(&scripts, [&area_arg, &realm, &worker], &env, work.path())
    })
    .await
    .expect("running scriptlets does not panic")
}

fn run_all(
    scripts: &[(String, PathBuf)],
    args: [&String; 3],
    env: &[(String, String)],
    dir: &Path,
) -> Result<Vec<ScriptRun>, BootError> {
    let mut ran = Vec::new();
    for (name, path) in scripts {
        tracing::info!("Running boot script {name}");
        let mut cmd = Command::new(path);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .current_dir(dir);
        let status = cmd.status().map_err(|source| BootError::Spawn {
            what: format!("boot script {name}"),
            source,
        })?;
        ran.push(ScriptRun {
            name: name.clone(),
            code: status.code(),
        });
        match status.code() {
            // Upstream's root.boot.sh's words, spacing included.
            Some(0) => tracing::info!("Boot script {name} : OK"),
            Some(1) => return Err(BootError::ScriptAborted { name: name.clone() }),
            _ => tracing::error!("Boot script {name} failed - continue ({status})"),
        }
    }
    Ok(ran)
}
