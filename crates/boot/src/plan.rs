//! The boot plan: everything a worker boot will do, decided from the realms
//! table and the code area before anything is changed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use lava_layout::{pkg_dir, Runtime, Sums, Version, SHA256SUMS};
use lava_store::Location;
use serde::{Serialize, Serializer};

use crate::bundle::INSTALLER;
use crate::select::{select, Reason, Skipped};
use crate::settings::{Daemon, WorkerSettings};
use crate::verify::{Policy, Unverifiable};
use crate::{check_name, Aws, BootError};

/// The group every worker account belongs to.
pub const LAVA_GROUP: &str = "lava";

/// Where the installer links the lava commands (upstream's `LAVA_BIN`).
const BINDIR: &str = "/usr/local/bin";
/// Lava's scratch area; the worker's `TMPDIR` configuration default.
const TMP_DIR: &str = "/tmp/lava";

/// What to plan a boot for.
#[derive(Debug, Clone)]
pub struct Request {
    pub code_area: Location,
    pub realm: String,
    pub worker: String,
    pub platform: Runtime,
    /// Land every file system effect below this directory, touch no account
    /// and start no daemon.
    pub root: Option<PathBuf>,
    /// Enforce the realm's `verify: required`; false (`--no-verify`) warns
    /// instead.
    pub verify: bool,
}

/// Everything a boot does, in order.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    #[serde(serialize_with = "display")]
    pub code_area: Location,
    pub realm: String,
    pub worker: String,
    #[serde(serialize_with = "display")]
    pub platform: Runtime,
    pub root: Option<PathBuf>,
    pub pin: Option<Pin>,
    pub bundle: Bundle,
    /// Names in the package directory that are not bundle names.
    pub skipped: Vec<Skipped>,
    pub install: Install,
    pub group: &'static str,
    /// Emptied and recreated for the realm, group `lava`, mode 1770.
    pub tmp_dir: PathBuf,
    pub accounts: Vec<Account>,
    pub daemons: Vec<DaemonPlan>,
    /// `env` entries left out because they cannot be exported safely.
    pub dropped_env: Vec<String>,
}

/// A version pinned in the realms table.
#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    pub version: Version,
    /// The realms table attribute it came from.
    pub from: String,
}

/// The chosen bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    /// The file name as listed.
    pub name: String,
    /// Its key in the code area.
    pub key: String,
    pub url: String,
    pub version: Version,
    pub reason: Reason,
    pub why: String,
    /// The digest SHA256SUMS gives.
    pub sha256: Option<String>,
    /// Why there is no digest to check: no SHA256SUMS in the directory, or
    /// no entry in it.
    pub unverified: Option<String>,
    /// What a digest that does not match means.
    pub policy: Policy,
}

/// How the bundle is installed.
#[derive(Debug, Clone, Serialize)]
pub struct Install {
    pub base: PathBuf,
    pub bindir: PathBuf,
    /// The installer's arguments after `install.sh`, the bundle last.
    pub args: Vec<String>,
}

/// A worker's system account.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub user: String,
    pub worker: String,
    pub home: PathBuf,
    pub comment: String,
}

/// The daemons of one worker name.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonPlan {
    pub worker: String,
    pub user: String,
    pub count: u32,
    pub threads: Option<u32>,
    pub env: BTreeMap<String, String>,
    pub start_script: PathBuf,
    /// The start script's content.
    pub script: String,
}

