//! The stop function's handler against a local moto: a real auto scaling group
//! with a terminate lifecycle hook, the SSM command read back from moto, and
//! the lifecycle calls as the SDK put them on the wire.
//!
//! What moto 5.2.5 can and cannot show:
//! - SendCommand / ListCommands / GetCommandInvocation work, but every command
//!   is `Success` at once, so the heartbeat loop never runs against moto (its
//!   timing is unit-tested in lambda/stop/src/lib.rs).
//! - moto ignores CloudWatchOutputConfig (ListCommands does not return it).
//! - CompleteLifecycleAction and RecordLifecycleActionHeartbeat are not
//!   implemented: moto answers HTTP 500 (its NotImplementedError for the
//!   action). An interceptor on the auto scaling client records each request
//!   body as sent to moto, so the call and its parameters are asserted; its
//!   effect cannot be.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_autoscaling::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_autoscaling::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_autoscaling::error::BoxError;
use lava_stop::{StopSettings, Stopper, DETAIL_TYPE, STOP_DOCUMENT};
use lava_tests::moto::{sdk_config, Moto};
use serde_json::{json, Value};

/// Auto Scaling Query API requests (form bodies) as the client sent them.
#[derive(Debug, Clone, Default)]
struct Sent(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

impl Intercept for Sent {
    fn name(&self) -> &'static str {
        "record-sent-requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        let form = String::from_utf8_lossy(body)
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect();
        self.0.lock().unwrap().push(form);
        Ok(())
    }
}

impl Sent {
    fn actions(&self) -> Vec<BTreeMap<String, String>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|f| {
                f.get("Action")
                    .is_some_and(|a| a.contains("LifecycleAction"))
            })
            .cloned()
            .collect()
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

struct Aws {
    ssm: aws_sdk_ssm::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    sent: Sent,
}

impl Aws {
    async fn new(moto: &Moto) -> Aws {
        let config = sdk_config(&moto.endpoint()).await;
        let sent = Sent::default();
        // No retries: moto's "not implemented" would otherwise be sent three times.
        let autoscaling = aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(&config)
                .interceptor(sent.clone())
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .build(),
        );
        Aws {
            ssm: aws_sdk_ssm::Client::new(&config),
            autoscaling,
            sent,
        }
    }

    fn stopper(&self) -> Stopper {
        // The realm template's values: WAIT_TIME 5m, LIFECYCLE_HEARTBEAT 5m.
        let settings = StopSettings::new(Some("5m"), Some("5m"), None)
            .unwrap()
            .with_poll_interval(Duration::from_millis(10));
        Stopper::from_clients(self.ssm.clone(), self.autoscaling.clone(), settings)
    }

    /// A worker group of one instance with the worker template's terminate
    /// hook; returns the instance ID.
    async fn worker_group(&self, name: &str) -> String {
        let lc = format!("{name}-lc");
        self.autoscaling
            .create_launch_configuration()
            .launch_configuration_name(&lc)
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .unwrap();
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(&lc)
            .availability_zones("us-east-1a")
            .min_size(0)
            .max_size(1)
            .desired_capacity(1)
            .send()
            .await
            .unwrap();
        self.autoscaling
            .put_lifecycle_hook()
            .auto_scaling_group_name(name)
            .lifecycle_hook_name("terminate")
            .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
            .default_result("CONTINUE")
            .heartbeat_timeout(1800)
            .send()
            .await
            .unwrap();
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .unwrap();
        out.auto_scaling_groups()[0].instances()[0]
            .instance_id()
            .unwrap()
            .to_string()
    }

    /// The commands moto holds, as (document, instances, comment, timeout,
    /// parameters).
    async fn commands(
        &self,
    ) -> Vec<(
        String,
        Vec<String>,
        String,
        i32,
        BTreeMap<String, Vec<String>>,
    )> {
        let out = self.ssm.list_commands().send().await.unwrap();
        out.commands()
            .iter()
            .map(|c| {
                (
                    c.document_name().unwrap().to_string(),
                    c.instance_ids().to_vec(),
                    c.comment().unwrap_or_default().to_string(),
                    c.timeout_seconds().unwrap_or_default(),
                    c.parameters()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            })
            .collect()
    }
}

