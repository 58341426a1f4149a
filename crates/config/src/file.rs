//! The deploy configuration, in upstream's `deploy/sample.yaml` format: an
//! existing `deploy.yaml` works unchanged. `deploy/sample.yaml` documents every
//! key and `deploy/deploy.schema.json` is its JSON Schema.
//!
//! ```yaml
//! <environment>:
//!   _: {s3base: bucket[/prefix]}       # or s3://, s3:, /bucket/prefix, file:///dir
//!   account_id: "123456789012"
//!   <component>: {s3: <location>}      # s3://..., file:///..., or relative to _.s3base
//!   boot: {s3: <location>, optional: [30-oracle.sh]}   # optional: from misc/boot.optional
//!   root: {s3: <code area>, realms: {<realm>: [<worker>, ...]}}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lava_layout::{root_boot_key, Component, Version, ROOT_BOOT_SCRIPTS};
use lava_store::Location;
use serde_yaml::{Mapping, Value};

use crate::{ConfigError, Deployable};

/// Keys of an environment that are not components and that deploy reads or
/// knowingly ignores (`other` is reserved upstream).
const OTHER_KEYS: [&str; 3] = ["_", "account_id", "other"];

/// A parsed configuration file.
#[derive(Debug)]
pub struct Config {
    path: PathBuf,
    top: Mapping,
}