fn display<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// `path` (absolute) on the booting host: below `root` when there is one.
fn host_path(root: Option<&Path>, path: &str) -> PathBuf {
    match root {
        Some(root) => root.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// Decide the boot of `request.worker`: read the realm's item and the
/// package directory of the platform's os, select, and lay out the rest.
/// Changes nothing.
pub async fn plan(request: &Request, aws: &Aws) -> Result<Plan, BootError> {
    check_name("realm", &request.realm)?;
    check_name("worker", &request.worker)?;
    let item = aws.realm_item(&request.realm).await?;
    let settings = WorkerSettings::resolve(&item, &request.worker)?;
    for daemon in &settings.daemons {
        check_name("worker", &daemon.worker)?;
    }

    let store = aws.code_area(&request.code_area);
    let dir = pkg_dir(&request.platform.os);
    let listing: Vec<String> = store
        .list(&dir)
        .await?
        .into_iter()
        .map(|listed| listed.name)
        .collect();
    let pin = settings.pin.as_ref().map(|(version, _)| version);
    let (selected, skipped) = select(&listing, &request.platform, pin);
    for s in &skipped {
        tracing::warn!(
            "skipping {}: {}",
            store.url(&format!("{dir}/{}", s.name)),
            s.reason
        );
    }
    let selection = selected?;
    // The listed name, not a re-formatted one: an alias such as arm64 must be fetched as is.
    let key = format!("{dir}/{}", selection.name);
    let sums_key = format!("{dir}/{SHA256SUMS}");
    let sums_url = store.url(&sums_key);
    let policy = Policy::of(&settings, request.verify);
    let (sha256, unverified) = match store.get(&sums_key).await? {
        Some(bytes) => match Sums::parse(&String::from_utf8_lossy(&bytes))
            .0
            .get(&selection.name)
        {
            Some(sha) => (Some(sha.to_string()), None),
            None => (
                None,
                Some(policy.unverifiable(Unverifiable::Unlisted, &selection.name, &sums_url)?),
            ),
        },
        None => (
            None,
            Some(policy.unverifiable(Unverifiable::NoSums, &selection.name, &sums_url)?),
        ),
    };

    let version = selection.package.version().clone();
    let root = request.root.as_deref();
    // Lava 8 installs in its own tree; earlier installers wanted /usr/local.
    let base = host_path(
        root,
        if at_least(&version, "8.0.0") {
            "/opt/lava"
        } else {
            "/usr/local"
        },
    );
    let bindir = host_path(root, BINDIR);
    let mut args = vec![
        "-c".to_string(),
        "-d".to_string(),
        base.display().to_string(),
    ];
    if root.is_some() {
        args.extend(["-b".to_string(), bindir.display().to_string()]);
    }
    args.push(selection.name.clone());

    // lava-worker has taken --log-json since 7.1.
    let log_json = at_least(&version, "7.1.0");
    let mut accounts = Vec::new();
    let mut daemons = Vec::new();
    for daemon in &settings.daemons {
        let user = format!("lava-{}", daemon.worker);
        let home = host_path(root, &format!("/home/{user}"));
        let start_script = home.join("lava.start");
        daemons.push(DaemonPlan {
            worker: daemon.worker.clone(),
            user: user.clone(),
            count: daemon.count,
            threads: daemon.threads,
            env: daemon.env.clone(),
            start_script,
            script: start_script_text(&bindir, &request.realm, daemon, log_json),
        });
        accounts.push(Account {
            comment: format!("Lava Worker {}", daemon.worker),
            user,
            worker: daemon.worker.clone(),
            home,
        });
    }

    Ok(Plan {
        code_area: request.code_area.clone(),
        realm: request.realm.clone(),
        worker: request.worker.clone(),
        platform: request.platform.clone(),
        root: request.root.clone(),
        pin: settings.pin.map(|(version, from)| Pin {
            version,
            from: format!("x-workers.{from}.version"),
        }),
        bundle: Bundle {
            url: store.url(&key),
            key,
            name: selection.name,
            version,
            reason: selection.reason,
            why: selection.reason.to_string(),
            sha256,
            unverified,
            policy,
        },
        skipped,
        install: Install { base, bindir, args },
        group: LAVA_GROUP,
        tmp_dir: host_path(root, TMP_DIR).join(&request.realm),
        accounts,
        daemons,
        dropped_env: settings.dropped_env,
    })
}

/// `version` is `release` or later, counting its pre-, post- and
/// dev-releases: upstream compares the X.Y.Z part only, so 8.0.0rc1 is lava 8.
pub(crate) fn at_least(version: &Version, release: &str) -> bool {
    // X.Y.Z.dev0 sorts below every other release of X.Y.Z.
    let first: Version = format!("{release}.dev0")
        .parse()
        .expect("a release version");
    *version >= first
}

/// Single-quoted for bash.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The script that starts one daemon of `daemon.worker`, with the arguments
/// upstream's boot gives lava-worker.
fn start_script_text(bindir: &Path, realm: &str, daemon: &Daemon, log_json: bool) -> String {
    let worker = &daemon.worker;
    let mut text =
        String::from("#!/bin/bash\n# Written by lava-boot: starts one lava-worker daemon.\n\n");
    text += &format!(
        "export PATH={}\n",
        quote(&format!("{}:/usr/bin", bindir.display()))
    );
    for (name, value) in &daemon.env {
        text += &format!("export {name}={}\n", quote(value));
    }
    let mut args = vec![
        "--realm".to_string(),
        quote(realm),
        "--worker".to_string(),
        quote(worker),
        "--jump-start".to_string(),
        "--daemon".to_string(),
        "--heartbeat".to_string(),
        "60".to_string(),
        "--tag".to_string(),
        quote(&format!("lava-{realm}-{worker}")),
        "--log".to_string(),
        "@local0".to_string(),
        "--level".to_string(),
        "info".to_string(),
    ];
    if log_json {
        args.push("--log-json".to_string());
    }
    if let Some(threads) = daemon.threads {
        args.extend(["--threads".to_string(), threads.to_string()]);
    }
    text += &format!("\nexec lava-worker {}\n", args.join(" "));
    text
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.bundle;
        writeln!(
            f,
            "boot of worker {} in realm {} on {}",
            self.worker, self.realm, self.platform
        )?;
        writeln!(f, "  code area  {}", self.code_area)?;
        match &self.pin {
            Some(pin) => writeln!(f, "  pin        {} ({})", pin.version, pin.from)?,
            None => writeln!(
                f,
                "  pin        none (x-workers.{}.version and x-workers._.version unset)",
                self.worker
            )?,
        }
        writeln!(f, "  bundle     {}", b.name)?;
        writeln!(f, "    why      {}", b.why)?;
        writeln!(f, "    from     {}", b.url)?;
        match (&b.sha256, &b.unverified) {
            (Some(sha), _) => writeln!(f, "    sha256   {sha} (SHA256SUMS)")?,
            (None, why) => writeln!(
                f,
                "    sha256   NOT VERIFIED: {}",
                why.as_deref().unwrap_or("no digest")
            )?,
        }
        match &b.policy.required {
            Some(setting) => writeln!(f, "    verify   required by {setting}")?,
            None => writeln!(
                f,
                "    verify   a file SHA256SUMS does not vouch for is used with a warning"
            )?,
        }
        for s in &self.skipped {
            writeln!(f, "  skipped    {}: {}", s.name, s.reason)?;
        }
        writeln!(
            f,
            "  install    {INSTALLER} {}",
            self.install.args.join(" ")
        )?;
        writeln!(
            f,
            "    check    {}/lava-version prints {}",
            self.install.bindir.display(),
            b.version
        )?;
        let recorded = if self.root.is_some() {
            "--root: recorded only"
        } else {
            "created if missing"
        };
        writeln!(f, "  group      {} ({recorded})", self.group)?;
        writeln!(
            f,
            "  tmp        {} (emptied, group {}, mode 1770)",
            self.tmp_dir.display(),
            self.group
        )?;
        for a in &self.accounts {
            writeln!(
                f,
                "  account    {} (system, group {}, home {}, shell /bin/false, locked, in group docker if it exists; {recorded})",
                a.user,
                self.group,
                a.home.display()
            )?;
        }
        for d in &self.daemons {
            let started = if self.root.is_some() {
                "--root: not started"
            } else {
                "started as the account"
            };
            writeln!(
                f,
                "  daemons    {} x {} ({started}) by {}",
                d.worker,
                d.count,
                d.start_script.display()
            )?;
            if let Some(command) = d.script.lines().last() {
                writeln!(f, "    run      {}", command.trim_start_matches("exec "))?;
            }
            for (name, value) in &d.env {
                writeln!(f, "    env      {name}={}", quote(value))?;
            }
        }
        for dropped in &self.dropped_env {
            writeln!(
                f,
                "  dropped    {dropped} (name or value cannot be exported safely)"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_scripts_carry_upstreams_arguments() {
        let daemon = Daemon {
            worker: "core-bulk".into(),
            threads: Some(8),
            count: 2,
            env: BTreeMap::from([("A".to_string(), "x y".to_string())]),
        };
        let text = start_script_text(Path::new("/usr/local/bin"), "prod", &daemon, true);
        assert_eq!(
            text,
            "#!/bin/bash\n# Written by lava-boot: starts one lava-worker daemon.\n\n\
             export PATH='/usr/local/bin:/usr/bin'\nexport A='x y'\n\n\
             exec lava-worker --realm 'prod' --worker 'core-bulk' --jump-start --daemon \
             --heartbeat 60 --tag 'lava-prod-core-bulk' --log @local0 --level info \
             --log-json --threads 8\n"
        );
        let old = Daemon {
            threads: None,
            ..daemon
        };
        let text = start_script_text(Path::new("/usr/local/bin"), "prod", &old, false);
        assert!(text.ends_with("--level info\n"), "{text}");
    }

    #[test]
    fn feature_thresholds_count_every_release_of_x_y_z() {
        for (version, release, expected) in [
            ("8.0.0", "8.0.0", true),
            ("8.0.0rc1", "8.0.0", true),
            ("8.0.0.dev3", "8.0.0", true),
            ("8.0.0a1.dev1", "8.0.0", true),
            ("7.9.9.post2", "8.0.0", false),
            ("7.1.0b2", "7.1.0", true),
            ("7.0.9", "7.1.0", false),
            ("8.3.1", "7.1.0", true),
        ] {
            let v: Version = version.parse().unwrap();
            assert_eq!(at_least(&v, release), expected, "{version} >= {release}");
        }
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
