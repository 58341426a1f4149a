//! Carrying out a plan: download, verify, install, check, then the accounts
//! and daemons. Every check on the bundle happens before its installer runs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lava_layout::Version;

use crate::bundle::{self, INSTALLER};
use crate::plan::{at_least, Account, DaemonPlan, Plan, LAVA_GROUP};
use crate::{Aws, BootError};

/// What a boot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub installed: Version,
    /// Daemons started per worker name (none under a root directory).
    pub started: Vec<(String, u32)>,
}

/// Execute `plan`.
pub async fn apply(plan: &Plan, aws: &Aws) -> Result<Applied, BootError> {
    let work = work_dir(plan.root.as_deref())?;
    let path = work.path().join(&plan.bundle.name);
    // The steps upstream's 50-lava.sh logs, in its words (operators search
    // the worker's log for them).
    tracing::info!("Installing lava");
    tracing::info!("Found lava version {}", plan.bundle.version);
    tracing::info!("Downloading {}", plan.bundle.url);
    aws.code_area(&plan.code_area)
        .download(&plan.bundle.key, &path)
        .await?
        .ok_or_else(|| BootError::Vanished {
            url: plan.bundle.url.clone(),
        })?;
    let plan = plan.clone();
    // Installers, account tools and daemons are blocking processes.
    // `work` moves in and is removed when the closure ends.
    tokio::task::spawn_blocking(move || {
        let installed = install(&plan, work.path(), &path)?;
        let started = match plan.root {
            Some(_) => {
                prepare_under_root(&plan)?;
                Vec::new()
            }
            None => start_daemons(&plan)?,
        };
        Ok(Applied { installed, started })
    })
    .await
    .expect("the boot does not panic")
}

/// A private directory for the download, removed when dropped. Under a root
/// directory it lives in that root's `/tmp`.
fn work_dir(root: Option<&Path>) -> Result<tempfile::TempDir, BootError> {
    let parent = match root {
        Some(root) => root.join("tmp"),
        None => std::env::temp_dir(),
    };
    std::fs::create_dir_all(&parent).map_err(BootError::io(&parent))?;
    tempfile::Builder::new()
        .prefix("lava-boot.")
        .tempdir_in(&parent)
        .map_err(BootError::io(&parent))
}

/// Verify and scan the bundle, run its installer, check `lava-version`.
fn install(plan: &Plan, work: &Path, path: &Path) -> Result<Version, BootError> {
    let url = &plan.bundle.url;
    match &plan.bundle.sha256 {
        Some(expected) => {
            let (_, actual) = lava_files::sha256_file(path).map_err(BootError::io(path))?;
            if &actual != expected {
                plan.bundle.policy.mismatch(url, expected, &actual)?;
            } else {
                tracing::info!("{}: sha256 matches SHA256SUMS", plan.bundle.name);
            }
        }
        None => tracing::warn!(
            "{}: NOT VERIFIED: {}",
            plan.bundle.name,
            plan.bundle.unverified.as_deref().unwrap_or("no digest")
        ),
    }
    let installer = bundle::scan(path).map_err(|source| BootError::Bundle {
        url: url.clone(),
        source,
    })?;
    let script = work.join(INSTALLER);
    std::fs::write(&script, installer).map_err(BootError::io(&script))?;
    set_mode(&script, 0o700)?;

    let mut args = plan.install.args.clone();
    // The plan names the bundle; here it is the downloaded file.
    args.pop();
    // The plan's choice of install directory, by the same test.
    let generation = if at_least(&plan.bundle.version, "8.0.0") {
        "v8+"
    } else {
        "v7"
    };
    tracing::info!("Running lava installer ({generation})");
    tracing::debug!("{INSTALLER} {} {}", args.join(" "), plan.bundle.name);
    run(
        Command::new(&script).args(&args).arg(path),
        &format!("the bundle's {INSTALLER}"),
    )?;

    let lava_version = plan.install.bindir.join("lava-version");
    let output = Command::new(&lava_version)
        .env("PATH", path_with(&plan.install.bindir))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BootError::Spawn {
            what: lava_version.display().to_string(),
            source,
        })?;
    if !output.status.success() {
        return Err(BootError::Failed {
            what: format!(
                "{} ({})",
                lava_version.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            status: output.status,
        });
    }
    let got = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let expected = plan.bundle.version.to_string();
    if got != expected {
        return Err(BootError::VersionCheck { expected, got });
    }
    tracing::info!("Installed lava v{got}");
    Ok(plan.bundle.version.clone())
}

