//! The stop function against a local moto, its handler and its shipped
//! bootstrap: a real auto scaling group
//! with a terminate lifecycle hook, and the SSM command read back from moto
//! and as the SDK put it on the wire (moto does not return
//! CloudWatchOutputConfig from ListCommands).
//!
//! The function only starts `lava-stop` on the instance, as upstream's does:
//! the wait (`workerStopMinutes`, up to 720), the lifecycle heartbeats and the
//! completion are lava-stop's, on the instance. So the command must carry the
//! lifecycle action's details and the handler must make no other request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_ssm::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ssm::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ssm::error::BoxError;
use lava_layout::LambdaFunction;
use lava_stop::{StopSettings, Stopper, DOCUMENT};
use lava_tests::moto::{self, sdk_config, Moto};
use lava_tests::runtime_api::{answer, invoke};
use serde_json::{json, Value};

/// SSM requests (JSON bodies with their X-Amz-Target) as the client sent them.
#[derive(Debug, Clone, Default)]
struct Sent(Arc<Mutex<Vec<(String, Value)>>>);

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
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = serde_json::from_slice(request.body().bytes().unwrap_or_default())
            .unwrap_or(Value::Null);
        self.0.lock().unwrap().push((target.to_string(), body));
        Ok(())
    }
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
        let ssm = aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&config)
                .interceptor(sent.clone())
                .build(),
        );
        Aws {
            ssm,
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            sent,
        }
    }

    /// The realm template's largest stop: workerStopMinutes 720, heartbeat
    /// every 5 minutes.
    fn stopper(&self) -> Stopper {
        let settings = StopSettings {
            wait: "720m".into(),
            heartbeat: "5m".into(),
            ..StopSettings::default()
        };
        Stopper::from_client(self.ssm.clone(), settings)
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

#[tokio::test]
async fn a_720_minute_stop_is_handed_to_lava_stop_on_the_instance() {
    let moto = moto::start();
    let aws = Aws::new(&moto).await;
    let instance = aws.worker_group("lava-test-core").await;

    let command_id = aws
        .stopper()
        .handle(
            "test",
            "lava-test-stop",
            &detail("lava-test-core", &instance),
        )
        .await
        .unwrap();

    // What upstream's stop.py sends for this event, read from its code.
    let command = format!(
        "nohup lava-stop --no-dispatch --signal SIGHUP --instance-id {instance} \
         --log @local0 --level info --wait 720m \
         --auto-scaling-group-name lava-test-core --lifecycle-heartbeat 5m \
         --lifecycle-action-token 87654321-4321-4321-4321-210987654321 \
         --lifecycle-hook-name terminate > /tmp/lava/__stop__ 2>&1 &"
    );
    assert_eq!(
        aws.commands().await,
        vec![(
            DOCUMENT.to_string(),
            vec![instance.clone()],
            "lava-stop".to_string(),
            60,
            BTreeMap::from([("commands".to_string(), vec![command])]),
        )]
    );
    // One request, SendCommand, with its output to CloudWatch; the function
    // neither polls the command nor touches the lifecycle action.
    let sent = aws.sent.0.lock().unwrap().clone();
    let targets: Vec<&str> = sent.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(targets, ["AmazonSSM.SendCommand", "AmazonSSM.ListCommands"]);
    assert_eq!(
        sent[0].1["CloudWatchOutputConfig"],
        json!({"CloudWatchOutputEnabled": true})
    );
    let listed = aws.ssm.list_commands().send().await.unwrap();
    assert_eq!(listed.commands()[0].command_id(), Some(command_id.as_str()));
}

#[tokio::test]
async fn what_upstream_refuses_fails_the_invocation_and_sends_nothing() {
    let moto = moto::start();
    let aws = Aws::new(&moto).await;
    let instance = aws.worker_group("lava-test-core").await;
    for (event, function, error) in [
        (
            json!({"Records": [{"eventSource": "aws:s3"}]}),
            "lava-test-stop",
            "Missing keys: EC2InstanceId",
        ),
        (
            detail("lava-prod-core", &instance),
            "lava-test-stop",
            "Lava configuration error: realm name mismatch",
        ),
        (
            detail("lava-test-core", &instance),
            "lava-prod-stop",
            "Lava configuration error: realm name mismatch",
        ),
    ] {
        let err = aws
            .stopper()
            .handle("test", function, &event)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(error), "{event}: {err}");
    }
    assert_eq!(aws.commands().await, vec![]);
}