/// What `${...}` in a location expands to: `${version}` is the version being
/// deployed, any other name an environment variable (which must be set).
pub struct Substitution<'a> {
    pub version: &'a Version,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// One environment's settings, every location resolved.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    /// The file it came from, for messages.
    pub file: PathBuf,
    pub account_id: Option<String>,
    pub targets: BTreeMap<Deployable, Location>,
    /// Components without a location, with the reason.
    pub unconfigured: BTreeMap<Deployable, String>,
    /// `root.realms`: realm -> workers, each name checked as a key segment.
    pub realms: BTreeMap<String, Vec<String>>,
    /// `boot.optional`: scriptlets of misc/boot.optional deployed into
    /// `_boot_/` beside the standard ones (e.g. 30-oracle.sh for SAK AMIs).
    pub optional_boot: Vec<String>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (name the configuration with -f; deploy/sample.yaml documents the format)"
            } else {
                ""
            };
            ConfigError(format!(
                "cannot read the deploy configuration {}: {e}{hint}",
                path.display()
            ))
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let file = path.display();
        let mut doc: Value = serde_yaml::from_str(text).map_err(|e| {
            let mut message = e.to_string();
            let mut at = String::new();
            if let Some(l) = e.location() {
                // Said once, up front, as editors and compilers do.
                message = message.replacen(
                    &format!(" at line {} column {}", l.line(), l.column()),
                    "",
                    1,
                );
                at = format!(":{}:{}", l.line(), l.column());
            }
            ConfigError(format!("{file}{at}: YAML syntax error: {message}"))
        })?;
        doc.apply_merge()
            .map_err(|e| ConfigError(format!("{file}: {e}")))?;
        match doc {
            Value::Mapping(top) => Ok(Config {
                path: path.to_path_buf(),
                top,
            }),
            Value::Null => Ok(Config {
                path: path.to_path_buf(),
                top: Mapping::new(),
            }),
            _ => Err(ConfigError(format!(
                "{file}: the top level must map environment names to their settings"
            ))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Environment `name`'s settings as written (merge keys applied), for the
    /// keys deploy ignores: the AMI build reads its own from `ami`.
    pub fn settings(&self, name: &str) -> Option<&Mapping> {
        self.top.get(name).and_then(Value::as_mapping)
    }

    /// The environment names, in file order.
    pub fn environments(&self) -> Vec<&str> {
        self.top.keys().filter_map(Value::as_str).collect()
    }

    /// Resolve environment `name`: every location parsed and substituted.
    pub fn environment(
        &self,
        name: &str,
        subst: &Substitution<'_>,
    ) -> Result<Environment, ConfigError> {
        let file = self.path.display();
        let Some(value) = self.top.get(name) else {
            let known = self.environments();
            let known = if known.is_empty() {
                "it defines none".to_string()
            } else {
                format!("environments: {}", known.join(", "))
            };
            return Err(ConfigError(format!(
                "{file}: no environment {name:?} ({known})"
            )));
        };
        let bad = |key: &str, value: &str, why: &str| {
            ConfigError(format!("{file}: {name}.{key}: {value:?}: {why}"))
        };
        let Value::Mapping(settings) = value else {
            return Err(ConfigError(format!(
                "{file}: {name}: expected a mapping of settings, e.g. account_id and pkg.s3"
            )));
        };
        for key in settings.keys() {
            let known = key.as_str().is_some_and(|k| {
                OTHER_KEYS.contains(&k) || Deployable::ALL.iter().any(|c| c.name() == k)
            });
            if !known {
                tracing::warn!(
                    "{file}: {name}.{}: not a deploy setting, ignored",
                    show(key)
                );
            }
        }

        let account_id = match settings.get("account_id") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let id = scalar(v).unwrap_or_default();
                if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(
                        "account_id",
                        &show(v),
                        "expected the 12-digit AWS account id, quoted (\"012345678901\")",
                    ));
                }
                Some(id)
            }
        };

        let base = match settings.get("_").and_then(|u| u.get("s3base")) {
            // etc/deploy.sh cannot tell an empty s3base from a missing one.
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(raw)) => {
                Some(resolve_base(raw, subst).map_err(|e| bad("_.s3base", raw, &e))?)
            }
            Some(v) => {
                let why = format!("expected {BASE_FORMS}");
                return Err(bad("_.s3base", &show(v), &why));
            }
        };

        let mut targets = BTreeMap::new();
        let mut unconfigured = BTreeMap::new();
        let mut realms = BTreeMap::new();
        let mut optional_boot = Vec::new();
        for component in Deployable::ALL {
            let key = component.name();
            let section = match settings.get(key) {
                None | Some(Value::Null) => {
                    unconfigured.insert(component, "not configured".to_string());
                    continue;
                }
                Some(Value::Mapping(m)) => m,
                Some(v) => {
                    return Err(bad(key, &show(v), "expected a mapping with an s3 key"));
                }
            };
            let raw = match section.get("s3") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.as_str()),
                Some(v) => {
                    return Err(bad(&format!("{key}.s3"), &show(v), "expected a location"));
                }
            };
            let Some(raw) = raw else {
                unconfigured.insert(component, format!("no {key}.s3 location"));
                continue;
            };
            let location = resolve(raw, base.as_ref(), subst, name)
                .map_err(|e| bad(&format!("{key}.s3"), raw, &e))?;
            if component == Deployable::Area(Component::Boot) {
                optional_boot = parse_optional(section, |k, v, why| bad(k, v, why))?;
            }
            if component == Deployable::Root {
                realms = parse_realms(section, |k, v, why| bad(k, v, why))?;
                if realms.is_empty() {
                    unconfigured.insert(component, "no realms listed in root.realms".into());
                    continue;
                }
            }
            targets.insert(component, location);
        }
        Ok(Environment {
            name: name.to_string(),
            file: self.path.clone(),
            account_id,
            targets,
            unconfigured,
            realms,
            optional_boot,
        })
    }
}

impl Environment {
    /// The code area workers boot from: `root.s3`, else `pkg.s3` less the
    /// `_dist_/pkg/` a worker appends to it.
    pub fn code_area(&self, version: &Version) -> Result<Location, ConfigError> {
        if let Some(root) = self.targets.get(&Deployable::Root) {
            return Ok(root.clone());
        }
        let (file, name) = (self.file.display(), &self.name);
        let pkg = Deployable::Area(Component::Pkg);
        let location = self.targets.get(&pkg).ok_or_else(|| {
            ConfigError(format!(
                "{file}: environment {name:?} configures neither root.s3 nor pkg.s3, so it \
                 names no code area"
            ))
        })?;
        let url = location.to_string();
        let dir = format!("{}/", pkg.deploy_dir(version));
        let area = url.strip_suffix(&dir).ok_or_else(|| {
            ConfigError(format!(
                "{file}: {name}.pkg.s3 is {url}, which does not end in {dir}: a worker looks \
                 for bundles in <code area>/{dir}"
            ))
        })?;
        Location::parse(area).map_err(|e| ConfigError(format!("{file}: {name}.pkg.s3: {e}")))
    }
}

