//! The plan: every object of the deploy as new, changed or unchanged, decided
//! by content sha256 with as few requests as possible and never a GET of an
//! artefact, so it is right on SSE-KMS buckets whose ETags are no MD5.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lava_layout::{content_type, has_sums, Sums, Version, SHA256SUMS};
use lava_store::{bounded, Body, Expect, Listed, Location, Store, Tuning};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::local::{self, Artefact, Sources};
use lava_config::{check_account, AccountError, Deployable, Environment};

use crate::{Aws, DeployError, Report};

/// What the account id is for, when an environment with s3:// targets has none.
const ACCOUNT_NEEDED: &str =
    "an s3:// target needs the AWS account id it belongs to, so that a deploy never lands \
     in the wrong account";

/// What to deploy.
pub struct Request<'a> {
    pub environment: &'a Environment,
    /// The components asked for; empty means every configured one.
    pub components: &'a [Deployable],
    pub version: Version,
    pub sources: Sources,
}

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Directories inspected, and objects uploaded, at once. The default is
    /// `aws s3`'s own (max_concurrent_requests = 10).
    pub jobs: usize,
    pub tuning: Tuning,
    /// Replace objects of the version that the code area holds with other
    /// bytes. Released versions are immutable, as in a package registry:
    /// without this the plan refuses them.
    pub replace: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 10,
            tuning: Tuning::default(),
            replace: false,
        }
    }
}

/// A component and why it is not deployed.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub component: Deployable,
    pub reason: String,
}

/// One component's artefacts and where they go.
#[derive(Debug, Clone)]
pub struct Target {
    pub component: Deployable,
    pub location: Location,
    pub artefacts: Vec<Artefact>,
}

/// The local half of a plan: decided without a single request.
#[derive(Debug)]
pub struct Prepared {
    pub environment: Environment,
    pub version: Version,
    pub targets: Vec<Target>,
    pub skipped: Vec<Skipped>,
}

/// Find the artefacts of every requested component. All bad input (no
/// artefacts of the version, a missing account id for an S3 target) is
/// reported here, before any request.
pub fn prepare(request: &Request<'_>) -> Result<Prepared, DeployError> {
    let env = request.environment;
    let version = &request.version;
    let explicit = !request.components.is_empty();
    let selected: BTreeSet<Deployable> = if explicit {
        request.components.iter().copied().collect()
    } else {
        Deployable::ALL.into_iter().collect()
    };
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    let mut empty_versioned = Vec::new();
    for component in selected {
        if let Some(reason) = env.unconfigured.get(&component) {
            skipped.push(Skipped {
                component,
                reason: reason.clone(),
            });
            continue;
        }
        let location = env.targets[&component].clone();
        let artefacts = local::collect(component, version, &request.sources, env)?;
        for artefact in &artefacts {
            place(&location, &component.deploy_dir(version), &artefact.key).map_err(|e| {
                DeployError::Input(format!(
                    "{}: {}.{component}.s3: {e}",
                    env.file.display(),
                    env.name
                ))
            })?;
        }
        if !artefacts.is_empty() {
            targets.push(Target {
                component,
                location,
                artefacts,
            });
            continue;
        }
        let looked = request
            .sources
            .dist
            .join(component.deploy_dir(version))
            .display()
            .to_string();
        if explicit {
            return Err(DeployError::Input(format!(
                "no {component} artefacts of lava {version} in {looked}: build them with \
                 `cargo xtask dist`, or name a built version with -v"
            )));
        }
        if component.is_versioned() {
            empty_versioned.push(looked.clone());
        }
        skipped.push(Skipped {
            component,
            reason: format!("no artefacts of {version} in {looked}"),
        });
    }
    let any_versioned = targets.iter().any(|t| t.component.is_versioned());
    if !any_versioned && !empty_versioned.is_empty() {
        return Err(DeployError::Input(format!(
            "no built artefacts of lava {version} in {} (looked in {}): build them with \
             `cargo xtask dist`, or name a built version with -v",
            request.sources.dist.display(),
            empty_versioned.join(", ")
        )));
    }
    if targets.iter().any(|t| t.location.is_s3()) && env.account_id.is_none() {
        return Err(AccountError::Missing {
            file: env.file.display().to_string(),
            environment: env.name.clone(),
            why: ACCOUNT_NEEDED,
        }
        .into());
    }
    Ok(Prepared {
        environment: env.clone(),
        version: version.clone(),
        targets,
        skipped,
    })
}

