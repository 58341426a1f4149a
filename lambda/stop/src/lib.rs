//! `lava-<realm>-stop`: graceful stop of a worker instance that auto scaling is
//! terminating.
//!
//! Upstream lava (`lambda/stop/stop.py`) takes the lifecycle action details
//! that EventBridge delivers (the worker template's rule passes `$.detail`) and
//! runs `lava-stop` on the instance through SSM Run Command. Here the command is
//! the common stack's `lava-StopWorkerDaemons` document (its parameters are
//! the ones upstream passes on the `lava-stop` command line: signal SIGHUP,
//! stop dispatches, `WAIT_TIME`) and this function, not the instance, keeps the
//! lifecycle action alive: it polls the command invocation, records a
//! lifecycle heartbeat every `LIFECYCLE_HEARTBEAT` while it runs, and completes
//! the action with CONTINUE when it has finished or its time limit has passed.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationError;
use aws_sdk_ssm::types::{CloudWatchOutputConfig, CommandInvocationStatus};
use serde_json::{json, Value};
use tracing::{info, warn};

/// The common stack's command document (cfn/lava-common.cfn.yaml).
pub const STOP_DOCUMENT: &str = "lava-StopWorkerDaemons";
/// Upstream's SendCommand comment.
pub const COMMAND_COMMENT: &str = "lava-stop";
/// Seconds SSM may take to deliver the command (upstream's COMMAND_TIMEOUT).
pub const DELIVERY_TIMEOUT_SECS: i32 = 60;
/// The EventBridge detail type of the worker template's terminating rule.
pub const DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
pub const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

/// Upstream defaults when the template gives no WAIT_TIME / LIFECYCLE_HEARTBEAT.
const DEFAULT_WAIT: &str = "2m";
const DEFAULT_HEARTBEAT: &str = "1m";
/// lava-stop kills what is still running once the wait is over; this is the
/// time allowed for that and for the command to report back.
const DEFAULT_GRACE: Duration = Duration::from_secs(120);
const DEFAULT_POLL: Duration = Duration::from_secs(10);

#[derive(thiserror::Error)]
pub enum StopError {
    #[error("lava configuration error: {0}")]
    Config(String),
    #[error("unsupported event: {0}")]
    Event(String),
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
}

// A failed `main` prints its error with Debug: make that the readable message.
impl std::fmt::Debug for StopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn aws_error<E>(operation: &'static str) -> impl FnOnce(E) -> StopError
where
    E: std::error::Error,
{
    move |e| StopError::Aws {
        operation,
        message: aws_sdk_ssm::error::DisplayErrorContext(e).to_string(),
    }
}

/// A duration in the notation the document's `Wait` parameter allows
/// (`^[0-9]+[hms]?$`, bare numbers are seconds), e.g. the template's `5m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (digits, unit) = match text.char_indices().last()? {
        (i, c @ ('h' | 'm' | 's')) => (&text[..i], c),
        _ => (text, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        'h' => 3600,
        'm' => 60,
        _ => 1,
    };
    Some(Duration::from_secs(n.checked_mul(scale)?))
}

/// How the function waits for the stop command.
#[derive(Debug, Clone)]
pub struct StopSettings {
    /// `WAIT_TIME` as given: passed unchanged as the document's `Wait`.
    pub wait: String,
    pub wait_time: Duration,
    /// `LIFECYCLE_HEARTBEAT`.
    pub heartbeat: Duration,
    /// The document's `LogLevel` (upstream passes LAVA_LOGLEVEL, default info).
    pub log_level: String,
    pub poll_interval: Duration,
    pub grace: Duration,
}

