//! The metrics function against a local moto, its handler and its shipped
//! bootstrap: real SQS queues with messages, real auto scaling groups with
//! instances, and the CloudWatch data read back from moto.

use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{StandardUnit, Statistic};
use lava_layout::LambdaFunction;
use lava_metrics::{Metrics, DEFAULT_NAMESPACE, METRIC_NAME};
use lava_tests::moto::{self, sdk_config, Moto};
use lava_tests::runtime_api::{answer, invoke};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

struct Aws {
    sqs: aws_sdk_sqs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Aws {
    async fn new(moto: &Moto) -> Aws {
        let config = sdk_config(&moto.endpoint()).await;
        Aws {
            sqs: aws_sdk_sqs::Client::new(&config),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
        }
    }

    fn metrics(&self) -> Metrics {
        Metrics::from_clients(
            self.sqs.clone(),
            self.autoscaling.clone(),
            self.cloudwatch.clone(),
        )
    }

    /// A queue holding `visible` messages plus `in_flight` received ones.
    async fn queue(&self, name: &str, visible: usize, in_flight: usize) {
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        for i in 0..visible + in_flight {
            self.sqs
                .send_message()
                .queue_url(&url)
                .message_body(format!("{{\"n\": {i}}}"))
                .send()
                .await
                .unwrap();
        }
        if in_flight > 0 {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(in_flight as i32)
                .visibility_timeout(600)
                .send()
                .await
                .unwrap();
            assert_eq!(got.messages().len(), in_flight);
        }
    }

    /// An auto scaling group of `in_service` running instances plus `standby`
    /// ones moved to Standby.
    async fn group(&self, name: &str, in_service: usize, standby: usize) {
        let lc = format!("{name}-lc");
        self.autoscaling
            .create_launch_configuration()
            .launch_configuration_name(&lc)
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .unwrap();
        let size = (in_service + standby) as i32;
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(&lc)
            .availability_zones("us-east-1a")
            .min_size(0)
            .max_size(size.max(1))
            .desired_capacity(size)
            .send()
            .await
            .unwrap();
        if standby > 0 {
            let ids = self.instances(name).await;
            self.autoscaling
                .enter_standby()
                .auto_scaling_group_name(name)
                .set_instance_ids(Some(ids[..standby].to_vec()))
                .should_decrement_desired_capacity(true)
                .send()
                .await
                .unwrap();
        }
        let states = self.states(name).await;
        assert_eq!(
            states
                .iter()
                .filter(|s| **s == LifecycleState::InService)
                .count(),
            in_service,
            "{name}: {states:?}"
        );
    }

    async fn instances(&self, name: &str) -> Vec<String> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .unwrap();
        out.auto_scaling_groups()[0]
            .instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect()
    }

