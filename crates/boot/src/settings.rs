//! A worker's boot settings from the realm's `x-workers` map in `lava.realms`:
//! per-worker entries, with `_` supplying defaults for every worker.

use std::collections::BTreeMap;

use lava_layout::Version;
use serde_json::Value;

/// The key in `x-workers` whose entry applies to every worker.
pub const DEFAULTS: &str = "_";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("x-workers.{worker}.{key}: {value:?} is not a count (expected digits, e.g. 4)")]
    BadCount {
        worker: String,
        key: &'static str,
        value: String,
    },
    #[error("x-workers.{worker}.version: {value:?} is not a lava version (expected a PEP 440 version such as 8.3.0 or 8.3.0rc1)")]
    BadVersion { worker: String, value: String },
    #[error("x-workers.{worker}.workers: names no worker")]
    NoWorkers { worker: String },
    #[error("x-workers.{worker}.verify: {value:?} is not a verification mode (expected required or if-present)")]
    BadVerify { worker: String, value: String },
    #[error("x-workers.{worker}.{key}: {value:?} is not one of {expected}")]
    BadChoice {
        worker: String,
        key: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The settings upstream's `10-secupdate.sh` had its operators edit in the
/// file (`SEC_UPDATES`, `REBOOT`, `FAIL_EXIT`), as `x-workers` keys: each
/// key, the variable our scriptlet reads, its values and what they mean.
/// Unset keys keep the scriptlet's defaults, which are upstream's.
const SCRIPTLET_SETTINGS: [(&str, &str, &[&str], &str); 3] = [
    ("secupdate", "LAVA_SECUPDATE", &["yes", "no"], "yes or no"),
    (
        "secupdate_reboot",
        "LAVA_SECUPDATE_REBOOT",
        &["yes", "no"],
        "yes or no",
    ),
    (
        "secupdate_fail_exit",
        "LAVA_SECUPDATE_FAIL_EXIT",
        &["1", "2"],
        "1 (a failed update aborts the boot) or 2 (the boot goes on)",
    ),
];

/// The daemons to start for one worker name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub worker: String,
    /// `--threads N`, when configured.
    pub threads: Option<u32>,
    pub count: u32,
    /// Exported before the worker starts; unsafe names or values are dropped.
    pub env: BTreeMap<String, String>,
}

/// Everything `x-workers` says about the booting worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// The pinned version, if any, and where it came from (`<worker>` or `_`).
    pub pin: Option<(Version, String)>,
    pub daemons: Vec<Daemon>,
    /// Env entries dropped because their name or value cannot be exported safely.
    pub dropped_env: Vec<String>,
    /// `x-workers.<worker|_>.verify: required`, and where it came from: a
    /// package directory without `SHA256SUMS` aborts the boot instead of
    /// installing with a warning (upstream's deploy.sh writes none).
    pub require_sums: Option<String>,
    /// The environment the boot scriptlets run with (`10-secupdate.sh`'s
    /// settings), from `x-workers.<worker|_>.secupdate*`.
    pub scriptlet_env: BTreeMap<&'static str, String>,
}

