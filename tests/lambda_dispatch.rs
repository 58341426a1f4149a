//! The dispatch function's handler against a local moto: a real jobs table and
//! real worker queues, every event source and body format, and the messages
//! read back from SQS as a lava worker would receive them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use lava_lambda::dispatch::{
    handle_dispatch_event, DispatchRequest, DispatchSummary, Dispatcher, MaxDelay,
};
use lava_layout::LambdaFunction;
use lava_tests::moto::{self, sdk_config, Moto};
use lava_tests::realm;
use lava_tests::runtime_api::invoke_row;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const REALM: &str = "prod";

/// A realm in moto: the jobs table and worker queues, plus the dispatcher under test.
struct Realm {
    moto: Moto,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    dispatcher: Dispatcher,
}

impl Realm {
    /// Jobs `job-a` (worker core), `job-b` (worker batch), both queues.
    async fn new() -> Realm {
        let moto = moto::start();
        let config = sdk_config(&moto.endpoint()).await;
        let realm = Realm {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            dispatcher: Dispatcher::new(&config, REALM),
            moto,
        };
        realm::create_jobs_table(&realm.dynamodb, REALM).await;
        realm.job("job-a", "core", &[]).await;
        realm.job("job-b", "batch", &[]).await;
        realm.queue("core").await;
        realm.queue("batch").await;
        realm
    }

    /// A job record as lava writes them; `extra` attributes replace or add.
    async fn job(&self, job_id: &str, worker: &str, extra: &[(&str, AttributeValue)]) {
        let s = |v: &str| AttributeValue::S(v.into());
        let mut item = HashMap::from([
            ("job_id".to_string(), s(job_id)),
            ("worker".to_string(), s(worker)),
            ("type".to_string(), s("cmd")),
            ("payload".to_string(), s("echo hello")),
            ("owner".to_string(), s("ops@example.com")),
            ("description".to_string(), s("test job")),
            ("enabled".to_string(), AttributeValue::Bool(true)),
        ]);
        for (k, v) in extra {
            item.insert(k.to_string(), v.clone());
        }
        item.retain(|_, v| !matches!(v, AttributeValue::Null(true)));
        self.dynamodb
            .put_item()
            .table_name(format!("lava.{REALM}.jobs"))
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    async fn queue(&self, worker: &str) {
        realm::create_queue(&self.sqs, REALM, worker).await;
    }

    async fn queue_url(&self, worker: &str) -> String {
        let name = format!("lava-{REALM}-{worker}");
        self.sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    /// The handler as the function runs it by default; panics if the
    /// invocation would fail.
    async fn handle(&self, event: Value) -> DispatchSummary {
        handle_dispatch_event(&self.dispatcher, &MaxDelay::default(), &event)
            .await
            .unwrap_or_else(|e| panic!("invocation failed: {e}"))
    }

    /// Every message a worker polling this queue receives now, as JSON.
    async fn receive(&self, worker: &str) -> Vec<Value> {
        let url = self.queue_url(worker).await;
        let mut bodies = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(600)
                .send()
                .await
                .unwrap();
            if got.messages().is_empty() {
                return bodies;
            }
            for m in got.messages() {
                bodies.push(serde_json::from_str(m.body().unwrap()).expect("message body is JSON"));
            }
        }
    }

    /// Messages held back by a delay on this queue, per SQS.
    async fn delayed_count(&self, worker: &str) -> usize {
        let url = self.queue_url(worker).await;
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .unwrap();
        attrs.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessagesDelayed]
            .parse()
            .unwrap()
    }