/// `boot.optional`: a list of scriptlet file names.
fn parse_optional(
    section: &Mapping,
    bad: impl Fn(&str, &str, &str) -> ConfigError,
) -> Result<Vec<String>, ConfigError> {
    let names =
        match section.get("optional") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Sequence(list)) => list,
            Some(v) => return Err(bad(
                "boot.optional",
                &show(v),
                "expected a list of scriptlet names from misc/boot.optional, e.g. [30-oracle.sh]",
            )),
        };
    let mut optional = Vec::new();
    for name in names {
        let text = scalar(name).unwrap_or_default();
        let plain = !text.is_empty()
            && !text.starts_with('.')
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !plain {
            return Err(bad(
                "boot.optional",
                &show(name),
                "expected the file name of a scriptlet in misc/boot.optional, e.g. 30-oracle.sh",
            ));
        }
        optional.push(text);
    }
    optional.sort();
    optional.dedup();
    Ok(optional)
}

fn parse_realms(
    section: &Mapping,
    bad: impl Fn(&str, &str, &str) -> ConfigError,
) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let mut realms = BTreeMap::new();
    let entries = match section.get("realms") {
        None | Some(Value::Null) => return Ok(realms),
        Some(Value::Mapping(m)) => m,
        Some(v) => {
            return Err(bad(
                "root.realms",
                &show(v),
                "expected a mapping of realm names to lists of worker names",
            ))
        }
    };
    for (realm, workers) in entries {
        let key = format!("root.realms.{}", show(realm));
        let realm =
            scalar(realm).ok_or_else(|| bad(&key, &show(realm), "expected a realm name"))?;
        let workers: Vec<String> = match workers {
            Value::Sequence(list) => list
                .iter()
                .map(|w| scalar(w).ok_or_else(|| bad(&key, &show(w), "expected a worker name")))
                .collect::<Result<_, _>>()?,
            v => return Err(bad(&key, &show(v), "expected a list of worker names")),
        };
        for worker in &workers {
            // The layout decides what a realm or worker name may be.
            root_boot_key(&realm, worker, ROOT_BOOT_SCRIPTS[0])
                .map_err(|e| bad(&key, worker, &e.to_string()))?;
        }
        if !workers.is_empty() {
            realms.insert(realm, workers);
        }
    }
    Ok(realms)
}

/// The forms `_.s3base` takes: upstream's `s3loc` reads every S3 one alike.
const BASE_FORMS: &str =
    "bucket[/prefix], s3://bucket/prefix, s3:bucket/prefix, /bucket/prefix or file:///directory";

/// `_.s3base`, read as upstream's `s3loc -/` reads it: an optional `s3:`, then
/// the bucket after any slashes, then the prefix.
fn resolve_base(raw: &str, subst: &Substitution<'_>) -> Result<Location, String> {
    let url = if raw.starts_with("file://") {
        substitute(raw, subst)?
    } else {
        let path = raw.strip_prefix("s3:").unwrap_or(raw);
        format!("s3://{}", substitute(&squeeze(path), subst)?)
    };
    Location::parse(&url).map_err(|e| format!("{}; expected {BASE_FORMS}", e.reason))
}

/// A component's location, classified on the text as written, as
/// etc/deploy.sh does (through `s3loc -/`): `s3://` is absolute, anything
/// else is a path below `_.s3base`; `file://` is ours.
fn resolve(
    raw: &str,
    base: Option<&Location>,
    subst: &Substitution<'_>,
    env: &str,
) -> Result<Location, String> {
    let forms = |reason: &str| {
        format!(
            "{reason}; expected s3://bucket/prefix, file:///directory or a path relative to \
             {env}._.s3base"
        )
    };
    if raw.starts_with("file://") {
        return Location::parse(&substitute(raw, subst)?).map_err(|e| forms(&e.reason));
    }
    if let Some(rest) = raw.strip_prefix("s3://") {
        let url = format!("s3://{}", substitute(&squeeze(rest), subst)?);
        return Location::parse(&url).map_err(|e| forms(&e.reason));
    }
    let rel = substitute(&squeeze(raw), subst)?;
    // Upstream would join `s3:bucket/x` (or a URL a variable holds) to the
    // base, giving a key with the scheme in it: never what was meant.
    if let Some(scheme) = scheme(&rel) {
        return Err(forms(&format!(
            "\"{scheme}:\" is not a scheme deploy reads (etc/deploy.sh would write below \
             _.s3base, to a key containing \"{scheme}:\")"
        )));
    }
    let base = base.ok_or_else(|| {
        format!(
            "a relative location needs {env}._.s3base (or write s3://bucket/prefix or \
             file:///directory)"
        )
    })?;
    base.join(&rel).map_err(|e| forms(&e.reason))
}