/// The scratch area, then each worker's account, start script and daemons.
fn start_daemons(plan: &Plan) -> Result<Vec<(String, u32)>, BootError> {
    if !succeeds(Command::new("getent").args(["group", LAVA_GROUP]))? {
        tracing::info!("No {LAVA_GROUP} group - creating");
        run(Command::new("groupadd").arg(LAVA_GROUP), "groupadd")?;
    }
    let tmp = fresh_tmp(plan)?;
    run(
        Command::new("chgrp").args(["-R", LAVA_GROUP]).arg(&tmp),
        "chgrp",
    )?;
    let docker = succeeds(Command::new("getent").args(["group", "docker"]))?;
    let mut started = Vec::new();
    for (account, daemon) in plan.accounts.iter().zip(&plan.daemons) {
        let home = ensure_account(account, docker)?;
        let script = home.join("lava.start");
        write_start_script(&script, daemon)?;
        run(
            Command::new("chown")
                .arg(format!("{}:{LAVA_GROUP}", account.user))
                .arg(&script),
            "chown",
        )?;
        tracing::info!(
            "Starting lava worker for realm={} worker={}",
            plan.realm,
            daemon.worker
        );
        for n in 1..=daemon.count {
            tracing::info!(
                "Lava worker {}: Starting daemon {n} of {}",
                daemon.worker,
                daemon.count
            );
            run(
                Command::new("sudo")
                    .args(["-Hnu", &account.user, "./lava.start"])
                    .current_dir(&home)
                    .stdin(Stdio::null()),
                &format!("worker {}: daemon {n} of {}", daemon.worker, daemon.count),
            )?;
        }
        started.push((daemon.worker.clone(), daemon.count));
    }
    Ok(started)
}

/// Under a root directory: the scratch area and the start scripts, in place;
/// the accounts and daemons stay in the plan.
fn prepare_under_root(plan: &Plan) -> Result<(), BootError> {
    fresh_tmp(plan)?;
    for daemon in &plan.daemons {
        let home = daemon
            .start_script
            .parent()
            .expect("a start script sits in a home directory");
        std::fs::create_dir_all(home).map_err(BootError::io(home))?;
        write_start_script(&daemon.start_script, daemon)?;
        tracing::info!(
            "Starting lava worker for realm={} worker={}",
            plan.realm,
            daemon.worker
        );
        tracing::info!(
            "wrote {} ({} daemon(s) of worker {} not started under --root)",
            daemon.start_script.display(),
            daemon.count,
            daemon.worker
        );
    }
    Ok(())
}

/// Empty lava's scratch area and recreate it for the realm, mode 1770.
/// Returns the area's top directory.
fn fresh_tmp(plan: &Plan) -> Result<PathBuf, BootError> {
    let top = plan
        .tmp_dir
        .parent()
        .expect("the realm's scratch directory has a parent")
        .to_path_buf();
    match std::fs::remove_dir_all(&top) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(BootError::io(&top)(e)),
    }
    std::fs::create_dir_all(&plan.tmp_dir).map_err(BootError::io(&plan.tmp_dir))?;
    set_mode(&top, 0o1770)?;
    set_mode(&plan.tmp_dir, 0o1770)?;
    Ok(top)
}

/// Create the account if it is missing; returns its home directory.
fn ensure_account(account: &Account, docker: bool) -> Result<PathBuf, BootError> {
    let user = &account.user;
    if !succeeds(Command::new("getent").args(["passwd", user]))? {
        tracing::info!("No {user} account - creating");
        run(
            Command::new("useradd")
                .arg(user)
                .args([
                    "-g",
                    LAVA_GROUP,
                    "--system",
                    "--create-home",
                    "--no-user-group",
                ])
                .arg("--home-dir")
                .arg(&account.home)
                .args(["--comment", &account.comment, "--shell", "/bin/false"]),
            "useradd",
        )?;
        run(
            Command::new("usermod").args(["--lock", user]),
            "usermod --lock",
        )?;
    }
    if docker {
        run(
            Command::new("usermod").args(["-aG", "docker", user]),
            "usermod -aG docker",
        )?;
    }
    let output = Command::new("getent")
        .args(["passwd", user])
        .output()
        .map_err(|source| BootError::Spawn {
            what: "getent".into(),
            source,
        })?;
    // name:password:uid:gid:comment:home:shell
    let entry = String::from_utf8_lossy(&output.stdout);
    match entry.trim().split(':').nth(5) {
        Some(home) if output.status.success() && !home.is_empty() => Ok(PathBuf::from(home)),
        _ => Err(BootError::Failed {
            what: format!("getent passwd {user} (no home directory)"),
            status: output.status,
        }),
    }
}

fn write_start_script(path: &Path, daemon: &DaemonPlan) -> Result<(), BootError> {
    std::fs::write(path, &daemon.script).map_err(BootError::io(path))?;
    set_mode(path, 0o750)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), BootError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(BootError::io(path))
}

/// `bindir` ahead of the inherited `PATH`.
fn path_with(bindir: &Path) -> std::ffi::OsString {
    let mut path = bindir.as_os_str().to_os_string();
    if let Some(inherited) = std::env::var_os("PATH") {
        path.push(":");
        path.push(inherited);
    }
    path
}

fn spawn_error(cmd: &Command) -> impl FnOnce(std::io::Error) -> BootError + '_ {
    move |source| BootError::Spawn {
        what: cmd.get_program().to_string_lossy().into_owned(),
        source,
    }
}

/// Run to completion, output passed through; failing is an error.
fn run(cmd: &mut Command, what: &str) -> Result<(), BootError> {
    let status = cmd.status().map_err(spawn_error(cmd))?;
    if status.success() {
        Ok(())
    } else {
        Err(BootError::Failed {
            what: what.to_string(),
            status,
        })
    }
}

/// Whether a query command succeeds (its output discarded).
fn succeeds(cmd: &mut Command) -> Result<bool, BootError> {
    let status = cmd
        .stdout(Stdio::null())
        .status()
        .map_err(spawn_error(cmd))?;
    Ok(status.success())
}
