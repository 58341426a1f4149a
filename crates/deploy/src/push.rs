//! Executing a plan: concurrent uploads in waves (what is referenced before
//! what references it), each directory's `SHA256SUMS` after its objects, and
//! nothing deleted, ever.

use std::sync::Arc;

use lava_store::{PutMeta, Store, StoreError};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::plan::{Count, Group};
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
                let sums = g.sums.as_ref().filter(|s| s.action != Action::Unchanged)?;
                Some((i, g.store.clone(), sums.clone()))
            });
        let sums_failures = upload_all(sums.collect(), &progress, jobs, &mut report).await;
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

/// Upload `objects` (tagged with their group) concurrently; the failures,
/// by group, once every upload has ended.
async fn upload_all(
    objects: Vec<(usize, Store, Object)>,
    progress: &Arc<dyn Progress>,
    jobs: usize,
    report: &mut Report,
) -> Vec<(usize, StoreError)> {
    let mut failures = Vec::new();
    let mut in_flight = JoinSet::new();
    let mut pending = objects.into_iter();
    loop {
        while in_flight.len() < jobs.max(1) {
            let Some((group, store, object)) = pending.next() else {
                break;
            };
            let progress = Arc::clone(progress);
            in_flight.spawn(async move {
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
            });
        }
        let Some(done) = in_flight.join_next().await else {
            return failures;
        };
        match done.expect("an upload does not panic") {
            (_, size, Ok(())) => report.written.add(size),
            (group, _, Err(e)) => {
                tracing::debug!("upload failed: {e}");
                failures.push((group, e));
            }
        }
    }
}