impl StopSettings {
    /// From the function's environment (cfn/lava-realm.cfn.yaml sets
    /// WAIT_TIME and LIFECYCLE_HEARTBEAT).
    pub fn from_env() -> Result<StopSettings, StopError> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        StopSettings::new(
            var("WAIT_TIME").as_deref(),
            var("LIFECYCLE_HEARTBEAT").as_deref(),
            var("LAVA_LOGLEVEL").as_deref(),
        )
    }

    pub fn new(
        wait: Option<&str>,
        heartbeat: Option<&str>,
        log_level: Option<&str>,
    ) -> Result<StopSettings, StopError> {
        let wait = wait.unwrap_or(DEFAULT_WAIT).trim().to_string();
        let wait_time = parse_duration(&wait).ok_or_else(|| {
            StopError::Config(format!(
                "WAIT_TIME {wait:?} is not a duration like 300, 300s, 5m or 1h"
            ))
        })?;
        let heartbeat_text = heartbeat.unwrap_or(DEFAULT_HEARTBEAT).trim();
        let heartbeat = parse_duration(heartbeat_text)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                StopError::Config(format!(
                    "LIFECYCLE_HEARTBEAT {heartbeat_text:?} is not a positive duration like 60, 60s, 1m"
                ))
            })?;
        // The document only accepts these; anything else would fail SendCommand.
        let log_level = match log_level.map(str::to_ascii_lowercase) {
            Some(l) if ["debug", "info", "warning"].contains(&l.as_str()) => l,
            Some(other) => {
                warn!(
                    "LAVA_LOGLEVEL {other:?} is not debug, info or warning: lava-stop logs at info"
                );
                "info".to_string()
            }
            None => "info".to_string(),
        };
        Ok(StopSettings {
            wait,
            wait_time,
            heartbeat,
            log_level,
            poll_interval: DEFAULT_POLL,
            grace: DEFAULT_GRACE,
        })
    }

    pub fn with_poll_interval(mut self, poll_interval: Duration) -> StopSettings {
        self.poll_interval = poll_interval.max(Duration::from_millis(1));
        self
    }

    pub fn with_grace(mut self, grace: Duration) -> StopSettings {
        self.grace = grace;
        self
    }

    /// The document's ExecutionTimeout: lava-stop's wait plus the time to kill
    /// what is left, so SSM never cuts a long wait short.
    pub fn execution_timeout(&self) -> Duration {
        self.wait_time + self.grace
    }

    /// After this the command has overrun: delivery, wait and kill included.
    pub fn command_limit(&self) -> Duration {
        Duration::from_secs(DELIVERY_TIMEOUT_SECS as u64) + self.execution_timeout()
    }
}

/// The lifecycle action to keep alive and complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleAction {
    pub auto_scaling_group: String,
    pub hook: String,
    pub token: Option<String>,
}

/// What the event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRequest {
    pub instance_id: String,
    /// None for a direct invocation with just `EC2InstanceId` (upstream
    /// accepts that too): the daemons are stopped, no lifecycle calls made.
    pub lifecycle: Option<LifecycleAction>,
}

/// Accepts the lifecycle action detail (what the worker template's rule sends,
/// `InputPath: $.detail`, and upstream's documented shape) or the whole
/// EventBridge event.
pub fn parse_event(event: &Value) -> Result<StopRequest, StopError> {
    let Some(object) = event.as_object() else {
        return Err(StopError::Event(format!(
            "expected a JSON object, got {}",
            short(event)
        )));
    };
    let detail = if object.contains_key("detail-type") || object.contains_key("detail") {
        let detail_type = object.get("detail-type").and_then(Value::as_str);
        let source = object.get("source").and_then(Value::as_str);
        if detail_type != Some(DETAIL_TYPE) || source != Some("aws.autoscaling") {
            return Err(StopError::Event(format!(
                "EventBridge event from {source:?} of type {detail_type:?}: only aws.autoscaling {DETAIL_TYPE:?} events stop workers"
            )));
        }
        object
            .get("detail")
            .and_then(Value::as_object)
            .ok_or_else(|| StopError::Event("EventBridge event without a detail object".into()))?
    } else {
        object
    };
    let text = |key: &str| -> Result<Option<String>, StopError> {
        match detail.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(StopError::Event(format!(
                "{key} must be a string, got {}",
                short(other)
            ))),
        }
    };
    let Some(instance_id) = text("EC2InstanceId")? else {
        return Err(StopError::Event(format!(
            "no EC2InstanceId: not an auto scaling lifecycle action: {}",
            short(event)
        )));
    };
    if let Some(transition) = text("LifecycleTransition")? {
        if transition != TERMINATING {
            return Err(StopError::Event(format!(
                "lifecycle transition {transition}: only {TERMINATING} stops workers"
            )));
        }
    }
    let lifecycle = match (text("AutoScalingGroupName")?, text("LifecycleHookName")?) {
        (Some(auto_scaling_group), Some(hook)) => Some(LifecycleAction {
            auto_scaling_group,
            hook,
            token: text("LifecycleActionToken")?,
        }),
        (Some(group), None) => {
            warn!(
                group,
                "no LifecycleHookName: the lifecycle action cannot be completed"
            );
            None
        }
        _ => None,
    };
    Ok(StopRequest {
        instance_id,
        lifecycle,
    })
}

