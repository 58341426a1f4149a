//! Each built `bootstrap`, end to end: unpacked from its dist zip, started the
//! way Lambda starts it (the Runtime API on a local port, the function's
//! environment), its AWS endpoint pointed at moto, and invoked once; then the
//! answer it posted and what it did in moto are checked. The arm64 bootstraps
//! run under qemu and must answer as their x86_64 twins.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use lava_lambda::dispatch::MaxDelay;
use lava_layout::{Arch, LambdaFunction};
use lava_tests::moto::{self, sdk_config, Moto, REGION};
use lava_tests::realm;
use lava_tests::runtime_api::{answer, invoke, invoke_on, response, Error};
use serde_json::{json, Value};

const REALM: &str = "e2e";
const BUCKET: &str = "e2e-landing";

/// A realm in moto, set up through the SDK as the realm and worker stacks
/// would: tables, the worker queue, the worker's auto scaling group.
struct Realm {
    moto: Moto,
    config: SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
}

impl Realm {
    /// The jobs table with job `load` (worker core), and core's queue.
    async fn new() -> Realm {
        let moto = moto::start();
        let config = sdk_config(&moto.endpoint()).await;
        let realm = Realm {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            config,
            moto,
        };
        realm::create_jobs_table(&realm.dynamodb, REALM).await;
        // As lava writes a job: s3trigger dispatches enabled jobs only.
        let mut job = realm::strings(&[
            ("job_id", "load"),
            ("worker", "core"),
            ("type", "cmd"),
            ("payload", "true"),
        ]);
        job.insert("enabled".into(), AttributeValue::Bool(true));
        realm
            .dynamodb
            .put_item()
            .table_name(format!("lava.{REALM}.jobs"))
            .set_item(Some(job))
            .send()
            .await
            .unwrap();
        realm::create_queue(&realm.sqs, REALM, "core").await;
        realm
    }

    /// `lava.<realm>.s3triggers` as the realm template defines it, with one
    /// enabled trigger running `load` for objects under `BUCKET/incoming`.
    async fn s3trigger(&self) {
        let table = format!("lava.{REALM}.s3triggers");
        realm::create_s3triggers_table(&self.dynamodb, REALM).await;
        let mut item = realm::strings(&[
            ("trigger_id", "incoming"),
            ("bucket", BUCKET),
            ("prefix", "incoming"),
            ("job_id", "load"),
        ]);
        item.insert("enabled".into(), AttributeValue::Bool(true));
        item.insert(
            "parameters".into(),
            AttributeValue::M(realm::strings(&[("key", "{{ key }}")])),
        );
        self.dynamodb
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    /// The auto scaling group `lava-<realm>-core` with one instance in
    /// service and the worker template's terminate hook; its instance ID.
    async fn worker_group(&self) -> String {
        let autoscaling = aws_sdk_autoscaling::Client::new(&self.config);
        let group = format!("lava-{REALM}-core");
        autoscaling
            .create_launch_configuration()
            .launch_configuration_name(&group)
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .unwrap();
        autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_configuration_name(&group)
            .availability_zones("us-east-1a")
            .min_size(0)
            .max_size(1)
            .desired_capacity(1)
            .send()
            .await
            .unwrap();
        autoscaling
            .put_lifecycle_hook()
            .auto_scaling_group_name(&group)
            .lifecycle_hook_name("terminate")
            .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
            .default_result("CONTINUE")
            .heartbeat_timeout(1800)
            .send()
            .await
            .unwrap();
        let groups = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&group)
            .send()
            .await
            .unwrap();
        groups.auto_scaling_groups()[0].instances()[0]
            .instance_id()
            .unwrap()
            .to_string()
    }

