//! `pin`: set or remove `x-workers.<worker>.version` (or `x-workers._.version`,
//! every worker's default) in the realm's item of the realms table.
//!
//! `plan` reads the item and the realm's worker stacks and works out, for
//! every worker the change reaches, the bundle it boots before and after
//! (`lava_boot::select` on the code area's listing, for the runtime of the
//! worker stack's AMI). A change that leaves such a worker with no bundle is
//! refused. `apply` writes only the `x-workers` attribute, on condition that
//! it is still what the plan read, so a concurrent edit is never lost.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use lava_boot::settings::DEFAULTS;
use lava_boot::{plain_item, WorkerSettings, REALMS_TABLE};
use lava_config::Environment;
use lava_layout::{Runtime, Version};
use lava_store::{Location, Store, Tuning};
use serde::Serialize;

use crate::{aws, realm_item, worker_stacks, Boots, Clients, OpsError, Packages};

const X_WORKERS: &str = "x-workers";
const VERSION: &str = "version";

/// Whose version: one worker's, or `_`, every worker's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Worker(String),
    Defaults,
}

impl Target {
    pub fn parse(s: &str) -> Target {
        if s == DEFAULTS {
            Target::Defaults
        } else {
            Target::Worker(s.to_string())
        }
    }

    fn key(&self) -> &str {
        match self {
            Target::Worker(w) => w,
            Target::Defaults => DEFAULTS,
        }
    }
}

pub struct Request<'a> {
    /// Whose account (the guard) and, as `Environment::code_area`, where
    /// the bundles are.
    pub environment: &'a Environment,
    pub code_area: &'a Location,
    pub realm: &'a str,
    pub target: Target,
    /// The version to pin, or `None` to remove the pin.
    pub version: Option<Version>,
}

/// A worker the change reaches.
#[derive(Debug, Clone, Serialize)]
pub struct Affected {
    pub worker: String,
    pub stack: String,
    pub runtime: Option<String>,
    pub before: Boots,
    pub after: Boots,
}

/// The whole change, as `-n` shows it and `apply` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub account: String,
    pub realm: String,
    pub code_area: String,
    /// `x-workers.<worker|_>.version`
    pub attribute: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub workers: Vec<Affected>,
    /// The `x-workers` attribute as read (the write's condition), and as
    /// it will be written.
    #[serde(skip)]
    read: Option<AttributeValue>,
    #[serde(skip)]
    write: AttributeValue,
}

impl Plan {
    /// Nothing to write: the pin is already what was asked.
    pub fn is_noop(&self) -> bool {
        self.before == self.after
    }
}