/// The lifecycle action detail auto scaling puts on EventBridge (the worker
/// template's rule delivers just this, `InputPath: $.detail`).
fn detail(group: &str, instance: &str) -> Value {
    json!({
        "Origin": "AutoScalingGroup",
        "LifecycleHookName": "terminate",
        "Destination": "EC2",
        "AutoScalingGroupName": group,
        "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "EC2InstanceId": instance,
        "NotificationMetadata": "{\"realm\": \"test\", \"worker\": \"core\"}"
    })
}

fn envelope(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "12345678-1234-1234-1234-123456789012",
        "detail-type": DETAIL_TYPE,
        "source": "aws.autoscaling",
        "account": "123456789012",
        "time": "2025-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/lava-test-core"],
        "detail": detail
    })
}

fn expected_parameters() -> BTreeMap<String, Vec<String>> {
    [
        ("ExecutionTimeout", "420"), // 5m wait + 2m to kill and report
        ("LogLevel", "info"),
        ("Signal", "SIGHUP"),
        ("StopDispatch", "yes"),
        ("Wait", "5m"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
    .collect()
}

/// moto does not check commands against their document, so the test does:
/// every parameter sent must be declared by the common stack's
/// lava-StopWorkerDaemons and satisfy its allowed values or pattern.
#[test]
fn parameters_fit_the_common_stacks_document() {
    let path = lava_tests::workspace_root().join("cfn/lava-common.cfn.yaml");
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let document = resources
        .values()
        .find(|r| r["Properties"]["Name"].as_str() == Some(STOP_DOCUMENT))
        .expect("the common stack defines the stop document");
    assert_eq!(
        document["Properties"]["DocumentType"].as_str(),
        Some("Command")
    );
    let declared = &document["Properties"]["Content"]["parameters"];
    for (name, values) in expected_parameters() {
        let spec = &declared[name.as_str()];
        assert!(
            spec.is_mapping(),
            "{STOP_DOCUMENT} declares no parameter {name}"
        );
        let value = &values[0];
        if let Some(allowed) = spec["allowedValues"].as_sequence() {
            assert!(
                allowed.iter().any(|a| a.as_str() == Some(value)),
                "{name}={value} not in {allowed:?}"
            );
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match spec["allowedPattern"].as_str() {
            None => {}
            Some("^[0-9]+$") => assert!(digits(value), "{name}={value}"),
            Some("^[0-9]+[hms]?$") => {
                let n = value.trim_end_matches(['h', 'm', 's']);
                assert!(digits(n) && value.len() - n.len() <= 1, "{name}={value}");
            }
            Some(other) => {
                panic!("{name}: pattern {other} is new to this test: check {value} by hand")
            }
        }
    }
}

#[tokio::test]
async fn lifecycle_detail_runs_the_stop_document_then_completes_the_action() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let instance = aws.worker_group("lava-test-core").await;

    let result = aws
        .stopper()
        .handle("test", &detail("lava-test-core", &instance), None)
        .await;

    assert_eq!(
        aws.commands().await,
        vec![(
            STOP_DOCUMENT.to_string(),
            vec![instance.clone()],
            "lava-stop".to_string(),
            60,
            expected_parameters()
        )]
    );
    let completion: BTreeMap<String, String> = [
        ("Action", "CompleteLifecycleAction"),
        ("Version", "2011-01-01"),
        ("AutoScalingGroupName", "lava-test-core"),
        ("LifecycleHookName", "terminate"),
        (
            "LifecycleActionToken",
            "87654321-4321-4321-4321-210987654321",
        ),
        ("InstanceId", instance.as_str()),
        ("LifecycleActionResult", "CONTINUE"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // moto's commands succeed at the first poll: no heartbeat, one completion.
    assert_eq!(aws.sent.actions(), vec![completion]);
    match result {
        // moto 5.2.5 fails the call (see the top of this file); a moto that
        // implements it lets the handler report the completion.
        Ok(out) => assert_eq!(out["lifecycle_action"], "completed", "{out}"),
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.starts_with("Auto Scaling CompleteLifecycleAction failed: ")
                    && e.contains("500 Internal Server Error"),
                "{e}"
            );
        }
    }
}

#[tokio::test]
async fn whole_eventbridge_event_and_direct_invocation() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let instance = aws.worker_group("lava-test-core").await;
    let _ = aws
        .stopper()
        .handle("test", &envelope(detail("lava-test-core", &instance)), None)
        .await;
    assert_eq!(aws.commands().await.len(), 1);
    assert_eq!(aws.sent.actions().len(), 1);
    assert_eq!(aws.sent.actions()[0]["Action"], "CompleteLifecycleAction");

    // Just an instance (upstream accepts it): stop the daemons, no lifecycle calls.
    let out = aws
        .stopper()
        .handle("test", &json!({"EC2InstanceId": instance}), None)
        .await
        .expect("direct invocation");
    let command_id = out["command_id"].as_str().unwrap().to_string();
    assert_eq!(
        out,
        json!({
            "instance_id": instance,
            "command_id": command_id,
            "document": "lava-StopWorkerDaemons",
            "command_status": "Success",
            "wait": "finished",
            "heartbeats": 0,
            "lifecycle_action": "none",
        })
    );
    let commands = aws.commands().await;
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[1].0, STOP_DOCUMENT);
    assert_eq!(commands[1].4, expected_parameters());
    assert_eq!(aws.sent.actions().len(), 1, "no further lifecycle call");
}