fn short(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 200 {
        let mut end = 200;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// Upstream refuses instances of another realm's auto scaling group and a
/// LAVA_REALM that disagrees with the function name `lava-<realm>-...`.
pub fn check_function_name(realm: &str, function_name: &str) -> Result<(), StopError> {
    if function_name.starts_with(&format!("lava-{realm}-")) {
        Ok(())
    } else {
        Err(StopError::Config(format!(
            "realm name mismatch: LAVA_REALM is {realm:?} but the function is {function_name:?} (expected lava-{realm}-...)"
        )))
    }
}

fn check_group_realm(realm: &str, group: &str) -> Result<(), StopError> {
    if group.starts_with(&format!("lava-{realm}-")) {
        Ok(())
    } else {
        Err(StopError::Config(format!(
            "realm name mismatch: auto scaling group {group:?} is not a worker of realm {realm:?} (lava-{realm}-...)"
        )))
    }
}

/// How waiting for the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The command reached this final status.
    Finished(String),
    /// The command limit passed with the command still running (last status).
    Overran(String),
    /// The Lambda invocation would end before the command limit.
    OutOfTime(String),
}

/// Poll `status` every `poll` until it reports a final status (`Some(true)`
/// beside the status text), calling `beat` every `heartbeat` meanwhile. Stops
/// at `command_limit`, or earlier at `budget` (what the invocation has left).
/// Bounded in time and in the number of polls.
pub async fn wait_for_command<S, SF, B, BF>(
    mut status: S,
    mut beat: B,
    poll: Duration,
    heartbeat: Duration,
    command_limit: Duration,
    budget: Option<Duration>,
) -> (WaitOutcome, u32)
where
    S: FnMut() -> SF,
    SF: std::future::Future<Output = (String, bool)>,
    B: FnMut() -> BF,
    BF: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let limit = budget.map_or(command_limit, |b| b.min(command_limit));
    let max_polls = limit.as_millis() / poll.as_millis().max(1) + 2;
    let mut next_beat = heartbeat;
    let mut beats = 0;
    let mut last = String::from("Pending");
    for _ in 0..max_polls {
        let elapsed = started.elapsed();
        if elapsed >= limit {
            break;
        }
        tokio::time::sleep(poll.min(limit - elapsed)).await;
        let (text, done) = status().await;
        if done {
            return (WaitOutcome::Finished(text), beats);
        }
        last = text;
        let elapsed = started.elapsed();
        if elapsed >= limit {
            break;
        }
        if elapsed >= next_beat {
            beat().await;
            beats += 1;
            next_beat = elapsed + heartbeat;
        }
    }
    if limit < command_limit {
        (WaitOutcome::OutOfTime(last), beats)
    } else {
        (WaitOutcome::Overran(last), beats)
    }
}

pub struct Stopper {
    ssm: aws_sdk_ssm::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    settings: StopSettings,
}

impl Stopper {
    pub fn new(config: &SdkConfig, settings: StopSettings) -> Stopper {
        Stopper::from_clients(
            aws_sdk_ssm::Client::new(config),
            aws_sdk_autoscaling::Client::new(config),
            settings,
        )
    }