impl WorkerSettings {
    /// Resolve the settings of `worker` from the realm item (plain JSON, not
    /// DynamoDB's typed form). A missing `x-workers` means all defaults.
    pub fn resolve(realm_item: &Value, worker: &str) -> Result<WorkerSettings, SettingsError> {
        let x_workers = realm_item.get("x-workers");
        let pin = match lookup(x_workers, worker, "version") {
            Some((value, from)) => {
                let version = value.parse().map_err(|_| SettingsError::BadVersion {
                    worker: from.clone(),
                    value,
                })?;
                Some((version, from))
            }
            None => None,
        };
        let require_sums = match lookup(x_workers, worker, "verify") {
            Some((value, from)) if value == "required" => Some(from),
            Some((value, _)) if value == "if-present" => None,
            Some((value, from)) => {
                return Err(SettingsError::BadVerify {
                    worker: from,
                    value,
                })
            }
            None => None,
        };
        let mut scriptlet_env = BTreeMap::new();
        for (key, var, choices, expected) in SCRIPTLET_SETTINGS {
            if let Some((value, from)) = lookup(x_workers, worker, key) {
                let Some(choice) = choices.iter().find(|c| c.eq_ignore_ascii_case(&value)) else {
                    return Err(SettingsError::BadChoice {
                        worker: from,
                        key,
                        value,
                        expected,
                    });
                };
                scriptlet_env.insert(var, choice.to_string());
            }
        }
        let names: Vec<String> = match lookup(x_workers, worker, "workers") {
            Some((list, _)) => list.split_whitespace().map(str::to_string).collect(),
            None => vec![worker.to_string()],
        };
        if names.is_empty() {
            return Err(SettingsError::NoWorkers {
                worker: worker.to_string(),
            });
        }
        let mut dropped_env = Vec::new();
        let mut daemons = Vec::new();
        for name in names {
            let threads = count(x_workers, &name, "threads")?;
            let count = count(x_workers, &name, "daemons")?.unwrap_or(1);
            let env = env(x_workers, &name, &mut dropped_env);
            daemons.push(Daemon {
                worker: name,
                threads,
                count,
                env,
            });
        }
        Ok(WorkerSettings {
            pin,
            daemons,
            dropped_env,
            require_sums,
            scriptlet_env,
        })
    }
}

/// `x-workers.<worker>.<key>`, else `x-workers._.<key>`, as text; empty means unset.
fn lookup(x_workers: Option<&Value>, worker: &str, key: &str) -> Option<(String, String)> {
    [worker, DEFAULTS].into_iter().find_map(|who| {
        let text = match x_workers?.get(who)?.get(key)? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then(|| (text, who.to_string()))
    })
}

fn count(
    x_workers: Option<&Value>,
    worker: &str,
    key: &'static str,
) -> Result<Option<u32>, SettingsError> {
    let Some((value, _)) = lookup(x_workers, worker, key) else {
        return Ok(None);
    };
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    match value.parse() {
        Ok(n) if digits => Ok(Some(n)),
        _ => Err(SettingsError::BadCount {
            worker: worker.to_string(),
            key,
            value,
        }),
    }
}

