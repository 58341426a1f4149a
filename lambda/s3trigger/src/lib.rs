//! The s3trigger Lambda function: S3 object events -> the matching entries of
//! `lava.<realm>.s3triggers` -> job dispatches. Behaviour follows upstream
//! lava's `lambda/s3trigger/s3trigger.py` and
//! `doc/user-guide/04-tables/05-s3triggers.md`; dispatching itself is the
//! shared [`lava_lambda::dispatch`].

pub mod cache;
pub mod conditions;
pub mod event;
pub mod render;
pub mod triggers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use lava_lambda::dispatch::{DispatchRequest, Dispatcher, MaxDelay};
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tracing::{debug, error, info, warn};

pub use cache::Clock;
use cache::TtlCache;
use event::S3Record;
use render::Renderer;
use triggers::Trigger;

/// Upstream's defaults (lava/config.py), overridable by the same `LAVA_*`
/// environment variables.
pub const DEFAULT_TRIGGER_CACHE_TTL: Duration = Duration::from_secs(60);
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(30);
/// De-duplication is off unless a cache size is configured, as upstream.
pub const DEFAULT_DEDUP_CACHE_SIZE: usize = 0;
const TRIGGER_CACHE_SIZE: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Fails the invocation, as upstream's exceptions do.
    #[error("unreadable event: {0}")]
    Event(String),
    #[error("bad configuration: {0}")]
    Config(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub realm: String,
    /// How long s3triggers lookups are reused (`LAVA_S3TRIGGER_CACHE_TTL`); zero disables.
    pub trigger_cache_ttl: Duration,
    /// The de-duplication window (`LAVA_S3TRIGGER_DEDUP_TTL`).
    pub dedup_ttl: Duration,
    /// How many recent objects are remembered (`LAVA_S3TRIGGER_DEDUP_CACHE_SIZE`); zero disables.
    pub dedup_cache_size: usize,
    /// The bound on a trigger's delay (`LAVA_SQS_MAX_DELAY_MINS`).
    pub max_delay: MaxDelay,
    /// The time the caches expire entries by.
    pub clock: Clock,
}

impl Config {
    pub fn new(realm: impl Into<String>) -> Config {
        Config {
            realm: realm.into(),
            trigger_cache_ttl: DEFAULT_TRIGGER_CACHE_TTL,
            dedup_ttl: DEFAULT_DEDUP_TTL,
            dedup_cache_size: DEFAULT_DEDUP_CACHE_SIZE,
            max_delay: MaxDelay::default(),
            clock: Clock::default(),
        }
    }

    /// `LAVA_REALM` (required) and the optional `LAVA_S3TRIGGER_*` settings.
    pub fn from_env() -> Result<Config, Error> {
        let realm = lava_lambda::realm_from_env().map_err(|e| Error::Config(e.to_string()))?;
        let mut config = Config::new(realm);
        config.max_delay = MaxDelay::from_env();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let duration = |name: &str, v: String| {
            lava_lambda::duration::duration_seconds(&v)
                .map_err(|e| e.to_string())
                .and_then(|s| Duration::try_from_secs_f64(s).map_err(|e| format!("{v}: {e}")))
                .map_err(|e| Error::Config(format!("{name}: {e}")))
        };
        if let Some(v) = var("LAVA_S3TRIGGER_CACHE_TTL") {
            config.trigger_cache_ttl = duration("LAVA_S3TRIGGER_CACHE_TTL", v)?;
        }
        if let Some(v) = var("LAVA_S3TRIGGER_DEDUP_TTL") {
            config.dedup_ttl = duration("LAVA_S3TRIGGER_DEDUP_TTL", v)?;
        }
        if let Some(v) = var("LAVA_S3TRIGGER_DEDUP_CACHE_SIZE") {
            config.dedup_cache_size = v
                .trim()
                .parse()
                .map_err(|e| Error::Config(format!("LAVA_S3TRIGGER_DEDUP_CACHE_SIZE: {e}")))?;
        }
        Ok(config)
    }
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// S3 object events found in the event.
    pub records: usize,
    /// Events dropped as duplicates of one seen within the window.
    pub duplicates: usize,
    /// Jobs dispatched.
    pub dispatched: usize,
    /// Trigger entries passed over: disabled, or conditions not met.
    pub skipped: usize,
    /// Records, triggers or jobs that failed; each is logged.
    pub errors: usize,
    /// The run id of every dispatch, in order.
    pub run_ids: Vec<String>,
}

/// Checked entries per (bucket, prefix).
type TriggerCache = TtlCache<(String, String), Arc<Vec<Trigger>>>;

/// Duplicate detection key, as upstream: bucket, key, event type and size.
type DedupKey = (String, String, String, Option<u64>);