    pub fn from_clients(
        ssm: aws_sdk_ssm::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        settings: StopSettings,
    ) -> Stopper {
        Stopper {
            ssm,
            autoscaling,
            settings,
        }
    }

    pub fn settings(&self) -> &StopSettings {
        &self.settings
    }

    /// The Lambda handler. `budget` is how long the invocation may still run
    /// (None: no limit beyond the command's own).
    pub async fn handle(
        &self,
        realm: &str,
        event: &Value,
        budget: Option<Duration>,
    ) -> Result<Value, StopError> {
        let request = parse_event(event)?;
        if let Some(action) = &request.lifecycle {
            check_group_realm(realm, &action.auto_scaling_group)?;
        }
        let instance = request.instance_id.as_str();
        let command_id = self.send_command(instance).await?;
        info!(instance, command_id, "sent {STOP_DOCUMENT}");

        let (outcome, mut heartbeats) = wait_for_command(
            || self.invocation_status(&command_id, instance),
            || self.heartbeat(&request),
            self.settings.poll_interval,
            self.settings.heartbeat,
            self.settings.command_limit(),
            budget,
        )
        .await;

        let (status, ended) = match &outcome {
            WaitOutcome::Finished(s) => (s.as_str(), "finished"),
            WaitOutcome::Overran(s) => (s.as_str(), "overran"),
            WaitOutcome::OutOfTime(s) => (s.as_str(), "out-of-time"),
        };
        let lifecycle = match (&request.lifecycle, &outcome) {
            (None, _) => "none",
            // Completing now would terminate the instance while lava-stop still
            // waits for jobs. A last heartbeat restarts the hook's timeout,
            // whose DefaultResult (CONTINUE) then ends the wait: the worker
            // gets the longest grace the hook allows. Not an error either:
            // a retried invocation would signal the daemons again, which they
            // take as a hard stop.
            (Some(_), WaitOutcome::OutOfTime(_)) => {
                warn!(
                    instance,
                    command_id,
                    "the function's timeout is shorter than WAIT_TIME: the lifecycle action is left to the hook's heartbeat timeout"
                );
                self.heartbeat(&request).await;
                heartbeats += 1;
                "left-to-hook-timeout"
            }
            (Some(action), _) => {
                self.complete(&request.instance_id, action).await?;
                "completed"
            }
        };
        info!(
            instance,
            command_id, status, ended, lifecycle, heartbeats, "done"
        );
        Ok(json!({
            "instance_id": instance,
            "command_id": command_id,
            "document": STOP_DOCUMENT,
            "command_status": status,
            "wait": ended,
            "heartbeats": heartbeats,
            "lifecycle_action": lifecycle,
        }))
    }

    async fn send_command(&self, instance: &str) -> Result<String, StopError> {
        let s = &self.settings;
        let out = self
            .ssm
            .send_command()
            .instance_ids(instance)
            .document_name(STOP_DOCUMENT)
            .timeout_seconds(DELIVERY_TIMEOUT_SECS)
            .comment(COMMAND_COMMENT)
            .cloud_watch_output_config(
                CloudWatchOutputConfig::builder()
                    .cloud_watch_output_enabled(true)
                    .build(),
            )
            .parameters("Signal", vec!["SIGHUP".to_string()])
            .parameters("StopDispatch", vec!["yes".to_string()])
            .parameters("Wait", vec![s.wait.clone()])
            .parameters("LogLevel", vec![s.log_level.clone()])
            .parameters(
                "ExecutionTimeout",
                vec![s.execution_timeout().as_secs().to_string()],
            )
            .send()
            .await
            .map_err(aws_error("SSM SendCommand"))?;
        out.command()
            .and_then(|c| c.command_id())
            .map(str::to_string)
            .ok_or_else(|| StopError::Aws {
                operation: "SSM SendCommand",
                message: "no command ID in the response".into(),
            })
    }

