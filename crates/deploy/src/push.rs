//! Executing a plan: concurrent uploads in waves (what is referenced before
//! what references it), each directory's `SHA256SUMS` after its objects, and
//! nothing deleted, ever.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lava_layout::Sums;
use lava_store::{bounded, Body, Expect, PutMeta, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::plan::{self, Count, Group};
use crate::{Action, DeployError, Object, Plan};

/// Told about the push as it goes (progress bars or plain lines).
pub trait Progress: Send + Sync {
    /// Before the first upload: what the whole run will write.
    fn begin(&self, to_write: Count);
    fn started(&self, object: &Object);
    /// `bytes` more of the current uploads have been sent.
    fn advanced(&self, bytes: u64);
    fn finished(&self, object: &Object);
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Report {
    pub written: Count,
}

/// Push every new or changed object of `plan`, at most `jobs` at a time.
///
/// A wave starts only when the one before it is complete, and a directory's
/// `SHA256SUMS` is written only when all its objects are in, so a failed run
/// never advertises an object it did not write; re-running converges.
pub async fn execute(
    plan: &Plan,
    progress: Arc<dyn Progress>,
    jobs: usize,
) -> Result<Report, DeployError> {
    progress.begin(plan.to_write());
    let mut report = Report::default();
    let mut waves: Vec<u8> = plan.groups.iter().map(|g| g.component.wave()).collect();
    waves.dedup();
    for wave in waves {
        let groups: Vec<&Group> = plan
            .groups
            .iter()
            .filter(|g| g.component.wave() == wave)
            .collect();
        let artefacts = groups.iter().enumerate().flat_map(|(i, g)| {
            g.objects
                .iter()
                .filter(|o| o.action != Action::Unchanged)
                .map(move |o| (i, g.store.clone(), o.clone()))
        });
        let failures = upload_all(artefacts.collect(), &progress, jobs, &mut report).await;
        let complete = |i: &usize| !failures.iter().any(|(f, _)| f == i);
        let sums = groups
            .iter()
            .enumerate()
            .filter(|(i, _)| complete(i))
            .filter_map(|(i, g)| {
                g.sums.as_ref().filter(|s| s.action != Action::Unchanged)?;
                Some((i, (*g).clone()))
            });
        let sums_failures = write_all_sums(sums.collect(), &progress, jobs, &mut report).await;
        let failures: Vec<StoreError> = failures
            .into_iter()
            .chain(sums_failures)
            .map(|(_, e)| e)
            .collect();
        if !failures.is_empty() {
            return Err(DeployError::Push {
                failures,
                written: report.written.objects,
            });
        }
    }
    Ok(report)
}

/// Write each group's `SHA256SUMS` concurrently, as [`write_sums`] does;
/// the failures, by group, once every write has ended.
async fn write_all_sums(
    groups: Vec<(usize, Group)>,
    progress: &Arc<dyn Progress>,
    jobs: usize,
    report: &mut Report,
) -> Vec<(usize, StoreError)> {
    let written = bounded::run(groups, jobs, |(i, group)| {
        let progress = Arc::clone(progress);
        async move { (i, write_sums(&group, &progress).await) }
    })
    .await;
    let mut failures = Vec::new();
    for (i, result) in written {
        match result {
            Ok(Some(size)) => report.written.add(size),
            Ok(None) => {}
            Err(e) => failures.push((i, e)),
        }
    }
    failures
}

/// How often a directory's `SHA256SUMS` is merged again into what another
/// deploy wrote meanwhile before giving up.
const SUMS_ATTEMPTS: u32 = 10;

/// Write the group's `SHA256SUMS` only over the version its plan read. When
/// another deploy wrote it meanwhile, read it again with the directory's
/// listing, merge this group's entries into it and try again (bounded, with
/// a growing pause): no deploy's entries are lost. Returns the bytes written,
/// `None` when another deploy's file already said what ours would.
async fn write_sums(
    group: &Group,
    progress: &Arc<dyn Progress>,
) -> Result<Option<u64>, StoreError> {
    let planned = group.sums.as_ref().expect("a group with a checksum file");
    let Body::Bytes(text) = &planned.body else {
        unreachable!("a checksum file is planned in memory")
    };
    let store = &group.store;
    let (mut text, mut sha256) = (Arc::clone(text), planned.sha256.clone());
    let mut expect = group.sums_read.clone();
    progress.started(planned);
    for attempt in 1..=SUMS_ATTEMPTS {
        let meta = PutMeta {
            size: text.len() as u64,
            sha256: sha256.clone(),
            content_type: planned.content_type.to_string(),
        };
        if store
            .put_if(&planned.key, Arc::clone(&text), &meta, &expect)
            .await?
        {
            progress.advanced(meta.size);
            progress.finished(planned);
            return Ok(Some(meta.size));
        }
        tracing::info!(
            "{}: written by another deploy since it was read; merging again (attempt {attempt})",
            planned.url
        );
        tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
        // The sums, then the listing, as the plan reads them (plan::inspect).
        let now = store.get_versioned(&planned.key).await?;
        let listed: BTreeSet<String> = store
            .list(&group.dir)
            .await?
            .into_iter()
            .map(|l| l.name)
            .collect();
        let remote = now.as_ref().map_or_else(Sums::default, |v| {
            plan::parse_sums(store, &planned.key, &v.bytes)
        });
        let merged = group.merge_sums(&remote, &listed);
        if now.as_ref().is_some_and(|v| v.bytes == merged) {
            progress.finished(planned);
            return Ok(None);
        }
        expect = now.map_or(Expect::Absent, |v| Expect::Version(v.version));
        sha256 = hex::encode(Sha256::digest(&merged));
        text = Arc::new(merged);
    }
    Err(StoreError::Request {
        op: "PUT",
        url: planned.url.clone(),
        message: format!(
            "changed by other deploys {SUMS_ATTEMPTS} times while merging into it; \
             run this deploy again"
        ),
    })
}

/// Upload `objects` (tagged with their group) concurrently; the failures,
/// by group, once every upload has ended.
async fn upload_all(
    objects: Vec<(usize, Store, Object)>,
    progress: &Arc<dyn Progress>,
    jobs: usize,
    report: &mut Report,
) -> Vec<(usize, StoreError)> {
    let uploaded = bounded::run(objects, jobs, |(group, store, object)| {
        let progress = Arc::clone(progress);
        async move {
            progress.started(&object);
            let meta = PutMeta {
                size: object.size,
                sha256: object.sha256.clone(),
                content_type: object.content_type.to_string(),
            };
            let on_bytes = |n| progress.advanced(n);
            let result = store.put(&object.key, &object.body, &meta, &on_bytes).await;
            if result.is_ok() {
                progress.finished(&object);
            }
            (group, object.size, result)
        }
    })
    .await;
    let mut failures = Vec::new();
    for (group, size, result) in uploaded {
        match result {
            Ok(()) => report.written.add(size),
            Err(e) => {
                tracing::debug!("upload failed: {e}");
                failures.push((group, e));
            }
        }
    }
    failures
}