/// The worker's own `env` map, else the `_` one (whole maps, not merged).
fn env(
    x_workers: Option<&Value>,
    worker: &str,
    dropped: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let map = [worker, DEFAULTS].into_iter().find_map(|who| {
        x_workers?
            .get(who)?
            .get("env")?
            .as_object()
            .filter(|m| !m.is_empty())
    });
    let mut env = BTreeMap::new();
    for (name, value) in map.into_iter().flatten() {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let safe_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        // Values are single-quoted in the start script; a quote would end the quoting.
        if safe_name && !value.contains('\'') {
            env.insert(name.clone(), value);
        } else {
            dropped.push(format!("{worker}: env {name}"));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn worker_values_override_defaults() {
        let item = json!({"realm": "prod", "x-workers": {
            "_": {"version": "8.1.0", "threads": "2", "env": {"A": "1"}},
            "core": {"version": "8.3.0", "daemons": 3},
        }});
        let s = WorkerSettings::resolve(&item, "core").unwrap();
        assert_eq!(s.pin, Some(("8.3.0".parse().unwrap(), "core".to_string())));
        assert_eq!(s.daemons.len(), 1);
        let d = &s.daemons[0];
        assert_eq!(
            (d.worker.as_str(), d.threads, d.count),
            ("core", Some(2), 3)
        );
        assert_eq!(d.env.get("A").map(String::as_str), Some("1"));

        let other = WorkerSettings::resolve(&item, "batch").unwrap();
        assert_eq!(other.pin, Some(("8.1.0".parse().unwrap(), "_".to_string())));
        assert_eq!(other.daemons[0].count, 1);
    }

    #[test]
    fn secupdate_settings_become_the_scriptlets_environment() {
        let item = json!({"x-workers": {
            "_": {"secupdate": "no", "secupdate_fail_exit": 1},
            "core": {"secupdate_reboot": "YES"},
        }});
        let env = |worker| {
            WorkerSettings::resolve(&item, worker)
                .unwrap()
                .scriptlet_env
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            env("core"),
            [
                ("LAVA_SECUPDATE", "no".to_string()),
                ("LAVA_SECUPDATE_FAIL_EXIT", "1".to_string()),
                ("LAVA_SECUPDATE_REBOOT", "yes".to_string()),
            ]
        );
        assert_eq!(env("batch").len(), 2);
        let none = WorkerSettings::resolve(&json!({}), "core").unwrap();
        assert!(none.scriptlet_env.is_empty());
        for (bad, msg) in [
            (
                json!({"core": {"secupdate": "sometimes"}}),
                "x-workers.core.secupdate: \"sometimes\" is not one of yes or no",
            ),
            (
                json!({"_": {"secupdate_fail_exit": 3}}),
                "x-workers._.secupdate_fail_exit: \"3\" is not one of 1 (a failed update aborts the boot) or 2 (the boot goes on)",
            ),
        ] {
            let err = WorkerSettings::resolve(&json!({"x-workers": bad}), "core").unwrap_err();
            assert_eq!(err.to_string(), msg);
        }
    }

    #[test]
    fn no_x_workers_means_defaults() {
        let s = WorkerSettings::resolve(&json!({"realm": "prod"}), "core").unwrap();
        assert_eq!(s.pin, None);
        assert_eq!(
            s.daemons,
            vec![Daemon {
                worker: "core".into(),
                threads: None,
                count: 1,
                env: BTreeMap::new()
            }]
        );
    }

    #[test]
    fn parasitic_workers_get_their_own_settings() {
        let item = json!({"x-workers": {
            "core": {"workers": "core  helper"},
            "helper": {"threads": "8", "daemons": "2", "env": {"ROLE": "helper", "bad-name": "x", "Q": "it's"}},
        }});
        let s = WorkerSettings::resolve(&item, "core").unwrap();
        let names: Vec<_> = s
            .daemons
            .iter()
            .map(|d| (d.worker.as_str(), d.threads, d.count))
            .collect();
        assert_eq!(names, vec![("core", None, 1), ("helper", Some(8), 2)]);
        assert_eq!(s.daemons[1].env.keys().collect::<Vec<_>>(), vec!["ROLE"]);
        assert_eq!(s.dropped_env.len(), 2);
    }

    #[test]
    fn bad_counts_and_versions_name_the_worker() {
        let item = json!({"x-workers": {"core": {"threads": "four"}}});
        let err = WorkerSettings::resolve(&item, "core").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x-workers.core.threads: \"four\" is not a count (expected digits, e.g. 4)"
        );
        let item = json!({"x-workers": {"_": {"daemons": "-1"}}});
        assert!(matches!(
            WorkerSettings::resolve(&item, "core"),
            Err(SettingsError::BadCount { key: "daemons", .. })
        ));
        let item = json!({"x-workers": {"_": {"version": "latest"}}});
        let err = WorkerSettings::resolve(&item, "core").unwrap_err();
        assert!(err.to_string().contains("x-workers._.version"), "{err}");
    }

    #[test]
    fn verify_is_required_or_if_present() {
        let cases: &[(Value, Result<Option<&str>, &str>)] = &[
            (json!({}), Ok(None)),
            (json!({"_": {"verify": "required"}}), Ok(Some("_"))),
            (
                json!({"_": {"verify": "required"}, "core": {"verify": "if-present"}}),
                Ok(None),
            ),
            (json!({"core": {"verify": "required"}}), Ok(Some("core"))),
            (
                json!({"_": {"verify": "yes"}}),
                Err("x-workers._.verify: \"yes\" is not a verification mode (expected required or if-present)"),
            ),
        ];
        for (x_workers, expected) in cases {
            let item = json!({"realm": "prod", "x-workers": x_workers});
            let got = WorkerSettings::resolve(&item, "core")
                .map(|s| s.require_sums)
                .map_err(|e| e.to_string());
            let expected = expected
                .map(|o| o.map(str::to_string))
                .map_err(str::to_string);
            assert_eq!(got, expected, "{x_workers}");
        }
    }
}