    async fn states(&self, name: &str) -> Vec<LifecycleState> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .unwrap();
        out.auto_scaling_groups()[0]
            .instances()
            .iter()
            .map(|i| i.lifecycle_state().unwrap().clone())
            .collect()
    }

    /// Every metric in `namespace`, as (name, [(dimension, value)]) in the
    /// order moto stored the dimensions.
    async fn metrics_in(&self, namespace: &str) -> Vec<(String, Vec<(String, String)>)> {
        let out = self
            .cloudwatch
            .list_metrics()
            .namespace(namespace)
            .send()
            .await
            .unwrap();
        let mut metrics: Vec<_> = out
            .metrics()
            .iter()
            .map(|m| {
                (
                    m.metric_name().unwrap().to_string(),
                    m.dimensions()
                        .iter()
                        .map(|d| {
                            (
                                d.name().unwrap().to_string(),
                                d.value().unwrap().to_string(),
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        // moto lists a metric once per datum; CloudWatch lists it once.
        metrics.sort();
        metrics.dedup();
        metrics
    }

    /// The data of one worker's WorkerBacklog in `namespace` with unit None:
    /// (sample count, maximum, unit) of the last few minutes.
    async fn datum(&self, namespace: &str, realm: &str, worker: &str) -> (f64, f64, StandardUnit) {
        let now = SystemTime::now();
        let out = self
            .cloudwatch
            .get_metric_statistics()
            .namespace(namespace)
            .metric_name(METRIC_NAME)
            .dimensions(dim("Realm", realm))
            .dimensions(dim("Worker", worker))
            .start_time(DateTime::from(now - Duration::from_secs(600)))
            .end_time(DateTime::from(now + Duration::from_secs(600)))
            .period(3600)
            .statistics(Statistic::SampleCount)
            .statistics(Statistic::Maximum)
            .unit(StandardUnit::None)
            .send()
            .await
            .unwrap();
        let points = out.datapoints();
        assert_eq!(points.len(), 1, "{worker}: {points:?}");
        let p = &points[0];
        (
            p.sample_count().unwrap(),
            p.maximum().unwrap(),
            p.unit().unwrap().clone(),
        )
    }
}

fn dim(name: &str, value: &str) -> aws_sdk_cloudwatch::types::Dimension {
    aws_sdk_cloudwatch::types::Dimension::builder()
        .name(name)
        .value(value)
        .build()
}

fn dims(realm: &str, worker: &str) -> Vec<(String, String)> {
    vec![
        ("Realm".to_string(), realm.to_string()),
        ("Worker".to_string(), worker.to_string()),
    ]
}

/// The schedule event EventBridge sends every minute: the function ignores it.
fn schedule_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2025-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/lava-test---metrics-schedule"],
        "detail": {}
    })
}

#[tokio::test]
async fn backlog_per_in_service_instance_on_cloudwatch() {
    let moto = moto::start();
    let aws = Aws::new(&moto).await;
    // core: 5 visible (+1 in flight, not backlog) over 2 in service -> 2.5
    aws.queue("lava-test-core", 5, 1).await;
    aws.group("lava-test-core", 2, 0).await;
    // batch: 1 over 4 in service (+1 standby) -> Python's round(0.25, 1) = 0.2
    aws.queue("lava-test-batch", 1, 0).await;
    aws.group("lava-test-batch", 4, 1).await;
    // idle: an empty queue still reports 0 so that the fleet scales in
    aws.queue("lava-test-idle", 0, 0).await;
    aws.group("lava-test-idle", 1, 0).await;
    // docker: a worker without an auto scaling group gets no datum
    aws.queue("lava-test-docker", 3, 0).await;
    // parked: a group with nothing in service gets no datum (no division by 0)
    aws.queue("lava-test-parked", 4, 0).await;
    aws.group("lava-test-parked", 0, 0).await;
    // another realm's worker is not ours
    aws.queue("lava-other-core", 7, 0).await;
    aws.group("lava-other-core", 1, 0).await;

    let result = aws
        .metrics()
        .handle("test", &schedule_event())
        .await
        .expect("handler");
    assert_eq!(
        result,
        json!({
            "realm": "test",
            "namespace": "Lava",
            "metric": "WorkerBacklog",
            "workers": {
                "batch": {"messages": 1, "in_service": 4, "value": 0.2},
                "core": {"messages": 5, "in_service": 2, "value": 2.5},
                "idle": {"messages": 0, "in_service": 1, "value": 0.0},
            }
        })
    );

    assert_eq!(
        aws.metrics_in(DEFAULT_NAMESPACE).await,
        vec![
            (METRIC_NAME.to_string(), dims("test", "batch")),
            (METRIC_NAME.to_string(), dims("test", "core")),
            (METRIC_NAME.to_string(), dims("test", "idle")),
        ]
    );
    for (worker, value) in [("core", 2.5), ("batch", 0.2), ("idle", 0.0)] {
        assert_eq!(
            aws.datum(DEFAULT_NAMESPACE, "test", worker).await,
            (1.0, value, StandardUnit::None),
            "{worker}"
        );
    }
}

#[tokio::test]
async fn namespace_override_and_repeated_runs() {
    let moto = moto::start();
    let aws = Aws::new(&moto).await;
    aws.queue("lava-test-core", 3, 0).await;
    aws.group("lava-test-core", 3, 0).await;
    let metrics = aws.metrics().with_namespace("LavaStaging");
    metrics
        .handle("test", &Value::Null)
        .await
        .expect("first run");
    metrics
        .handle("test", &Value::Null)
        .await
        .expect("second run");

    assert_eq!(aws.metrics_in(DEFAULT_NAMESPACE).await, vec![]);
    assert_eq!(
        aws.metrics_in("LavaStaging").await,
        vec![(METRIC_NAME.to_string(), dims("test", "core"))]
    );
    // One datum per run.
    assert_eq!(
        aws.datum("LavaStaging", "test", "core").await,
        (2.0, 1.0, StandardUnit::None)
    );
}

#[tokio::test]
async fn realm_without_workers_publishes_nothing() {
    let moto = moto::start();
    let aws = Aws::new(&moto).await;
    // A group whose realm has no queue: the empty name list must not turn into
    // "describe every group".
    aws.group("lava-test-core", 1, 0).await;
    let result = aws
        .metrics()
        .handle("test", &schedule_event())
        .await
        .unwrap();
    assert_eq!(result["workers"], json!({}));
    assert_eq!(aws.metrics_in(DEFAULT_NAMESPACE).await, vec![]);
}

#[tokio::test]
async fn aws_failure_is_a_clear_error() {
    // Nothing listens on a port moto has just released.
    let endpoint = {
        let moto = moto::start();
        moto.endpoint()
    };
    let base = sdk_config(&endpoint).await;
    let config = base
        .into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let err = Metrics::new(&config)
        .handle("test", &schedule_event())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("SQS ListQueues failed: "), "{err}");
}

/// What an invocation of the shipped function does in a realm `test`, with
/// the expected values read from upstream's `lambda/metrics/metrics.py`.
struct Row {
    what: &'static str,
    /// `(queue name, visible messages, messages in flight)`.
    queues: &'static [(&'static str, usize, usize)],
    /// `(group name, instances in service, instances in standby)`.
    groups: &'static [(&'static str, usize, usize)],
    /// Variables the function gets besides its realm's and moto's.
    env: &'static [(&'static str, &'static str)],
    /// The answer's `workers`, or `Err(part of the message)` when the
    /// invocation fails.
    outcome: Result<Value, &'static str>,
    /// `(namespace, worker, value)` of each datum CloudWatch holds after it.
    published: &'static [(&'static str, &'static str, f64)],
}