/// Whether an object differs from what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    New,
    Changed,
    Unchanged,
}

/// One object of the plan.
#[derive(Debug, Clone)]
pub struct Object {
    pub component: Deployable,
    /// The key below the store's location.
    pub key: String,
    pub url: String,
    pub size: u64,
    pub sha256: String,
    pub action: Action,
    pub content_type: &'static str,
    pub body: Body,
}

/// The objects of one remote directory, and its checksum file.
#[derive(Clone)]
pub struct Group {
    pub component: Deployable,
    pub store: Store,
    pub objects: Vec<Object>,
    /// The merged `SHA256SUMS`, pushed after every object of the directory.
    /// The root boot scripts' directories have none: the seed layout has
    /// exactly the two scripts there.
    pub sums: Option<Object>,
    /// The `SHA256SUMS` the plan merged into, which its write expects to
    /// find still (another deploy may have written it since).
    pub sums_read: Expect,
    /// The directory, below the store's location.
    pub dir: String,
    /// Files another tool put in the directory (upstream's deploy.sh, a hand
    /// copy) that its `SHA256SUMS` did not list, with the digest read from
    /// the store: the new `SHA256SUMS` lists them too.
    pub adopted: Vec<Adopted>,
}

/// A file of the directory this deploy lists but did not write.
#[derive(Debug, Clone, Serialize)]
pub struct Adopted {
    pub url: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

impl Group {
    /// This group's entries merged into a directory's `SHA256SUMS` text
    /// (`remote`) as it is now, with `listed` the directory's objects.
    /// Entries of objects still there stay (older versions are never
    /// dropped); ours replace theirs.
    pub(crate) fn merge_sums(&self, remote: &Sums, listed: &BTreeSet<String>) -> Vec<u8> {
        let mut merged = Sums(
            remote
                .0
                .iter()
                .filter(|(name, _)| listed.contains(*name) && *name != SHA256SUMS)
                .map(|(n, s)| (n.clone(), s.clone()))
                .collect(),
        );
        for adopted in &self.adopted {
            if listed.contains(&adopted.name) && merged.get(&adopted.name).is_none() {
                merged.insert(&adopted.name, adopted.sha256.clone());
            }
        }
        for object in &self.objects {
            let name = object.key.rsplit('/').next().expect("a key has a name");
            merged.insert(name, object.sha256.clone());
        }
        merged.render().into_bytes()
    }
}

/// Everything a deploy will write, decided before the first write.
pub struct Plan {
    pub environment: String,
    pub version: Version,
    /// The account STS confirmed, when any target is in S3.
    pub account: Option<String>,
    /// In push order.
    pub groups: Vec<Group>,
    pub skipped: Vec<Skipped>,
}

impl Prepared {
    /// Whether any target is in S3 (and so AWS credentials are needed).
    pub fn needs_aws(&self) -> bool {
        self.targets.iter().any(|t| t.location.is_s3())
    }

