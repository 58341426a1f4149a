//! The packer variables of the lava AMI build (upstream's `ami/lava-ami.json`)
//! from an environment's `ami:` section of the deploy configuration:
//!
//! ```yaml
//! <env>:
//!   ami:
//!     s3: lava/_ami_/          # the _ami_/ directory: s3bucket, s3prefix
//!     ip: public               # ip, associate_public_ip
//!     subnet: subnet-0a1b2c3d  # subnet
//!     sg: sg-0a1b,sg-2c3d      # security_group_ids
//!     tz: Australia/Sydney     # timezone
//!     python: {version: "3.11.13"}  # python_version, python_short_version
//!     os: amzn2023             # optional, default amzn2023
//!     arch: arm64              # optional, default x86_64
//! ```
//!
//! Not here: `region` (the SDK's), `ami_id` and `instance_type` (looked up per
//! os and architecture when packer is started), `lava_version` is the caller's.

use std::collections::BTreeMap;

use lava_config::{scalar, show, Config, Deployable, Environment};
use lava_layout::{python_of_full_version, Arch, Component, Os, Version};
use lava_store::Location;
use serde_yaml::{Mapping, Value};

use crate::AmiError;

/// The os upstream's lava AMI is built on when `ami.os` is not set.
pub const DEFAULT_OS: &str = "amzn2023";
/// Upstream's default architecture.
pub const DEFAULT_ARCH: Arch = Arch::X86_64;

/// Packer variable name -> value, sorted by name.
pub type PackerVars = BTreeMap<&'static str, String>;

/// The packer variables of `env` (resolved from `config`) for a build of
/// lava `version`. Every problem of the section is reported at once.
pub fn packer_vars(
    config: &Config,
    env: &Environment,
    version: &Version,
) -> Result<PackerVars, AmiError> {
    let file = config.path().display();
    let at = |key: &str| format!("{file}: {}.ami.{key}", env.name);
    let Some(section) = config
        .settings(&env.name)
        .and_then(|s| s.get("ami"))
        .and_then(Value::as_mapping)
    else {
        return Err(AmiError::Settings {
            problems: vec![format!(
                "{file}: {}.ami: not configured: the AMI build needs ami.s3, ami.ip, \
                 ami.subnet, ami.sg, ami.tz and ami.python.version",
                env.name
            )],
        });
    };

    let mut problems = Vec::new();
    let mut vars = PackerVars::new();
    let mut bad = |key: &str, value: Option<&Value>, expected: &str| {
        let value = match value {
            None | Some(Value::Null) => "missing".to_string(),
            Some(v) => format!("{:?}", show(v)),
        };
        problems.push(format!("{}: {value}: expected {expected}", at(key)));
    };

    match env.targets.get(&Deployable::Area(Component::Ami)) {
        Some(Location::S3 { bucket, prefix }) if !prefix.is_empty() => {
            vars.insert("s3bucket", bucket.clone());
            vars.insert("s3prefix", prefix.clone());
        }
        Some(location) => bad(
            "s3",
            Some(&Value::String(location.to_string())),
            "an S3 location below the bucket, s3://bucket/prefix/_ami_/ (the build instance \
             downloads the Oracle zips from <location>oracle/)",
        ),
        None => bad(
            "s3",
            section.get("s3"),
            "the _ami_/ directory of the code area, e.g. lava/_ami_/",
        ),
    }

    match text(section, "ip").as_deref() {
        Some(ip @ ("public" | "private")) => {
            vars.insert("ip", ip.to_string());
            vars.insert("associate_public_ip", (ip == "public").to_string());
        }
        _ => bad("ip", section.get("ip"), "public or private"),
    }

    match text(section, "subnet") {
        Some(s) if is_id(&s, "subnet-") => {
            vars.insert("subnet", s);
        }
        _ => bad(
            "subnet",
            section.get("subnet"),
            "the build instance's subnet ID, subnet-<hex>",
        ),
    }

    match text(section, "sg") {
        Some(s) if s.split(',').all(|g| is_id(g, "sg-")) => {
            vars.insert("security_group_ids", s);
        }
        _ => bad(
            "sg",
            section.get("sg"),
            "security group IDs, sg-<hex>, comma separated without spaces",
        ),
    }

    match text(section, "tz") {
        Some(tz) if is_timezone(&tz) => {
            vars.insert("timezone", tz);
        }
        _ => bad(
            "tz",
            section.get("tz"),
            "a timezone name, e.g. Australia/Sydney or UTC",
        ),
    }

    let python = section.get("python").and_then(|p| p.get("version"));
    let full = python.and_then(scalar);
    let short = full
        .as_deref()
        .filter(|v| v.split('.').count() == 3)
        .and_then(|v| python_of_full_version(v).ok());
    match (full, short) {
        (Some(full), Some(short)) => {
            vars.insert("python_version", full);
            vars.insert("python_short_version", short.to_string());
        }
        _ => bad(
            "python.version",
            python,
            "the Python release the build compiles, MAJOR.MINOR.PATCH, quoted (\"3.11.13\")",
        ),
    }

    match section.get("os") {
        None | Some(Value::Null) => {
            vars.insert("os", DEFAULT_OS.to_string());
        }
        Some(v) => match scalar(v).and_then(|s| s.parse::<Os>().ok()) {
            Some(os) => {
                vars.insert("os", os.to_string());
            }
            None => bad(
                "os",
                Some(v),
                "an os such as amzn2023 (ID and major VERSION_ID)",
            ),
        },
    }

    match section.get("arch") {
        None | Some(Value::Null) => {
            vars.insert("arch", DEFAULT_ARCH.ami().to_string());
        }
        Some(v) => match scalar(v).and_then(|s| s.parse::<Arch>().ok()) {
            Some(arch) => {
                vars.insert("arch", arch.ami().to_string());
            }
            None => bad("arch", Some(v), "x86_64 or arm64"),
        },
    }

    if !problems.is_empty() {
        return Err(AmiError::Settings { problems });
    }
    vars.insert("lava_version", version.to_string());
    Ok(vars)
}