    /// Every message moto holds, delayed or not: `(body, delay in seconds)`.
    /// SQS has no API that returns a message's delay; moto's state does. Moto
    /// lists the copies it makes on receive too, hence the de-duplication by id.
    fn all_messages(&self) -> Vec<(Value, u64)> {
        let data: Value =
            serde_json::from_str(&self.moto.get("/moto-api/data.json").expect("moto state"))
                .unwrap();
        let mut seen = std::collections::HashSet::new();
        data["sqs"]["Message"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .filter(|m| seen.insert(m["id"].as_str().unwrap().to_string()))
                    .map(|m| {
                        let body = serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
                        let until = m["delayed_until"].as_f64().unwrap();
                        let sent = m["sent_timestamp"].as_f64().unwrap();
                        let delay = if until == 0.0 {
                            0
                        } else {
                            ((until - sent) / 1000.0).round() as u64
                        };
                        (body, delay)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

/// Assert a message is exactly what upstream's `make_dispatch_msg` sends and
/// return its run_id.
fn assert_message(
    message: &Value,
    worker: &str,
    job_id: &str,
    parameters: Option<Value>,
    globals: Option<Value>,
) -> String {
    let mut expected = vec!["realm", "worker", "job_id", "run_id", "ts_dispatch"];
    expected.extend(parameters.as_ref().map(|_| "parameters"));
    expected.extend(globals.as_ref().map(|_| "globals"));
    let keys: Vec<&str> = message
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, expected, "{message}");
    assert_eq!(message["realm"], REALM);
    assert_eq!(message["worker"], worker);
    assert_eq!(message["job_id"], job_id);
    let run_id = message["run_id"].as_str().unwrap();
    let uuid = uuid::Uuid::parse_str(run_id).expect("run_id is a UUID");
    assert_eq!(uuid.get_version_num(), 4, "{run_id}");
    assert_eq!(
        uuid.hyphenated().to_string(),
        run_id,
        "canonical lower-case form"
    );
    // Python's isoformat() of an aware time to the second: 2025-01-31T04:05:06+00:00.
    let ts = message["ts_dispatch"].as_str().unwrap();
    assert_eq!(ts.len(), 25, "{ts}");
    assert_eq!(&ts[10..11], "T");
    assert!(
        matches!(&ts[19..20], "+" | "-"),
        "explicit UTC offset: {ts}"
    );
    let when = OffsetDateTime::parse(ts, &Rfc3339).expect("ISO 8601 with offset");
    let age = OffsetDateTime::now_utc() - when;
    assert!(
        age.whole_seconds() >= 0 && age.whole_seconds() < 120,
        "{ts} is not now"
    );
    assert_eq!(message.get("parameters"), parameters.as_ref());
    assert_eq!(message.get("globals"), globals.as_ref());
    run_id.to_string()
}

fn sns(messages: &[&str]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:lava-prod-dispatch:1",
                "Sns": {"Type": "Notification", "Subject": null, "Message": m, "TopicArn": "arn:aws:sns:us-east-1:123456789012:lava-prod-dispatch"}
            })
        })
        .collect();
    json!({ "Records": records })
}