/// The handler. Keep one for the life of the process: its caches (trigger
/// lookups, recent objects) are meant to span invocations of a warm function.
pub struct S3Trigger {
    config: Config,
    table: String,
    dynamodb: aws_sdk_dynamodb::Client,
    dispatcher: Dispatcher,
    renderer: Renderer,
    trigger_cache: Mutex<TriggerCache>,
    jobs_table: String,
    /// Job id -> `enabled` (None: no such job), cached like the trigger lookups.
    job_cache: Mutex<TtlCache<String, Option<bool>>>,
    recent: Mutex<TtlCache<DedupKey, OffsetDateTime>>,
}

impl S3Trigger {
    pub fn new(sdk: &SdkConfig, config: Config) -> S3Trigger {
        let trigger_cache_size = if config.trigger_cache_ttl.is_zero() {
            0
        } else {
            TRIGGER_CACHE_SIZE
        };
        S3Trigger {
            table: format!("lava.{}.s3triggers", config.realm),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            dispatcher: Dispatcher::new(sdk, &config.realm),
            jobs_table: format!("lava.{}.jobs", config.realm),
            job_cache: Mutex::new(TtlCache::new(
                trigger_cache_size,
                config.trigger_cache_ttl,
                config.clock.clone(),
            )),
            renderer: Renderer::new(),
            trigger_cache: Mutex::new(TtlCache::new(
                trigger_cache_size,
                config.trigger_cache_ttl,
                config.clock.clone(),
            )),
            recent: Mutex::new(TtlCache::new(
                config.dedup_cache_size,
                config.dedup_ttl,
                config.clock.clone(),
            )),
            config,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handle one Lambda event. An event that cannot be read is the error
    /// (the invocation fails, as upstream's does), before any record is
    /// processed. A trigger or job that fails is logged and counted and the
    /// rest go on, as upstream does; the invocation succeeds.
    pub async fn handle(&self, event: &Value) -> Result<Summary, Error> {
        let records = event::extract(event).map_err(Error::Event)?;
        let mut summary = Summary::default();
        for record in records {
            summary.records += 1;
            self.process(&record, &mut summary).await;
        }
        Ok(summary)
    }

    async fn process(&self, rec: &S3Record, summary: &mut Summary) {
        let (bucket, key) = (&rec.bucket, &rec.key);
        debug!("processing event for s3://{bucket}/{key}");

        if let Some(original) = self.duplicate(rec) {
            summary.duplicates += 1;
            warn!("s3://{bucket}/{key}: duplicate event discarded (original ts={original})");
            return;
        }

        let triggers = match self.find_triggers(bucket, key).await {
            Ok(t) => t,
            Err(e) => {
                summary.errors += 1;
                error!("s3://{bucket}/{key}: {e}");
                return;
            }
        };

        for trigger in triggers.iter() {
            self.fire(trigger, rec, summary).await;
        }
    }

    /// Remember the object; `Some(original event time)` if it was seen within the window.
    fn duplicate(&self, rec: &S3Record) -> Option<OffsetDateTime> {
        if self.config.dedup_cache_size == 0 {
            return None;
        }
        let key: DedupKey = (
            rec.bucket.clone(),
            rec.key.clone(),
            rec.event_type.clone(),
            rec.size,
        );
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(original) = recent.get(&key) {
            return Some(original);
        }
        recent.insert(key, rec.event_time);
        None
    }

    /// The entries at the most specific prefix level that has any.
    async fn find_triggers(&self, bucket: &str, key: &str) -> Result<Arc<Vec<Trigger>>, String> {
        for prefix in triggers::candidate_prefixes(key) {
            let found = self.triggers_at(bucket, &prefix).await?;
            if !found.is_empty() {
                return Ok(found);
            }
        }
        Err(format!("No trigger entry for s3://{bucket}/{key}"))
    }

    async fn triggers_at(&self, bucket: &str, prefix: &str) -> Result<Arc<Vec<Trigger>>, String> {
        let cache_key = (bucket.to_string(), prefix.to_string());
        if let Some(hit) = self
            .trigger_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&cache_key)
        {
            return Ok(hit);
        }
        debug!("trigger query: s3://{bucket}/{prefix}");
        let items = triggers::query(&self.dynamodb, &self.table, bucket, prefix).await?;
        // Upstream reads the bound only when there are entries to check.
        let max_minutes = match &self.config.max_delay {
            _ if items.is_empty() => 0,
            MaxDelay::Minutes(minutes) => *minutes,
            invalid @ MaxDelay::Invalid(_) => return Err(invalid.check(0.0).unwrap_err()),
        };
        // One bad entry fails the lookup, as upstream; failures are not cached.
        let checked = items
            .into_iter()
            .map(|item| triggers::check(item, max_minutes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("Bad trigger spec for s3://{bucket}/{prefix} - {e}"))?;
        let checked = Arc::new(checked);
        self.trigger_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cache_key, checked.clone());
        Ok(checked)
    }

    async fn fire(&self, trigger: &Trigger, rec: &S3Record, summary: &mut Summary) {
        let (id, bucket, key) = (&trigger.trigger_id, &rec.bucket, &rec.key);
        if !trigger.enabled {
            summary.skipped += 1;
            warn!("{id}: s3://{bucket}/{key}: s3trigger not enabled");
            return;
        }

        for (field, arg) in trigger.spec.iter().filter(|(k, _)| k.starts_with("if_")) {
            match conditions::evaluate(field, arg, rec) {
                Ok(true) => {}
                Ok(false) => {
                    summary.skipped += 1;
                    info!("{id}: s3://{bucket}/{key} doesn't satisfy {field}");
                    return;
                }
                Err(e) => {
                    summary.errors += 1;
                    error!("{id}: event condition(s) failed: {e}");
                    return;
                }
            }
        }

        let job_ids: Vec<&str> = match &trigger.spec["job_id"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) if items.iter().all(Value::is_string) => {
                items.iter().filter_map(Value::as_str).collect()
            }
            _ => {
                summary.errors += 1;
                error!("{id}: job_id must be string or list of strings");
                return;
            }
        };

        let ctx = self.renderer.context(rec);
        let rendered = |field: &str| -> Result<Option<Map<String, Value>>, String> {
            let value = match trigger.spec.get(field) {
                None | Some(Value::Null) => return Ok(None),
                Some(v) => v,
            };
            let value = if trigger.jinja && triggers::truthy(value) {
                self.renderer
                    .render_json(value, &ctx)
                    .map_err(|e| format!("Cannot render {field}: {}", render_error(&e)))?
            } else {
                value.clone()
            };
            match value {
                // Empty maps are left out of the dispatch, as upstream.
                Value::Object(m) if m.is_empty() => Ok(None),
                Value::Object(m) => Ok(Some(m)),
                _ => Err(format!("{field} must be a map")),
            }
        };
        let (globals, parameters) = match (rendered("globals"), rendered("parameters")) {
            (Ok(g), Ok(p)) => (g, p),
            (Err(e), _) | (_, Err(e)) => {
                summary.errors += 1;
                error!("{id}: s3://{bucket}/{key}: {e}");
                return;
            }
        };
        debug!("{id}: rendered globals {globals:?}, parameters {parameters:?}");

        for job_id in job_ids {
            let job_id = if trigger.jinja {
                match self.renderer.render_str(job_id, &ctx) {
                    Ok(j) => j,
                    Err(e) => {
                        summary.errors += 1;
                        error!(
                            "{id}: s3://{bucket}/{key}: Cannot render job_id {job_id}: {}",
                            render_error(&e)
                        );
                        continue;
                    }
                }
            } else {
                job_id.to_string()
            };
            // Upstream's s3trigger skips disabled jobs (the dispatch helper does not).
            match self.job_enabled(&job_id).await {
                Ok(Some(false)) => {
                    summary.skipped += 1;
                    warn!("{id}: Job {job_id} is not enabled");
                    continue;
                }
                // Unknown jobs are left to the dispatcher, which reports them.
                Ok(_) => {}
                Err(e) => {
                    summary.errors += 1;
                    error!("{id}: s3://{bucket}/{key}: {job_id}: {e}");
                    continue;
                }
            }
            let request = DispatchRequest {
                job_id: job_id.clone(),
                parameters: parameters.clone(),
                globals: globals.clone(),
                delay: trigger.delay,
            };
            match self.dispatcher.dispatch(&request).await {
                Ok(run_id) => {
                    info!("{id}: s3://{bucket}/{key}: Dispatched job {job_id} ({run_id})");
                    summary.dispatched += 1;
                    summary.run_ids.push(run_id);
                }
                Err(e) => {
                    summary.errors += 1;
                    error!("{id}: s3://{bucket}/{key}: {job_id}: {e}");
                }
            }
        }
    }
}

impl S3Trigger {
    /// The job's `enabled` flag, `None` if there is no such job. Absent
    /// means disabled, as the user guide documents (upstream's s3trigger
    /// fails the invocation on it instead). Only that attribute is read: the job record
    /// proper is the dispatcher's business.
    async fn job_enabled(&self, job_id: &str) -> Result<Option<bool>, String> {
        if let Some(hit) = self
            .job_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&job_id.to_string())
        {
            return Ok(hit);
        }
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.jobs_table)
            .key(
                "job_id",
                aws_sdk_dynamodb::types::AttributeValue::S(job_id.to_string()),
            )
            .projection_expression("#e")
            .expression_attribute_names("#e", "enabled")
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Cannot read DynamoDB table {} - {}",
                    self.jobs_table,
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            })?;
        let enabled = out.item.map(|item| {
            item.get("enabled")
                .map(|v| triggers::truthy(&lava_lambda::table::attr_to_json(v)))
                .unwrap_or(false)
        });
        self.job_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_id.to_string(), enabled);
        Ok(enabled)
    }
}

/// A minijinja error with its cause chain, on one line.
fn render_error(e: &minijinja::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}
