//! `prune`: remove old releases from the code area.
//!
//! `plan` reads what `status` reads (and nothing more), then keeps the
//! newest `keep` releases (at least the newest one), every release pinned
//! anywhere (any entry of any realm's `x-workers`), every realm stack's
//! `lambdaVersion` and every release a worker boots; every other release's
//! bundles, Lambda zips, job framework and cfn version folder are planned
//! for deletion. `apply` rewrites each touched directory's `SHA256SUMS`
//! without their entries, over the version it read (merging again when a
//! deploy wrote it meanwhile), then deletes them, so every `SHA256SUMS` ends
//! consistent with its directory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use lava_config::Environment;
use lava_layout::{
    cfn_folder_release, content_type, release_of, Sums, Version, CFN_PREFIX, SHA256SUMS,
};
use lava_store::{bounded, Expect, Location, PutMeta, Store, StoreError, Tuning};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::status::{self, Status};
use crate::{Clients, OpsError};

pub struct Request<'a> {
    pub environment: &'a Environment,
    pub code_area: &'a Location,
    /// How many of the newest releases to keep, whatever else is kept.
    pub keep: usize,
}

/// A release kept, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    pub release: String,
    pub why: Vec<String>,
}

/// An object to delete.
#[derive(Debug, Clone, Serialize)]
pub struct Deletion {
    pub key: String,
    pub release: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub account: String,
    pub code_area: String,
    pub kept: Vec<Kept>,
    pub pruned: Vec<String>,
    pub delete: Vec<Deletion>,
    /// Each `SHA256SUMS` to rewrite, with the entries it loses.
    pub sums: BTreeMap<String, Vec<String>>,
}

/// Plan the deletion. Writes nothing.
pub async fn plan(clients: &Clients, request: &Request<'_>) -> Result<Plan, OpsError> {
    let status = status::status(
        clients,
        &status::Request {
            environment: request.environment,
            code_area: request.code_area,
            realm: None,
        },
    )
    .await?;
    let releases: BTreeSet<Version> = status
        .directories
        .iter()
        .flat_map(|d| d.releases.iter().filter_map(|r| r.parse().ok()))
        .collect();
    let kept = kept(&status, &releases, request.keep);
    let pruned: Vec<&Version> = releases
        .iter()
        .rev()
        .filter(|r| !kept.contains_key(r))
        .collect();

    let mut delete = Vec::new();
    let mut sums: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dir in &status.directories {
        let folder = dir.dir.strip_prefix(&format!("{CFN_PREFIX}/"));
        for listed in &dir.listing {
            let release = match folder {
                // A cfn version folder goes whole, its SHA256SUMS with it.
                Some(folder) => cfn_folder_release(folder),
                None => release_of(&listed.name),
            };
            let Some(release) = release.filter(|r| pruned.contains(&r)) else {
                continue;
            };
            if folder.is_none() && dir.sums.present {
                sums.entry(format!("{}/{SHA256SUMS}", dir.dir))
                    .or_default()
                    .push(listed.name.clone());
            }
            delete.push(Deletion {
                key: format!("{}/{}", dir.dir, listed.name),
                release: release.to_string(),
                size: listed.size,
            });
        }
    }
    Ok(Plan {
        account: status.account,
        code_area: status.code_area,
        kept: kept
            .into_iter()
            .rev()
            .map(|(release, why)| Kept {
                release: release.to_string(),
                why,
            })
            .collect(),
        pruned: pruned.iter().map(|r| r.to_string()).collect(),
        delete,
        sums,
    })
}