fn sqs(bodies: &[&str]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({
                "messageId": format!("m-{i}"),
                "receiptHandle": "handle",
                "body": b,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dispatch",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The summary's run_ids per job, in dispatch order.
fn run_ids(summary: &DispatchSummary) -> Vec<(&str, &str)> {
    summary
        .dispatched
        .iter()
        .map(|d| (d.job_id.as_str(), d.run_id.as_str()))
        .collect()
}

#[tokio::test]
async fn sns_text_body_dispatches_each_line() {
    let realm = Realm::new().await;
    let summary = realm
        .handle(sns(&[
            "# nightly\njob-a\n\njob-b -p table=sales -g env=prod\n",
        ]))
        .await;
    assert_eq!(summary.errors, Vec::<String>::new());
    let ids = run_ids(&summary);
    assert_eq!(
        ids.iter().map(|(j, _)| *j).collect::<Vec<_>>(),
        ["job-a", "job-b"]
    );

    let core = realm.receive("core").await;
    assert_eq!(core.len(), 1);
    assert_eq!(
        assert_message(&core[0], "core", "job-a", None, None),
        ids[0].1
    );
    let batch = realm.receive("batch").await;
    assert_eq!(batch.len(), 1);
    let run_id = assert_message(
        &batch[0],
        "batch",
        "job-b",
        Some(json!({"table": "sales"})),
        Some(json!({"env": "prod"})),
    );
    assert_eq!(run_id, ids[1].1);
}

#[tokio::test]
async fn sqs_json_object_and_list_bodies_and_sns_json() {
    let realm = Realm::new().await;
    let object = json!({"job_id": "job-a", "parameters": {"vars": {"n": 1}, "a.b": true}, "globals": {"g": [1, "x"]}, "x-comment": "ignored"});
    let list = json!([{"job_id": "job-b"}, {"job_id": "job-a", "globals": {"who": "list"}}]);
    let mut event = sqs(&[&object.to_string(), &list.to_string()]);
    // SNS and SQS records in one event are not something AWS sends, but each
    // record is read on its own.
    event["Records"].as_array_mut().unwrap().extend(
        sns(&[r#"{"job_id": "job-b", "parameters": {"from": "sns"}}"#])["Records"]
            .as_array()
            .unwrap()
            .clone(),
    );
    let summary = realm.handle(event).await;
    assert_eq!(summary.errors, Vec::<String>::new());
    assert_eq!(run_ids(&summary).len(), 4);

    let core = realm.receive("core").await;
    assert_eq!(core.len(), 2);
    let by_globals = |g: &str| {
        core.iter()
            .find(|m| m["globals"].to_string().contains(g))
            .unwrap()
    };
    // JSON requests keep dotted names as they are, like upstream.
    assert_message(
        by_globals("\"x\""),
        "core",
        "job-a",
        Some(json!({"vars": {"n": 1}, "a.b": true})),
        Some(json!({"g": [1, "x"]})),
    );
    assert_message(
        by_globals("list"),
        "core",
        "job-a",
        None,
        Some(json!({"who": "list"})),
    );
    let batch = realm.receive("batch").await;
    assert_eq!(batch.len(), 2);
    let (with, without): (Vec<&Value>, Vec<&Value>) =
        batch.iter().partition(|m| m.get("parameters").is_some());
    assert_message(
        with[0],
        "batch",
        "job-b",
        Some(json!({"from": "sns"})),
        None,
    );
    assert_message(without[0], "batch", "job-b", None, None);

    let mut sent: Vec<&str> = run_ids(&summary).into_iter().map(|(_, r)| r).collect();
    let mut received: Vec<&str> = core
        .iter()
        .chain(&batch)
        .map(|m| m["run_id"].as_str().unwrap())
        .collect();
    sent.sort_unstable();
    received.sort_unstable();
    assert_eq!(sent, received);
}

#[tokio::test]
async fn raw_json_event_from_direct_invoke_or_eventbridge() {
    let realm = Realm::new().await;
    let summary = realm
        .handle(json!({"job_id": "job-b", "globals": {"instance": "i-0cefe067f7c6ee173", "asg_name": "workers"}}))
        .await;
    assert_eq!(summary.errors, Vec::<String>::new());
    let batch = realm.receive("batch").await;
    assert_eq!(batch.len(), 1);
    let run_id = assert_message(
        &batch[0],
        "batch",
        "job-b",
        None,
        Some(json!({"instance": "i-0cefe067f7c6ee173", "asg_name": "workers"})),
    );
    assert_eq!(run_ids(&summary), [("job-b", run_id.as_str())]);
}

#[tokio::test]
async fn text_lines_with_quoting_comments_and_dotted_names() {
    let realm = Realm::new().await;
    let body = r#"
# The user guide's example, then shell quoting and comments.
job-a -p timeout=1h -p vars.location=Isabela -p vars.name="Sierra Negra" -g country=Equador
job-b --param 'sql=select * from t # not a comment' --global=a.b.c=deep -g a.b.d='two words' -p x=1 # a comment
job-b -p "quote=say \"hi\"" -p it\'s=ok -p empty= -g a.x=1 -g a=flat
"#;
    let summary = realm.handle(sqs(&[body])).await;
    assert_eq!(summary.errors, Vec::<String>::new());
    assert_eq!(summary.dispatched.len(), 3);

    let core = realm.receive("core").await;
    assert_message(
        &core[0],
        "core",
        "job-a",
        Some(json!({"timeout": "1h", "vars": {"location": "Isabela", "name": "Sierra Negra"}})),
        Some(json!({"country": "Equador"})),
    );
    let batch = realm.receive("batch").await;
    assert_eq!(batch.len(), 2);
    let first = batch
        .iter()
        .find(|m| m["parameters"].get("sql").is_some())
        .unwrap();
    assert_message(
        first,
        "batch",
        "job-b",
        Some(json!({"sql": "select * from t # not a comment", "x": "1"})),
        Some(json!({"a": {"b": {"c": "deep", "d": "two words"}}})),
    );
    let second = batch
        .iter()
        .find(|m| m["parameters"].get("quote").is_some())
        .unwrap();
    // A later plain name replaces the map an earlier dotted name made (upstream's dict_expand_keys).
    assert_message(
        second,
        "batch",
        "job-b",
        Some(json!({"quote": "say \"hi\"", "it's": "ok", "empty": ""})),
        Some(json!({"a": "flat"})),
    );
    // Nested maps keep the order the names were given in.
    assert_eq!(
        first["globals"].to_string(),
        r#"{"a":{"b":{"c":"deep","d":"two words"}}}"#
    );
}

#[tokio::test]
async fn delays_reach_sqs() {
    let realm = Realm::new().await;
    let text = "job-a -d 0 -p n=0\njob-a -d 90 -p n=90\njob-a --delay 15m -p n=900\njob-b -d1.5m -p n=90b\n";
    let json_body = r#"[{"job_id": "job-b", "delay": "2m", "parameters": {"n": "120"}}, {"job_id": "job-b", "delay": 30, "parameters": {"n": "30"}}]"#;
    let mut event = sns(&[text]);
    event["Records"]
        .as_array_mut()
        .unwrap()
        .extend(sns(&[json_body])["Records"].as_array().unwrap().clone());
    let summary = realm.handle(event).await;
    assert_eq!(summary.errors, Vec::<String>::new());
    assert_eq!(summary.dispatched.len(), 6);

    let raw = json!({"job_id": "job-a", "delay": "1m", "parameters": {"n": "raw60"}});
    assert_eq!(realm.handle(raw).await.errors, Vec::<String>::new());

    let mut delays: Vec<(String, u64)> = realm
        .all_messages()
        .into_iter()
        .map(|(body, delay)| (body["parameters"]["n"].as_str().unwrap().to_string(), delay))
        .collect();
    delays.sort();
    let want: Vec<(String, u64)> = [
        ("0", 0),
        ("120", 120),
        ("30", 30),
        ("90", 90),
        ("900", 900),
        ("90b", 90),
        ("raw60", 60),
    ]
    .into_iter()
    .map(|(n, d)| (n.to_string(), d))
    .collect();
    assert_eq!(delays, want);

    // Only the undelayed message is visible to a worker now; SQS holds the rest.
    let core = realm.receive("core").await;
    assert_eq!(core.len(), 1);
    assert_eq!(core[0]["parameters"], json!({"n": "0"}));
    assert_eq!(realm.delayed_count("core").await, 3);
    assert!(realm.receive("batch").await.is_empty());
    assert_eq!(realm.delayed_count("batch").await, 3);
}

/// Each kind of bad request, alone in its body (a body stops at its first
/// failure, as upstream's does): logged and counted, the invocation succeeds.
#[tokio::test]
async fn bad_requests_are_counted_and_the_other_bodies_still_dispatch() {
    let realm = Realm::new().await;
    realm
        .job(
            "no-worker",
            "core",
            &[("worker", AttributeValue::Null(true))],
        )
        .await;
    realm
        .job(
            "reserved",
            "core",
            &[(
                "globals",
                AttributeValue::M(HashMap::from([(
                    "LAVA_x".to_string(),
                    AttributeValue::S("1".into()),
                )])),
            )],
        )
        .await;
    realm.job("no-queue", "ghost", &[]).await;
    let bodies = [
        "job-a -p n=1",
        "unknown-job -p n=2",
        "job-a -d 20m -p n=3",
        "job-a -d x -p n=4",
        "job-a -p 'n=5",
        "job-a --colour blue",
        "job-a extra",
        "no-worker",
        "reserved",
        "no-queue",
        r#"{"job_id": "job-b", "params": {"n": "6"}}"#,
        r#"[{"job_id": "job-a", "delay": "1h"}]"#,
        "job-b -p n=1",
        r#"{"job_id": "job-a", "parameters": {"n": "2"}}"#,
    ];
    let mut event = sns(&bodies[..12]);
    event["Records"]
        .as_array_mut()
        .unwrap()
        .extend(sqs(&bodies[12..])["Records"].as_array().unwrap().clone());
    let summary = realm.handle(event).await;

    let expected = [
        "Records[1] line 1: unknown-job@prod: No such job",
        "Records[2] line 1: job-a@prod: Bad -d, --delay value: Must be between 0 and 15 minutes, not 1200 seconds",
        "Records[3] line 1: job-a@prod: Bad -d, --delay value: Invalid duration: \"x\"",
        "Records[4] line 1: No closing quotation",
        "Records[5] line 1: job-a@prod: unrecognized arguments: --colour",
        "Records[6] line 1: job-a@prod: unrecognized arguments: extra",
        "Records[7] line 1: no-worker@prod: Bad job record: Missing keys: worker",
        "Records[8] line 1: reserved@prod: Reserved global: LAVA_x",
        // Followed by moto's QueueDoesNotExist details.
        "Records[9] line 1: no-queue@prod: Cannot dispatch to queue lava-prod-ghost - ",
        "Records[10]: job-b@prod: Unexpected keys: params",
        "Records[11] item 1: job-a@prod: Bad delay value: Must be between 0 and 15 minutes, not 3600 seconds",
    ];
    assert_eq!(
        summary.errors.len(),
        expected.len(),
        "{:#?}",
        summary.errors
    );
    for (got, want) in summary.errors.iter().zip(expected) {
        if want.ends_with(" - ") {
            assert!(got.starts_with(want) && got.len() > want.len(), "{got}");
        } else {
            assert_eq!(got, want);
        }
    }

    // Exactly the good requests were sent, nothing for the bad ones.
    let jobs: Vec<&str> = summary
        .dispatched
        .iter()
        .map(|d| d.job_id.as_str())
        .collect();
    assert_eq!(jobs, ["job-a", "job-b", "job-a"]);
    let core = realm.receive("core").await;
    let batch = realm.receive("batch").await;
    assert_eq!(core.len(), 2);
    assert_eq!(batch.len(), 1);
    for m in &core {
        assert_message(m, "core", "job-a", Some(m["parameters"].clone()), None);
    }
    let mut core_n: Vec<&Value> = core.iter().map(|m| &m["parameters"]["n"]).collect();
    core_n.sort_by_key(|v| v.to_string());
    assert_eq!(core_n, [&json!("1"), &json!("2")]);
    assert_eq!(realm.all_messages().len(), 3);
}

/// What an invocation of the shipped function does with an event, with the
/// expected values read from upstream's `lambda/dispatch/dispatch.py`.
struct Row {
    what: &'static str,
    /// `LAVA_SQS_MAX_DELAY_MINS`, unset when `None`.
    max_delay_mins: Option<&'static str>,
    event: Value,
    /// The errors the answer counts, or `Err(start of the message)` when the
    /// invocation fails.
    outcome: Result<Vec<&'static str>, &'static str>,
    /// `(worker, parameter n, delay in seconds)` of each message sent.
    sent: Vec<(&'static str, &'static str, u64)>,
}

/// Each row is one invocation of the dist zip's `bootstrap` through the
/// local Runtime API, against this realm in moto.
#[tokio::test]
async fn outcomes_as_upstream_through_the_runtime_api() {
    let good = sqs(&["job-a -p n=good"])["Records"][0].clone();
    let rows = [
        Row {
            what: "SNS text lines, each a dispatch (dispatch.py:84-105)",
            max_delay_mins: None,
            event: sns(&["job-a -p n=1\njob-b -p n=2 -d 1m"]),
            outcome: Ok(vec![]),
            sent: vec![("core", "1", 0), ("batch", "2", 60)],
        },
        Row {
            what: "an SQS JSON object and list (dispatch.py:123-158)",
            max_delay_mins: None,
            event: sqs(&[r#"{"job_id": "job-a", "delay": 30, "parameters": {"n": "3"}}"#, r#"[{"job_id": "job-b", "parameters": {"n": "4"}}]"#]),
            outcome: Ok(vec![]),
            sent: vec![("core", "3", 30), ("batch", "4", 0)],
        },
        Row {
            what: "a raw request from a direct invoke or EventBridge (dispatch.py:316-318)",
            max_delay_mins: None,
            event: json!({"job_id": "job-b", "delay": "15m", "parameters": {"n": "5"}}),
            outcome: Ok(vec![]),
            sent: vec![("batch", "5", 900)],
        },
        Row {
            what: "a raw request for no job: counted, the invocation succeeds (dispatch.py:347-354)",
            max_delay_mins: None,
            event: json!({"job_id": "nope", "parameters": {"n": "6"}}),
            outcome: Ok(vec!["event: nope@prod: No such job"]),
            sent: vec![],
        },
        Row {
            what: "neither Records nor a raw request: raises (dispatch.py:320)",
            max_delay_mins: None,
            event: json!({"version": "0", "detail-type": "Scheduled Event", "detail": {}}),
            outcome: Err("Cannot determine event format: "),
            sent: vec![],
        },
        Row {
            what: "a record from another source raises (dispatch.py:315); here before any dispatch",
            max_delay_mins: None,
            event: json!({"Records": [good.clone(), {"eventSource": "aws:s3", "s3": {}}]}),
            outcome: Err("Records[1]: Event source aws:s3 not supported"),
            sent: vec![],
        },
        Row {
            what: "SNS is known by EventSource only (dispatch.py:310)",
            max_delay_mins: None,
            event: json!({"Records": [good.clone(), {"eventSource": "aws:sns", "Sns": {"Message": "job-a"}}]}),
            outcome: Err("Records[1]: Event source aws:sns not supported"),
            sent: vec![],
        },
        Row {
            what: "an SNS record without its message: KeyError (dispatch.py:311)",
            max_delay_mins: None,
            event: json!({"Records": [good.clone(), {"EventSource": "aws:sns", "Sns": {}}]}),
            outcome: Err("Records[1]: SNS record without Sns.Message"),
            sent: vec![],
        },
        Row {
            what: "a text body stops at its failing line; the next body goes on (dispatch.py:84-105, 347-354)",
            max_delay_mins: None,
            event: sqs(&["job-a -p n=1\nunknown -p n=2\njob-b -p n=3", "job-b -p n=4"]),
            outcome: Ok(vec!["Records[0] line 2: unknown@prod: No such job"]),
            sent: vec![("core", "1", 0), ("batch", "4", 0)],
        },
        Row {
            what: "a JSON list stops at its failing item (dispatch.py:135-158)",
            max_delay_mins: None,
            event: sqs(&[r#"[{"job_id": "job-a", "parameters": {"n": "1"}}, {"job_id": "job-b", "params": {}}, {"job_id": "job-b", "parameters": {"n": "3"}}]"#]),
            outcome: Ok(vec!["Records[0] item 2: job-b@prod: Unexpected keys: params"]),
            sent: vec![("core", "1", 0)],
        },
        Row {
            what: "JSON that is neither list nor dict (dispatch.py:133)",
            max_delay_mins: None,
            event: sns(&["42"]),
            outcome: Ok(vec!["Records[0]: JSON message body must be list or dict"]),
            sent: vec![],
        },
        Row {
            what: "false JSON is a text line (dispatch.py:348)",
            max_delay_mins: None,
            event: sns(&["[]"]),
            outcome: Ok(vec!["Records[0] line 1: []@prod: No such job"]),
            sent: vec![],
        },
        Row {
            what: "LAVA_SQS_MAX_DELAY_MINS bounds text lines (dispatch.py:204-209)",
            max_delay_mins: Some("5"),
            event: sqs(&["job-a -d 6m -p n=1", "job-a -d 5m -p n=2", r#"{"job_id": "job-b", "delay": "10m", "parameters": {"n": "3"}}"#]),
            outcome: Ok(vec!["Records[0] line 1: job-a@prod: Bad -d, --delay value: Must be between 0 and 5 minutes, not 360 seconds"]),
            sent: vec![("core", "2", 300), ("batch", "3", 600)],
        },
        Row {
            what: "a bound that is not an integer fails every text line, not JSON (lava/config.py:205-213)",
            max_delay_mins: Some("five"),
            event: sqs(&["job-a -p n=1", r#"{"job_id": "job-b", "parameters": {"n": "2"}}"#]),
            outcome: Ok(vec!["Records[0] line 1: job-a@prod: Cannot convert config item SQS_MAX_DELAY_MINS: \"five\" is not an integer"]),
            sent: vec![("batch", "2", 0)],
        },
    ];

    let realm = Realm::new().await;
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let (run, answered) = invoke_row(
            LambdaFunction::Dispatch,
            REALM,
            &realm.moto,
            &row.event,
            row.max_delay_mins,
            row.what,
        );
        match (answered, &row.outcome) {
            (Ok(answer), Ok(errors)) => {
                assert_eq!(&answer["errors"], &json!(errors), "{}", row.what);
                let dispatched = answer["dispatched"].as_array().unwrap();
                assert_eq!(dispatched.len(), row.sent.len(), "{}", row.what);
            }
            (Err(message), Err(start)) => {
                assert!(message.starts_with(start), "{}: {message}", row.what)
            }
            (got, _) => panic!("{}: got {got:?}\n{}", row.what, run.output),
        }
        let mut sent: Vec<(String, String, u64)> = realm
            .all_messages()
            .into_iter()
            .filter(|(body, _)| seen.insert(body["run_id"].as_str().unwrap().to_string()))
            .map(|(body, delay)| {
                let worker = body["worker"].as_str().unwrap().to_string();
                let n = body["parameters"]["n"].as_str().unwrap().to_string();
                (worker, n, delay)
            })
            .collect();
        sent.sort();
        let mut want: Vec<(String, String, u64)> = row
            .sent
            .iter()
            .map(|(w, n, d)| (w.to_string(), n.to_string(), *d))
            .collect();
        want.sort();
        assert_eq!(sent, want, "{}", row.what);
    }
}

#[tokio::test]
async fn unknown_event_shapes_fail_the_invocation_and_send_nothing() {
    let realm = Realm::new().await;
    for event in [
        json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
        json!([{"job_id": "job-a"}]),
        json!("job-a"),
    ] {
        let err = handle_dispatch_event(&realm.dispatcher, &MaxDelay::default(), &event)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Cannot determine event format: "),
            "{event}: {err}"
        );
    }
    assert!(realm.all_messages().is_empty());
}

#[tokio::test]
async fn dispatcher_checks_requests_built_by_other_functions() {
    let realm = Realm::new().await;
    let mut request = DispatchRequest::new("job-a");
    request.delay = 901;
    let err = realm.dispatcher.dispatch(&request).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "job-a@prod: Bad delay: 901 seconds is more than the SQS limit of 900"
    );
    let err = realm
        .dispatcher
        .dispatch(&DispatchRequest::new("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "nope@prod: No such job");

    // Empty maps are left out of the message, as upstream does.
    request.delay = 0;
    request.parameters = Some(Map::new());
    request.globals = Some(object(json!({"from": "s3trigger"})));
    let run_id = realm.dispatcher.dispatch(&request).await.unwrap();
    let core = realm.receive("core").await;
    assert_eq!(
        assert_message(
            &core[0],
            "core",
            "job-a",
            None,
            Some(json!({"from": "s3trigger"}))
        ),
        run_id
    );
}

#[test]
fn missing_realm_is_an_error() {
    // Only this test touches LAVA_REALM.
    std::env::remove_var("LAVA_REALM");
    let err = lava_lambda::realm_from_env().unwrap_err();
    assert_eq!(
        err.to_string(),
        "LAVA_REALM environment variable must be set"
    );
    std::env::set_var("LAVA_REALM", " ");
    assert!(lava_lambda::realm_from_env().is_err());
    std::env::set_var("LAVA_REALM", "prod");
    assert_eq!(lava_lambda::realm_from_env().unwrap(), "prod");
    std::env::remove_var("LAVA_REALM");
}