    /// Every message on core's queue, parsed.
    async fn core_messages(&self) -> Vec<Value> {
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(format!("lava-{REALM}-core"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        out.messages()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
            .collect()
    }

    async fn send_to_core(&self, count: usize) {
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(format!("lava-{REALM}-core"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        for n in 0..count {
            self.sqs
                .send_message()
                .queue_url(&url)
                .message_body(json!({"n": n}).to_string())
                .send()
                .await
                .unwrap();
        }
    }
}

/// The fields a lava worker reads from a dispatch message.
fn assert_dispatch_message(message: &Value, run_id: &str, parameters: Value) {
    assert_eq!(message["realm"], REALM, "{message}");
    assert_eq!(message["worker"], "core", "{message}");
    assert_eq!(message["job_id"], "load", "{message}");
    assert_eq!(message["run_id"], run_id, "{message}");
    assert_eq!(message["parameters"], parameters, "{message}");
    let ts = message["ts_dispatch"].as_str().expect("ts_dispatch");
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("ts_dispatch {ts}: {e}"));
}

#[tokio::test]
async fn dispatch_puts_the_job_on_its_worker_queue() {
    let realm = Realm::new().await;
    let event = json!({"job_id": "load", "parameters": {"day": "2025-01-31"}});
    let run = invoke(LambdaFunction::Dispatch, REALM, &realm.moto, &event, &[]).unwrap();
    let answer = response(&run);
    let run_id = answer["dispatched"][0]["run_id"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "no run id in {answer}; output:
{}",
                run.output
            )
        });
    assert_eq!(
        answer,
        json!({"dispatched": [{"job_id": "load", "run_id": run_id}], "errors": []})
    );
    let messages = realm.core_messages().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_dispatch_message(&messages[0], run_id, json!({"day": "2025-01-31"}));
    assert!(run.init <= run.cold_start);
}

/// Events upstream's functions raise on fail the invocation here too, so
/// Lambda's error metric, retries and dead-letter queue see them.
#[tokio::test]
async fn unreadable_events_fail_the_invocation_and_send_nothing() {
    let realm = Realm::new().await;
    for (function, event, says) in [
        (
            LambdaFunction::Dispatch,
            json!({"detail": "no job here"}),
            "Cannot determine event format",
        ),
        (
            LambdaFunction::Dispatch,
            json!({"Records": [{"eventSource": "aws:sqs", "body": "load"}, {"eventSource": "aws:s3"}]}),
            "Event source aws:s3 not supported",
        ),
        (
            LambdaFunction::S3trigger,
            json!({"Records": [{"eventSource": "aws:sqs", "body": "not JSON"}]}),
            "body is not JSON",
        ),
    ] {
        let run = invoke(function, REALM, &realm.moto, &event, &[]).unwrap();
        let message = answer(&run).unwrap_err();
        assert!(message.contains(says), "{function}: {message}");
    }
    assert_eq!(realm.core_messages().await, Vec::<Value>::new());
}

/// Upstream's functions fail every invocation on a `LOGLEVEL` that is not a
/// level; these fail their start.
#[tokio::test]
async fn a_bad_log_level_fails_the_start() {
    let realm = Realm::new().await;
    for function in LambdaFunction::ALL {
        let err = invoke(
            function,
            REALM,
            &realm.moto,
            &json!({}),
            &[("LOGLEVEL", "loud")],
        )
        .unwrap_err();
        match err {
            Error::Exited { output, .. } => {
                assert!(
                    output.contains("Bad log level: loud"),
                    "{function}: {output}"
                )
            }
            other => panic!("{function}: expected the process to exit: {other}"),
        }
    }
}

/// A log line as the Python runtime writes upstream's:
/// `[LEVEL]\t<UTC %Y-%m-%dT%H:%M:%S.mmmZ>\t<request id>\t<message>`, as
/// (level, request id, message); `None` for any other line.
fn log_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut parts = line.splitn(4, '\t');
    let level = parts.next()?.strip_prefix('[')?.strip_suffix(']')?;
    let at = parts.next()?;
    let (request_id, message) = (parts.next()?, parts.next()?);
    let time_format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::PrimitiveDateTime::parse(at, time_format).ok()?;
    ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
        .contains(&level)
        .then_some((level, request_id, message))
}

/// Operators' metric filters and Logs Insights queries on upstream's lines
/// match ours: every line has the Python runtime's format, with the request id
/// of the invocation being handled, and none at the start, as there.
#[tokio::test]
async fn log_lines_have_the_python_runtime_format() {
    let realm = Realm::new().await;
    let run = invoke(
        LambdaFunction::Dispatch,
        REALM,
        &realm.moto,
        &json!({"job_id": "load"}),
        // An error at the start (a bad bound, which JSON requests never use)
        // and debug lines in the invocation.
        &[("LOGLEVEL", "debug"), (MaxDelay::VAR, "soon")],
    )
    .unwrap();
    response(&run);
    let lines: Vec<(&str, &str, &str)> = run
        .output
        .lines()
        .map(|line| {
            log_line(line)
                .unwrap_or_else(|| panic!("{line:?} is not in the format; output:\n{}", run.output))
        })
        .collect();
    // The request id the function was handed, as it reports it.
    let request_id = lines
        .iter()
        .find_map(|(_, _, message)| message.strip_prefix("Event ")?.strip_suffix(": Completed"))
        .unwrap_or_else(|| panic!("no completion line in:\n{}", run.output));
    uuid::Uuid::parse_str(request_id).unwrap_or_else(|e| panic!("request id {request_id}: {e}"));
    // The level and request id of the line whose message starts with `start`.
    let line = |start: &str| {
        lines
            .iter()
            .position(|(_, _, message)| message.starts_with(start))
            .map(|n| (n, lines[n].0, lines[n].1))
            .unwrap_or_else(|| panic!("no line {start:?} in:\n{}", run.output))
    };
    let (init, level, id) = line("LAVA_SQS_MAX_DELAY_MINS=\"soon\" is not an integer");
    assert_eq!((level, id), ("ERROR", ""), "{}", run.output);
    let (received, level, id) = line("Received event: ");
    assert_eq!((level, id), ("DEBUG", request_id), "{}", run.output);
    assert!(init < received, "{}", run.output);
    for start in [
        "Dispatch request: ",
        "Dispatched load with run_id ",
        "Event ",
    ] {
        let (_, level, id) = line(start);
        assert_eq!((level, id), ("INFO", request_id), "{start}: {}", run.output);
    }
    // Lines outside the invocation (the start, the next poll) carry none.
    assert!(
        lines
            .iter()
            .all(|(_, id, _)| id.is_empty() || *id == request_id),
        "{}",
        run.output
    );
}