/// The releases to keep, each with its reasons.
fn kept(
    status: &Status,
    releases: &BTreeSet<Version>,
    keep: usize,
) -> BTreeMap<Version, Vec<String>> {
    let mut kept: BTreeMap<Version, Vec<String>> = BTreeMap::new();
    for (n, r) in releases.iter().rev().enumerate() {
        if n == 0 {
            kept.entry(r.clone()).or_default().push("the newest".into());
        } else if n < keep {
            kept.entry(r.clone())
                .or_default()
                .push(format!("among the newest {keep}"));
        }
    }
    let mut keep_for = |version: &str, why: String| {
        if let Ok(v) = version.parse::<Version>() {
            kept.entry(v).or_default().push(why);
        }
    };
    for realm in &status.realms {
        let name = &realm.realm;
        if let Some(v) = &realm.lambda_version {
            keep_for(v, format!("realm {name}: lambdaVersion"));
        }
        for (entry, v) in &realm.pins {
            keep_for(v, format!("realm {name}: pinned by x-workers.{entry}"));
        }
        for w in &realm.workers {
            if let crate::Boots::Bundle { version, .. } = &w.boots {
                keep_for(
                    version,
                    format!("realm {name}: worker {} boots it", w.worker),
                );
            }
        }
    }
    // A version nothing in the code area belongs to is not a release here.
    kept.retain(|v, _| releases.contains(v));
    kept
}

/// What `apply` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub deleted: usize,
    pub bytes: u64,
    pub sums_rewritten: usize,
}

/// How often a `SHA256SUMS` is read again after another writer changed it.
const SUMS_ATTEMPTS: u32 = 10;

/// Called as each object is deleted, from any thread.
pub type OnDeleted = Arc<dyn Fn(&Deletion) + Send + Sync>;

/// Rewrite the touched `SHA256SUMS` without the plan's entries, then delete
/// the plan's objects, `jobs` at a time. In that order, a prune that stops
/// midway leaves files a `SHA256SUMS` does not list (which `status` reports
/// and a second prune plans again), never entries whose files are gone.
pub async fn apply(
    clients: &Clients,
    plan: &Plan,
    code_area: &Location,
    jobs: usize,
    on_deleted: &OnDeleted,
) -> Result<Report, OpsError> {
    let code = Store::new(code_area.clone(), Some(&clients.s3), Tuning::default());
    let mut report = Report::default();
    for (key, removed) in &plan.sums {
        if rewrite_sums(&code, key, removed).await? {
            report.sums_rewritten += 1;
        }
    }
    let deleted = bounded::run(plan.delete.clone(), jobs, |d| {
        let code = code.clone();
        let on_deleted = Arc::clone(on_deleted);
        async move {
            let result = code.delete(&d.key).await;
            if result.is_ok() {
                on_deleted(&d);
            }
            result.map(|()| d.size)
        }
    })
    .await;
    let mut failed = None;
    for result in deleted {
        match result {
            Ok(size) => {
                report.deleted += 1;
                report.bytes += size;
            }
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    match failed {
        None => Ok(report),
        Some(e) => Err(e.into()),
    }
}

/// `key` without the entries `removed`, written over the version read;
/// `false` when it had none of them.
async fn rewrite_sums(code: &Store, key: &str, removed: &[String]) -> Result<bool, OpsError> {
    for attempt in 1..=SUMS_ATTEMPTS {
        let Some(read) = code.get_versioned(key).await? else {
            return Ok(false);
        };
        let (mut sums, _) = Sums::parse(&String::from_utf8_lossy(&read.bytes));
        let before = sums.0.len();
        sums.0.retain(|name, _| !removed.contains(name));
        if sums.0.len() == before {
            return Ok(false);
        }
        let text = sums.render().into_bytes();
        let meta = PutMeta {
            size: text.len() as u64,
            sha256: hex::encode(Sha256::digest(&text)),
            content_type: content_type(SHA256SUMS).to_string(),
        };
        if code
            .put_if(key, Arc::new(text), &meta, &Expect::Version(read.version))
            .await?
        {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
    }
    Err(OpsError::Store(StoreError::Request {
        op: "PUT",
        url: code.url(key),
        message: format!(
            "changed by others {SUMS_ATTEMPTS} times while pruning it; run prune again"
        ),
    }))
}