/// Read the realm's item, its worker stacks and the code area's listings,
/// and plan the change. Writes nothing.
pub async fn plan(clients: &Clients, request: &Request<'_>) -> Result<Plan, OpsError> {
    let env = request.environment;
    let realm = request.realm;
    // The account guard runs here, before anything is read.
    let (account, stacks) = worker_stacks(clients, env, realm).await?;
    let item = realm_item(clients, realm).await?;
    let read = item.get(X_WORKERS).cloned();
    let key = request.target.key();
    let write = changed(read.as_ref(), key, request.version.as_ref())
        .map_err(|e| OpsError::Input(format!("realm {realm}: {e}")))?;
    let before_item = plain_item(&item);
    let mut after_raw = item.clone();
    after_raw.insert(X_WORKERS.to_string(), write.clone());
    let after_item = plain_item(&after_raw);

    let code_area = request.code_area;
    let code = Store::new(code_area.clone(), Some(&clients.s3), Tuning::default());
    let mut packages = Packages::new(&code);
    let pin_of = |item: &serde_json::Value, worker: &str| {
        WorkerSettings::resolve(item, worker)
            .map(|s| s.pin.map(|(v, _)| v))
            .map_err(|e| OpsError::Input(format!("realm {realm}: {e}")))
    };

    if let Target::Worker(w) = &request.target {
        if !stacks.iter().any(|s| s.worker == *w) {
            let known: Vec<&str> = stacks.iter().map(|s| s.worker.as_str()).collect();
            return Err(OpsError::Input(format!(
                "realm {realm} has no worker stack for worker {w:?} (its workers: {}); \
                 nothing was written",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    let mut workers = Vec::new();
    let mut refused = Vec::new();
    for stack in stacks {
        let (before_pin, after_pin) = (
            pin_of(&before_item, &stack.worker)?,
            pin_of(&after_item, &stack.worker)?,
        );
        // `_` reaches only the workers without a pin of their own.
        let reached = match &request.target {
            Target::Worker(w) => *w == stack.worker,
            Target::Defaults => before_pin != after_pin,
        };
        if !reached {
            continue;
        }
        let runtime: Option<Runtime> = stack.runtime.as_deref().and_then(|r| r.parse().ok());
        let before = packages
            .boots(runtime.as_ref(), before_pin.as_ref())
            .await?;
        let after = packages.boots(runtime.as_ref(), after_pin.as_ref()).await?;
        if let Boots::Aborts { error } = &after {
            refused.push(format!(
                "worker {} ({}): {error}",
                stack.worker, stack.stack
            ));
        }
        workers.push(Affected {
            worker: stack.worker,
            stack: stack.stack,
            runtime: runtime.map(|r| r.to_string()),
            before,
            after,
        });
    }
    let attribute = format!("{X_WORKERS}.{key}.{VERSION}");
    if !refused.is_empty() {
        let what = match &request.version {
            Some(v) => format!("pinning {attribute} to {v}"),
            None => format!("removing {attribute}"),
        };
        return Err(OpsError::Input(format!(
            "realm {realm}: {what} leaves workers without a bundle to boot, so nothing was \
             written:\n  {}",
            refused.join("\n  ")
        )));
    }
    let pin_in = |x: Option<&AttributeValue>| {
        x.and_then(|x| x.as_m().ok())
            .and_then(|m| m.get(key))
            .and_then(|w| w.as_m().ok())
            .and_then(|w| w.get(VERSION))
            .and_then(|v| v.as_s().ok())
            .cloned()
    };
    Ok(Plan {
        account,
        realm: realm.to_string(),
        code_area: code_area.to_string(),
        before: pin_in(read.as_ref()),
        after: pin_in(Some(&write)),
        attribute,
        workers,
        read,
        write,
    })
}

/// Write the plan: the `x-workers` attribute only, on condition that it is
/// what the plan read.
pub async fn apply(clients: &Clients, plan: &Plan) -> Result<(), OpsError> {
    let update = clients
        .dynamodb
        .update_item()
        .table_name(REALMS_TABLE)
        .key("realm", AttributeValue::S(plan.realm.clone()))
        .update_expression("SET #xw = :new")
        .expression_attribute_names("#xw", X_WORKERS)
        .expression_attribute_values(":new", plan.write.clone());
    let update = match &plan.read {
        Some(read) => update
            .condition_expression("#xw = :read")
            .expression_attribute_values(":read", read.clone()),
        None => {
            update.condition_expression("attribute_exists(realm) AND attribute_not_exists(#xw)")
        }
    };
    match update.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Err(OpsError::Concurrent {
                realm: plan.realm.clone(),
            })
        }
        Err(e) => Err(aws("DynamoDB UpdateItem")(e)),
    }
}

/// `x-workers` with `<key>.version` set to `version`, or removed (and the
/// entry with it, when nothing else is left in it). Every other entry and
/// value is kept as typed.
fn changed(
    x_workers: Option<&AttributeValue>,
    key: &str,
    version: Option<&Version>,
) -> Result<AttributeValue, String> {
    let mut map = match x_workers {
        None => HashMap::new(),
        Some(AttributeValue::M(m)) => m.clone(),
        Some(other) => return Err(format!("{X_WORKERS} is {other:?}, not a map")),
    };
    let mut entry = match map.remove(key) {
        None => HashMap::new(),
        Some(AttributeValue::M(m)) => m,
        Some(other) => return Err(format!("{X_WORKERS}.{key} is {other:?}, not a map")),
    };
    match version {
        Some(v) => {
            entry.insert(VERSION.to_string(), AttributeValue::S(v.to_string()));
        }
        None => {
            entry.remove(VERSION);
        }
    }
    if !entry.is_empty() {
        map.insert(key.to_string(), AttributeValue::M(entry));
    }
    Ok(AttributeValue::M(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }

    fn m<const N: usize>(entries: [(&str, AttributeValue); N]) -> AttributeValue {
        AttributeValue::M(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    #[test]
    fn only_the_version_of_the_entry_changes() {
        let threads = ("threads", AttributeValue::N("4".into()));
        let other = ("other", m([("version", s("8.1.0"))]));
        let v: Version = "8.3.0".parse().unwrap();
        for (before, key, version, after) in [
            // No x-workers yet: created with the one entry.
            (
                None,
                "core",
                Some(&v),
                m([("core", m([("version", s("8.3.0"))]))]),
            ),
            // Other settings of the entry, and other entries, are kept.
            (
                Some(m([("core", m([threads.clone()])), other.clone()])),
                "core",
                Some(&v),
                m([
                    ("core", m([threads.clone(), ("version", s("8.3.0"))])),
                    other.clone(),
                ]),
            ),
            // Unset: the version goes, the entry's other settings stay.
            (
                Some(m([("core", m([threads.clone(), ("version", s("8.2.0"))]))])),
                "core",
                None,
                m([("core", m([threads.clone()]))]),
            ),
            // Unset of an entry that held only the version: the entry goes.
            (
                Some(m([("_", m([("version", s("8.2.0"))])), other.clone()])),
                "_",
                None,
                m([other.clone()]),
            ),
        ] {
            assert_eq!(changed(before.as_ref(), key, version).unwrap(), after);
        }
    }

    #[test]
    fn a_value_that_is_not_a_map_is_refused() {
        let err = changed(Some(&s("oops")), "core", None).unwrap_err();
        assert!(err.contains("x-workers is"), "{err}");
        let err = changed(Some(&m([("core", s("8.2.0"))])), "core", None).unwrap_err();
        assert!(err.contains("x-workers.core is"), "{err}");
    }
}