#[tokio::test]
async fn a_function_without_its_realm_fails_its_start() {
    let realm = Realm::new().await;
    let err = invoke(
        LambdaFunction::Dispatch,
        "",
        &realm.moto,
        &json!({"job_id": "load"}),
        &[],
    )
    .unwrap_err();
    match err {
        Error::Exited { output, .. } => assert!(output.contains("LAVA_REALM"), "{output}"),
        other => panic!("expected the process to exit: {other}"),
    }
}

#[tokio::test]
async fn s3trigger_dispatches_the_job_of_the_matching_trigger() {
    let realm = Realm::new().await;
    realm.s3trigger().await;
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2025-01-31T10:20:30.123Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "lava",
               "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
               "object": {"key": "incoming/day%3D31.csv", "size": 1024, "eTag": "0123456789abcdef"}}
    }]});
    let run = invoke(LambdaFunction::S3trigger, REALM, &realm.moto, &event, &[]).unwrap();
    let answer = response(&run);
    let run_id = answer["run_ids"][0].as_str().unwrap_or_else(|| {
        panic!(
            "no run id in {answer}; output:
{}",
            run.output
        )
    });
    assert_eq!(
        answer,
        json!({"records": 1, "duplicates": 0, "dispatched": 1, "skipped": 0, "errors": 0,
               "run_ids": [run_id]})
    );
    let messages = realm.core_messages().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_dispatch_message(&messages[0], run_id, json!({"key": "incoming/day=31.csv"}));
}

