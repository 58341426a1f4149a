//! `lava-<realm>-stop`: starts the graceful stop of a worker instance that
//! auto scaling is terminating.
//!
//! The division of work is upstream's (`lambda/stop/stop.py`): the function
//! sends one SSM Run Command (`AWS-RunShellScript`) that starts `lava-stop`
//! in the background on the instance, and returns. `lava-stop` (part of the
//! worker bundle) stops the dispatchers, signals the daemons, waits up to
//! `WAIT_TIME` for their jobs, records a lifecycle heartbeat every
//! `LIFECYCLE_HEARTBEAT` and completes the lifecycle action itself. So a
//! worker gets its whole `workerStopMinutes` (up to 720), which no Lambda
//! invocation (15 minutes at most) could wait for.

use aws_config::SdkConfig;
use aws_sdk_ssm::types::CloudWatchOutputConfig;
use serde_json::{Map, Value};
use tracing::info;

/// The document upstream's function runs.
pub const DOCUMENT: &str = "AWS-RunShellScript";
/// Upstream's SendCommand comment.
pub const COMMAND_COMMENT: &str = "lava-stop";
/// Seconds SSM may take to start the command (upstream's COMMAND_TIMEOUT):
/// the command only starts lava-stop in the background.
pub const DELIVERY_TIMEOUT_SECS: i32 = 60;

/// Upstream's defaults when the function's environment gives none.
const DEFAULT_WAIT: &str = "2m";
const DEFAULT_HEARTBEAT: &str = "1m";
const DEFAULT_LOG_LEVEL: &str = "info";

#[derive(thiserror::Error)]
pub enum StopError {
    /// Upstream's ValueError from `dict_check`.
    #[error("Missing keys: {0}")]
    MissingKeys(String),
    #[error("unsupported event: {0}")]
    Event(String),
    /// Upstream's exception for a realm mismatch or a malformed lava name.
    #[error("Lava configuration error: {0}")]
    Config(String),
    #[error("SSM SendCommand failed: {0}")]
    Send(String),
}

// A failed `main` prints its error with Debug: make that the readable message.
impl std::fmt::Debug for StopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// What goes on the `lava-stop` command line, from the function's environment
/// (the realm template sets WAIT_TIME and LIFECYCLE_HEARTBEAT from
/// `workerStopMinutes` and `autoscalingHeartbeatMinutes`). Passed on as
/// given, as upstream does: lava-stop reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopSettings {
    pub wait: String,
    pub heartbeat: String,
    /// lava's LAVA_LOGLEVEL (upstream's `lava.config.LOGLEVEL`).
    pub log_level: String,
}

impl StopSettings {
    pub fn from_env() -> StopSettings {
        let var = |name, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
        StopSettings {
            wait: var("WAIT_TIME", DEFAULT_WAIT),
            heartbeat: var("LIFECYCLE_HEARTBEAT", DEFAULT_HEARTBEAT),
            log_level: var("LAVA_LOGLEVEL", DEFAULT_LOG_LEVEL),
        }
    }
}

impl Default for StopSettings {
    fn default() -> StopSettings {
        StopSettings {
            wait: DEFAULT_WAIT.into(),
            heartbeat: DEFAULT_HEARTBEAT.into(),
            log_level: DEFAULT_LOG_LEVEL.into(),
        }
    }
}

/// The command to run on one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopCommand {
    pub instance_id: String,
    /// The shell command line, as upstream builds it.
    pub command: String,
}

/// Python's `shlex.quote`: unchanged when made only of `[A-Za-z0-9_@%+=:,./-]`,
/// else single-quoted with each `'` as `'"'"'`.
pub fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\"'\"'"))
    }
}

/// The realm of a lava name `lava-<realm>-...` (upstream's
/// `realm_from_lava_id`: the second `-` separated part).
pub fn realm_of(lava_id: &str) -> Result<&str, StopError> {
    lava_lambda::realm_of_lava_id(lava_id)
        .ok_or_else(|| StopError::Config(format!("Bad lava identifier: {lava_id}")))
}

/// A value of the event as text: a false one (absent, null, "", 0, false,
/// empty) counts as not given, as Python's truth test upstream applies; any
/// other that is not a string is refused, as upstream fails on it.
fn text<'a>(event: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, StopError> {
    match event.get(key) {
        None => Ok(None),
        Some(value) if !lava_lambda::truthy(value) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(StopError::Event(format!(
            "{key} must be a string, got {other}"
        ))),
    }
}