/// An AWS resource ID: the prefix, then lowercase hex.
fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|id| {
        !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An IANA timezone name's characters: `Area/City`, `UTC`, `Etc/GMT+10`.
fn is_timezone(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
}

fn text(section: &Mapping, key: &str) -> Option<String> {
    section.get(key).and_then(scalar)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use lava_config::Substitution;

    use super::*;

    fn vars_of(yaml: &str) -> Result<PackerVars, AmiError> {
        let version: Version = "8.3.0".parse().unwrap();
        let no_env = |_: &str| None;
        let config = Config::parse(Path::new("deploy.yaml"), yaml).unwrap();
        let env = config
            .environment(
                "demo",
                &Substitution {
                    version: &version,
                    env: &no_env,
                },
            )
            .unwrap();
        packer_vars(&config, &env, &version)
    }

    const GOOD: &str = r#"
demo:
  _: {s3base: my-bucket/some/prefix}
  ami:
    s3: lava/_ami_/
    ip: private
    subnet: subnet-f6b6d681
    sg: sg-004d25956a3bf5bd4,sg-0a1b
    tz: Australia/Sydney
    python:
      version: "3.11.13"
    arch: aarch64
"#;

    #[test]
    fn upstream_keys_become_packer_variables() {
        let vars = vars_of(GOOD).unwrap();
        let expected = [
            ("arch", "arm64"),
            ("associate_public_ip", "false"),
            ("ip", "private"),
            ("lava_version", "8.3.0"),
            ("os", "amzn2023"),
            ("python_short_version", "3.11"),
            ("python_version", "3.11.13"),
            ("s3bucket", "my-bucket"),
            ("s3prefix", "some/prefix/lava/_ami_/"),
            ("security_group_ids", "sg-004d25956a3bf5bd4,sg-0a1b"),
            ("subnet", "subnet-f6b6d681"),
            ("timezone", "Australia/Sydney"),
        ];
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn every_bad_key_is_named_at_once() {
        let yaml = r#"
demo:
  ami:
    s3: file:///tmp/ami
    ip: both
    subnet: subnet-...
    sg: sg-1, sg-2
    tz: Australia Sydney
    python:
      version: 3.11
    os: Amazon
    arch: sparc
"#;
        let err = vars_of(yaml).unwrap_err();
        assert!(err.is_input());
        let AmiError::Settings { problems } = &err else {
            panic!("{err}")
        };
        let keys = [
            "demo.ami.s3: \"file:///tmp/ami/\"",
            "demo.ami.ip: \"both\": expected public or private",
            "demo.ami.subnet: \"subnet-...\"",
            "demo.ami.sg: \"sg-1, sg-2\"",
            "demo.ami.tz: \"Australia Sydney\"",
            "demo.ami.python.version: \"3.11\": expected the Python release",
            "demo.ami.os: \"Amazon\"",
            "demo.ami.arch: \"sparc\": expected x86_64 or arm64",
        ];
        assert_eq!(problems.len(), keys.len(), "{err}");
        for (problem, key) in problems.iter().zip(keys) {
            assert!(
                problem.starts_with("deploy.yaml: ") && problem.contains(key),
                "{problem} does not name {key}"
            );
        }
    }

    #[test]
    fn missing_keys_and_sections_are_named() {
        let err = vars_of("demo:\n  account_id: '123456789012'\n").unwrap_err();
        assert!(
            err.to_string().contains("demo.ami: not configured"),
            "{err}"
        );

        let err = vars_of("demo:\n  ami:\n    ip: public\n").unwrap_err();
        let text = err.to_string();
        for key in [
            "ami.s3: missing",
            "ami.subnet: missing",
            "ami.python.version: missing",
        ] {
            assert!(text.contains(key), "{key} not in {text}");
        }
        assert!(!text.contains("ami.ip"), "{text}");
    }
}