    /// Check the account, then compare every artefact with the store.
    pub async fn plan(self, aws: Option<&Aws>, options: &Options) -> Result<Plan, DeployError> {
        let account = match (self.needs_aws(), aws) {
            (false, _) => None,
            (true, None) => {
                return Err(AccountError::Unverified(
                    "no AWS configuration was given for the s3:// targets".into(),
                )
                .into())
            }
            (true, Some(aws)) => {
                Some(check_account(&aws.sts, &self.environment, ACCOUNT_NEEDED).await?)
            }
        };
        let mut pending = Vec::new();
        for target in self.targets {
            let base = target.component.deploy_dir(&self.version);
            // By store URL, then directory below it.
            let mut dirs: BTreeMap<(String, String), Placed> = BTreeMap::new();
            for artefact in target.artefacts {
                let (location, rel) = place(&target.location, &base, &artefact.key)?;
                let (dir, name) = rel.rsplit_once('/').unwrap_or(("", &rel));
                let (dir, name) = (dir.to_string(), name.to_string());
                dirs.entry((location.to_string(), dir))
                    .or_insert_with(|| (location, Vec::new()))
                    .1
                    .push((name, artefact));
            }
            for ((_, dir), (location, files)) in dirs {
                let store = Store::new(location, aws.map(|a| &a.s3), options.tuning);
                let code_dir = files[0].1.key.rsplit_once('/').map_or("", |(d, _)| d);
                let with_sums = target.component != Deployable::Root && has_sums(code_dir);
                pending.push((target.component, store, dir, files, with_sums));
            }
        }
        let inspected = bounded::run(
            pending,
            options.jobs,
            |(component, store, dir, files, with_sums)| {
                inspect(component, store, dir, files, with_sums)
            },
        )
        .await;
        let mut groups = inspected.into_iter().collect::<Result<Vec<_>, _>>()?;
        if !options.replace {
            refuse_replacing(&groups, &self.version)?;
        }
        // Groups are never empty: each came from at least one artefact.
        groups.sort_by_key(|g| (g.component.wave(), g.objects[0].url.clone()));
        Ok(Plan {
            environment: self.environment.name,
            version: self.version,
            account,
            groups,
            skipped: self.skipped,
        })
    }
}

/// Released versions are immutable: a versioned artefact the code area
/// already holds with other bytes is refused, all of them named at once. A
/// realm or worker may already run that object (CloudFormation does not
/// fetch a Lambda zip again for an unchanged key, workers pinned to the
/// version install it), and upstream's tooling may have written it.
fn refuse_replacing(groups: &[Group], version: &Version) -> Result<(), DeployError> {
    let changed: Vec<&str> = groups
        .iter()
        .filter(|g| g.component.is_versioned())
        .flat_map(|g| &g.objects)
        .filter(|o| o.action == Action::Changed)
        .map(|o| o.url.as_str())
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(DeployError::Input(format!(
        "lava {version} is already in the code area with other bytes than dist/ holds, and a \
         released version is never replaced silently (workers pinned to it, and realms running \
         it, would get different code under the same version); nothing was written:\n  {}\n\
         Build a new version, or, to replace these objects on purpose, deploy again with \
         --replace {version}",
        changed.join("\n  ")
    )))
}

/// A store location and the artefacts of one directory below it, by name.
type Placed = (Location, Vec<(String, Artefact)>);

/// Where a code-area key goes, and its key there: below the component's
/// configured location when it lies below the component's directory (`base`),
/// else below the code area that location is in (lava-boot and the
/// scriptlets' `SHA256SUMS` in `_dist_/boot/`, beside `_boot_/`), which is
/// only known when the location ends with the component's directory.
pub(crate) fn place(
    location: &Location,
    base: &str,
    key: &str,
) -> Result<(Location, String), DeployError> {
    if base.is_empty() {
        return Ok((location.clone(), key.to_string()));
    }
    if let Some(rel) = key.strip_prefix(base).and_then(|k| k.strip_prefix('/')) {
        return Ok((location.clone(), rel.to_string()));
    }
    match location.strip_suffix(base) {
        Some(area) => Ok((area, key.to_string())),
        None => Err(DeployError::Input(format!(
            "{location}: cannot place {key} beside it: the location must end with {base}/ \
             (workers read <code area>/{base}/ and <code area>/{key})"
        ))),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Compare one directory: its `SHA256SUMS` (one GET), then a listing, and
/// a HEAD only for a present object of the same size that the sums do not
/// cover.
async fn inspect(
    component: Deployable,
    store: Store,
    dir: String,
    files: Vec<(String, Artefact)>,
    with_sums: bool,
) -> Result<Group, DeployError> {
    let sums_key = join(&dir, SHA256SUMS);
    // The sums, then the listing: a deploy writes its objects before their
    // SHA256SUMS, so a listing taken after the read shows every file the
    // sums list unless it was deleted since (only then is its entry
    // dropped). A listing taken at the same time could predate a file
    // another deploy had just added, and its entry would be lost. Sums the
    // listing does not show are ignored, as if never fetched.
    let fetched = match with_sums {
        true => store.get_versioned(&sums_key).await,
        false => Ok(None),
    };
    let listed: BTreeMap<String, u64> = store
        .list(&dir)
        .await?
        .into_iter()
        .map(|Listed { name, size }| (name, size))
        .collect();
    let fetched = fetched?.filter(|_| listed.contains_key(SHA256SUMS));
    let sums_read = fetched
        .as_ref()
        .map_or(Expect::Absent, |f| Expect::Version(f.version.clone()));
    let remote_text = fetched.map(|f| f.bytes);
    let remote = remote_text
        .as_deref()
        .map(|t| parse_sums(&store, &sums_key, t))
        .unwrap_or_default();

    let mut objects = Vec::new();
    for (name, artefact) in &files {
        let key = join(&dir, name);
        let action = match (listed.get(name), remote.get(name)) {
            (None, _) => Action::New,
            (Some(&size), _) if size != artefact.size => Action::Changed,
            (Some(_), Some(sha)) => same(sha == artefact.sha256),
            (Some(_), None) => match store.head(&key).await? {
                None => Action::New,
                Some(head) => same(
                    head.size == artefact.size
                        && head.sha256.as_deref() == Some(artefact.sha256.as_str()),
                ),
            },
        };
        objects.push(Object {
            component,
            url: store.url(&key),
            key,
            size: artefact.size,
            sha256: artefact.sha256.clone(),
            action,
            content_type: content_type(name),
            body: artefact.body.clone(),
        });
    }

    let adopted = match with_sums {
        true => {
            let ours: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
            let foreign = listed.iter().filter(|(name, _)| {
                *name != SHA256SUMS && remote.get(name).is_none() && !ours.contains(name.as_str())
            });
            let mut adopted = Vec::new();
            for (name, &size) in foreign {
                adopted.extend(adopt(&store, &join(&dir, name), name, size).await?);
            }
            adopted
        }
        false => Vec::new(),
    };
    let mut group = Group {
        component,
        store: store.clone(),
        objects,
        sums: None,
        sums_read,
        dir,
        adopted,
    };
    if with_sums {
        let listed: BTreeSet<String> = listed.into_keys().collect();
        let text = group.merge_sums(&remote, &listed);
        let action = match &remote_text {
            None => Action::New,
            Some(old) => same(*old == text),
        };
        group.sums = Some(sums_object(component, &store, &sums_key, text, action));
    }
    Ok(group)
}

/// The digest of a file another tool wrote: the store's SHA-256 of the
/// object when it keeps one (our uploads do), else its bytes, read once: the
/// next deploy finds it listed. Listing it is trust on first use, on the word
/// of whoever deploys, who can write the directory anyway; a worker only
/// learns from the entry that the file changes after this deploy.
async fn adopt(
    store: &Store,
    key: &str,
    name: &str,
    size: u64,
) -> Result<Option<Adopted>, DeployError> {
    let url = store.url(key);
    let head = store.head(key).await?;
    let sha256 = match head.and_then(|h| h.sha256) {
        Some(sha) => sha,
        None => {
            let dir = tempfile::tempdir().map_err(|e| DeployError::io(&std::env::temp_dir(), e))?;
            let path = dir.path().join("adopted");
            if store.download(key, &path).await?.is_none() {
                // Deleted since the listing: nothing to list.
                return Ok(None);
            }
            lava_files::sha256_file(&path)
                .map_err(|e| DeployError::io(&path, e))?
                .1
        }
    };
    tracing::info!("{url}: not in SHA256SUMS (another tool wrote it): listing its sha256 {sha256}");
    Ok(Some(Adopted {
        url,
        name: name.to_string(),
        size,
        sha256,
    }))
}

/// A directory's `SHA256SUMS`, as read: a malformed line costs its entry.
pub(crate) fn parse_sums(store: &Store, key: &str, text: &[u8]) -> Sums {
    let (sums, malformed) = Sums::parse(&String::from_utf8_lossy(text));
    for line in malformed {
        tracing::warn!("{}: skipping malformed line {line:?}", store.url(key));
    }
    sums
}

/// The object that writes `text` as `key`'s `SHA256SUMS`.
fn sums_object(
    component: Deployable,
    store: &Store,
    key: &str,
    text: Vec<u8>,
    action: Action,
) -> Object {
    Object {
        component,
        url: store.url(key),
        key: key.to_string(),
        size: text.len() as u64,
        sha256: hex::encode(Sha256::digest(&text)),
        action,
        content_type: content_type(SHA256SUMS),
        body: Body::Bytes(Arc::new(text)),
    }
}

fn same(equal: bool) -> Action {
    if equal {
        Action::Unchanged
    } else {
        Action::Changed
    }
}

/// Objects and bytes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub objects: usize,
    pub bytes: u64,
}

impl Count {
    pub(crate) fn add(&mut self, size: u64) {
        self.objects += 1;
        self.bytes += size;
    }
}

/// The plan (and, after a run, what was written) for `--json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub environment: String,
    pub version: String,
    pub account: Option<String>,
    pub dry_run: bool,
    pub objects: Vec<SummaryObject>,
    /// Files other tools wrote that the new `SHA256SUMS` files list.
    pub adopted: Vec<Adopted>,
    pub skipped: Vec<Skipped>,
    pub new: Count,
    pub changed: Count,
    pub unchanged: Count,
    pub written: Count,
}

#[derive(Debug, Serialize)]
pub struct SummaryObject {
    pub component: Deployable,
    pub url: String,
    pub action: Action,
    pub size: u64,
    pub sha256: String,
}

impl Plan {
    /// Every object in push order: a directory's artefacts, then its sums.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.groups
            .iter()
            .flat_map(|g| g.objects.iter().chain(g.sums.iter()))
    }

