//! `status`: what an environment's code area holds and what each realm runs
//! from it, read-only.
//!
//! The code area: every versioned directory (bundles per os, Lambda zips per
//! architecture, the job framework, each cfn version folder) and the boot
//! directories, with the releases present and whether the directory's
//! `SHA256SUMS` lists exactly its files with their digests. Each realm: its
//! stack's `lambdaVersion` and `lambdaArchitecture` and whether those four
//! zips are there, and each worker stack: its pin (and where it comes from),
//! the bundle it boots (`lava_boot::select`, for the runtime of its AMI),
//! and its AMI against the newest lava AMI of that runtime. Problems are
//! collected, never fatal: the caller decides the exit status.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_cloudformation::types::Stack;
use aws_sdk_dynamodb::types::AttributeValue;
use lava_ami::list::{StackState, WorkerStack};
use lava_boot::{plain_item, WorkerSettings, REALMS_TABLE};
use lava_config::Environment;
use lava_layout::{
    cfn_folder_release, lambda_dir, lambda_key, release_of, Arch, LambdaFunction, Runtime, Sums,
    Version, BOOT_DIST_DIR, BOOT_PREFIX, CFN_PREFIX, FRAMEWORK_PREFIX, PKG_PREFIX, SHA256SUMS,
};
use lava_store::{bounded, Listed, Location, Store, Tuning};
use serde::Serialize;

use crate::{aws, Boots, Clients, OpsError, Packages};

const REALM: &str = "realm";
const WORKER: &str = "worker";
const LAMBDA_VERSION: &str = "lambdaVersion";
const ARCHITECTURE: &str = "lambdaArchitecture";
const CODE_BUCKET: &str = "s3CodeBucket";
const CODE_PREFIX: &str = "s3CodePrefix";
const HEADS_IN_FLIGHT: usize = 10;

pub struct Request<'a> {
    pub environment: &'a Environment,
    pub code_area: &'a Location,
    /// One realm, or every realm of the realms table.
    pub realm: Option<&'a str>,
}

/// A directory of the code area.
#[derive(Debug, Clone, Serialize)]
pub struct Directory {
    pub dir: String,
    /// The releases its files (or, for `_dist_/cfn/`, its folders) belong to,
    /// highest first.
    pub releases: Vec<String>,
    pub files: usize,
    pub sums: SumsCheck,
    /// What the listing found, so `Packages` and `prune` need not list again.
    #[serde(skip)]
    pub(crate) listing: Vec<Listed>,
}

/// How a directory's `SHA256SUMS` compares with its files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SumsCheck {
    pub present: bool,
    /// Files it does not list.
    pub unlisted: Vec<String>,
    /// Entries without a file.
    pub missing: Vec<String>,
    /// Files whose sha256 (as the object carries it) is not the listed one.
    pub mismatched: Vec<String>,
}