#[tokio::test]
async fn a_failed_send_fails_the_invocation() {
    // SSM unreachable: a loopback port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&config)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let err = Stopper::from_client(ssm, StopSettings::default())
        .handle(
            "test",
            "lava-test-stop",
            &json!({"EC2InstanceId": "i-1234567890abcdef0"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("SSM SendCommand failed: "), "{err}");
}

/// `--option value` pairs of a lava-stop command line (quotes removed).
fn options(command: &str) -> BTreeMap<String, String> {
    let words: Vec<&str> = command
        .split_whitespace()
        .skip_while(|w| *w != "lava-stop")
        .skip(1)
        .take_while(|w| *w != ">")
        .map(|w| w.trim_matches('\''))
        .collect();
    let mut pairs = BTreeMap::new();
    for (i, word) in words.iter().enumerate() {
        if let Some(option) = word.strip_prefix("--") {
            let value = words.get(i + 1).filter(|v| !v.starts_with("--"));
            pairs.insert(option.to_string(), value.unwrap_or(&"").to_string());
        }
    }
    pairs
}

/// The SSM document shipped for running lava-stop by hand
/// (misc/ssm/lava-stop-command.yaml, as upstream ships one) runs what the
/// function starts on the instance, given the same lifecycle action.
#[test]
fn the_shipped_stop_document_runs_what_the_function_runs() {
    let instance = "i-1234567890abcdef0";
    let event = detail("lava-test-core", instance);
    let settings = StopSettings {
        wait: "720m".into(),
        ..StopSettings::default()
    };
    let function = lava_stop::stop_command(&event, &settings, "test", "lava-test-stop").unwrap();

    let path = lava_tests::workspace_root().join("misc/ssm/lava-stop-command.yaml");
    let document: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut values: BTreeMap<String, String> = document["parameters"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let default = v["default"].as_str().unwrap_or_default();
            (k.as_str().unwrap().to_string(), default.to_string())
        })
        .collect();
    for (name, value) in [
        ("Wait", "720m"),
        ("InstanceId", instance),
        ("AsgName", "lava-test-core"),
        ("LifecycleToken", "87654321-4321-4321-4321-210987654321"),
        ("LifecycleHook", "terminate"),
    ] {
        assert!(values.contains_key(name), "the document has no {name}");
        values.insert(name.to_string(), value.to_string());
    }
    let step = &document["mainSteps"][0];
    assert_eq!(step["action"].as_str(), Some("aws:runShellScript"));
    // Upstream's step name: `get-command-invocation --plugin-name` reads
    // the output by it.
    assert_eq!(step["name"].as_str(), Some("create_tmp_file"));
    let mut command = step["inputs"]["runCommand"][0]
        .as_str()
        .unwrap()
        .to_string();
    for (name, value) in &values {
        command = command.replace(&format!("{{{{{name}}}}}"), value);
    }
    assert!(!command.contains("{{"), "unfilled parameter: {command}");

    let mut expected = options(&function.command);
    // The heartbeat interval is the function's to give; lava-stop has a default.
    expected.remove("lifecycle-heartbeat");
    assert_eq!(options(&command), expected);
}

/// What an invocation of the shipped function `lava-test-stop` does, with
/// the expected values read from upstream's `lambda/stop/stop.py`.
struct Row {
    what: &'static str,
    /// The event, `{instance}` standing for the worker's instance ID.
    event: Value,
    /// Variables the function gets besides its realm's and moto's.
    env: &'static [(&'static str, &'static str)],
    /// The command sent to the instance (`{instance}` as above), or
    /// `Err(part of the message)` when the invocation fails and sends nothing.
    outcome: Result<&'static str, &'static str>,
}

/// `value` with `{instance}` replaced, in every string it holds.
fn with_instance(value: &Value, instance: &str) -> Value {
    serde_json::from_str(&value.to_string().replace("{instance}", instance)).unwrap()
}

/// Each row is one invocation of the dist zip's `bootstrap` through the
/// local Runtime API, against a fresh moto holding one worker group.
#[tokio::test]
async fn outcomes_as_upstream_through_the_runtime_api() {
    let lifecycle = detail("lava-test-core", "{instance}");
    let rows = [
        Row {
            what: "a terminating worker, the realm template's variables (stop.py:108-163)",
            event: lifecycle.clone(),
            env: &[("WAIT_TIME", "720m"), ("LIFECYCLE_HEARTBEAT", "5m"), ("LAVA_LOGLEVEL", "debug")],
            outcome: Ok("nohup lava-stop --no-dispatch --signal SIGHUP --instance-id {instance} \
                --log @local0 --level debug --wait 720m \
                --auto-scaling-group-name lava-test-core --lifecycle-heartbeat 5m \
                --lifecycle-action-token 87654321-4321-4321-4321-210987654321 \
                --lifecycle-hook-name terminate > /tmp/lava/__stop__ 2>&1 &"),
        },
        Row {
            what: "the defaults: WAIT_TIME 2m, LIFECYCLE_HEARTBEAT 1m, lava's LOGLEVEL info (stop.py:48-50)",
            event: lifecycle.clone(),
            env: &[],
            outcome: Ok("nohup lava-stop --no-dispatch --signal SIGHUP --instance-id {instance} \
                --log @local0 --level info --wait 2m \
                --auto-scaling-group-name lava-test-core --lifecycle-heartbeat 1m \
                --lifecycle-action-token 87654321-4321-4321-4321-210987654321 \
                --lifecycle-hook-name terminate > /tmp/lava/__stop__ 2>&1 &"),
        },
        Row {
            what: "an instance outside a group: no group, heartbeat, token or hook (stop.py:130-146)",
            event: json!({"EC2InstanceId": "{instance}"}),
            env: &[],
            outcome: Ok("nohup lava-stop --no-dispatch --signal SIGHUP --instance-id {instance} \
                --log @local0 --level info --wait 2m > /tmp/lava/__stop__ 2>&1 &"),
        },
        Row {
            what: "values are quoted for the shell as shlex.quote does (stop.py:112-146)",
            event: {
                let mut event = lifecycle.clone();
                event["LifecycleHookName"] = json!("drain it's");
                event
            },
            env: &[("WAIT_TIME", "1h 30m")],
            outcome: Ok("nohup lava-stop --no-dispatch --signal SIGHUP --instance-id {instance} \
                --log @local0 --level info --wait '1h 30m' \
                --auto-scaling-group-name lava-test-core --lifecycle-heartbeat 1m \
                --lifecycle-action-token 87654321-4321-4321-4321-210987654321 \
                --lifecycle-hook-name 'drain it'\"'\"'s' > /tmp/lava/__stop__ 2>&1 &"),
        },
        Row {
            what: "an event without EC2InstanceId: dict_check raises (stop.py:108)",
            event: json!({"AutoScalingGroupName": "lava-test-core"}),
            env: &[],
            outcome: Err("Missing keys: EC2InstanceId"),
        },
        Row {
            what: "another realm's group raises (stop.py:130-137)",
            event: detail("lava-prod-core", "{instance}"),
            env: &[],
            outcome: Err("Lava configuration error: realm name mismatch"),
        },
        Row {
            what: "LAVA_REALM that is not the function's realm raises (stop.py:130-137)",
            event: lifecycle.clone(),
            env: &[("LAVA_REALM", "prod")],
            outcome: Err("Lava configuration error: realm name mismatch"),
        },
        Row {
            what: "SSM unreachable: SendCommand's error raised (stop.py:152-163)",
            event: lifecycle.clone(),
            env: &[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")],
            outcome: Err("SSM SendCommand failed"),
        },
    ];
    for row in rows {
        let moto = moto::start();
        let aws = Aws::new(&moto).await;
        let instance = aws.worker_group("lava-test-core").await;
        let event = with_instance(&row.event, &instance);
        let run = invoke(LambdaFunction::Stop, "test", &moto, &event, row.env)
            .unwrap_or_else(|e| panic!("{}: {e}", row.what));
        let sent: Vec<String> = aws
            .commands()
            .await
            .into_iter()
            .map(|(_, _, _, _, parameters)| parameters["commands"].join("\n"))
            .collect();
        match (answer(&run), &row.outcome) {
            (Ok(got), Ok(command)) => {
                assert_eq!(got["document"], DOCUMENT, "{}", row.what);
                assert_eq!(
                    sent,
                    [command.replace("{instance}", &instance)],
                    "{}",
                    row.what
                );
            }
            (Err(message), Err(part)) => {
                assert!(message.contains(part), "{}: {message}", row.what);
                assert_eq!(sent, Vec::<String>::new(), "{}", row.what);
            }
            (got, _) => panic!("{}: got {got:?}\n{}", row.what, run.output),
        }
    }
}