    /// The invocation's status and whether it is final. Errors are transient
    /// as far as waiting goes: right after SendCommand the invocation may not
    /// exist yet.
    async fn invocation_status(&self, command_id: &str, instance: &str) -> (String, bool) {
        let result = self
            .ssm
            .get_command_invocation()
            .command_id(command_id)
            .instance_id(instance)
            .send()
            .await;
        match result {
            Ok(out) => {
                let status = out
                    .status()
                    .cloned()
                    .unwrap_or(CommandInvocationStatus::Pending);
                let done = matches!(
                    status,
                    CommandInvocationStatus::Success
                        | CommandInvocationStatus::Failed
                        | CommandInvocationStatus::Cancelled
                        | CommandInvocationStatus::TimedOut
                );
                (status.as_str().to_string(), done)
            }
            Err(e) => {
                if !matches!(
                    e.as_service_error(),
                    Some(GetCommandInvocationError::InvocationDoesNotExist(_))
                ) {
                    warn!(
                        command_id,
                        "GetCommandInvocation failed: {}",
                        aws_sdk_ssm::error::DisplayErrorContext(e)
                    );
                }
                ("Pending".to_string(), false)
            }
        }
    }

    async fn heartbeat(&self, request: &StopRequest) {
        let Some(action) = &request.lifecycle else {
            return;
        };
        let result = self
            .autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.auto_scaling_group)
            .lifecycle_hook_name(&action.hook)
            .set_lifecycle_action_token(action.token.clone())
            .instance_id(&request.instance_id)
            .send()
            .await;
        // A missed heartbeat is not fatal: the next one may succeed, and the
        // hook's timeout is far longer than the interval.
        if let Err(e) = result {
            warn!(
                instance = request.instance_id,
                "RecordLifecycleActionHeartbeat failed: {}",
                aws_sdk_autoscaling::error::DisplayErrorContext(e)
            );
        }
    }

    async fn complete(&self, instance: &str, action: &LifecycleAction) -> Result<(), StopError> {
        self.autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.auto_scaling_group)
            .lifecycle_hook_name(&action.hook)
            .set_lifecycle_action_token(action.token.clone())
            .instance_id(instance)
            .lifecycle_action_result("CONTINUE")
            .send()
            .await
            .map_err(aws_error("Auto Scaling CompleteLifecycleAction"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn durations_in_the_documents_notation() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        for bad in ["", "m", "5 m", "1d", "-1m", "1.5m", "5mm"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn settings_defaults_and_errors() {
        let s = StopSettings::new(None, None, None).unwrap();
        assert_eq!(s.wait, "2m");
        assert_eq!(s.heartbeat, Duration::from_secs(60));
        assert_eq!(s.log_level, "info");
        assert_eq!(s.execution_timeout(), Duration::from_secs(240));
        let s = StopSettings::new(Some("15m"), Some("5m"), Some("DEBUG")).unwrap();
        assert_eq!((s.wait_time.as_secs(), s.heartbeat.as_secs()), (900, 300));
        assert_eq!(s.log_level, "debug");
        assert_eq!(
            StopSettings::new(None, None, Some("error"))
                .unwrap()
                .log_level,
            "info"
        );
        let err = StopSettings::new(Some("5 minutes"), None, None).unwrap_err();
        assert!(err.to_string().contains("WAIT_TIME"), "{err}");
        let err = StopSettings::new(None, Some("0"), None).unwrap_err();
        assert!(err.to_string().contains("LIFECYCLE_HEARTBEAT"), "{err}");
    }

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn heartbeats_while_the_command_runs() {
        let polls = Cell::new(0);
        let beats = Cell::new(0);
        let (outcome, n) = wait_for_command(
            || {
                polls.set(polls.get() + 1);
                let done = polls.get() >= 12;
                async move {
                    (
                        if done { "Success" } else { "InProgress" }.to_string(),
                        done,
                    )
                }
            },
            || {
                beats.set(beats.get() + 1);
                async {}
            },
            5 * MS,
            20 * MS,
            Duration::from_secs(10),
            None,
        )
        .await;
        assert_eq!(outcome, WaitOutcome::Finished("Success".into()));
        assert_eq!(polls.get(), 12);
        assert_eq!(n, beats.get());
        // About 60 ms of polling with a beat every 20 ms.
        assert!((1..=3).contains(&n), "{n} heartbeats");
    }

    #[tokio::test]
    async fn gives_up_at_the_command_limit() {
        let (outcome, _) = wait_for_command(
            || async { ("InProgress".to_string(), false) },
            || async {},
            5 * MS,
            Duration::from_secs(60),
            40 * MS,
            None,
        )
        .await;
        assert_eq!(outcome, WaitOutcome::Overran("InProgress".into()));
    }

    #[tokio::test]
    async fn gives_up_when_the_invocation_runs_out_of_time() {
        let started = Instant::now();
        let (outcome, _) = wait_for_command(
            || async { ("Pending".to_string(), false) },
            || async {},
            5 * MS,
            Duration::from_secs(60),
            Duration::from_secs(3600),
            Some(30 * MS),
        )
        .await;
        assert_eq!(outcome, WaitOutcome::OutOfTime("Pending".into()));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn polls_are_bounded_in_number() {
        // A status source that never advances time still stops.
        let polls = Cell::new(0u32);
        let (outcome, _) = wait_for_command(
            || {
                polls.set(polls.get() + 1);
                async { ("InProgress".to_string(), false) }
            },
            || async {},
            10 * MS,
            Duration::from_secs(60),
            50 * MS,
            None,
        )
        .await;
        assert!(matches!(outcome, WaitOutcome::Overran(_)));
        assert!(polls.get() <= 7, "{} polls", polls.get());
    }

    #[test]
    fn event_shapes() {
        let detail = json!({
            "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
            "AutoScalingGroupName": "lava-dev-core",
            "LifecycleHookName": "terminate",
            "EC2InstanceId": "i-1234567890abcdef0",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "NotificationMetadata": "{\"realm\": \"dev\"}",
            "Origin": "AutoScalingGroup",
            "Destination": "EC2"
        });
        let expected = StopRequest {
            instance_id: "i-1234567890abcdef0".into(),
            lifecycle: Some(LifecycleAction {
                auto_scaling_group: "lava-dev-core".into(),
                hook: "terminate".into(),
                token: Some("87654321-4321-4321-4321-210987654321".into()),
            }),
        };
        assert_eq!(parse_event(&detail).unwrap(), expected);
        let envelope = json!({
            "version": "0", "id": "x", "source": "aws.autoscaling",
            "detail-type": DETAIL_TYPE, "detail": detail
        });
        assert_eq!(parse_event(&envelope).unwrap(), expected);
        let bare = parse_event(&json!({"EC2InstanceId": "i-1"})).unwrap();
        assert_eq!(bare.lifecycle, None);

        for (bad, says) in [
            (json!([1]), "expected a JSON object"),
            (json!({"Records": []}), "no EC2InstanceId"),
            (
                json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}),
                "only aws.autoscaling",
            ),
            (
                json!({"EC2InstanceId": "i-1", "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"}),
                "only autoscaling:EC2_INSTANCE_TERMINATING",
            ),
            (
                json!({"EC2InstanceId": 7}),
                "EC2InstanceId must be a string",
            ),
        ] {
            let err = parse_event(&bad).unwrap_err().to_string();
            assert!(
                err.starts_with("unsupported event: ") && err.contains(says),
                "{err}"
            );
        }
    }

    #[test]
    fn realm_checks() {
        assert!(check_function_name("dev", "lava-dev-stop").is_ok());
        assert!(check_function_name("dev", "lava-prod-stop").is_err());
        assert!(check_group_realm("dev", "lava-dev-core").is_ok());
        let err = check_group_realm("dev", "lava-prod-core").unwrap_err();
        assert!(err.to_string().contains("realm name mismatch"), "{err}");
    }
}