#[tokio::test]
async fn metrics_publishes_the_backlog_of_each_worker() {
    let realm = Realm::new().await;
    realm.worker_group().await;
    realm.send_to_core(3).await;
    let schedule = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
                          "account": "123456789012", "region": REGION, "detail": {}});
    let run = invoke(LambdaFunction::Metrics, REALM, &realm.moto, &schedule, &[]).unwrap();
    assert_eq!(
        response(&run),
        json!({"realm": REALM, "namespace": "Lava", "metric": "WorkerBacklog",
               "workers": {"core": {"messages": 3, "in_service": 1, "value": 3.0}}})
    );
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&realm.config);
    let listed = cloudwatch
        .list_metrics()
        .namespace("Lava")
        .send()
        .await
        .unwrap();
    let metrics: Vec<(&str, Vec<(&str, &str)>)> = listed
        .metrics()
        .iter()
        .map(|m| {
            (
                m.metric_name().unwrap(),
                m.dimensions()
                    .iter()
                    .map(|d| (d.name().unwrap(), d.value().unwrap()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        metrics,
        [("WorkerBacklog", vec![("Realm", REALM), ("Worker", "core")])]
    );
}

/// The commands moto holds, as (document, instances, parameters).
async fn ssm_commands(realm: &Realm) -> Vec<(String, Vec<String>, HashMap<String, Vec<String>>)> {
    let ssm = aws_sdk_ssm::Client::new(&realm.config);
    let listed = ssm.list_commands().send().await.unwrap();
    listed
        .commands()
        .iter()
        .map(|c| {
            (
                c.document_name().unwrap().to_string(),
                c.instance_ids().to_vec(),
                c.parameters().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// The lifecycle action detail of the worker template's terminate rule.
fn terminating(instance: &str) -> Value {
    json!({
        "Origin": "AutoScalingGroup", "Destination": "EC2",
        "LifecycleHookName": "terminate",
        "AutoScalingGroupName": format!("lava-{REALM}-core"),
        "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "EC2InstanceId": instance,
    })
}

#[tokio::test]
async fn stop_hands_a_720_minute_wait_to_lava_stop_and_answers() {
    let realm = Realm::new().await;
    let instance = realm.worker_group().await;
    // The realm template's environment at workerStopMinutes 720: the function
    // answers within its harness timeout (a minute) all the same, because the
    // wait is lava-stop's, on the instance.
    let run = invoke(
        LambdaFunction::Stop,
        REALM,
        &realm.moto,
        &terminating(&instance),
        &[
            ("WAIT_TIME", "720m"),
            ("LIFECYCLE_HEARTBEAT", "5m"),
            ("LOGLEVEL", "info"),
        ],
    )
    .unwrap();
    let answer = response(&run);
    assert_eq!(answer["document"], "AWS-RunShellScript", "{answer}");
    let commands = ssm_commands(&realm).await;
    assert_eq!(commands.len(), 1, "{commands:?}");
    let (document, instances, parameters) = &commands[0];
    assert_eq!(
        (document.as_str(), instances),
        ("AWS-RunShellScript", &vec![instance.clone()])
    );
    let command = &parameters["commands"][0];
    for part in [
        format!("--instance-id {instance} "),
        "--wait 720m ".to_string(),
        format!("--auto-scaling-group-name lava-{REALM}-core --lifecycle-heartbeat 5m "),
        "--lifecycle-action-token 87654321-4321-4321-4321-210987654321 ".to_string(),
        "--lifecycle-hook-name terminate ".to_string(),
    ] {
        assert!(command.contains(&part), "{part:?} not in {command}");
    }
    assert!(
        command.starts_with("nohup lava-stop ") && command.ends_with(" &"),
        "{command}"
    );
}

#[tokio::test]
async fn stop_fails_the_invocation_for_another_realms_group() {
    let realm = Realm::new().await;
    let instance = realm.worker_group().await;
    let mut detail = terminating(&instance);
    detail["AutoScalingGroupName"] = json!("lava-other-core");
    let run = invoke(LambdaFunction::Stop, REALM, &realm.moto, &detail, &[]).unwrap();
    let message = answer(&run).unwrap_err();
    assert!(message.contains("realm name mismatch"), "{message}");
    assert_eq!(ssm_commands(&realm).await, []);
}

/// What `function`'s bootstrap for `arch` answers to its usual event in a
/// fresh realm, and the messages it left on core's queue, with the values
/// that differ from run to run (run, instance and command IDs, times)
/// replaced by placeholders.
async fn answer_on(arch: Arch, function: LambdaFunction) -> (Value, Vec<Value>) {
    let realm = Realm::new().await;
    let mut instance = None;
    let event = match function {
        LambdaFunction::Dispatch => json!({"job_id": "load", "parameters": {"day": "2025-01-31"}}),
        LambdaFunction::S3trigger => {
            realm.s3trigger().await;
            json!({"Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                "eventTime": "2025-01-31T10:20:30.123Z", "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "lava",
                       "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
                       "object": {"key": "incoming/day%3D31.csv", "size": 1024, "eTag": "0123456789abcdef"}}
            }]})
        }
        LambdaFunction::Metrics => {
            realm.worker_group().await;
            realm.send_to_core(2).await;
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
        }
        LambdaFunction::Stop => {
            let id = realm.worker_group().await;
            instance = Some(id.clone());
            json!({"EC2InstanceId": id})
        }
    };
    let run = invoke_on(arch, function, REALM, &realm.moto, &event, &[])
        .unwrap_or_else(|e| panic!("{function} on {arch}: {e}"));
    let mut text = response(&run).to_string();
    let mut messages = realm.core_messages().await;
    for message in &mut messages {
        message["ts_dispatch"] = json!("<time>");
        let run_id = message["run_id"].as_str().unwrap_or_default().to_string();
        if !run_id.is_empty() {
            text = text.replace(&run_id, "<run id>");
            message["run_id"] = json!("<run id>");
        }
    }
    if let Some(id) = instance {
        text = text.replace(&id, "<instance>");
    }
    let mut answer: Value = serde_json::from_str(&text).unwrap();
    if answer.get("command_id").is_some() {
        answer["command_id"] = json!("<command id>");
    }
    (answer, messages)
}

#[tokio::test]
async fn every_arm64_bootstrap_answers_as_its_x86_64_twin() {
    for function in LambdaFunction::ALL {
        let x86_64 = answer_on(Arch::X86_64, function).await;
        let arm64 = answer_on(Arch::Aarch64, function).await;
        assert_eq!(arm64, x86_64, "{function}: arm64 and x86_64 differ");
        // The twins did their work: not two identical failures.
        let (answer, messages) = &x86_64;
        match function {
            LambdaFunction::Dispatch | LambdaFunction::S3trigger => {
                assert_eq!(messages.len(), 1, "{function}: {answer} {messages:?}")
            }
            LambdaFunction::Metrics => {
                assert_eq!(answer["workers"]["core"]["messages"], 2, "{answer}")
            }
            LambdaFunction::Stop => {
                assert_eq!(answer["document"], "AWS-RunShellScript", "{answer}")
            }
        }
    }
}