impl SumsCheck {
    pub fn is_consistent(&self) -> bool {
        self.present
            && self.unlisted.is_empty()
            && self.missing.is_empty()
            && self.mismatched.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PinStatus {
    pub version: String,
    /// `x-workers.<worker>` or `x-workers._`.
    pub from: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerStatus {
    pub worker: String,
    pub stack: String,
    pub runtime: Option<String>,
    pub pin: Option<PinStatus>,
    pub boots: Boots,
    pub ami_id: String,
    pub ami: StackState,
    /// The newest lava AMI of its runtime, when it lags.
    pub newest_ami: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RealmStatus {
    pub realm: String,
    /// The realm stack (template parameters `realm` and `lambdaVersion`).
    pub stack: Option<String>,
    pub lambda_version: Option<String>,
    pub lambda_architecture: Option<String>,
    /// Where the stack's functions take their zips from.
    pub lambda_code_area: Option<String>,
    /// The four zips that are not there.
    pub missing_zips: Vec<String>,
    /// Every `x-workers` entry with a version: entry (worker or `_`) -> version.
    pub pins: BTreeMap<String, String>,
    pub workers: Vec<WorkerStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub account: String,
    pub code_area: String,
    pub directories: Vec<Directory>,
    pub realms: Vec<RealmStatus>,
    /// Everything that needs an operator: a broken pin, missing zips, a
    /// `SHA256SUMS` that does not match its directory.
    pub problems: Vec<String>,
}

/// Read everything and report. Writes nothing.
pub async fn status(clients: &Clients, request: &Request<'_>) -> Result<Status, OpsError> {
    // The account guard runs first, inside the listing.
    let listing = lava_ami::list::list(&clients.ami, request.environment).await?;
    let code = Store::new(
        request.code_area.clone(),
        Some(&clients.s3),
        Tuning::default(),
    );
    let mut problems = Vec::new();

    let directories = directories(&code).await?;
    for d in &directories {
        problems.extend(sums_problems(d));
    }

    let items = realm_items(clients, request.realm).await?;
    let realm_stacks = realm_stacks(clients).await?;
    let mut packages = Packages::listed(&code, &directories);
    let mut realms = Vec::new();
    for (realm, item) in items {
        let stack = realm_stacks
            .iter()
            .find(|s| parameter(s, REALM).as_deref() == Some(realm.as_str()));
        let mut status = RealmStatus {
            realm: realm.clone(),
            stack: stack.and_then(|s| s.stack_name().map(str::to_string)),
            lambda_version: stack.and_then(|s| parameter(s, LAMBDA_VERSION)),
            lambda_architecture: None,
            lambda_code_area: None,
            missing_zips: Vec::new(),
            pins: pins(&item),
            workers: Vec::new(),
        };
        if let Some(stack) = stack {
            lambda_zips(clients, stack, &mut status, &mut problems).await?;
        }
        let plain = plain_item(&item);
        for w in listing.stacks.iter().filter(|s| s.realm == realm) {
            status
                .workers
                .push(worker(&mut packages, &plain, w, &realm, &mut problems).await?);
        }
        realms.push(status);
    }
    Ok(Status {
        account: listing.account,
        code_area: request.code_area.to_string(),
        directories,
        realms,
        problems,
    })
}

async fn worker(
    packages: &mut Packages<'_>,
    item: &serde_json::Value,
    stack: &WorkerStack,
    realm: &str,
    problems: &mut Vec<String>,
) -> Result<WorkerStatus, OpsError> {
    let runtime: Option<Runtime> = stack.runtime.as_deref().and_then(|r| r.parse().ok());
    let (pin, boots) = match WorkerSettings::resolve(item, &stack.worker) {
        Ok(settings) => {
            let pin = settings.pin;
            let boots = packages
                .boots(runtime.as_ref(), pin.as_ref().map(|(v, _)| v))
                .await?;
            (pin, boots)
        }
        Err(e) => (
            None,
            Boots::Aborts {
                error: e.to_string(),
            },
        ),
    };
    if let Boots::Aborts { error } = &boots {
        problems.push(format!(
            "realm {realm}, worker {} ({}): {error}",
            stack.worker, stack.stack
        ));
    }
    Ok(WorkerStatus {
        worker: stack.worker.clone(),
        stack: stack.stack.clone(),
        runtime: runtime.map(|r| r.to_string()),
        pin: pin.map(|(version, from)| PinStatus {
            version: version.to_string(),
            from: format!("x-workers.{from}"),
        }),
        boots,
        ami_id: stack.ami_id.clone(),
        ami: stack.state,
        newest_ami: stack.newest.clone(),
    })
}

/// The stack's `lambdaVersion` zips for its `lambdaArchitecture`, in the code
/// area its `s3CodeBucket`/`s3CodePrefix` name.
async fn lambda_zips(
    clients: &Clients,
    stack: &Stack,
    status: &mut RealmStatus,
    problems: &mut Vec<String>,
) -> Result<(), OpsError> {
    let name = status.stack.clone().unwrap_or_default();
    // Stacks created before the parameter existed run x86_64, its default.
    let arch = match parameter(stack, ARCHITECTURE) {
        None => Arch::X86_64,
        Some(a) => match a.parse::<Arch>() {
            Ok(arch) => arch,
            Err(e) => {
                problems.push(format!("realm stack {name}: {ARCHITECTURE}: {e}"));
                return Ok(());
            }
        },
    };
    status.lambda_architecture = Some(arch.ami().to_string());
    let (Some(version), Some(bucket)) = (
        status.lambda_version.as_deref(),
        parameter(stack, CODE_BUCKET),
    ) else {
        return Ok(());
    };
    let Ok(version) = version.parse::<Version>() else {
        problems.push(format!(
            "realm stack {name}: {LAMBDA_VERSION} {version:?} is not a lava version"
        ));
        return Ok(());
    };
    let prefix = parameter(stack, CODE_PREFIX).unwrap_or_default();
    let area = Location::parse(&format!("s3://{bucket}/{prefix}"))
        .map_err(|e| OpsError::Input(format!("realm stack {name}: {e}")))?;
    let code = Store::new(area.clone(), Some(&clients.s3), Tuning::default());
    for function in LambdaFunction::ALL {
        let key = lambda_key(function, &version, arch);
        if code.head(&key).await?.is_none() {
            status.missing_zips.push(key);
        }
    }
    if !status.missing_zips.is_empty() {
        problems.push(format!(
            "realm {} (stack {name}): {LAMBDA_VERSION} {version} ({}) but {} has no {}",
            status.realm,
            arch.ami(),
            area,
            status.missing_zips.join(", ")
        ));
    }
    status.lambda_code_area = Some(area.to_string());
    Ok(())
}

/// The versions `x-workers` names, by entry.
fn pins(item: &HashMap<String, AttributeValue>) -> BTreeMap<String, String> {
    let Some(AttributeValue::M(x_workers)) = item.get("x-workers") else {
        return BTreeMap::new();
    };
    x_workers
        .iter()
        .filter_map(|(entry, value)| {
            let version = value.as_m().ok()?.get("version")?.as_s().ok()?;
            Some((entry.clone(), version.clone()))
        })
        .collect()
}

fn parameter(stack: &Stack, key: &str) -> Option<String> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .map(|p| p.parameter_value().unwrap_or_default().to_string())
}

/// The account's realm stacks: `realm` and `lambdaVersion` parameters, no
/// `worker`.
async fn realm_stacks(clients: &Clients) -> Result<Vec<Stack>, OpsError> {
    let mut stacks = Vec::new();
    let mut token = None;
    loop {
        let page = clients
            .ami
            .cfn
            .describe_stacks()
            .set_next_token(token)
            .send()
            .await
            .map_err(aws("CloudFormation DescribeStacks"))?;
        stacks.extend(
            page.stacks()
                .iter()
                .filter(|s| {
                    parameter(s, REALM).is_some()
                        && parameter(s, LAMBDA_VERSION).is_some()
                        && parameter(s, WORKER).is_none()
                })
                .cloned(),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    stacks.sort_by(|a, b| a.stack_name().cmp(&b.stack_name()));
    Ok(stacks)
}

/// The realms table's items, by realm: one, or all.
async fn realm_items(
    clients: &Clients,
    realm: Option<&str>,
) -> Result<BTreeMap<String, HashMap<String, AttributeValue>>, OpsError> {
    let mut items = BTreeMap::new();
    if let Some(realm) = realm {
        let item = crate::realm_item(clients, realm).await?;
        items.insert(realm.to_string(), item);
        return Ok(items);
    }
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(REALMS_TABLE)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(aws("DynamoDB Scan"))?;
        for item in page.items() {
            if let Some(AttributeValue::S(realm)) = item.get(REALM) {
                items.insert(realm.clone(), item.clone());
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    Ok(items)
}

/// Every directory of the code area that holds releases, and the boot
/// directories, each checked against its `SHA256SUMS`.
pub(crate) async fn directories(code: &Store) -> Result<Vec<Directory>, OpsError> {
    let mut dirs: Vec<String> = Vec::new();
    for os in code.list_dirs(PKG_PREFIX).await? {
        dirs.push(format!("{PKG_PREFIX}/{os}"));
    }
    for arch in Arch::ALL {
        dirs.push(lambda_dir(arch));
    }
    dirs.push(FRAMEWORK_PREFIX.to_string());
    let cfn_folders = code.list_dirs(CFN_PREFIX).await?;
    for folder in &cfn_folders {
        dirs.push(format!("{CFN_PREFIX}/{folder}"));
    }
    dirs.push(BOOT_PREFIX.to_string());
    dirs.push(BOOT_DIST_DIR.to_string());

    let mut found = Vec::new();
    for dir in dirs {
        let listed = code.list(&dir).await?;
        if listed.is_empty() {
            continue;
        }
        let releases: BTreeSet<Version> = match dir.strip_prefix(&format!("{CFN_PREFIX}/")) {
            Some(folder) => cfn_folder_release(folder).into_iter().collect(),
            None => listed.iter().filter_map(|l| release_of(&l.name)).collect(),
        };
        let sums = check_sums(code, &dir, &listed).await?;
        found.push(Directory {
            files: listed.iter().filter(|l| l.name != SHA256SUMS).count(),
            releases: releases.iter().rev().map(Version::to_string).collect(),
            dir,
            sums,
            listing: listed,
        });
    }
    Ok(found)
}

async fn check_sums(code: &Store, dir: &str, listed: &[Listed]) -> Result<SumsCheck, OpsError> {
    let Some(text) = code.get(&format!("{dir}/{SHA256SUMS}")).await? else {
        return Ok(SumsCheck::default());
    };
    let (sums, _) = Sums::parse(&String::from_utf8_lossy(&text));
    let mut check = SumsCheck {
        present: true,
        ..SumsCheck::default()
    };
    let names: BTreeSet<&str> = listed
        .iter()
        .map(|l| l.name.as_str())
        .filter(|n| *n != SHA256SUMS)
        .collect();
    // A listing carries no digest: HEAD every listed file, a few at a time.
    let mut to_head = Vec::new();
    for name in &names {
        match sums.get(name) {
            None => check.unlisted.push(name.to_string()),
            Some(digest) => to_head.push((name.to_string(), digest.to_string())),
        }
    }
    let heads = bounded::run(to_head, HEADS_IN_FLIGHT, |(name, digest)| {
        let code = code.clone();
        let key = format!("{dir}/{name}");
        async move { (name, digest, code.head(&key).await) }
    })
    .await;
    for (name, digest, head) in heads {
        if head?
            .and_then(|h| h.sha256)
            .is_some_and(|actual| actual != digest)
        {
            check.mismatched.push(name);
        }
    }
    check.mismatched.sort();
    for name in sums.0.keys() {
        if !names.contains(name.as_str()) {
            check.missing.push(name.clone());
        }
    }
    Ok(check)
}

fn sums_problems(d: &Directory) -> Vec<String> {
    let mut problems = Vec::new();
    if !d.sums.present {
        return problems;
    }
    let dir = &d.dir;
    for (what, names) in [
        ("lists no entry for", &d.sums.unlisted),
        ("lists files that are not there:", &d.sums.missing),
        ("lists other digests for", &d.sums.mismatched),
    ] {
        if !names.is_empty() {
            problems.push(format!("{dir}/{SHA256SUMS} {what} {}", names.join(", ")));
        }
    }
    problems
}