#[tokio::test]
async fn bad_events_are_refused_before_anything_is_sent() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let instance = aws.worker_group("lava-test-core").await;
    let s3_event = json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]});
    let mut launching = detail("lava-test-core", &instance);
    launching["LifecycleTransition"] = json!("autoscaling:EC2_INSTANCE_LAUNCHING");
    let state_change = json!({
        "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change Notification",
        "detail": {"instance-id": instance, "state": "shutting-down"}
    });
    for (event, error) in [
        (s3_event, "unsupported event: no EC2InstanceId"),
        (
            launching,
            "unsupported event: lifecycle transition autoscaling:EC2_INSTANCE_LAUNCHING",
        ),
        (
            state_change,
            "unsupported event: EventBridge event from Some(\"aws.ec2\")",
        ),
        (json!("i-0123"), "unsupported event: expected a JSON object"),
        (
            detail("lava-prod-core", &instance),
            "lava configuration error: realm name mismatch: auto scaling group \"lava-prod-core\"",
        ),
    ] {
        let err = aws
            .stopper()
            .handle("test", &event, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(error), "{err}");
    }
    assert_eq!(aws.commands().await, vec![]);
    assert_eq!(aws.sent.actions(), vec![]);
}

#[tokio::test]
async fn invocation_deadline_leaves_the_action_to_the_hook_timeout() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let instance = aws.worker_group("lava-test-core").await;
    // No time left at all: the command is sent, then the function stops
    // watching without completing the action.
    let out = aws
        .stopper()
        .handle(
            "test",
            &detail("lava-test-core", &instance),
            Some(Duration::ZERO),
        )
        .await
        .expect("out of time is not an error");
    let command_id = out["command_id"].as_str().unwrap().to_string();
    assert_eq!(
        out,
        json!({
            "instance_id": instance,
            "command_id": command_id,
            "document": "lava-StopWorkerDaemons",
            "command_status": "Pending",
            "wait": "out-of-time",
            "heartbeats": 1,
            "lifecycle_action": "left-to-hook-timeout",
        })
    );
    assert_eq!(aws.commands().await.len(), 1);
    // One last heartbeat restarts the hook's timeout (moto fails it: not
    // implemented; the function logs that and carries on). No completion.
    let heartbeat: BTreeMap<String, String> = [
        ("Action", "RecordLifecycleActionHeartbeat"),
        ("Version", "2011-01-01"),
        ("AutoScalingGroupName", "lava-test-core"),
        ("LifecycleHookName", "terminate"),
        (
            "LifecycleActionToken",
            "87654321-4321-4321-4321-210987654321",
        ),
        ("InstanceId", instance.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(aws.sent.actions(), vec![heartbeat]);
}