    /// Files other tools wrote, listed by this deploy's `SHA256SUMS`.
    pub fn adopted(&self) -> impl Iterator<Item = &Adopted> {
        self.groups.iter().flat_map(|g| &g.adopted)
    }

    pub fn count(&self, action: Action) -> Count {
        let mut count = Count::default();
        for o in self.objects().filter(|o| o.action == action) {
            count.add(o.size);
        }
        count
    }

    /// What the run will write.
    pub fn to_write(&self) -> Count {
        let mut count = Count::default();
        for o in self.objects().filter(|o| o.action != Action::Unchanged) {
            count.add(o.size);
        }
        count
    }

    pub fn summary(&self, report: Option<&Report>) -> Summary {
        Summary {
            environment: self.environment.clone(),
            version: self.version.to_string(),
            account: self.account.clone(),
            dry_run: report.is_none(),
            objects: self
                .objects()
                .map(|o| SummaryObject {
                    component: o.component,
                    url: o.url.clone(),
                    action: o.action,
                    size: o.size,
                    sha256: o.sha256.clone(),
                })
                .collect(),
            adopted: self.adopted().cloned().collect(),
            skipped: self.skipped.clone(),
            new: self.count(Action::New),
            changed: self.count(Action::Changed),
            unchanged: self.count(Action::Unchanged),
            written: report.map(|r| r.written).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_relative_to_the_configured_directory() {
        let at = |url: &str| Location::parse(url).unwrap();
        let placed = |location: &str, base: &str, key: &str| {
            place(&at(location), base, key)
                .map(|(l, k)| format!("{l}{k}"))
                .map_err(|e| e.to_string())
        };
        let pkg = "s3://code/lava/_dist_/pkg/";
        assert_eq!(
            placed(pkg, "_dist_/pkg", "_dist_/pkg/amzn2023/x.tar.bz2").unwrap(),
            "s3://code/lava/_dist_/pkg/amzn2023/x.tar.bz2"
        );
        assert_eq!(
            placed("s3://code/lava/", "", "prod/core/root.boot.sh").unwrap(),
            "s3://code/lava/prod/core/root.boot.sh"
        );
        // lava-boot goes beside _boot_/, in the code area it is in.
        let boot = "s3://code/lava/_boot_/";
        assert_eq!(
            placed(boot, "_boot_", "_dist_/boot/lava-boot-x86_64").unwrap(),
            "s3://code/lava/_dist_/boot/lava-boot-x86_64"
        );
        let err = placed(
            "s3://code/lava/scripts/",
            "_boot_",
            "_dist_/boot/SHA256SUMS",
        )
        .unwrap_err();
        assert!(err.contains("must end with _boot_/"), "{err}");
        assert_eq!(join("", SHA256SUMS), "SHA256SUMS");
        assert_eq!(join("oracle", SHA256SUMS), "oracle/SHA256SUMS");
    }
}
