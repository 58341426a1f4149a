//! Job dispatch as upstream's `lava.lavacore.dispatch` does it: find the job's
//! worker in `lava.<realm>.jobs`, then put a dispatch message on the worker's
//! SQS queue `lava-<realm>-<worker>`, which the lava worker daemons poll.

mod request;
mod words;

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;
use tracing::{error, info, warn};

pub use request::{
    expand_keys, parse_body, parse_json, parse_line, parse_text, DispatchRequest, MaxDelay,
    RequestError, SQS_MAX_DELAY_SECS,
};
pub use words::{split_words, WordsError};

use crate::envelope::{message_bodies, EnvelopeError};

/// Attributes every job record must have (upstream `JOB_SPEC_REQUIRED_FIELDS`).
const JOB_REQUIRED_FIELDS: [&str; 4] = ["job_id", "type", "worker", "payload"];

/// Python's `datetime.isoformat()` of an aware time rounded down to the second,
/// as upstream's `now_tz().isoformat()` writes `ts_dispatch`.
const ISO_8601: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);

/// Why a job was not dispatched. Displays as `<job_id>@<realm>: <reason>`.
#[derive(Debug, thiserror::Error)]
#[error("{job_id}@{realm}: {failure}")]
pub struct DispatchError {
    pub job_id: String,
    pub realm: String,
    pub failure: DispatchFailure,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchFailure {
    #[error("No such job")]
    NoSuchJob,
    #[error("Bad job record: {0}")]
    BadJobRecord(String),
    #[error("Reserved global: {0}")]
    ReservedGlobal(String),
    #[error("Bad delay: {0} seconds is more than the SQS limit of {SQS_MAX_DELAY_SECS}")]
    BadDelay(u64),
    #[error("Cannot read DynamoDB table {table} - {message}")]
    Table { table: String, message: String },
    #[error("Cannot dispatch to queue {queue} - {message}")]
    Queue { queue: String, message: String },
}

/// Sends dispatch messages for one realm. Build it once per process: it holds
/// the SDK clients and remembers queue URLs.
pub struct Dispatcher {
    realm: String,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    queue_urls: Mutex<HashMap<String, String>>,
}

impl Dispatcher {
    pub fn new(config: &aws_config::SdkConfig, realm: &str) -> Dispatcher {
        Dispatcher {
            realm: realm.to_string(),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            queue_urls: Mutex::new(HashMap::new()),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// `lava.<realm>.jobs`
    pub fn jobs_table(&self) -> String {
        format!("lava.{}.jobs", self.realm)
    }

    /// `lava-<realm>-<worker>`
    pub fn queue_name(&self, worker: &str) -> String {
        format!("lava-{}-{worker}", self.realm)
    }

    /// Dispatch one job and return its run ID.
    pub async fn dispatch(&self, request: &DispatchRequest) -> Result<String, DispatchError> {
        self.try_dispatch(request)
            .await
            .map_err(|failure| DispatchError {
                job_id: request.job_id.clone(),
                realm: self.realm.clone(),
                failure,
            })
    }

    async fn try_dispatch(&self, request: &DispatchRequest) -> Result<String, DispatchFailure> {
        // SQS would refuse it anyway; refusing first keeps the error clear.
        if request.delay > SQS_MAX_DELAY_SECS {
            return Err(DispatchFailure::BadDelay(request.delay));
        }
        let worker = self.job_worker(&request.job_id).await?;
        let run_id = uuid::Uuid::new_v4().to_string();
        let message = dispatch_message(&self.realm, &worker, &run_id, request);
        let queue = self.queue_name(&worker);
        let queue_error = |message: String| DispatchFailure::Queue {
            queue: queue.clone(),
            message,
        };
        let url = self.queue_url(&queue).await.map_err(queue_error)?;
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(message.to_string())
            .delay_seconds(request.delay as i32)
            .send()
            .await
            .map_err(|e| queue_error(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(run_id)
    }

    /// The job's worker, checking the record as upstream's `get_job_spec` does:
    /// required fields present (`x-`/`X-` attributes aside) and no global named
    /// `lava...`, which the worker reserves. Whether the job is enabled is the
    /// worker's business at run time, as upstream.
    async fn job_worker(&self, job_id: &str) -> Result<String, DispatchFailure> {
        let table = self.jobs_table();
        let mut names = HashMap::new();
        let mut projection = Vec::new();
        for (i, field) in JOB_REQUIRED_FIELDS.iter().chain(&["globals"]).enumerate() {
            names.insert(format!("#f{i}"), field.to_string());
            projection.push(format!("#f{i}"));
        }
        let output = self
            .dynamodb
            .get_item()
            .table_name(&table)
            .key("job_id", AttributeValue::S(job_id.to_string()))
            .projection_expression(projection.join(", "))
            .set_expression_attribute_names(Some(names))
            .send()
            .await
            .map_err(|e| DispatchFailure::Table {
                table: table.clone(),
                message: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
            })?;
        let item = output.item.ok_or(DispatchFailure::NoSuchJob)?;

        let missing: Vec<&str> = JOB_REQUIRED_FIELDS
            .into_iter()
            .filter(|f| !item.contains_key(*f))
            .collect();
        if !missing.is_empty() {
            let mut missing = missing;
            missing.sort_unstable();
            return Err(DispatchFailure::BadJobRecord(format!(
                "Missing keys: {}",
                missing.join(", ")
            )));
        }
        if let Some(AttributeValue::M(globals)) = item.get("globals") {
            let mut reserved: Vec<&String> = globals
                .keys()
                .filter(|g| g.to_lowercase().starts_with("lava"))
                .collect();
            reserved.sort();
            if let Some(g) = reserved.first() {
                return Err(DispatchFailure::ReservedGlobal(g.to_string()));
            }
        }
        match item.get("worker") {
            Some(AttributeValue::S(worker)) if !worker.is_empty() => Ok(worker.clone()),
            _ => Err(DispatchFailure::BadJobRecord(
                "worker must be a non-empty string".into(),
            )),
        }
    }

    async fn queue_url(&self, queue: &str) -> Result<String, String> {
        if let Some(url) = self.queue_urls.lock().expect("queue URL cache").get(queue) {
            return Ok(url.clone());
        }
        let output = self
            .sqs
            .get_queue_url()
            .queue_name(queue)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        let url = output.queue_url.ok_or("no queue URL in the response")?;
        self.queue_urls
            .lock()
            .expect("queue URL cache")
            .insert(queue.to_string(), url.clone());
        Ok(url)
    }
}

/// The message a lava worker consumes (upstream `make_dispatch_msg`): realm,
/// worker, job_id, run_id, ts_dispatch, then parameters and globals only when
/// they are non-empty. The worker checks realm and worker against its own.
pub fn dispatch_message(
    realm: &str,
    worker: &str,
    run_id: &str,
    request: &DispatchRequest,
) -> Value {
    let mut message = Map::new();
    message.insert("realm".into(), realm.into());
    message.insert("worker".into(), worker.into());
    message.insert("job_id".into(), request.job_id.clone().into());
    message.insert("run_id".into(), run_id.into());
    message.insert("ts_dispatch".into(), now_iso8601().into());
    for (key, map) in [
        ("parameters", &request.parameters),
        ("globals", &request.globals),
    ] {
        if let Some(map) = map.as_ref().filter(|m| !m.is_empty()) {
            message.insert(key.into(), Value::Object(map.clone()));
        }
    }
    Value::Object(message)
}

/// Now, to the second, with its UTC offset: `2025-01-31T04:05:06+00:00`.
pub fn now_iso8601() -> String {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(ISO_8601)
        .expect("ISO 8601 format of the current time")
}

/// One job dispatched by [`handle_dispatch_event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispatched {
    pub job_id: String,
    pub run_id: String,
}

/// What became of an event: the jobs dispatched, in order, and one message per
/// body that stopped at a request that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DispatchSummary {
    pub dispatched: Vec<Dispatched>,
    pub errors: Vec<String>,
}

/// Dispatch every request in a Lambda event (SNS, SQS or raw JSON; text or
/// JSON bodies), as upstream's handler does: a body is dispatched in order up
/// to its first request that fails, which is logged and counted, and the next
/// body goes on; the invocation still succeeds. An event that cannot be read
/// (unknown shape, a record from another source or without its body) is the
/// error, before anything is dispatched. `max_delay` bounds text lines' delays.
pub async fn handle_dispatch_event(
    dispatcher: &Dispatcher,
    max_delay: &MaxDelay,
    event: &Value,
) -> Result<DispatchSummary, EnvelopeError> {
    let mut summary = DispatchSummary::default();
    for message in message_bodies(event)? {
        let location = message.location();
        let requests = parse_body(&message.body, max_delay);
        let total = requests.len();
        for (n, (within, request)) in requests.into_iter().enumerate() {
            let at = match within {
                Some(within) => format!("{location} {within}"),
                None => location.clone(),
            };
            let failure = match request {
                Err(RequestError {
                    job_id: Some(job_id),
                    reason,
                }) => format!("{at}: {job_id}@{}: {reason}", dispatcher.realm()),
                Err(e) => format!("{at}: {e}"),
                Ok(request) => {
                    info!("Dispatch request: {at}: {request:?}");
                    match dispatcher.dispatch(&request).await {
                        Ok(run_id) => {
                            info!("Dispatched {} with run_id {run_id}", request.job_id);
                            summary.dispatched.push(Dispatched {
                                job_id: request.job_id,
                                run_id,
                            });
                            continue;
                        }
                        Err(e) => format!("{at}: {e}"),
                    }
                }
            };
            error!("{failure}");
            summary.errors.push(failure);
            let left = total - n - 1;
            if left > 0 {
                warn!("{location}: {left} later requests of this body not dispatched");
            }
            break;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_fields_in_upstream_order() {
        let mut request = DispatchRequest::new("j");
        request.globals = Some(serde_json::json!({"g": 1}).as_object().unwrap().clone());
        request.parameters = Some(Map::new());
        let message = dispatch_message("r", "w", "00000000-0000-4000-8000-000000000000", &request);
        let keys: Vec<&String> = message.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "realm",
                "worker",
                "job_id",
                "run_id",
                "ts_dispatch",
                "globals"
            ]
        );
        let ts = message["ts_dispatch"].as_str().unwrap();
        assert_eq!(ts.len(), "2025-01-31T04:05:06+00:00".len(), "{ts}");
        assert!(ts.ends_with("+00:00"));
        OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).unwrap();
    }
}