/// The command for the lifecycle action detail `event` (what the worker
/// template's rule delivers; a direct invocation may give just
/// `EC2InstanceId`). With an auto scaling group, the realms of LAVA_REALM,
/// the group and the function name must agree, as upstream requires.
pub fn stop_command(
    event: &Value,
    settings: &StopSettings,
    realm: &str,
    function_name: &str,
) -> Result<StopCommand, StopError> {
    let Some(event) = event.as_object() else {
        return Err(StopError::Event(format!(
            "expected the lifecycle action detail (a JSON object), got {event}"
        )));
    };
    let instance_id = match event.get("EC2InstanceId") {
        None => return Err(StopError::MissingKeys("EC2InstanceId".into())),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(StopError::Event(format!(
                "EC2InstanceId must be a string, got {other}"
            )))
        }
    };
    let mut words = vec![
        "nohup".to_string(),
        "lava-stop".into(),
        // The dispatchers on the node stop while the daemons do.
        "--no-dispatch".into(),
        "--signal".into(),
        "SIGHUP".into(),
        "--instance-id".into(),
        shell_quote(&instance_id),
        "--log @local0".into(),
        "--level".into(),
        shell_quote(&settings.log_level),
        "--wait".into(),
        shell_quote(&settings.wait),
    ];
    if let Some(group) = text(event, "AutoScalingGroupName")? {
        let (group_realm, function_realm) = (realm_of(group)?, realm_of(function_name)?);
        if realm != group_realm || group_realm != function_realm {
            return Err(StopError::Config(format!(
                "realm name mismatch (LAVA_REALM {realm}, auto scaling group {group}, function {function_name})"
            )));
        }
        words.extend([
            "--auto-scaling-group-name".into(),
            shell_quote(group),
            "--lifecycle-heartbeat".into(),
            shell_quote(&settings.heartbeat),
        ]);
    }
    if let Some(token) = text(event, "LifecycleActionToken")? {
        words.extend(["--lifecycle-action-token".into(), shell_quote(token)]);
    }
    if let Some(hook) = text(event, "LifecycleHookName")? {
        words.extend(["--lifecycle-hook-name".into(), shell_quote(hook)]);
    }
    words.push("> /tmp/lava/__stop__ 2>&1 &".into());
    Ok(StopCommand {
        instance_id,
        command: words.join(" "),
    })
}

pub struct Stopper {
    ssm: aws_sdk_ssm::Client,
    settings: StopSettings,
}

impl Stopper {
    pub fn new(config: &SdkConfig, settings: StopSettings) -> Stopper {
        Stopper::from_client(aws_sdk_ssm::Client::new(config), settings)
    }

    pub fn from_client(ssm: aws_sdk_ssm::Client, settings: StopSettings) -> Stopper {
        Stopper { ssm, settings }
    }

