//! `lava-<realm>-metrics`: publishes the worker backlog metric that the worker
//! auto scaling groups' target tracking policies follow.
//!
//! Behaviour of upstream lava's `lambda/metrics/metrics.py`:
//! - the realm's workers are the SQS queues named `lava-<realm>-<worker>`
//!   (ListQueues by prefix, cached for 20 minutes like upstream);
//! - queue depth is `ApproximateNumberOfMessages` (visible messages only: jobs
//!   already being run are not backlog);
//! - the auto scaling group of a worker has the queue's name; only instances in
//!   `InService` count;
//! - `WorkerBacklog = round(depth / in_service, 1)` with Python's rounding, in
//!   namespace `Lava` (`LAVA_CW_NAMESPACE` overrides, as upstream's config),
//!   dimensions `Realm`, `Worker`, unit `None`;
//! - a worker without an auto scaling group, or with none in service, gets no
//!   datum (a target tracking policy must not see a division by zero).
//!
//! The triggering event (a schedule) carries nothing the metric needs and is
//! ignored, as upstream does.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};
use tracing::{debug, info, warn};

/// The metric the worker template's scaling policy tracks.
pub const METRIC_NAME: &str = "WorkerBacklog";
/// Upstream's `CW_NAMESPACE` default.
pub const DEFAULT_NAMESPACE: &str = "Lava";
/// Upstream caches the queue listing this long: ListQueues is eventually
/// consistent anyway and workers come and go rarely.
pub const QUEUE_LIST_TTL: Duration = Duration::from_secs(1200);

/// DescribeAutoScalingGroups accepts at most 50 names per call.
const ASG_NAMES_PER_CALL: usize = 50;
/// PutMetricData accepts at most 1000 data per call.
const DATA_PER_CALL: usize = 1000;

#[derive(thiserror::Error)]
pub enum MetricsError {
    #[error("lava configuration error: {0}")]
    Config(String),
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
}

