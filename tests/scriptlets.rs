//! The `_boot_` scriptlets root.boot.sh runs on every start of a worker, run
//! as they ship (assembled with the helpers of misc/lib) with stand-ins for
//! the system commands they call (first on PATH), so each case shows what
//! they do and how they exit. The expected values are upstream's (misc/boot/
//! of jin-gizmo/lava): exit 1 aborts the boot, any other failure lets it go
//! on.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use lava_tests::{run, shipped_script_names, shipped_scripts, tool, workspace_root};
use serde_json::{json, Value};

/// Write an executable stand-in for `name` into `dir`.
fn stand_in(dir: &Path, name: &str, script: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/bash\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn scriptlet(name: &str, bin: &Path) -> Command {
    let mut cmd = Command::new(shipped_scripts().join("boot").join(name));
    cmd.args(["s3://lava-code/lava", "prod", "core"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env_remove("LAVA_SECUPDATE")
        .env_remove("LAVA_SECUPDATE_REBOOT")
        .env_remove("LAVA_SECUPDATE_FAIL_EXIT");
    cmd
}

/// One 10-secupdate.sh case: what the package manager answers and what the
/// scriptlet must do.
struct Update {
    case: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// `check-update --security` status: 0 nothing to do, 100 updates.
    check: u8,
    /// Statuses of successive `update --security` attempts.
    updates: &'static str,
    marker_before: bool,
    exit: i32,
    attempts: usize,
    rebooted: bool,
    marker_after: bool,
}

#[test]
fn secupdate_applies_updates_and_reboots_as_upstream() {
    let cases = [
        Update {
            case: "nothing to do ends a reboot guard",
            env: &[],
            check: 0,
            updates: "",
            marker_before: true,
            exit: 0,
            attempts: 0,
            rebooted: false,
            marker_after: false,
        },
        Update {
            case: "updates applied, no reboot by default",
            env: &[],
            check: 100,
            updates: "0",
            marker_before: false,
            exit: 0,
            attempts: 1,
            rebooted: false,
            marker_after: false,
        },
        Update {
            case: "a busy package database is retried",
            env: &[],
            check: 100,
            updates: "1 1 0",
            marker_before: false,
            exit: 0,
            attempts: 3,
            rebooted: false,
            marker_after: false,
        },
        Update {
            case: "three failures: the boot goes on",
            env: &[],
            check: 100,
            updates: "1 1 1",
            marker_before: false,
            exit: 2,
            attempts: 3,
            rebooted: false,
            marker_after: false,
        },
        Update {
            case: "three failures, FAIL_EXIT=1: the boot aborts",
            env: &[("LAVA_SECUPDATE_FAIL_EXIT", "1")],
            check: 100,
            updates: "1 1 1",
            marker_before: false,
            exit: 1,
            attempts: 3,
            rebooted: false,
            marker_after: false,
        },
        Update {
            case: "the check fails",
            env: &[],
            check: 1,
            updates: "",
            marker_before: false,
            exit: 2,
            attempts: 0,
            rebooted: false,
            marker_after: false,
        },
        Update {
            case: "reboot: guard set, exit 0",
            env: &[("LAVA_SECUPDATE_REBOOT", "yes")],
            check: 100,
            updates: "0",
            marker_before: false,
            exit: 0,
            attempts: 1,
            rebooted: true,
            marker_after: true,
        },
        Update {
            case: "reboot loop refused",
            env: &[("LAVA_SECUPDATE_REBOOT", "yes")],
            check: 100,
            updates: "0",
            marker_before: true,
            exit: 2,
            attempts: 1,
            rebooted: false,
            marker_after: true,
        },
        Update {
            case: "disabled",
            env: &[("LAVA_SECUPDATE", "no")],
            check: 100,
            updates: "0",
            marker_before: false,
            exit: 0,
            attempts: 0,
            rebooted: false,
            marker_after: false,
        },
    ];
    // dnf is Amazon Linux 2023's package manager, yum Amazon Linux 2's: every
    // case holds on both kinds of worker.
    for (c, pm) in cases.iter().flat_map(|c| [(c, "dnf"), (c, "yum")]) {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let log = dir.path().join("calls");
        let marker = dir.path().join("NO-REBOOT");
        stand_in(
            &bin,
            pm,
            &format!(
                r#"echo "{pm} $*" >> "$FAKE_LOG"
case " $* " in
*" check-update "*) exit "$FAKE_CHECK" ;;
*" update "*)
    statuses=($FAKE_UPDATES)
    n=$(grep -c '^{pm} .* update ' "$FAKE_LOG")
    exit "${{statuses[n-1]:-0}}" ;;
esac"#
            ),
        );
        stand_in(&bin, "systemctl", r#"echo "systemctl $*" >> "$FAKE_LOG""#);
        stand_in(&bin, "sleep", r#"echo "sleep $*" >> "$FAKE_LOG""#);
        if c.marker_before {
            std::fs::write(&marker, "").unwrap();
        }
        let out = run(scriptlet("10-secupdate.sh", &bin)
            .env("FAKE_LOG", &log)
            .env("FAKE_CHECK", c.check.to_string())
            .env("FAKE_UPDATES", c.updates)
            .env("LAVA_SECUPDATE_MARKER", &marker)
            .envs(c.env.iter().copied()));
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let case = format!("{} ({pm})", c.case);
        // Unless disabled, the check went to this worker's package manager.
        assert_eq!(
            calls
                .lines()
                .any(|l| l.starts_with(&format!("{pm} ")) && l.contains(" check-update")),
            !c.env.contains(&("LAVA_SECUPDATE", "no")),
            "{case}: {calls}"
        );
        assert_eq!(out.status.code(), Some(c.exit), "{case}: {stderr}\n{calls}");
        let attempts = calls
            .lines()
            .filter(|l| l.contains(" update --security"))
            .count();
        assert_eq!(attempts, c.attempts, "{case}: {calls}");
        assert_eq!(
            calls.contains("systemctl reboot"),
            c.rebooted,
            "{case}: {calls}"
        );
        assert_eq!(marker.exists(), c.marker_after, "{case}");
        // Retries wait 5 then 10 seconds, as upstream's backoff.
        if c.attempts == 3 {
            let sleeps: Vec<&str> = calls.lines().filter(|l| l.starts_with("sleep")).collect();
            assert_eq!(sleeps, ["sleep 5", "sleep 10"], "{case}");
        }
    }
}

/// The lava AMI's agent configuration (upstream's
/// ami/resources/amazon-cloudwatch-agent/config.json, its logs part).
fn agent_config() -> Value {
    json!({
        "agent": {"metrics_collection_interval": 60, "run_as_user": "root"},
        "logs": {"logs_collected": {"files": {"collect_list": [
            {"file_path": "/var/log/messages", "log_group_name": "/var/log/messages", "log_stream_name": "{instance_id}"}
        ]}}}
    })
}

#[test]
fn cloudwatch_ships_the_lava_log_once_across_reboots() {
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("agent");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(agent.join("etc")).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(agent.join("bin")).unwrap();
    let log = dir.path().join("calls");
    stand_in(
        &agent.join("bin"),
        "amazon-cloudwatch-agent-ctl",
        r#"echo "ctl $*" >> "$FAKE_LOG"; exit "${FAKE_CTL:-0}""#,
    );
    let conf = agent.join("etc/config.json");
    let cloudwatch = |env: &[(&str, &str)]| {
        let out = run(scriptlet("20-cloudwatch.sh", &bin)
            .env("LAVA_CWAGENT_DIR", &agent)
            .env("FAKE_LOG", &log)
            .envs(env.iter().copied()));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };

    // No agent configuration: not a lava AMI; the boot goes on (2).
    let (code, stderr) = cloudwatch(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no CloudWatch Agent configuration"),
        "{stderr}"
    );

    let original = serde_json::to_string_pretty(&agent_config()).unwrap();
    std::fs::write(&conf, &original).unwrap();
    let lava = json!({"file_path": "/var/log/lava", "log_group_name": "/var/log/lava/prod", "log_stream_name": "core/{instance_id}"});
    let mut expected = agent_config();
    expected["logs"]["logs_collected"]["files"]["collect_list"]
        .as_array_mut()
        .unwrap()
        .push(lava);
    // The first start, then a reboot: the entry is there once.
    for start in ["first start", "after a reboot"] {
        let (code, stderr) = cloudwatch(&[]);
        assert_eq!(code, Some(0), "{start}: {stderr}");
        let conf_now: Value = serde_json::from_slice(&std::fs::read(&conf).unwrap()).unwrap();
        assert_eq!(conf_now, expected, "{start}");
        assert_eq!(
            std::fs::read_to_string(conf.with_extension("json.orig")).unwrap(),
            original
        );
    }
    let calls = std::fs::read_to_string(&log).unwrap();
    let reload = format!("ctl -a fetch-config -m ec2 -c file:{} -s", conf.display());
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [reload.as_str(), reload.as_str()]
    );

    // A failed reload lets the boot go on (2, never 1).
    let (code, stderr) = cloudwatch(&[("FAKE_CTL", "1")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("reload failed"), "{stderr}");

    // Bad arguments: 2 as well.
    let out = run(Command::new(shipped_scripts().join("boot/20-cloudwatch.sh")).arg("only-one"));
    assert_eq!(out.status.code(), Some(2));
}

/// Every scriptlet of `_boot_` (misc/boot) and misc/boot.optional accepts
/// `-h` and refuses a wrong number of arguments: with 1, aborting the boot,
/// where upstream's aborts on bad arguments (those installing what the
/// workers need), else with 2, letting the boot go on.
#[test]
fn scriptlets_keep_the_argument_contract() {
    let mut statuses = BTreeMap::new();
    for script in shipped_script_names() {
        let Some(name) = script
            .strip_prefix("boot/")
            .or_else(|| script.strip_prefix("boot.optional/"))
        else {
            continue;
        };
        let path = shipped_scripts().join(&script);
        let help = run(Command::new(&path).arg("-h"));
        assert!(help.status.success(), "{name} -h");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("Usage:"),
            "{name} -h"
        );
        let wrong = run(Command::new(&path).args(["a", "b"]));
        statuses.insert(name.to_string(), wrong.status.code());
    }
    for (name, status) in &statuses {
        let aborts = ["30-oracle.sh", "40-extras.sh", "50-lava.sh"].contains(&name.as_str());
        let expected = if aborts { Some(1) } else { Some(2) };
        assert_eq!(*status, expected, "{name} with two arguments");
    }
    assert!(
        statuses.contains_key("30-oracle.sh") && statuses.contains_key("40-extras.sh"),
        "{statuses:?}"
    );
}

/// One 90-motd.sh case: how the host builds its motd, and what the scriptlet
/// must write and run.
struct Motd {
    case: &'static str,
    /// `/etc/update-motd.d/` exists (the lava AMI, Ubuntu).
    update_motd_d: bool,
    /// `systemctl cat update-motd.service` finds the unit (amzn2), and the
    /// status its restart exits with.
    unit: Option<u8>,
    /// `/usr/sbin/update-motd` exists (amzn2023).
    update_motd: bool,
    exit: i32,
    /// What ran: `systemctl restart` or `update-motd`.
    calls: &'static [&'static str],
    /// The fragment written, with its mode.
    fragment: (&'static str, u32),
}

/// Upstream's 90-motd.sh restarts update-motd on amzn2 (exit 2 when that
/// fails) and does nothing else on amzn2023; ours also writes the worker's
/// identity where the host's motd reads it (docs/compatibility.md).
#[test]
fn motd_names_the_worker_and_regenerates_as_each_os_does() {
    let fragment_d = ("etc/update-motd.d/30-lava-worker", 0o755);
    let table = [
        Motd {
            case: "amzn2: update-motd.service restarted",
            update_motd_d: true,
            unit: Some(0),
            update_motd: false,
            exit: 0,
            calls: &["systemctl --quiet restart update-motd.service"],
            fragment: fragment_d,
        },
        Motd {
            case: "amzn2: the restart fails, the boot goes on",
            update_motd_d: true,
            unit: Some(1),
            update_motd: false,
            exit: 2,
            calls: &["systemctl --quiet restart update-motd.service"],
            fragment: fragment_d,
        },
        Motd {
            case: "amzn2023: update-motd run",
            update_motd_d: true,
            unit: None,
            update_motd: true,
            exit: 0,
            calls: &["update-motd"],
            fragment: fragment_d,
        },
        Motd {
            case: "update-motd.d without a regenerator: read at login",
            update_motd_d: true,
            unit: None,
            update_motd: false,
            exit: 0,
            calls: &[],
            fragment: fragment_d,
        },
        Motd {
            case: "no update-motd.d: a static motd.d fragment",
            update_motd_d: false,
            unit: None,
            update_motd: false,
            exit: 0,
            calls: &[],
            fragment: ("etc/motd.d/30-lava-worker", 0o644),
        },
    ];
    for case in table {
        let dir = tempfile::tempdir().unwrap();
        let (root, bin) = (dir.path().join("root"), dir.path().join("bin"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        let log = dir.path().join("calls");
        if case.update_motd_d {
            std::fs::create_dir_all(root.join("etc/update-motd.d")).unwrap();
        }
        let systemctl = match case.unit {
            Some(status) => format!(
                r#"[[ $1 == cat ]] && exit 0; echo "systemctl $*" >> "$FAKE_LOG"; exit {status}"#
            ),
            None => "exit 1".to_string(),
        };
        stand_in(&bin, "systemctl", &systemctl);
        if case.update_motd {
            std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
            stand_in(
                &root.join("usr/sbin"),
                "update-motd",
                r#"echo update-motd >> "$FAKE_LOG""#,
            );
        }
        stand_in(&bin, "lava-version", "echo 8.3.0");
        let out = run(scriptlet("90-motd.sh", &bin)
            .env("LAVA_MOTD_ROOT", &root)
            .env("FAKE_LOG", &log));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(case.exit),
            "{}: {stderr}",
            case.case
        );
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            calls.lines().collect::<Vec<_>>(),
            case.calls,
            "{}",
            case.case
        );
        let (path, mode) = case.fragment;
        let fragment = root.join(path);
        let meta = std::fs::metadata(&fragment)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", case.case, fragment.display()));
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{}", case.case);
        // What a login shows: the fragment run (update-motd.d) or read.
        let shown = if mode == 0o755 {
            String::from_utf8_lossy(&run(&mut Command::new(&fragment)).stdout).into_owned()
        } else {
            std::fs::read_to_string(&fragment).unwrap()
        };
        for line in [
            "Realm:      prod",
            "Worker:     core",
            "Lava:       8.3.0",
            "Code area:  s3://lava-code/lava",
        ] {
            assert!(shown.contains(line), "{}: {line:?} in {shown}", case.case);
        }
    }
}

/// Each script ships with the helpers it names put in, once each, and no
/// marker left; install.sh and lava-run ship as they are (in the bundle), so
/// they name none.
#[test]
fn shipped_scripts_carry_each_helper_they_include_once() {
    let misc = workspace_root().join("misc");
    let mut included = BTreeSet::new();
    for script in shipped_script_names() {
        let source = std::fs::read_to_string(misc.join(&script)).unwrap();
        let shipped = std::fs::read_to_string(shipped_scripts().join(&script)).unwrap();
        assert!(!shipped.contains("@include"), "{script}");
        let helpers: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix(lava_scripts::MARKER))
            .collect();
        assert!(
            helpers.contains(&"lib/log.sh"),
            "{script} logs as the others"
        );
        for helper in helpers {
            let text = std::fs::read_to_string(misc.join(helper)).unwrap();
            assert_eq!(shipped.matches(&text).count(), 1, "{helper} in {script}");
            included.insert(helper.to_string());
        }
    }
    // Every helper serves some script.
    let helpers: BTreeSet<String> = std::fs::read_dir(misc.join("lib"))
        .unwrap()
        .map(|e| format!("lib/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(helpers, included);
    for unassembled in ["install.sh", "lava-run"] {
        let text = std::fs::read_to_string(misc.join(unassembled)).unwrap();
        assert!(!text.contains("@include"), "{unassembled}");
    }
}

/// What ships passes shellcheck too, each helper checked in the script it
/// was put into (tests/dist.rs checks misc/'s sources).
#[test]
fn shipped_scripts_are_shellcheck_clean() {
    let scripts: Vec<_> = shipped_script_names()
        .iter()
        .map(|name| shipped_scripts().join(name))
        .collect();
    let check = run(Command::new(tool("shellcheck")).args(&scripts));
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// One message a scriptlet logs: how it runs, and logger's arguments.
struct Logged {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    syslog: &'static str,
}

/// Messages go to syslog as upstream's do (`logger -t PROG -p local0.info
/// "INFO: ..."`, warnings and errors at local0.error, an abort as
/// `ERROR: ABORT ...`) and to stderr; without logger, to stderr only.
#[test]
fn scriptlets_log_to_syslog_as_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("syslog");
    stand_in(&bin, "logger", r#"printf '%s\n' "$*" >> "$FAKE_LOG""#);
    // A PATH without logger: only the host's commands these cases run.
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    for command in ["basename", "cat"] {
        let host = ["/usr/bin", "/bin"]
            .map(|d| Path::new(d).join(command))
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {command} on this host"));
        std::os::unix::fs::symlink(host, bare.join(command)).unwrap();
    }
    let area = &["s3://lava-code/lava", "prod", "core"];
    let cases = [
        Logged {
            name: "10-secupdate.sh",
            args: area,
            env: &[("LAVA_SECUPDATE", "no")],
            syslog: "-t 10-secupdate.sh -p local0.info -- INFO: security updates disabled (LAVA_SECUPDATE=no)",
        },
        Logged {
            name: "10-secupdate.sh",
            args: area,
            env: &[("LAVA_SECUPDATE", "no"), ("LAVA_SECUPDATE_FAIL_EXIT", "5")],
            syslog: "-t 10-secupdate.sh -p local0.error -- WARNING: LAVA_SECUPDATE_FAIL_EXIT=5 is not 1 or 2: using 2",
        },
        Logged {
            name: "20-cloudwatch.sh",
            args: &["only-one"],
            env: &[],
            syslog: "-t 20-cloudwatch.sh -p local0.error -- ERROR: expected 3 arguments, got 1",
        },
        Logged {
            name: "50-lava.sh",
            args: &["only-one"],
            env: &[],
            syslog: "-t 50-lava.sh -p local0.error -- ERROR: ABORT expected 3 arguments, got 1",
        },
    ];
    for Logged {
        name,
        args,
        env,
        syslog,
    } in cases
    {
        std::fs::write(&log, "").unwrap();
        let script = shipped_scripts().join("boot").join(name);
        let out = run(Command::new(&script)
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("FAKE_LOG", &log)
            .envs(env.iter().copied()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.lines().any(|l| l == syslog), "{name}: {logged}");
        let (level, message) = syslog
            .split_once(" -- ")
            .unwrap()
            .1
            .split_once(": ")
            .unwrap();
        assert!(
            stderr.contains(&format!("{name}: {level}: {message}")),
            "{name}: {stderr}"
        );

        // No logger at all: the same on stderr, and the same outcome.
        let without = run(Command::new(&script)
            .args(args)
            .env("PATH", &bare)
            .envs(env.iter().copied()));
        assert_eq!(without.status.code(), out.status.code(), "{name}");
        assert!(
            String::from_utf8_lossy(&without.stderr)
                .contains(&format!("{name}: {level}: {message}")),
            "{name}: {}",
            String::from_utf8_lossy(&without.stderr)
        );
    }
}