    /// The Lambda handler: sends the command and returns the SSM command ID.
    /// Every failure fails the invocation, as upstream's do, so Lambda's
    /// retries and alarms see it.
    pub async fn handle(
        &self,
        realm: &str,
        function_name: &str,
        event: &Value,
    ) -> Result<String, StopError> {
        let stop = stop_command(event, &self.settings, realm, function_name)?;
        info!(
            instance = stop.instance_id,
            command = stop.command,
            "sending {DOCUMENT}"
        );
        let out = self
            .ssm
            .send_command()
            .instance_ids(&stop.instance_id)
            .document_name(DOCUMENT)
            .timeout_seconds(DELIVERY_TIMEOUT_SECS)
            .comment(COMMAND_COMMENT)
            .cloud_watch_output_config(
                CloudWatchOutputConfig::builder()
                    .cloud_watch_output_enabled(true)
                    .build(),
            )
            .parameters("commands", vec![stop.command])
            .send()
            .await
            .map_err(|e| StopError::Send(aws_sdk_ssm::error::DisplayErrorContext(e).to_string()))?;
        let command_id = out
            .command()
            .and_then(|c| c.command_id())
            .unwrap_or_default()
            .to_string();
        info!(instance = stop.instance_id, command_id, "sent");
        Ok(command_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Python's shlex.quote on the same inputs.
    #[test]
    fn quoting_as_shlex() {
        for (text, quoted) in [
            ("i-0123456789abcdef0", "i-0123456789abcdef0"),
            ("lava-dev-core", "lava-dev-core"),
            ("5m", "5m"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", "'it'\"'\"'s'"),
            ("$(reboot)", "'$(reboot)'"),
            ("a;b", "'a;b'"),
            ("x@y%z+1=2:3,4./-_", "x@y%z+1=2:3,4./-_"),
            ("é", "'é'"),
        ] {
            assert_eq!(shell_quote(text), quoted, "{text:?}");
        }
    }

    #[test]
    fn realms_of_lava_names() {
        for (id, realm) in [
            ("lava-dev-core", Ok("dev")),
            ("lava-dev-stop", Ok("dev")),
            ("lava-dev", Ok("dev")),
            ("lava-my-realm-core", Ok("my")),
            ("lava", Err(())),
            ("lava--core", Err(())),
            ("other-dev-core", Err(())),
        ] {
            assert_eq!(realm_of(id).map_err(|_| ()), realm, "{id}");
        }
    }

    const INSTANCE: &str = "i-1234567890abcdef0";

    fn settings() -> StopSettings {
        StopSettings {
            wait: "720m".into(),
            heartbeat: "5m".into(),
            log_level: "info".into(),
        }
    }

    /// Events and the command upstream's function builds for them, read from
    /// stop.py: the lifecycle part only with an auto scaling group, token
    /// and hook each when given.
    #[test]
    fn commands_as_upstream_builds_them() {
        let base = format!(
            "nohup lava-stop --no-dispatch --signal SIGHUP --instance-id {INSTANCE} \
             --log @local0 --level info --wait 720m"
        );
        let tail = "> /tmp/lava/__stop__ 2>&1 &";
        for (event, expected) in [
            (
                json!({
                    "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
                    "AutoScalingGroupName": "lava-dev-core",
                    "LifecycleHookName": "terminate",
                    "EC2InstanceId": INSTANCE,
                    "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
                }),
                format!(
                    "{base} --auto-scaling-group-name lava-dev-core --lifecycle-heartbeat 5m \
                     --lifecycle-action-token 87654321-4321-4321-4321-210987654321 \
                     --lifecycle-hook-name terminate {tail}"
                ),
            ),
            (json!({"EC2InstanceId": INSTANCE}), format!("{base} {tail}")),
            (
                json!({"EC2InstanceId": INSTANCE, "AutoScalingGroupName": "", "LifecycleHookName": "h"}),
                format!("{base} --lifecycle-hook-name h {tail}"),
            ),
            // Python's `if value:` passes over any false value.
            (
                json!({"EC2InstanceId": INSTANCE, "AutoScalingGroupName": null, "LifecycleActionToken": 0, "LifecycleHookName": false}),
                format!("{base} {tail}"),
            ),
        ] {
            let stop = stop_command(&event, &settings(), "dev", "lava-dev-stop").unwrap();
            assert_eq!(stop.instance_id, INSTANCE);
            assert_eq!(stop.command, expected, "{event}");
        }
        // Values reach the shell quoted.
        let stop = stop_command(
            &json!({"EC2InstanceId": "i-1; reboot"}),
            &settings(),
            "dev",
            "lava-dev-stop",
        )
        .unwrap();
        assert!(
            stop.command.contains("--instance-id 'i-1; reboot' "),
            "{}",
            stop.command
        );
    }

    /// The invocations upstream fails, with its messages.
    #[test]
    fn refused_as_upstream_refuses() {
        let with_group =
            |group: &str| json!({"EC2InstanceId": INSTANCE, "AutoScalingGroupName": group});
        for (event, realm, function, says) in [
            (
                json!({"AutoScalingGroupName": "lava-dev-core"}),
                "dev",
                "lava-dev-stop",
                "Missing keys: EC2InstanceId",
            ),
            (
                json!({"detail": {"EC2InstanceId": INSTANCE}}),
                "dev",
                "lava-dev-stop",
                "Missing keys: EC2InstanceId",
            ),
            (
                json!([INSTANCE]),
                "dev",
                "lava-dev-stop",
                "unsupported event",
            ),
            (
                with_group("lava-prod-core"),
                "dev",
                "lava-dev-stop",
                "realm name mismatch",
            ),
            (
                with_group("lava-dev-core"),
                "dev",
                "lava-prod-stop",
                "realm name mismatch",
            ),
            (
                with_group("lava-dev-core"),
                "prod",
                "lava-dev-stop",
                "realm name mismatch",
            ),
            (
                with_group("workers"),
                "dev",
                "lava-dev-stop",
                "Bad lava identifier: workers",
            ),
            (
                json!({"EC2InstanceId": 7}),
                "dev",
                "lava-dev-stop",
                "EC2InstanceId must be a string",
            ),
            (
                json!({"EC2InstanceId": INSTANCE, "LifecycleActionToken": 5}),
                "dev",
                "lava-dev-stop",
                "LifecycleActionToken must be a string",
            ),
        ] {
            let err = stop_command(&event, &settings(), realm, function).unwrap_err();
            assert!(err.to_string().contains(says), "{event}: {err}");
        }
        // Without a group, the names are not checked (upstream checks them
        // only for lifecycle events).
        assert!(stop_command(
            &json!({"EC2InstanceId": INSTANCE}),
            &settings(),
            "dev",
            "other"
        )
        .is_ok());
    }
}