/// Runs of `/` as one and no leading `/`, as `s3loc -/` makes them. Applied to
/// the written text before substitution (upstream substitutes after), so a
/// variable that expands to nothing leaves an empty segment, which is refused
/// rather than written as `//` in a key as upstream does.
fn squeeze(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c != '/' || !(out.is_empty() || out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// The scheme of a URL-like path (`s3:bucket/x`, `https://...`).
fn scheme(path: &str) -> Option<&str> {
    let first = path.split('/').next().unwrap_or_default();
    let (scheme, _) = first.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    valid.then_some(scheme)
}

/// Expand `${version}`, `${NAME}` and `$NAME` (environment variables), as
/// upstream's `envsubst` does, except that an unset variable is an error
/// rather than an empty string that would silently move the target.
fn substitute(value: &str, subst: &Substitution<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced
                    .find('}')
                    .ok_or_else(|| "unclosed \"${\"".to_string())?;
                (&braced[..end], end + 2)
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            if after.starts_with('{') {
                return Err(format!("\"${{{name}}}\" is not a variable name"));
            }
            // A lone `$` is just a character.
            out.push('$');
            rest = after;
            continue;
        }
        let expansion = if name == "version" {
            subst.version.to_string()
        } else {
            (subst.env)(name).ok_or_else(|| format!("${{{name}}} is not set in the environment"))?
        };
        out.push_str(&expansion);
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A YAML scalar as text (account ids and names may be unquoted numbers).
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A YAML value as a message shows it: a scalar as its text, anything else
/// as flow YAML on one line.
pub fn show(v: &Value) -> String {
    scalar(v).unwrap_or_else(|| {
        serde_yaml::to_string(v)
            .map(|s| s.trim().replace('\n', " "))
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lava_layout::Component;

    fn version() -> Version {
        "8.3.0".parse().unwrap()
    }

    fn env_of(name: &str) -> Option<String> {
        let value = match name {
            "STAGE" => "blue",
            "EMPTY" => "",
            "LOC" => "s3://other-bkt/x",
            _ => return None,
        };
        Some(value.to_string())
    }

    fn resolve_env(yaml: &str, env: &str) -> Result<Environment, ConfigError> {
        let v = version();
        let subst = Substitution {
            version: &v,
            env: &env_of,
        };
        Config::parse(Path::new("deploy.yaml"), yaml)?.environment(env, &subst)
    }

    fn message(result: Result<Environment, ConfigError>) -> String {
        result.unwrap_err().to_string()
    }

    const UPSTREAM: &str = r#"
demo:
  _:
    s3base: my-deploy-bucket/some-optional-prefix
  account_id: "123456789012"
  pkg:
    s3: lava/_dist_/pkg/
  boot:
    s3: lava/_boot_/
  lambda:
    s3: lava/_dist_/lambda/
  cfn:
    s3: lava/_dist_/cfn/v${version}/
  other:
    s3:
  ami:
    s3: lava/_ami_/
    ip: public
    subnet: subnet-...
    sg: sg-...
    tz: Australia/Sydney
    python:
      version: 3.11.13
"#;

    #[test]
    fn upstream_sample_resolves_unchanged() {
        let env = resolve_env(UPSTREAM, "demo").unwrap();
        assert_eq!(env.account_id.as_deref(), Some("123456789012"));
        let url = |c: Component| env.targets[&Deployable::Area(c)].to_string();
        let base = "s3://my-deploy-bucket/some-optional-prefix/lava";
        assert_eq!(url(Component::Pkg), format!("{base}/_dist_/pkg/"));
        assert_eq!(url(Component::Cfn), format!("{base}/_dist_/cfn/v8.3.0/"));
        assert_eq!(url(Component::Ami), format!("{base}/_ami_/"));
        assert_eq!(
            env.unconfigured[&Deployable::Area(Component::Framework)],
            "not configured"
        );
        assert!(env.unconfigured.contains_key(&Deployable::Root));
    }

    #[test]
    fn optional_boot_scriptlets() {
        let yaml =
            "dev:\n  boot:\n    s3: file:///tmp/x\n    optional: [40-extras.sh, 30-oracle.sh]\n";
        let env = resolve_env(yaml, "dev").unwrap();
        assert_eq!(env.optional_boot, ["30-oracle.sh", "40-extras.sh"]);
        let none = resolve_env("dev:\n  boot: {s3: file:///tmp/x}\n", "dev").unwrap();
        assert!(none.optional_boot.is_empty());
        for (bad, value) in [
            ("optional: 30-oracle.sh", "30-oracle.sh"),
            ("optional: [../50-lava.sh]", "../50-lava.sh"),
            ("optional: [.hidden]", ".hidden"),
        ] {
            let yaml = format!("dev:\n  boot:\n    s3: file:///tmp/x\n    {bad}\n");
            let msg = message(resolve_env(&yaml, "dev"));
            assert!(
                msg.contains("dev.boot.optional") && msg.contains(value),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn root_boot_scripts_extension() {
        let yaml = "dev:\n  _: {s3base: 's3://code-bucket'}\n  account_id: 123456789012\n  root:\n    s3: lava/\n    realms:\n      prod: [core, batch]\n      test: [core]\n";
        let env = resolve_env(yaml, "dev").unwrap();
        assert_eq!(env.account_id.as_deref(), Some("123456789012"));
        assert_eq!(
            env.targets[&Deployable::Root].to_string(),
            "s3://code-bucket/lava/"
        );
        assert_eq!(env.realms["prod"], ["core", "batch"]);

        let bad = "dev:\n  root:\n    s3: file:///tmp/x\n    realms:\n      prod: [_boot_]\n";
        let msg = message(resolve_env(bad, "dev"));
        assert!(
            msg.contains("dev.root.realms.prod") && msg.contains("_boot_"),
            "{msg}"
        );
    }

    #[test]
    fn locations_substitute_version_and_environment() {
        let yaml = "e:\n  pkg: {s3: 's3://b-${STAGE}/v$version/x'}\n  cfn: {s3: 'file:///srv/${version}'}\n";
        let env = resolve_env(yaml, "e").unwrap();
        assert_eq!(
            env.targets[&Deployable::Area(Component::Pkg)].to_string(),
            "s3://b-blue/v8.3.0/x/"
        );
        assert_eq!(
            env.targets[&Deployable::Area(Component::Cfn)].to_string(),
            "file:///srv/8.3.0/"
        );
        let msg = message(resolve_env("e:\n  pkg: {s3: 's3://b/${NOPE}/'}\n", "e"));
        assert!(
            msg.contains("e.pkg.s3") && msg.contains("${NOPE} is not set"),
            "{msg}"
        );
    }

    #[test]
    fn bad_input_is_named() {
        let msg = message(resolve_env(UPSTREAM, "prod"));
        assert!(
            msg.contains("\"prod\"") && msg.contains("environments: demo"),
            "{msg}"
        );

        let msg = message(resolve_env("demo:\n  pkg:\n    s3: [\n", "demo"));
        assert!(
            msg.starts_with("deploy.yaml:") && msg.contains("YAML syntax error"),
            "{msg}"
        );
        // line:column of the error
        let loc = msg.split(':').skip(1).take(2).collect::<Vec<_>>();
        assert!(loc.iter().all(|n| n.parse::<u32>().is_ok()), "{msg}");

        let msg = message(resolve_env("demo:\n  pkg: {s3: 's3:/bucket/x'}\n", "demo"));
        assert!(
            msg.contains("demo.pkg.s3") && msg.contains("s3:/bucket/x"),
            "{msg}"
        );

        let msg = message(resolve_env(
            "demo:\n  pkg: {s3: 'lava/_dist_/pkg/'}\n",
            "demo",
        ));
        assert!(msg.contains("demo._.s3base"), "{msg}");

        let msg = message(resolve_env("demo:\n  account_id: 12345\n", "demo"));
        assert!(
            msg.contains("demo.account_id") && msg.contains("12-digit"),
            "{msg}"
        );

        let msg = message(resolve_env("demo:\n  _: {s3base: 'Bad_Bucket'}\n", "demo"));
        assert!(
            msg.contains("demo._.s3base") && msg.contains("bucket name"),
            "{msg}"
        );
    }

    /// `pkg.s3: <location>` below `_.s3base: <base>`.
    fn resolve_pkg(location: &str, base: &str) -> Result<Environment, ConfigError> {
        let yaml = format!("e:\n  _: {{s3base: '{base}'}}\n  pkg: {{s3: '{location}'}}\n");
        resolve_env(&yaml, "e")
    }

    /// (location, s3base, bucket, key): the key is what upstream's deploy.sh
    /// pipeline printed for the row (`s3loc -/ "$v" "$s3base" | envsubst`,
    /// with version=8.3.0 STAGE=blue).
    const UPSTREAM_S3LOC: &[(&str, &str, &str, &str)] = &[
        // s3://: absolute, base ignored, slashes squeezed, leading ones too.
        ("s3://other-bkt/x/y", "", "other-bkt", "x/y"),
        ("s3://other-bkt/x/y/", "base-bkt/pre", "other-bkt", "x/y/"),
        ("s3://other-bkt", "", "other-bkt", ""),
        ("s3://other-bkt/", "", "other-bkt", ""),
        ("s3:///other-bkt//x///y/", "", "other-bkt", "x/y/"),
        // Anything else: below the base with one `/` between, even a leading `/`.
        (
            "lava/_dist_/pkg/",
            "base-bkt/pre",
            "base-bkt",
            "pre/lava/_dist_/pkg/",
        ),
        (
            "lava/_dist_/pkg",
            "base-bkt/pre/",
            "base-bkt",
            "pre/lava/_dist_/pkg",
        ),
        (
            "/lava/_boot_/",
            "base-bkt/pre",
            "base-bkt",
            "pre/lava/_boot_/",
        ),
        (
            "//lava//_boot_//",
            "base-bkt//pre//",
            "base-bkt",
            "pre/lava/_boot_/",
        ),
        (
            "/other-bkt/x",
            "base-bkt/pre",
            "base-bkt",
            "pre/other-bkt/x",
        ),
        ("/", "base-bkt/pre", "base-bkt", "pre/"),
        // Every form of the base.
        ("lava/", "base-bkt", "base-bkt", "lava/"),
        ("lava/", "base-bkt/", "base-bkt", "lava/"),
        ("lava/", "s3://base-bkt/pre", "base-bkt", "pre/lava/"),
        ("lava/", "s3://base-bkt/pre/", "base-bkt", "pre/lava/"),
        ("lava/", "s3:base-bkt/pre", "base-bkt", "pre/lava/"),
        ("lava/", "s3:/base-bkt/pre", "base-bkt", "pre/lava/"),
        ("lava/", "s3:///base-bkt//pre", "base-bkt", "pre/lava/"),
        ("lava/", "/base-bkt/pre", "base-bkt", "pre/lava/"),
        ("lava/", "//base-bkt", "base-bkt", "lava/"),
        ("lava/", "s3:base-bkt", "base-bkt", "lava/"),
        // Substitution.
        (
            "lava/_dist_/cfn/v${version}/",
            "base-bkt/pre",
            "base-bkt",
            "pre/lava/_dist_/cfn/v8.3.0/",
        ),
        ("s3://${STAGE}-bkt/v$version/", "", "blue-bkt", "v8.3.0/"),
    ];

    #[test]
    fn locations_resolve_as_upstream_s3loc() {
        for &(location, base, bucket, key) in UPSTREAM_S3LOC {
            let env = resolve_pkg(location, base)
                .unwrap_or_else(|e| panic!("{location:?} below {base:?}: {e}"));
            // `aws s3 sync` writes below `key/` whether or not upstream's key
            // ends with `/`; ours always does.
            let prefix = if key.is_empty() || key.ends_with('/') {
                key.to_string()
            } else {
                format!("{key}/")
            };
            let expected = Location::S3 {
                bucket: bucket.into(),
                prefix,
            };
            assert_eq!(
                env.targets[&Deployable::Area(Component::Pkg)],
                expected,
                "{location:?} below {base:?}"
            );
        }

        let env = resolve_pkg("/lava//x/", "file:///srv").unwrap();
        assert_eq!(
            env.targets[&Deployable::Area(Component::Pkg)].to_string(),
            "file:///srv/lava/x/"
        );
    }

    /// (location, s3base, key named, reason): upstream fails on each, or
    /// writes to the key in the comment.
    const REFUSED: &[(&str, &str, &str, &str)] = &[
        // base-bkt/pre/s3:other-bkt/x
        (
            "s3:other-bkt/x",
            "base-bkt/pre",
            "e.pkg.s3",
            "key containing \"s3:\"",
        ),
        // "base must be specified"
        ("s3:other-bkt/x", "", "e.pkg.s3", "key containing \"s3:\""),
        // base-bkt/pre/S3:/other-bkt/x
        (
            "S3://other-bkt/x",
            "base-bkt/pre",
            "e.pkg.s3",
            "key containing \"S3:\"",
        ),
        // base-bkt/pre/https:/other-bkt/x
        (
            "https://other-bkt/x",
            "base-bkt/pre",
            "e.pkg.s3",
            "key containing \"https:\"",
        ),
        // base-bkt/pre/s3://other-bkt/x
        (
            "${LOC}",
            "base-bkt/pre",
            "e.pkg.s3",
            "key containing \"s3:\"",
        ),
        // "base must be specified"
        ("lava/", "", "e.pkg.s3", "needs e._.s3base"),
        ("/other-bkt/x", "", "e.pkg.s3", "needs e._.s3base"),
        // "Invalid S3 object name"
        ("s3://", "", "e.pkg.s3", "no bucket"),
        ("s3:///", "base-bkt/pre", "e.pkg.s3", "no bucket"),
        // s3://lava/: the location's first segment becomes the bucket.
        ("lava/", "/", "e._.s3base", "no bucket"),
        ("lava/", "s3://", "e._.s3base", "no bucket"),
        ("lava/", "s3:", "e._.s3base", "no bucket"),
        // s3:///base-bkt/lava/
        ("lava/", "${EMPTY}/base-bkt", "e._.s3base", "no bucket"),
        // Bucket "S3:", "https:".
        (
            "lava/",
            "S3://base-bkt/pre",
            "e._.s3base",
            "valid bucket name",
        ),
        (
            "lava/",
            "https://base-bkt/pre",
            "e._.s3base",
            "valid bucket name",
        ),
        // base-bkt/pre/lava/../x, base-bkt/pre/./lava, other-bkt/a/../c
        ("lava/../x", "base-bkt/pre", "e.pkg.s3", "segments"),
        ("./lava", "base-bkt/pre", "e.pkg.s3", "segments"),
        ("s3://other-bkt/a/../c", "", "e.pkg.s3", "segments"),
        // base-bkt/pre/lava//pkg/, other-bkt//c
        ("lava/${EMPTY}/pkg/", "base-bkt/pre", "e.pkg.s3", "empty"),
        ("s3://other-bkt/${EMPTY}/c", "", "e.pkg.s3", "empty"),
    ];

    #[test]
    fn locations_upstream_rejects_or_misplaces_are_refused() {
        for &(location, base, key, reason) in REFUSED {
            let msg = message(resolve_pkg(location, base));
            let value = if key == "e._.s3base" { base } else { location };
            for needle in [&format!("{key}: {value:?}: "), reason, "s3://bucket/prefix"] {
                assert!(
                    msg.contains(needle),
                    "{location:?} below {base:?}: {msg} lacks {needle}"
                );
            }
        }
    }

    #[test]
    fn substitution_rules() {
        let v = version();
        let s = Substitution {
            version: &v,
            env: &env_of,
        };
        assert_eq!(substitute("a$", &s).unwrap(), "a$");
        assert_eq!(substitute("$1x", &s).unwrap(), "$1x");
        assert_eq!(substitute("${STAGE}-$STAGE.", &s).unwrap(), "blue-blue.");
        assert!(substitute("${STAGE", &s).is_err());
        assert!(substitute("${1}", &s).is_err());
    }
}