// A failed `main` prints its error with Debug: make that the readable message.
impl std::fmt::Debug for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn aws_error<E>(operation: &'static str) -> impl FnOnce(E) -> MetricsError
where
    E: std::error::Error,
{
    move |e| MetricsError::Aws {
        operation,
        message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
    }
}

/// The namespace upstream's `config('CW_NAMESPACE')` resolves to in the
/// function: `LAVA_CW_NAMESPACE`, else `Lava`.
pub fn namespace_from_env() -> String {
    std::env::var("LAVA_CW_NAMESPACE")
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// Upstream refuses to run when `LAVA_REALM` disagrees with the realm of the
/// function name `lava-<realm>-...` (its second `-` part): a function
/// deployed for one realm must never scale another realm's workers.
pub fn check_function_name(realm: &str, function_name: &str) -> Result<(), MetricsError> {
    match lava_lambda::realm_of_lava_id(function_name) {
        Some(of_name) if of_name == realm => Ok(()),
        Some(_) => Err(MetricsError::Config(format!(
            "realm name mismatch: LAVA_REALM is {realm:?} but the function is {function_name:?}"
        ))),
        None => Err(MetricsError::Config(format!(
            "Bad lava identifier: {function_name}"
        ))),
    }
}

/// Python's `round(x, 1)`: Rust's fixed-precision formatting rounds the exact
/// binary value half to even, which is what CPython does, so 1/4 gives 0.2.
pub fn round1(x: f64) -> f64 {
    format!("{x:.1}").parse().unwrap_or(x)
}

/// One worker's datum.
#[derive(Debug, Clone, PartialEq)]
pub struct Backlog {
    pub worker: String,
    pub messages: i64,
    pub in_service: usize,
    pub value: f64,
}

pub struct Metrics {
    sqs: aws_sdk_sqs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    namespace: String,
    queue_list_ttl: Duration,
    queue_list: Mutex<Option<(String, Instant, Vec<String>)>>,
}

impl Metrics {
    pub fn new(config: &SdkConfig) -> Metrics {
        Metrics::from_clients(
            aws_sdk_sqs::Client::new(config),
            aws_sdk_autoscaling::Client::new(config),
            aws_sdk_cloudwatch::Client::new(config),
        )
    }

    pub fn from_clients(
        sqs: aws_sdk_sqs::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
    ) -> Metrics {
        Metrics {
            sqs,
            autoscaling,
            cloudwatch,
            namespace: DEFAULT_NAMESPACE.to_string(),
            queue_list_ttl: QUEUE_LIST_TTL,
            queue_list: Mutex::new(None),
        }
    }

    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Metrics {
        self.namespace = namespace.into();
        self
    }

    /// Zero disables the queue list cache (tests that add queues between runs).
    pub fn with_queue_list_ttl(mut self, ttl: Duration) -> Metrics {
        self.queue_list_ttl = ttl;
        self
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Lambda handler: compute and publish the backlog of every worker of
    /// `realm`. Returns what was published, for logs and callers.
    pub async fn handle(&self, realm: &str, _event: &Value) -> Result<Value, MetricsError> {
        let backlog = self.publish(realm).await?;
        let workers: serde_json::Map<String, Value> = backlog
            .iter()
            .map(|b| {
                (
                    b.worker.clone(),
                    json!({"messages": b.messages, "in_service": b.in_service, "value": b.value}),
                )
            })
            .collect();
        Ok(json!({
            "realm": realm,
            "namespace": self.namespace,
            "metric": METRIC_NAME,
            "workers": workers,
        }))
    }

    /// Compute the backlog per worker and put it on CloudWatch.
    pub async fn publish(&self, realm: &str) -> Result<Vec<Backlog>, MetricsError> {
        let backlog = self.backlog(realm).await?;
        info!(realm, ?backlog, "worker backlog");
        let data: Vec<MetricDatum> = backlog
            .iter()
            .map(|b| {
                MetricDatum::builder()
                    .metric_name(METRIC_NAME)
                    .dimensions(Dimension::builder().name("Realm").value(realm).build())
                    .dimensions(Dimension::builder().name("Worker").value(&b.worker).build())
                    .value(b.value)
                    .unit(StandardUnit::None)
                    .build()
            })
            .collect();
        for chunk in data.chunks(DATA_PER_CALL) {
            self.cloudwatch
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(aws_error("CloudWatch PutMetricData"))?;
        }
        Ok(backlog)
    }

    /// The backlog of every worker of `realm` that has instances in service,
    /// sorted by worker name.
    pub async fn backlog(&self, realm: &str) -> Result<Vec<Backlog>, MetricsError> {
        let prefix = format!("lava-{realm}-");
        let depths = self.queue_depths(&prefix).await?;
        if depths.is_empty() {
            // Also guards DescribeAutoScalingGroups: no names means every group.
            info!(realm, "no worker queues named {prefix}*");
            return Ok(Vec::new());
        }
        let names: Vec<String> = depths.keys().cloned().collect();
        let in_service = self.in_service(&names).await?;
        let mut backlog = Vec::new();
        for (queue, messages) in depths {
            let Some(worker) = queue.strip_prefix(&prefix).map(str::to_string) else {
                continue;
            };
            match in_service.get(&queue) {
                None => debug!(worker, "no auto scaling group {queue}: no backlog metric"),
                Some(0) => debug!(
                    worker,
                    "no instance in service in {queue}: no backlog metric"
                ),
                Some(&n) => backlog.push(Backlog {
                    value: round1(messages as f64 / n as f64),
                    worker,
                    messages,
                    in_service: n,
                }),
            }
        }
        Ok(backlog)
    }

    /// Visible messages per worker queue name. A queue whose attributes cannot
    /// be read (deleted since it was listed, say) is logged and left out so
    /// that the other workers still get their metric.
    async fn queue_depths(&self, prefix: &str) -> Result<BTreeMap<String, i64>, MetricsError> {
        let mut depths = BTreeMap::new();
        for url in self.queue_urls(prefix).await? {
            let Some(name) = url.rsplit('/').next().filter(|n| n.len() > prefix.len()) else {
                continue;
            };
            let attributes = self
                .sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await;
            let count = match attributes {
                Ok(out) => out
                    .attributes()
                    .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
                    .and_then(|v| v.parse::<i64>().ok()),
                Err(e) => {
                    warn!(
                        queue = name,
                        "GetQueueAttributes failed: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    );
                    continue;
                }
            };
            match count {
                Some(n) => {
                    depths.insert(name.to_string(), n);
                }
                None => warn!(queue = name, "no ApproximateNumberOfMessages attribute"),
            }
        }
        Ok(depths)
    }

    async fn queue_urls(&self, prefix: &str) -> Result<Vec<String>, MetricsError> {
        if let Some((cached_prefix, at, urls)) = &*self.queue_list.lock().unwrap() {
            if cached_prefix == prefix && at.elapsed() < self.queue_list_ttl {
                return Ok(urls.clone());
            }
        }
        let mut urls = Vec::new();
        // MaxResults is what makes ListQueues paginate instead of stopping at 1000.
        let mut pages = self
            .sqs
            .list_queues()
            .queue_name_prefix(prefix)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws_error("SQS ListQueues"))?;
            urls.extend(page.queue_urls().iter().cloned());
        }
        *self.queue_list.lock().unwrap() = Some((prefix.to_string(), Instant::now(), urls.clone()));
        Ok(urls)
    }

    /// In-service instance count per existing auto scaling group among `names`.
    async fn in_service(&self, names: &[String]) -> Result<BTreeMap<String, usize>, MetricsError> {
        let mut counts = BTreeMap::new();
        for chunk in names.chunks(ASG_NAMES_PER_CALL) {
            let mut pages = self
                .autoscaling
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(chunk.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(aws_error("Auto Scaling DescribeAutoScalingGroups"))?;
                for group in page.auto_scaling_groups() {
                    let n = group
                        .instances()
                        .iter()
                        .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
                        .count();
                    counts.insert(
                        group
                            .auto_scaling_group_name()
                            .unwrap_or_default()
                            .to_string(),
                        n,
                    );
                }
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_like_python() {
        // Values CPython's round(x, 1) gives for the same divisions.
        assert_eq!(round1(1.0 / 4.0), 0.2);
        assert_eq!(round1(3.0 / 4.0), 0.8);
        assert_eq!(round1(5.0 / 4.0), 1.2);
        assert_eq!(round1(7.0 / 3.0), 2.3);
        assert_eq!(round1(5.0 / 2.0), 2.5);
        assert_eq!(round1(0.0), 0.0);
    }

    #[test]
    fn function_name_must_belong_to_the_realm() {
        assert!(check_function_name("dev", "lava-dev-metrics").is_ok());
        let err = check_function_name("dev", "lava-prod-metrics").unwrap_err();
        assert!(err.to_string().contains("realm name mismatch"), "{err}");
        assert!(check_function_name("dev", "metrics").is_err());
        assert!(check_function_name("dev", "lava-dev").is_ok());
        assert!(check_function_name("dev", "lava-devx-metrics").is_err());
    }
}