/// Each row is one invocation of the dist zip's `bootstrap` through the
/// local Runtime API, against a fresh moto.
#[tokio::test]
async fn outcomes_as_upstream_through_the_runtime_api() {
    let rows = [
        Row {
            what: "visible messages over instances in service, rounded as round(x, 1) (metrics.py:186-189)",
            queues: &[("lava-test-core", 5, 1), ("lava-test-batch", 1, 0), ("lava-test-idle", 0, 0)],
            groups: &[("lava-test-core", 2, 0), ("lava-test-batch", 4, 1), ("lava-test-idle", 1, 0)],
            env: &[],
            outcome: Ok(json!({
                "batch": {"messages": 1, "in_service": 4, "value": 0.2},
                "core": {"messages": 5, "in_service": 2, "value": 2.5},
                "idle": {"messages": 0, "in_service": 1, "value": 0.0},
            })),
            published: &[("Lava", "batch", 0.2), ("Lava", "core", 2.5), ("Lava", "idle", 0.0)],
        },
        Row {
            what: "no group, or none in service: no datum (metrics.py:188); another realm's queue is not read (metrics.py:99)",
            queues: &[("lava-test-docker", 3, 0), ("lava-test-parked", 4, 0), ("lava-other-core", 7, 0)],
            groups: &[("lava-test-parked", 0, 0), ("lava-other-core", 1, 0)],
            env: &[],
            outcome: Ok(json!({})),
            published: &[],
        },
        Row {
            what: "LAVA_CW_NAMESPACE names the namespace (metrics.py:206, lava/config.py)",
            queues: &[("lava-test-core", 3, 0)],
            groups: &[("lava-test-core", 3, 0)],
            env: &[("LAVA_CW_NAMESPACE", "LavaStaging")],
            outcome: Ok(json!({"core": {"messages": 3, "in_service": 3, "value": 1.0}})),
            published: &[("LavaStaging", "core", 1.0)],
        },
        Row {
            what: "a function of another realm raises (metrics.py:227-228)",
            queues: &[("lava-other-core", 3, 0)],
            groups: &[("lava-other-core", 1, 0)],
            env: &[("LAVA_REALM", "other")],
            outcome: Err("realm name mismatch"),
            published: &[],
        },
        Row {
            what: "AWS unreachable: logged and raised (metrics.py:233-236)",
            queues: &[("lava-test-core", 3, 0)],
            groups: &[("lava-test-core", 1, 0)],
            env: &[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")],
            outcome: Err("SQS ListQueues failed"),
            published: &[],
        },
    ];
    for row in rows {
        let moto = moto::start();
        let aws = Aws::new(&moto).await;
        for (name, visible, in_flight) in row.queues {
            aws.queue(name, *visible, *in_flight).await;
        }
        for (name, in_service, standby) in row.groups {
            aws.group(name, *in_service, *standby).await;
        }
        let run = invoke(
            LambdaFunction::Metrics,
            "test",
            &moto,
            &schedule_event(),
            row.env,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", row.what));
        match (answer(&run), &row.outcome) {
            (Ok(got), Ok(workers)) => assert_eq!(&got["workers"], workers, "{}", row.what),
            (Err(message), Err(part)) => {
                assert!(message.contains(part), "{}: {message}", row.what)
            }
            (got, _) => panic!("{}: got {got:?}\n{}", row.what, run.output),
        }
        let mut published = Vec::new();
        for namespace in ["Lava", "LavaStaging"] {
            for (_, dimensions) in aws.metrics_in(namespace).await {
                let worker = &dimensions[1].1;
                let (samples, value, _) = aws.datum(namespace, "test", worker).await;
                assert_eq!(samples, 1.0, "{}: {worker}", row.what);
                published.push((namespace, worker.clone(), value));
            }
        }
        let want: Vec<(&str, String, f64)> = row
            .published
            .iter()
            .map(|(ns, w, v)| (*ns, w.to_string(), *v))
            .collect();
        assert_eq!(published, want, "{}", row.what);
    }
}
